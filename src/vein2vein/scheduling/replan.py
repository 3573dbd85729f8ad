"""Rolling re-planning: an order arrives, a batch fails or a suite goes down.

The published plan is the starting point. On the re-planning day ``now`` every published batch
that starts before ``now`` has started and is fixed; events then change the problem; the new plan
keeps as many published batches as it can. With CP-SAT the objectives become, in order: orders
left unscheduled, days late, published batches changed, vein-to-vein days, makespan, so a batch
is moved only to save a patient days of delay, never merely to shorten the plan. The greedy
method keeps every published batch that still fits and places the rest first-come-first-served.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from vein2vein.core.errors import Conflict, NotFound, RuleViolation
from vein2vein.scheduling.bounds import bound_seconds, with_days_late_bound
from vein2vein.scheduling.cpsat import ProgressFn, solve_cpsat
from vein2vein.scheduling.greedy import greedy_plan
from vein2vein.scheduling.model import (
    Assignment,
    Downtime,
    FixedBatch,
    Order,
    Plan,
    Problem,
    Suite,
)
from vein2vein.scheduling.objectives import REPLAN_LEVELS, Objectives

# A suite that goes down "until further notice" is planned as down for this long.
OPEN_ENDED_DOWNTIME = dt.timedelta(days=3650)


@dataclass(frozen=True)
class OrderArrived:
    order: Order


@dataclass(frozen=True)
class OrderCancelled:
    order_id: str


@dataclass(frozen=True)
class BatchFailed:
    """A started batch failed on ``on``; the patient needs a new batch from new (or backup)
    material received on ``retry_receipt`` (default: the day of failure)."""

    order_id: str
    on: dt.date
    retry_receipt: dt.date | None = None
    retry_max_hold_days: int | None = None


@dataclass(frozen=True)
class SuiteDown:
    """A suite is closed from ``start`` to ``end`` (exclusive; ``None``: until further notice).
    A batch running in it then is lost, like a failed batch, and its order placed again."""

    suite_id: str
    start: dt.date
    end: dt.date | None = None
    reason: str = "suite down"


Event = OrderArrived | OrderCancelled | BatchFailed | SuiteDown


@dataclass(frozen=True)
class Change:
    """How one order's batch differs from the published plan."""

    order_id: str
    kind: str  # moved | new | unscheduled | cancelled | replaced
    before: Assignment | None
    after: Assignment | None


@dataclass(frozen=True)
class Replan:
    problem: Problem
    plan: Plan
    changes: tuple[Change, ...]

    @property
    def moved(self) -> int:
        """Published batches (not started) that the new plan moves or drops."""
        return sum(1 for c in self.changes if c.kind in ("moved", "unscheduled"))


def apply_events(
    problem: Problem,
    published: Plan,
    now: dt.date,
    events: Sequence[Event] = (),
    *,
    started_from: str = "published",
) -> Problem:
    """The problem as it stands on ``now``: started batches fixed, events applied."""
    return _apply(problem, published, now, events, started_from)[0]


def _started(
    problem: Problem, published: Plan, now: dt.date, started_from: str
) -> dict[str, Assignment]:
    """Batches that have started: by the published plan's dates (``published``), or the batches
    the problem itself fixes (``problem``: a store that knows which batches really started)."""
    orders = problem.order_by_id
    if started_from == "published":
        return {
            a.order_id: a for a in published.assignments if a.start < now and a.order_id in orders
        }
    if started_from == "problem":
        return {
            o.order_id: Assignment.of(o, o.fixed.suite_id, o.fixed.start)
            for o in problem.orders
            if o.fixed is not None
        }
    raise ValueError(f"started_from is 'published' or 'problem', not {started_from!r}")


def _apply(
    problem: Problem,
    published: Plan,
    now: dt.date,
    events: Sequence[Event],
    started_from: str = "published",
) -> tuple[Problem, set[str]]:
    """The problem on ``now`` and the orders whose batch was lost (failed or suite down)."""
    lost: set[str] = set()
    orders: dict[str, Order] = {o.order_id: o for o in problem.orders}
    suites: dict[str, Suite] = {s.suite_id: s for s in problem.suites}
    started = _started(problem, published, now, started_from)
    for oid, a in started.items():
        orders[oid] = replace(orders[oid], fixed=FixedBatch(a.suite_id, a.start))

    def block(suite_id: str, window: Downtime) -> None:
        suite = suites[suite_id]
        suites[suite_id] = replace(suite, downtime=(*suite.downtime, window))

    def lose(oid: str, on: dt.date, receipt: dt.date | None, hold: int | None, why: str) -> None:
        a = started.pop(oid, None)
        order = orders[oid]
        lost.add(oid)
        if a is None or order.fixed is None:
            raise RuleViolation(
                f"order {oid} has no batch in manufacturing on {on} to fail (its batch has not "
                "started)"
            )
        if on < a.start:
            raise RuleViolation(
                f"the batch of order {oid} in suite {a.suite_id} started manufacturing on "
                f"{a.start}: it cannot fail on {on}, before it started"
            )
        suite = suites[a.suite_id]
        cleaned = on + dt.timedelta(days=suite.turnaround_days(order))
        block(a.suite_id, Downtime(a.start, max(cleaned, a.start + dt.timedelta(days=1)), why))
        orders[oid] = replace(
            order,
            receipt_date=receipt or on,
            max_hold_days=order.max_hold_days if hold is None else hold,
            required_by=max(order.required_by, receipt or on),
            fixed=None,
        )

    for event in events:
        if isinstance(event, OrderArrived):
            if event.order.order_id in orders:
                raise Conflict(f"order {event.order.order_id} is already in the plan")
            orders[event.order.order_id] = event.order
        elif isinstance(event, OrderCancelled):
            if event.order_id not in orders:
                raise NotFound(f"order {event.order_id} is not in the plan")
            if orders[event.order_id].fixed is not None:
                raise RuleViolation(
                    f"the batch of {event.order_id} has started: record it as failed instead"
                )
            del orders[event.order_id]
        elif isinstance(event, BatchFailed):
            if event.order_id not in orders:
                raise NotFound(f"order {event.order_id} is not in the plan")
            lose(
                event.order_id,
                event.on,
                event.retry_receipt,
                event.retry_max_hold_days,
                f"failed batch {event.order_id} and cleaning",
            )
        else:
            if event.suite_id not in suites:
                raise NotFound(f"suite {event.suite_id} is not in the plan")
            end = event.end or event.start + OPEN_ENDED_DOWNTIME
            for oid, a in list(started.items()):
                order = orders[oid]
                suite = suites[a.suite_id]
                busy_until = a.end + dt.timedelta(days=suite.turnaround_days(order))
                if a.suite_id == event.suite_id and a.start < end and event.start < busy_until:
                    # down from before the batch started: the batch is lost from its start
                    on = max(event.start, a.start)
                    why = f"batch of {oid} in {a.suite_id} (started {a.start}) lost: {event.reason}"
                    lose(oid, on, on, None, why)
            block(event.suite_id, Downtime(event.start, end, event.reason))
    new = problem.replace(orders=tuple(orders.values()), suites=tuple(suites.values()), today=now)
    return new, lost


def replan(
    problem: Problem,
    published: Plan,
    now: dt.date,
    events: Sequence[Event] = (),
    *,
    method: str = "cpsat",
    time_limit: float = 10.0,
    num_workers: int = 2,
    objectives: Objectives | None = None,
    progress: ProgressFn | None = None,
    started_from: str = "published",
    replaced: Collection[str] = (),
) -> Replan:
    """Re-plan on ``now`` after ``events``, changing as little of ``published`` as it can.

    ``started_from="problem"`` trusts the problem's fixed batches as the ones that have started
    (a store that records the start of manufacturing) instead of the published plan's dates.
    ``replaced``: orders whose published batch is gone for good (a failure the store recorded;
    the problem already plans them from their new material): their published batch is not
    kept, and the change is a replacement.
    """
    current, lost = _apply(problem, published, now, events, started_from)
    lost |= set(replaced) & set(current.order_by_id)
    keep = {
        a.order_id: (a.suite_id, a.start)
        for a in published.assignments
        if a.order_id in current.order_by_id
        and current.order_by_id[a.order_id].fixed is None
        and a.order_id not in lost
    }
    repaired = greedy_plan(current, keep=keep)
    if method == "greedy":
        plan = with_days_late_bound(current, repaired, time_limit=bound_seconds(time_limit))
    elif method == "cpsat":
        plan = solve_cpsat(
            current,
            time_limit=time_limit,
            num_workers=num_workers,
            objectives=objectives or Objectives(levels=REPLAN_LEVELS),
            hint=repaired,
            published=keep,
            progress=progress,
        )
    else:
        raise ValueError(f"unknown method {method!r}: use greedy or cpsat")
    return Replan(current, plan, changes_between(current, published, plan, lost))


def changes_between(
    after: Problem, published: Plan, plan: Plan, lost: set[str] | frozenset[str] = frozenset()
) -> tuple[Change, ...]:
    """How ``plan`` (for the problem ``after``) differs from ``published``, order by order."""
    out: list[Change] = []
    for order in after.orders:
        was, now = published.by_order.get(order.order_id), plan.by_order.get(order.order_id)
        if was is None and now is not None:
            out.append(Change(order.order_id, "new", None, now))
        elif was is not None and now is None:
            out.append(Change(order.order_id, "unscheduled", was, None))
        elif was is not None and now is not None and was != now:
            kind = "replaced" if order.order_id in lost else "moved"
            out.append(Change(order.order_id, kind, was, now))
    for a in published.assignments:
        if a.order_id not in after.order_by_id:
            out.append(Change(a.order_id, "cancelled", a, None))
    return tuple(out)
