"""The problem model of capacity scheduling: orders, suites, the lab's limits, and plans.

Plain frozen dataclasses with calendar dates, no I/O and no solver code. Every rule the solvers
and the validator apply is stated in terms of these fields:

- a batch occupies its suite from ``start`` to ``end = start + process_days``; the next batch in
  that suite starts no earlier than ``end + changeover_days`` (``+ decon_days`` after a batch of
  infectious material), and a suite's downtime may not overlap a batch or its cleaning;
- ``release = end + qc_days``; ``ship`` is the day the product reaches the treatment site,
  ``release + ship_days``;
- vein-to-vein days = ``ship - receipt_date``; days late = ``max(0, ship - required_by)``;
- material received at one manufacturing site (``Order.material_site``) is made in a suite of
  that site (``Suite.site``), or at another site only along a shipping route between the two
  (``Problem.transfers``), starting no earlier than ``receipt_date + days`` of that route
  (:meth:`Problem.transfer_days`). An order or a suite without a site is not bound by it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from vein2vein.core.canonical import sha256_hex
from vein2vein.core.errors import InputError
from vein2vein.core.provenance import Provenance
from vein2vein.core.results import Result, provenance

WEEKDAY_NAMES: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def parse_weekdays(text: str) -> frozenset[int]:
    """Parse ``"Mon-Fri"``, ``"Mon,Wed,Fri"`` or ``"Mon-Wed,Sat"`` into weekday numbers (Mon=0).

    Raises ``ValueError`` naming the part it could not read.
    """
    days: set[int] = set()
    lookup = {name.lower(): i for i, name in enumerate(WEEKDAY_NAMES)}
    for part in text.replace(";", ",").split(","):
        part = part.strip().lower()
        if not part:
            continue
        if "-" in part:
            first, _, last = (p.strip()[:3] for p in part.partition("-"))
            if first not in lookup or last not in lookup:
                raise ValueError(f"cannot read weekday range {part!r} (use e.g. Mon-Fri)")
            a, b = lookup[first], lookup[last]
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        elif part[:3] in lookup:
            days.add(lookup[part[:3]])
        else:
            raise ValueError(f"cannot read weekday {part!r} (use Mon, Tue, ... Sun)")
    if not days:
        raise ValueError("no weekday given")
    return frozenset(days)


def format_weekdays(days: Iterable[int]) -> str:
    return ",".join(WEEKDAY_NAMES[d] for d in sorted(days))


@dataclass(frozen=True)
class FixedBatch:
    """A batch that has already started (or is otherwise frozen): suite and start are given."""

    suite_id: str
    start: dt.date


@dataclass(frozen=True)
class Order:
    """One patient's manufacturing order, as the scheduler sees it.

    ``max_hold_days`` is how long the starting material may wait between receipt and the start of
    manufacturing (a few days when fresh, months when cryopreserved). ``start_weekdays`` restricts
    the days a batch of this product may start (Monday = 0); ``None`` allows every day. ``site``
    is the treatment site the product ships to; ``material_site`` the CDMO's manufacturing site
    where the starting material is received (empty: not known, any suite may take it).
    """

    order_id: str
    receipt_date: dt.date
    max_hold_days: int
    required_by: dt.date
    infectious: bool
    process_days: int
    qc_days: int
    ship_days: int
    product: str = ""
    site: str = ""
    start_weekdays: frozenset[int] | None = None
    fixed: FixedBatch | None = None
    material_site: str = ""

    @property
    def latest_start(self) -> dt.date:
        return self.receipt_date + dt.timedelta(days=self.max_hold_days)

    @property
    def fresh(self) -> bool:
        """Material that must start within a week is treated as fresh (not cryopreserved)."""
        return self.max_hold_days < 7


@dataclass(frozen=True)
class Downtime:
    """A window ``[start, end)`` in which a suite takes no batch (maintenance, failure, ...)."""

    start: dt.date
    end: dt.date
    reason: str = ""


@dataclass(frozen=True)
class Suite:
    """A GMP suite; ``site`` is the manufacturing site it belongs to (empty: not known)."""

    suite_id: str
    infectious: bool
    available_from: dt.date
    changeover_days: int
    decon_days: int
    downtime: tuple[Downtime, ...] = ()
    site: str = ""

    def turnaround_days(self, order: Order) -> int:
        """Days the suite stays closed after ``order``'s batch ends: cleaning, plus decon."""
        return self.changeover_days + (self.decon_days if order.infectious else 0)


@dataclass(frozen=True)
class Transfer:
    """A shipping route for starting material between two manufacturing sites: ``days`` from
    receipt at ``from_site`` to receipt at ``to_site`` (one way; the way back is its own route)."""

    from_site: str
    to_site: str
    days: int


@dataclass(frozen=True)
class Problem:
    """Orders to place, suites to place them in, and the laboratory's limits.

    ``qc_capacity`` is the number of batches the QC laboratory can have in release testing at once
    (``None``: unlimited). ``max_starts_per_day`` is what the staff on shift can start in one day
    (``None``: unlimited). ``today`` is the first day a batch that is not fixed may start; when it
    is not given, the plan starts at the earliest receipt or suite availability. ``transfers``
    are the shipping routes between sites along which material may go to a suite at another
    site than the one that received it.
    """

    orders: tuple[Order, ...]
    suites: tuple[Suite, ...]
    qc_capacity: int | None = None
    max_starts_per_day: int | None = None
    today: dt.date | None = None
    transfers: tuple[Transfer, ...] = ()

    def __post_init__(self) -> None:
        _check_problem(self)

    @cached_property
    def order_by_id(self) -> Mapping[str, Order]:
        return {o.order_id: o for o in self.orders}

    @cached_property
    def suite_by_id(self) -> Mapping[str, Suite]:
        return {s.suite_id: s for s in self.suites}

    @cached_property
    def transfer_by_sites(self) -> Mapping[tuple[str, str], int]:
        return {(t.from_site, t.to_site): t.days for t in self.transfers}

    def transfer_days(self, order: Order, suite: Suite) -> int | None:
        """Days the order's material travels to ``suite``: 0 at its own site (or when either
        site is not known), the route's days at another site, ``None`` when no route leads
        there (the suite may not take it)."""
        here, there = order.material_site, suite.site
        if not here or not there or here == there:
            return 0
        return self.transfer_by_sites.get((here, there))

    @cached_property
    def origin(self) -> dt.date:
        """Day 0 of the plan: ``today`` if given, else the earliest receipt or availability."""
        if self.today is not None:
            return self.today
        dates = [o.receipt_date for o in self.orders] + [s.available_from for s in self.suites]
        fixed = [o.fixed.start for o in self.orders if o.fixed is not None]
        return min(dates + fixed)

    @cached_property
    def sha256(self) -> str:
        """SHA-256 of the problem's canonical JSON (every field): what a plan was made from."""
        return sha256_hex(self)

    def replace(self, **changes: Any) -> Problem:
        return dataclasses.replace(self, **changes)


def _check_problem(problem: Problem) -> None:
    if not problem.suites:
        raise InputError("a scheduling problem needs at least one suite")
    suite_ids: set[str] = set()
    for s in problem.suites:
        if s.suite_id in suite_ids:
            raise InputError(f"suite {s.suite_id!r} is listed twice", field="suite_id")
        suite_ids.add(s.suite_id)
        if s.changeover_days < 0 or s.decon_days < 0:
            raise InputError(f"suite {s.suite_id}: changeover and decon days must be >= 0")
        for w in s.downtime:
            if w.end <= w.start:
                raise InputError(f"suite {s.suite_id}: downtime must end after it starts")
    seen: set[str] = set()
    for o in problem.orders:
        if o.order_id in seen:
            raise InputError(f"order {o.order_id!r} is listed twice", field="order_id")
        seen.add(o.order_id)
        if o.process_days < 1:
            raise InputError(f"order {o.order_id}: process_days must be >= 1")
        if o.max_hold_days < 0 or o.qc_days < 0 or o.ship_days < 0:
            raise InputError(f"order {o.order_id}: day counts must be >= 0")
        if o.fixed is not None and o.fixed.suite_id not in suite_ids:
            raise InputError(f"order {o.order_id}: fixed suite {o.fixed.suite_id!r} is unknown")
    routes: set[tuple[str, str]] = set()
    for t in problem.transfers:
        if t.days < 0 or not t.from_site or not t.to_site or t.from_site == t.to_site:
            raise InputError(
                f"shipping route {t.from_site!r} -> {t.to_site!r}: two different sites and "
                "days >= 0",
                field="transfers",
            )
        if (t.from_site, t.to_site) in routes:
            raise InputError(
                f"shipping route {t.from_site} -> {t.to_site} is listed twice", field="transfers"
            )
        routes.add((t.from_site, t.to_site))
    for name in ("qc_capacity", "max_starts_per_day"):
        value = getattr(problem, name)
        if value is not None and value < 1:
            raise InputError(f"{name} must be at least 1 (or unlimited)")


@dataclass(frozen=True)
class Assignment:
    """One order's batch in a plan, with every date the rules derive from its start."""

    order_id: str
    suite_id: str
    start: dt.date
    end: dt.date
    release: dt.date
    ship: dt.date

    @classmethod
    def of(cls, order: Order, suite_id: str, start: dt.date) -> Assignment:
        end = start + dt.timedelta(days=order.process_days)
        release = end + dt.timedelta(days=order.qc_days)
        return cls(
            order_id=order.order_id,
            suite_id=suite_id,
            start=start,
            end=end,
            release=release,
            ship=release + dt.timedelta(days=order.ship_days),
        )


@dataclass(frozen=True)
class Unscheduled:
    """An order the plan could not place, and why (usually: its hold expires first)."""

    order_id: str
    reason: str


@dataclass(frozen=True)
class LevelResult:
    """One level of a lexicographic solve (or the single weighted one)."""

    name: str
    value: float
    bound: float
    status: str
    seconds: float

    @property
    def gap(self) -> float:
        return relative_gap(self.value, self.bound)


def relative_gap(value: float, bound: float) -> float:
    """``(value - bound) / max(1, |value|)``: 0 when proven optimal."""
    return max(0.0, value - bound) / max(1.0, abs(value))


@dataclass(frozen=True)
class SolveInfo:
    """How a plan was produced: method, solver status, timings and the optimality gap.

    ``gap`` is the relative gap of the most important objective not proven optimal.
    ``lower_bound_days_late`` is a lower bound on total days late that no plan leaving no more
    orders unplaced can beat (the larger of the solver's own bound and the relaxation of
    :mod:`vein2vein.scheduling.bounds`); ``days_late_gap`` is the plan's relative distance to it,
    ``(days late - bound) / max(1, days late)``, so the plan is at most that far from the best;
    ``bound`` records how the relaxation's bound was reached.
    """

    method: str
    status: str
    wall_seconds: float
    first_feasible_seconds: float | None = None
    gap: float | None = None
    levels: tuple[LevelResult, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    lower_bound_days_late: int | None = None
    days_late_gap: float | None = None
    bound: Mapping[str, Any] | None = None


#: the libraries whose versions a plan's provenance records (the solver's)
SOLVER_LIBRARIES = ("ortools",)


@dataclass(frozen=True)
class Plan(Result):
    """A plan: the batches placed, the orders it could not place (with the reason), how it was
    solved (``info``) and its provenance: method, solver options, the hash of the problem and
    the OR-Tools version. Plans read back from JSON have neither. The provenance does not take
    part in comparisons (it carries the time it was computed)."""

    assignments: tuple[Assignment, ...]
    unscheduled: tuple[Unscheduled, ...] = ()
    info: SolveInfo | None = None
    provenance: Provenance | None = field(default=None, compare=False)

    @cached_property
    def by_order(self) -> Mapping[str, Assignment]:
        return {a.order_id: a for a in self.assignments}

    def _summary_lines(self) -> list[str]:
        info = self.info
        how = f" ({info.method}, {info.status}, {info.wall_seconds:.2f} s)" if info else ""
        return [
            f"Plan{how}: {len(self.assignments)} batch(es) placed, "
            f"{len(self.unscheduled)} order(s) unscheduled"
        ]


def solved_plan(
    problem: Problem,
    assignments: tuple[Assignment, ...],
    unscheduled: tuple[Unscheduled, ...],
    info: SolveInfo,
) -> Plan:
    """A solver's plan of ``problem`` with its provenance. The input hash is that of
    ``{"problem_sha256": problem.sha256}`` (the problem is hashed once, however many solvers
    run on it)."""
    made = provenance(
        info.method,
        dict(info.options),
        {"problem_sha256": problem.sha256},
        libraries=SOLVER_LIBRARIES,
    )
    return Plan(assignments, unscheduled, info, made)


@dataclass(frozen=True)
class CrossSite:
    """A batch made at another site than the one that received its material: the warning a
    plan shows. ``days`` is the shipping route's (``None``: there is no route, which the
    validator refuses for a batch the plan chose)."""

    order_id: str
    suite_id: str
    from_site: str
    to_site: str
    days: int | None


def cross_site_batches(problem: Problem, plan: Plan) -> tuple[CrossSite, ...]:
    """Every batch of ``plan`` in a suite at another site than its material's, by start."""
    out: list[CrossSite] = []
    for a in plan.assignments:
        order, suite = problem.order_by_id.get(a.order_id), problem.suite_by_id.get(a.suite_id)
        if order is None or suite is None:
            continue
        if order.material_site and suite.site and order.material_site != suite.site:
            days = problem.transfer_days(order, suite)
            out.append(CrossSite(a.order_id, a.suite_id, order.material_site, suite.site, days))
    return tuple(out)
