"""The solvers' view of a problem: whole days counted from the plan's origin.

The greedy baseline and the CP-SAT model share this compilation; the validator deliberately does
not (it re-derives every rule from the dates of the problem model).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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
    """An order in days: it may start in ``[lo, hi]`` in one of ``rooms`` (room indices); in a
    room at another site than its material's no earlier than ``receipt + delay[room]``."""

    index: int
    order: Order
    receipt: int
    lo: int
    hi: int
    due: int
    rooms: tuple[int, ...]
    fixed_room: int | None
    reason: str
    delay: Mapping[int, int] = field(default_factory=dict)
    #: why suites at other sites are out of reach (no shipping route), to add to a reason
    note: str = ""

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
                downtime=_merged((self.day(w.start), self.day(w.end)) for w in s.downtime),
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

    def room_lo(self, job: Job, room: Room) -> int:
        """The first day ``job`` may start in ``room``: its ``lo``, or later when its material
        must first be shipped to the room's site (a started batch is history: its ``lo``)."""
        delay = job.delay.get(room.index, 0)
        return max(job.lo, job.receipt + delay) if delay else job.lo

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
        delay: dict[int, int] = {}
        routed = False
        unreachable: dict[str, None] = {}
        for room in self.rooms:
            if order.infectious and not room.suite.infectious:
                continue
            days = self.problem.transfer_days(order, room.suite)
            if days is None:
                unreachable[room.suite.site] = None
                continue
            routed = True
            first = max(lo, room.available, receipt + days)
            if any(self.weekday_ok(order, t) for t in range(first, min(hi, first + 6) + 1)):
                rooms.append(room.index)
                if days:
                    delay[room.index] = days
        if not reason and not rooms:
            if order.infectious and not any(r.suite.infectious for r in self.rooms):
                reason = "infectious material and no suite designated for it"
            elif not routed:
                reason = (
                    f"material received at {order.material_site}: no eligible suite there and "
                    "no shipping route to another site"
                )
            else:
                reason = f"no eligible suite can start it by {order.latest_start} (end of hold)"
        note = ""
        if unreachable:
            note = (
                f"; material received at {order.material_site}, no shipping route to "
                + ", ".join(unreachable)
            )
        return Job(index, order, receipt, lo, hi, due, tuple(rooms), None, reason, delay, note)


def _merged(windows: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Downtime windows ``[a, b)`` sorted, with overlapping or touching windows made one (a
    suite taken down by a what-if while a maintenance window or a lost batch's cleaning already
    closes it): the solvers' suite calendars need windows that do not overlap."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(windows):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)
