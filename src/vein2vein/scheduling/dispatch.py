"""Due-date dispatching: a second starting plan for CP-SAT, built day by day.

Day by day, as suites come free, the waiting batch whose latest on-time start
(``required_by - process - qc - ship``) comes first is started in a free eligible suite (an
ordinary suite before one designated for infectious material). Material that cannot wait (hold of
a week or less) is booked as soon as it is received, moving batches that can wait out of its way
if needed, and so is anything about to exceed its hold. This is the earliest-due-date rule on
the latest start, known to do well on total tardiness when queues form.

``rule="atc"`` ranks the waiting batches by the apparent tardiness cost instead, ``exp(-slack /
(k * mean occupation of the queue)) / occupation`` with ``slack`` the days left until the latest
on-time start: the shortest batch first among those about to be late, the most urgent first
otherwise (Vepsalainen and Morton 1987). Neither rule dominates the other; CP-SAT starts from the
best of both and the first-come-first-served plan.

References: Baker and Trietsch, *Principles of Sequencing and Scheduling* (2nd ed., Wiley 2019),
ch. 2-3 and 10 on due-date rules and dispatching in parallel machines; Vepsalainen, A. P. J.,
Morton, T. E. (1987). Priority rules for job shops with weighted tardiness costs. *Management
Science* 33: 1035-1047.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from vein2vein.scheduling.greedy import Bookings, _assignments, best_room, bump_in, fcfs_key
from vein2vein.scheduling.instance import Instance, Job
from vein2vein.scheduling.model import Plan, Problem, SolveInfo, Unscheduled, solved_plan

SHORT_HOLD_DAYS = 7
RULES = ("edd", "atc")

Priority = Callable[[Job, int, list[Job]], tuple[float, int]]


def _latest_on_time_start(job: Job, t: int, queue: list[Job]) -> tuple[float, int]:
    return (job.due - job.lead, job.index)


def _apparent_tardiness_cost(k: float) -> Priority:
    def priority(job: Job, t: int, queue: list[Job]) -> tuple[float, int]:
        mean = sum(j.p for j in queue) / len(queue)
        slack = max(0, job.due - job.lead - t)
        return (-math.exp(-slack / (k * mean)) / job.p, job.index)

    return priority


def dispatch_plan(problem: Problem, *, rule: str = "edd", k: float = 1.0) -> Plan:
    """Day-by-day dispatching plan; ``rule`` ``edd`` (latest on-time start first) or ``atc``
    (apparent tardiness cost with look-ahead ``k``)."""
    if rule not in RULES:
        raise ValueError(f"unknown dispatching rule {rule!r}: use edd or atc")
    priority = _latest_on_time_start if rule == "edd" else _apparent_tardiness_cost(k)
    clock = time.perf_counter()
    inst = Instance(problem)
    bookings = Bookings(inst)
    for job in inst.jobs:
        if job.fixed_room is not None:
            bookings.book(job, inst.rooms[job.fixed_room], job.lo, held=True)
    arriving = sorted(
        (j for j in inst.jobs if j.fixed_room is None and j.rooms), key=lambda j: (j.lo, j.index)
    )
    lost: list[Job] = []
    queue: list[Job] = []
    last_day = max((j.hi for j in arriving), default=-1)
    received = 0
    for t in range(0, last_day + 1):
        while received < len(arriving) and arriving[received].lo <= t:
            job = arriving[received]
            received += 1
            if job.hi - job.lo > SHORT_HOLD_DAYS:
                queue.append(job)
            elif not _book_now(bookings, job):
                lost.append(job)
        expiring = [j for j in queue if j.hi < t]
        queue = [j for j in queue if j.hi >= t]
        lost += [j for j in expiring if not bump_in(bookings, j)]
        if queue:
            queue = _start_today(bookings, queue, t, priority)
    unscheduled = []
    for job in sorted(lost + queue, key=fcfs_key):
        if not _book_now(bookings, job):
            unscheduled.append(
                Unscheduled(
                    job.order.order_id, f"no slot before {job.order.latest_start}{job.note}"
                )
            )
    unscheduled += [Unscheduled(j.order.order_id, j.reason) for j in inst.jobs if not j.rooms]
    seconds = time.perf_counter() - clock
    return solved_plan(
        problem,
        assignments=_assignments(inst, bookings),
        unscheduled=tuple(unscheduled),
        info=SolveInfo(
            "dispatch",
            "FEASIBLE",
            seconds,
            seconds,
            None,
            options={"rule": rule, **({"k": k} if rule == "atc" else {})},
        ),
    )


def _book_now(bookings: Bookings, job: Job) -> bool:
    choice = best_room(bookings, job)
    if choice is not None:
        bookings.book(job, *choice)
        return True
    return bump_in(bookings, job)


def _start_today(bookings: Bookings, queue: list[Job], t: int, priority: Priority) -> list[Job]:
    """Start what can start on day ``t``, most urgent first; return the jobs still waiting."""
    inst = bookings.inst
    free = [
        r
        for r in inst.rooms
        if r.available <= t and bookings.room_conflict_end(r, t, t + 1) is None
    ]
    if not free:
        return queue
    waiting = []
    for job in sorted(queue, key=lambda j: priority(j, t, queue)):
        fits = [r for r in free if r.index in job.rooms and bookings.fits(job, r, t)]
        if not fits:
            waiting.append(job)
            continue
        room = min(
            fits,
            key=lambda r: (
                r.index in job.delay,
                r.suite.infectious and not job.order.infectious,
                inst.occupation(job, r),
            ),
        )
        bookings.book(job, room, t)
        free.remove(room)
    return waiting
