"""Independent validator: checks any plan against every hard rule and computes its metrics.

It shares nothing with the solvers but the problem model: it works on calendar dates and
re-derives each rule from the definitions in :mod:`vein2vein.scheduling.model`, so a bug in the
solvers' compiled view cannot hide itself. Batches fixed in the problem (already started) are
history: the rules about when a batch may start (receipt, hold, today, weekdays) apply only to the
batches the plan chose, while the physical rules (suite, overlap, cleaning, downtime, capacities)
apply to all.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from vein2vein.scheduling.model import Assignment, Order, Plan, Problem, Suite, Transfer

RULES: dict[str, str] = {
    "unknown_order": "the plan names an order the problem does not have",
    "unknown_suite": "the plan names a suite the problem does not have",
    "duplicate_order": "an order is placed twice, or both placed and listed as unscheduled",
    "missing_order": "an order is neither placed nor listed as unscheduled",
    "dates": "end, release or ship do not follow from start and the order's durations",
    "infectious_suite": "infectious material in a suite not designated for it",
    "before_receipt": "the batch starts before the starting material is received",
    "hold_exceeded": "the batch starts after the material's maximum hold",
    "before_today": "the batch starts before the plan's first day",
    "suite_unavailable": "the batch starts before the suite is available",
    "downtime": "the batch or its cleaning overlaps a downtime window of its suite",
    "suite_overlap": "two batches overlap in a suite, changeover and decontamination included",
    "qc_capacity": "more batches in QC release testing at once than the laboratory can take",
    "start_weekday": "the batch starts on a weekday its product may not start on",
    "starts_per_day": "more batches start on one day than the staff can start",
    "fixed_moved": "a batch already started is not where it was fixed",
    "wrong_site": "material planned in a suite at another site with no shipping route to it",
    "before_transfer": "the batch starts before material shipped from its receiving site arrives",
}


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str
    order_id: str | None = None
    suite_id: str | None = None


@dataclass(frozen=True)
class PlanMetrics:
    """Quality of a plan. Means are ``None`` when nothing is scheduled."""

    orders: int
    scheduled: int
    unscheduled: int
    mean_vein_to_vein_days: float | None
    max_vein_to_vein_days: int | None
    late_orders: int
    total_days_late: int
    makespan_days: int | None
    utilisation: float | None


@dataclass(frozen=True)
class ValidationReport:
    violations: tuple[Violation, ...]
    metrics: PlanMetrics

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def rules_broken(self) -> set[str]:
        return {v.rule for v in self.violations}

    def summary(self, limit: int = 10) -> str:
        if self.ok:
            return "plan satisfies every hard rule"
        lines = [f"{len(self.violations)} violation(s):"]
        lines += [f"- [{v.rule}] {v.message}" for v in self.violations[:limit]]
        if len(self.violations) > limit:
            lines.append(f"- ... and {len(self.violations) - limit} more")
        return "\n".join(lines)


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def validate_plan(problem: Problem, plan: Plan) -> ValidationReport:
    orders = problem.order_by_id
    suites = problem.suite_by_id
    found: list[Violation] = []
    good: list[tuple[Assignment, Order, Suite]] = []
    seen: set[str] = set()

    for a in plan.assignments:
        order, suite = orders.get(a.order_id), suites.get(a.suite_id)
        if order is None:
            found.append(Violation("unknown_order", f"order {a.order_id} is unknown", a.order_id))
            continue
        if suite is None:
            found.append(
                Violation("unknown_suite", f"suite {a.suite_id} is unknown", a.order_id, a.suite_id)
            )
            continue
        if a.order_id in seen:
            found.append(Violation("duplicate_order", f"{a.order_id} is placed twice", a.order_id))
            continue
        seen.add(a.order_id)
        found.extend(_check_batch(problem, a, order, suite))
        good.append((a, order, suite))

    for u in plan.unscheduled:
        if u.order_id not in orders:
            found.append(Violation("unknown_order", f"order {u.order_id} is unknown", u.order_id))
        elif u.order_id in seen:
            found.append(
                Violation(
                    "duplicate_order", f"{u.order_id} is placed and also unscheduled", u.order_id
                )
            )
        else:
            seen.add(u.order_id)
            if orders[u.order_id].fixed is not None:
                found.append(
                    Violation("fixed_moved", f"{u.order_id} has started but is dropped", u.order_id)
                )
    for order in problem.orders:
        if order.order_id not in seen:
            found.append(
                Violation(
                    "missing_order",
                    f"{order.order_id} is neither placed nor listed as unscheduled",
                    order.order_id,
                )
            )

    found.extend(_check_suites(good))
    found.extend(_check_qc(problem, good))
    found.extend(_check_starts(problem, good))
    return ValidationReport(tuple(found), _metrics(problem, plan, good))


def _check_batch(problem: Problem, a: Assignment, o: Order, s: Suite) -> Iterable[Violation]:
    def bad(rule: str, message: str) -> Violation:
        return Violation(rule, f"{a.order_id} in {a.suite_id}: {message}", a.order_id, a.suite_id)

    end = a.start + _days(o.process_days)
    release = end + _days(o.qc_days)
    ship = release + _days(o.ship_days)
    if (a.end, a.release, a.ship) != (end, release, ship):
        yield bad(
            "dates",
            f"start {a.start} gives end {end}, release {release}, ship {ship}; "
            f"the plan says {a.end}, {a.release}, {a.ship}",
        )
    if o.infectious and not s.infectious:
        yield bad("infectious_suite", "infectious material in a suite not designated for it")
    if s.available_from > a.start:
        yield bad("suite_unavailable", f"starts {a.start}, suite available from {s.available_from}")
    closed_until = end + _days(s.turnaround_days(o))
    for w in s.downtime:
        if a.start < w.end and w.start < closed_until:
            yield bad(
                "downtime",
                f"occupies {a.start}..{closed_until} (with cleaning), down {w.start}..{w.end}"
                + (f" ({w.reason})" if w.reason else ""),
            )
    if o.fixed is not None:
        if (o.fixed.suite_id, o.fixed.start) != (a.suite_id, a.start):
            yield bad(
                "fixed_moved",
                f"started in {o.fixed.suite_id} on {o.fixed.start}, planned {a.start}",
            )
        return
    if a.start < o.receipt_date:
        yield bad("before_receipt", f"starts {a.start}, material received {o.receipt_date}")
    yield from _check_site(a, o, s, problem.transfers)
    if a.start > o.receipt_date + _days(o.max_hold_days):
        yield bad(
            "hold_exceeded",
            f"starts {a.start}, hold of {o.max_hold_days} days ends "
            f"{o.receipt_date + _days(o.max_hold_days)}",
        )
    if problem.today is not None and a.start < problem.today:
        yield bad("before_today", f"starts {a.start}, before the plan's first day {problem.today}")
    if o.start_weekdays is not None and a.start.weekday() not in o.start_weekdays:
        yield bad("start_weekday", f"starts on a {a.start:%A}")


def _check_site(
    a: Assignment, o: Order, s: Suite, transfers: Iterable[Transfer]
) -> Iterable[Violation]:
    """The site rule, from the dates and the list of routes (not ``Problem.transfer_days``)."""
    if not o.material_site or not s.site or o.material_site == s.site:
        return
    where = f"{a.order_id} in {a.suite_id}"
    route = [t.days for t in transfers if (t.from_site, t.to_site) == (o.material_site, s.site)]
    if not route:
        yield Violation(
            "wrong_site",
            f"{where}: material received at {o.material_site}, suite at {s.site}, and no "
            f"shipping route {o.material_site} -> {s.site}",
            a.order_id,
            a.suite_id,
        )
    elif a.start < o.receipt_date + _days(route[0]):
        yield Violation(
            "before_transfer",
            f"{where}: starts {a.start}, material received at {o.material_site} on "
            f"{o.receipt_date} arrives at {s.site} on {o.receipt_date + _days(route[0])} "
            f"({route[0]} days' shipping)",
            a.order_id,
            a.suite_id,
        )


def _check_suites(good: list[tuple[Assignment, Order, Suite]]) -> Iterable[Violation]:
    by_suite: dict[str, list[tuple[Assignment, Order, Suite]]] = defaultdict(list)
    for item in good:
        by_suite[item[0].suite_id].append(item)
    for suite_id, items in by_suite.items():
        items.sort(key=lambda item: (item[0].start, item[0].order_id))
        for (a, o, s), (b, _, _) in itertools.pairwise(items):
            ready = a.start + _days(o.process_days + s.turnaround_days(o))
            if b.start < ready:
                cleaning = "decontamination" if o.infectious and s.decon_days else "changeover"
                yield Violation(
                    "suite_overlap",
                    f"{b.order_id} starts {b.start} in {suite_id}, but after {a.order_id} "
                    f"(and its {cleaning}) the suite is ready only on {ready}",
                    b.order_id,
                    suite_id,
                )


def _runs(days: list[dt.date]) -> Iterable[tuple[dt.date, dt.date]]:
    """Group sorted days into maximal runs of consecutive days (first, last)."""
    first = last = None
    for d in days:
        if first is None or last is None:
            first = last = d
        elif d == last + _days(1):
            last = d
        else:
            yield first, last
            first = last = d
    if first is not None and last is not None:
        yield first, last


def _check_qc(problem: Problem, good: list[tuple[Assignment, Order, Suite]]) -> Iterable[Violation]:
    cap = problem.qc_capacity
    if cap is None:
        return
    load: Counter[dt.date] = Counter()
    for a, o, _ in good:
        end = a.start + _days(o.process_days)
        for k in range(o.qc_days):
            load[end + _days(k)] += 1
    over = sorted(d for d, n in load.items() if n > cap)
    for first, last in _runs(over):
        peak = max(load[first + _days(k)] for k in range((last - first).days + 1))
        yield Violation(
            "qc_capacity",
            f"{peak} batches in QC testing at once between {first} and {last}; capacity {cap}",
        )


def _check_starts(
    problem: Problem, good: list[tuple[Assignment, Order, Suite]]
) -> Iterable[Violation]:
    cap = problem.max_starts_per_day
    if cap is None:
        return
    starts = Counter(a.start for a, _, _ in good)
    for day in sorted(d for d, n in starts.items() if n > cap):
        yield Violation("starts_per_day", f"{starts[day]} batches start on {day}; staff for {cap}")


def _metrics(
    problem: Problem, plan: Plan, good: list[tuple[Assignment, Order, Suite]]
) -> PlanMetrics:
    v2v = [
        (a.start + _days(o.process_days + o.qc_days + o.ship_days) - o.receipt_date).days
        for a, o, _ in good
    ]
    late = [
        max(0, (a.start + _days(o.process_days + o.qc_days + o.ship_days) - o.required_by).days)
        for a, o, _ in good
    ]
    origin = problem.origin
    makespan = utilisation = None
    if good:
        last_release = max(a.start + _days(o.process_days + o.qc_days) for a, o, _ in good)
        makespan = (last_release - origin).days
        utilisation = _utilisation(problem, good)
    return PlanMetrics(
        orders=len(problem.orders),
        scheduled=len(good),
        unscheduled=len(problem.orders) - len(good),
        mean_vein_to_vein_days=sum(v2v) / len(v2v) if v2v else None,
        max_vein_to_vein_days=max(v2v) if v2v else None,
        late_orders=sum(1 for d in late if d > 0),
        total_days_late=sum(late),
        makespan_days=makespan,
        utilisation=utilisation,
    )


def _utilisation(problem: Problem, good: list[tuple[Assignment, Order, Suite]]) -> float | None:
    """Occupied share of the suites' available days, from the origin to the last batch's end.

    A batch occupies its suite for its processing days plus its changeover (and decon); downtime
    days and days before a suite is available do not count as available.
    """
    origin = problem.origin
    until = max(a.start + _days(o.process_days) for a, o, _ in good)

    def clipped(a: dt.date, b: dt.date) -> int:
        return max(0, (min(b, until) - max(a, origin)).days)

    available = 0
    for s in problem.suites:
        open_from = max(s.available_from, origin)
        available += clipped(open_from, until)
        available -= sum(clipped(max(w.start, open_from), w.end) for w in s.downtime)
    occupied = sum(
        clipped(a.start, a.start + _days(o.process_days + s.turnaround_days(o))) for a, o, s in good
    )
    return occupied / available if available > 0 else None
