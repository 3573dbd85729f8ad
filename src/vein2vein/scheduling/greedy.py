"""First-come-first-served baseline: the planner's spreadsheet habit, done well.

Orders are taken by receipt date (then required-by date, then id); each goes into the eligible
suite where it can start earliest, filling gaps left between earlier bookings, while respecting
every hard rule (suite occupation and cleaning, downtime, hold, start weekdays, QC capacity,
starts per day). Ties prefer a suite that is not designated for infectious material, keeping
those free for the material that needs them. Batches already started are booked first.

When an order finds no slot before its hold ends (fresh material in a busy week), the planner does
what a good one would: moves already booked batches whose material can wait (cryopreserved) out
of the way, and books them again at their earliest, if all of them still fit within their holds.
"""

from __future__ import annotations

import bisect
import datetime as dt
import time
from collections.abc import Mapping

from vein2vein.core.errors import RuleViolation
from vein2vein.scheduling.instance import Instance, Job, Room
from vein2vein.scheduling.model import (
    Assignment,
    Plan,
    Problem,
    SolveInfo,
    Unscheduled,
    solved_plan,
)

HELD = -1  # owner of a busy window that no one may move: downtime or a started batch
BUMP_TRIES = 24


class Bookings:
    """What is booked so far: per-suite busy windows (with their owner), QC load, starts per day."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.busy_start: list[list[int]] = []
        self.busy_end: list[list[int]] = []
        self.busy_owner: list[list[int]] = []
        for room in inst.rooms:
            windows = sorted(room.downtime)
            self.busy_start.append([a for a, _ in windows])
            self.busy_end.append([b for _, b in windows])
            self.busy_owner.append([HELD] * len(windows))
        size = inst.horizon + max((j.p + j.q for j in inst.jobs), default=0) + 1
        self.qc = [0] * size if inst.qc_capacity is not None else None
        self.starts = [0] * size if inst.max_starts is not None else None
        self.placed: dict[int, tuple[Room, int]] = {}

    def room_conflict_end(self, room: Room, a: int, b: int) -> int | None:
        """End of the latest busy window overlapping ``[a, b)`` in ``room``, if any."""
        starts, ends = self.busy_start[room.index], self.busy_end[room.index]
        k = bisect.bisect_left(starts, b) - 1
        if k >= 0 and ends[k] > a:
            return ends[k]
        return None

    def is_free(self, room: Room, t: int) -> bool:
        return self.room_conflict_end(room, t, t + 1) is None

    def owners(self, room: Room, a: int, b: int) -> list[int]:
        """Owners of the busy windows overlapping ``[a, b)`` in ``room``."""
        starts, ends = self.busy_start[room.index], self.busy_end[room.index]
        k = bisect.bisect_left(starts, b) - 1
        found = []
        while k >= 0 and ends[k] > a:
            found.append(self.busy_owner[room.index][k])
            k -= 1
        # Windows never overlap, so ends grow with starts and the walk above is complete.
        return found

    def next_feasible(self, job: Job, room: Room, t: int) -> int | None:
        """``None`` if the job can start on day ``t`` in ``room``; else a later day worth trying."""
        inst = self.inst
        if job.delay and t < inst.room_lo(job, room):
            return inst.room_lo(job, room)
        if not inst.weekday_ok(job.order, t):
            return t + 1
        conflict = self.room_conflict_end(room, t, t + inst.occupation(job, room))
        if conflict is not None:
            return conflict
        if self.starts is not None and self.starts[t] >= (inst.max_starts or 0):
            return t + 1
        if self.qc is not None:
            cap = inst.qc_capacity or 0
            for d in range(t + job.p + job.q - 1, t + job.p - 1, -1):
                if self.qc[d] >= cap:
                    return d - job.p + 1
        return None

    def fits(self, job: Job, room: Room, t: int) -> bool:
        return t >= 0 and self.next_feasible(job, room, t) is None

    def earliest(self, job: Job, room: Room) -> int | None:
        """Earliest day in the job's window at which it fits in ``room``."""
        t = max(self.inst.room_lo(job, room), room.available)
        while t <= job.hi:
            later = self.next_feasible(job, room, t)
            if later is None:
                return t
            t = later
        return None

    def book(self, job: Job, room: Room, t: int, *, held: bool = False) -> None:
        k = bisect.bisect_left(self.busy_start[room.index], t)
        self.busy_start[room.index].insert(k, t)
        self.busy_end[room.index].insert(k, t + self.inst.occupation(job, room))
        self.busy_owner[room.index].insert(k, HELD if held else job.index)
        self._count(job, t, +1)
        self.placed[job.index] = (room, t)

    def unbook(self, job: Job) -> tuple[Room, int]:
        room, t = self.placed.pop(job.index)
        k = bisect.bisect_left(self.busy_start[room.index], t)
        for column in (self.busy_start, self.busy_end, self.busy_owner):
            del column[room.index][k]
        self._count(job, t, -1)
        return room, t

    def _count(self, job: Job, t: int, step: int) -> None:
        if self.starts is not None:
            self.starts[t] += step
        if self.qc is not None:
            for d in range(t + job.p, t + job.p + job.q):
                self.qc[d] += step


def fcfs_key(job: Job) -> tuple[int, int, str]:
    return (job.receipt, job.due, job.order.order_id)


def best_room(bookings: Bookings, job: Job) -> tuple[Room, int] | None:
    """The eligible room where ``job`` starts earliest (ties: the material's own site, a
    non-infectious suite, short cleaning)."""
    inst = bookings.inst
    best: tuple[tuple[int, int, int, int, int], Room, int] | None = None
    for k in job.rooms:
        room = inst.rooms[k]
        t = bookings.earliest(job, room)
        if t is None:
            continue
        spare_infectious = int(room.suite.infectious and not job.order.infectious)
        shipped = int(k in job.delay)
        key = (t, shipped, spare_infectious, inst.occupation(job, room), k)
        if best is None or key < best[0]:
            best = (key, room, t)
    return None if best is None else (best[1], best[2])


def bump_in(bookings: Bookings, job: Job) -> bool:
    """Book ``job`` by moving movable batches out of its way; all or nothing."""
    inst = bookings.inst
    candidates = []
    for k in job.rooms:
        room = inst.rooms[k]
        size = inst.occupation(job, room)
        for t in range(max(inst.room_lo(job, room), room.available), job.hi + 1):
            if not inst.weekday_ok(job.order, t):
                continue
            owners = bookings.owners(room, t, t + size)
            if HELD in owners:
                continue
            moved = sum(inst.jobs[i].p for i in owners)
            candidates.append((len(owners), moved, t, k, owners))
    for _, _, t, k, owners in sorted(candidates)[:BUMP_TRIES]:
        room = inst.rooms[k]
        bumped = [(inst.jobs[i], bookings.unbook(inst.jobs[i])) for i in owners]
        rebooked: list[Job] = []
        if bookings.fits(job, room, t):
            bookings.book(job, room, t)
            for other, _ in sorted(bumped, key=lambda item: fcfs_key(item[0])):
                choice = best_room(bookings, other)
                if choice is None:
                    break
                bookings.book(other, *choice)
                rebooked.append(other)
            if len(rebooked) == len(bumped):
                return True
            for other in rebooked:
                bookings.unbook(other)
            bookings.unbook(job)
        for other, (was_room, was_t) in bumped:
            bookings.book(other, was_room, was_t)
    return False


def greedy_plan(problem: Problem, *, keep: Mapping[str, tuple[str, dt.date]] | None = None) -> Plan:
    """First-come-first-served plan of ``problem``.

    ``keep`` maps order ids to a (suite id, start) to hold on to where still feasible, in order of
    start (used when re-planning); the others are then placed first-come-first-served.
    """
    clock = time.perf_counter()
    inst = Instance(problem)
    bookings = Bookings(inst)
    unscheduled: list[Unscheduled] = []

    for job in inst.jobs:
        if job.fixed_room is not None:
            room = inst.rooms[job.fixed_room]
            if not _fits_fixed(bookings, job, room):
                raise RuleViolation(
                    f"batch of order {job.order.order_id} is fixed in suite "
                    f"{room.suite.suite_id} on {inst.date(job.lo)} but clashes with another "
                    "fixed batch, downtime or a capacity limit"
                )
            bookings.book(job, room, job.lo, held=True)

    kept = [j for j in inst.jobs if j.fixed_room is None and j.order.order_id in (keep or {})]
    for job in sorted(kept, key=lambda j: ((keep or {})[j.order.order_id][1], j.index)):
        suite_id, start = (keep or {})[job.order.order_id]
        kept_room, t = inst.room_by_id.get(suite_id), inst.day(start)
        if kept_room is None or kept_room.index not in job.rooms:
            continue
        first = max(inst.room_lo(job, kept_room), kept_room.available)
        if first <= t <= job.hi and bookings.fits(job, kept_room, t):
            bookings.book(job, kept_room, t)

    waiting = sorted((j for j in inst.jobs if j.index not in bookings.placed), key=fcfs_key)
    for job in waiting:
        choice = best_room(bookings, job) if job.rooms else None
        if choice is not None:
            bookings.book(job, *choice)
        elif not job.rooms or not bump_in(bookings, job):
            unscheduled.append(Unscheduled(job.order.order_id, job.reason or _why(job)))

    seconds = time.perf_counter() - clock
    return solved_plan(
        problem,
        assignments=_assignments(inst, bookings),
        unscheduled=tuple(unscheduled),
        info=SolveInfo(
            method="greedy",
            status="FEASIBLE",
            wall_seconds=seconds,
            first_feasible_seconds=seconds,
            gap=None,
            options={"order": "receipt_date, required_by, order_id", "kept": len(kept)},
        ),
    )


def _fits_fixed(bookings: Bookings, job: Job, room: Room) -> bool:
    # A started batch ignores the weekday rule (it is history) but not the suite or capacities.
    inst, t = bookings.inst, job.lo
    if bookings.room_conflict_end(room, t, t + inst.occupation(job, room)) is not None:
        return False
    if bookings.starts is not None and bookings.starts[t] >= (inst.max_starts or 0):
        return False
    if bookings.qc is not None:
        days = range(t + job.p, t + job.p + job.q)
        return all(bookings.qc[d] < (inst.qc_capacity or 0) for d in days)
    return True


def _why(job: Job) -> str:
    return (
        f"every eligible suite is booked, down or over QC capacity until after "
        f"{job.order.latest_start} (end of hold), even moving batches that can wait{job.note}"
    )


def _assignments(inst: Instance, bookings: Bookings) -> tuple[Assignment, ...]:
    rows = [inst.assignment(inst.jobs[i], room, t) for i, (room, t) in bookings.placed.items()]
    return tuple(sorted(rows, key=lambda a: (a.start, a.suite_id, a.order_id)))
