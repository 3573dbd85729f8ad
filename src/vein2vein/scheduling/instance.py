"""The solvers' view of a problem: whole days counted from the plan's origin.

The greedy baseline and the CP-SAT model share this compilation; the validator deliberately does
not (it re-derives every rule from the dates of the problem model).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from vein2vein.scheduling.model import Assignment, Order, Problem, Suite


@dataclass(frozen=True)
class Room:
    """A suite in days: free from ``available``, closed in each ``[a, b)`` of ``downtime``."""

    index: int
    suite: Suite
    available: int
    downtime: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Job:
    """An order in days: it may start in ``[lo, hi]`` in one of ``rooms`` (room indices)."""

    index: int
    order: Order
    receipt: int
    lo: int
    hi: int
    due: int
    rooms: tuple[int, ...]
    fixed_room: int | None
    reason: str

    @property
    def p(self) -> int:
        return self.order.process_days

    @property
    def q(self) -> int:
        return self.order.qc_days

    @property
    def lead(self) -> int:
        """Days from start to delivery at the treatment site."""
        o = self.order
        return o.process_days + o.qc_days + o.ship_days


class Instance:
    """A compiled problem. ``jobs[i].rooms`` is empty when order i cannot be placed at all."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        # Started batches may lie before ``today``: day 0 is early enough for every one of them.
        fixed = [o.fixed.start for o in problem.orders if o.fixed is not None]
        self.origin = min([problem.origin, *fixed])
        self.today = self.day(problem.today) if problem.today is not None else 0
        self.rooms = tuple(
            Room(
                index=k,
                suite=s,
                available=self.day(s.available_from),
                downtime=tuple(sorted((self.day(w.start), self.day(w.end)) for w in s.downtime)),
            )
            for k, s in enumerate(problem.suites)
        )
        self.room_by_id = {r.suite.suite_id: r for r in self.rooms}
        self.jobs = tuple(self._job(i, o) for i, o in enumerate(problem.orders))
        self.qc_capacity = problem.qc_capacity
        self.max_starts = problem.max_starts_per_day
        ends = [j.hi + j.lead + self.turnaround_max for j in self.jobs if j.rooms]
        ends += [b for r in self.rooms for _, b in r.downtime]
        self.horizon = max([*ends, 1]) + 1

    @property
    def turnaround_max(self) -> int:
        return max(r.suite.changeover_days + r.suite.decon_days for r in self.rooms)

    def day(self, date: dt.date) -> int:
        return (date - self.origin).days

    def date(self, day: int) -> dt.date:
        return self.origin + dt.timedelta(days=day)

    def weekday_ok(self, order: Order, t: int) -> bool:
        """Whether day ``t`` is one of the weekdays ``order``'s product may start on."""
        days = order.start_weekdays
        return days is None or (self.origin.weekday() + t) % 7 in days

    def occupation(self, job: Job, room: Room) -> int:
        """Days the batch closes the room: processing, then cleaning (and decon)."""
        return job.p + room.suite.turnaround_days(job.order)

    def assignment(self, job: Job, room: Room, start: int) -> Assignment:
        return Assignment.of(job.order, room.suite.suite_id, self.date(start))

    def _job(self, index: int, order: Order) -> Job:
        receipt = self.day(order.receipt_date)
        due = self.day(order.required_by)
        if order.fixed is not None:
            room = self.room_by_id[order.fixed.suite_id]
            t = self.day(order.fixed.start)
            return Job(index, order, receipt, t, t, due, (room.index,), room.index, "")
        lo, hi = max(receipt, self.today), receipt + order.max_hold_days
        reason = ""
        if hi < lo:
            reason = f"hold expired on {order.latest_start} before the plan starts"
        rooms: list[int] = []
        for room in self.rooms:
            if order.infectious and not room.suite.infectious:
                continue
            first = max(lo, room.available)
            if any(self.weekday_ok(order, t) for t in range(first, min(hi, first + 6) + 1)):
                rooms.append(room.index)
        if not reason and not rooms:
            if order.infectious and not any(r.suite.infectious for r in self.rooms):
                reason = "infectious material and no suite designated for it"
            else:
                reason = f"no eligible suite can start it by {order.latest_start} (end of hold)"
        return Job(index, order, receipt, lo, hi, due, tuple(rooms), None, reason)
