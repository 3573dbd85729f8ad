"""From the store to the pure problem model: orders in flight, suites, downtime, lab limits.

Conventions (docs/scheduling.md, "Planning from the store"):

- orders in flight are the CDMO's orders whose custody (of the order's current apheresis
  collection) has not reached ``released``;
- a **started batch** (the executed batch record, ``manufacturing.plan_facts``: its first step
  has started) is fixed on the local day (the facility's zone) its first step started, in the
  suite it works in now (its latest started step's suite, the planned one or another), whatever
  the published plan said; an order with a ``manufacturing_started`` custody step and no batch
  record is fixed on the local day of that step, in the suite the latest published plan gave it
  (or, if it was never planned, the first eligible suite free that day, and the assumption is
  listed);
- a **failed batch** keeps its suite from the day it started to the day it failed plus the
  suite's cleaning (and decontamination after infectious material), as downtime of that suite:
  nothing is freed retroactively. Its order is not planned (listed as skipped, with the failure)
  until a new apheresis is on its way; then it is planned from the new collection's dates;
- receipt date: the local day of the ``received`` step; before receipt, the day of collection (or
  the planned apheresis) plus the product's inbound days;
- maximum hold: the product's fresh or cryopreserved hold, by the order's starting material;
- infectious: the order's ``segregated`` flag (any positive infectious-disease marker);
- durations, start weekdays, QC days (rapid or compendial) and shipping days: the product's
  settings, found by the ISBT 128 product description code (first five characters of the order's
  product code). An order whose product has no settings is not planned and is listed as skipped;
- suites: every suite of the CDMO, with its manufacturing site; downtime windows that are not
  cancelled (last day included); the QC capacity and starts per day from the laboratory
  settings (no row: no limit);
- where the material is: the manufacturing site set as receiving site of the order's facility
  (FIN); a facility without one binds no site (any suite may take its orders; the preview says
  so when the CDMO has suites at more than one site). Material goes to a suite at another site
  only along a shipping route between the two sites (``sched_site_transfer`` with its days).

The pure order id is the order number (unique within a sponsor); if two sponsors' numbers were
ever equal, both get ``~<database id>`` appended so that the plan never mixes them up.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, selectinload

from vein2vein.auth.tables import Site
from vein2vein.core.canonical import sha256_hex
from vein2vein.core.errors import RuleViolation
from vein2vein.identity.domain import Step
from vein2vein.identity.tables import CustodyEventRow, Facility
from vein2vein.identity.tables import Order as OrderRow
from vein2vein.manufacturing import plan_facts
from vein2vein.manufacturing.plan_facts import BatchFact
from vein2vein.scheduling import model
from vein2vein.scheduling.model import FixedBatch, Plan, Problem, parse_weekdays
from vein2vein.scheduling.snapshot import problem_to_json
from vein2vein.scheduling.tables import (
    LabSettings,
    ProductSettings,
    ReceivingSite,
    SiteTransfer,
    Suite,
)

#: Custody steps from which the batch no longer needs a suite or the QC laboratory.
DONE_STEPS = frozenset(
    {
        Step.RELEASED,
        Step.PRODUCT_PACKED,
        Step.PRODUCT_SHIPPED,
        Step.PRODUCT_RECEIVED,
        Step.PRODUCT_STORED,
        Step.ISSUED,
        Step.THAWED,
        Step.INFUSED,
    }
)


_DONE = frozenset(s.value for s in DONE_STEPS)


@dataclass(frozen=True)
class OrderRef:
    """Which store order a pure order id stands for."""

    id: int
    organisation_id: int
    number: str
    required_by: dt.date
    started: bool


@dataclass(frozen=True)
class Skipped:
    number: str
    reason: str


@dataclass(frozen=True)
class StoreProblem:
    """The problem as the store has it on ``today``, with what was left out and assumed."""

    problem: Problem
    refs: Mapping[str, OrderRef]
    skipped: tuple[Skipped, ...]
    assumptions: tuple[str, ...]
    #: facilities whose material no site is set to receive, when suites are at several sites
    site_notes: tuple[str, ...] = ()
    #: orders planned again from a new apheresis after their batch failed (the change is a
    #: replacement of the published batch, not a move)
    renewed: frozenset[str] = frozenset()

    @property
    def inputs_sha256(self) -> str:
        """Hash of everything the plan depends on: publishing refuses if it changed since."""
        return sha256_hex(
            {
                "problem": problem_to_json(self.problem),
                "skipped": [[s.number, s.reason] for s in self.skipped],
            }
        )


def _local_day(event: CustodyEventRow) -> dt.date:
    try:
        zone = ZoneInfo(event.time_zone)
    except Exception:  # a zone unknown here: the UTC day is the honest fallback
        zone = ZoneInfo("UTC")
    return event.occurred_at.astimezone(zone).date()


def _suites(session: Session, cdmo_id: int) -> tuple[model.Suite, ...]:
    rows = session.scalars(
        select(Suite)
        .where(Suite.organisation_id == cdmo_id)
        .options(selectinload(Suite.downtime), selectinload(Suite.site))
        .order_by(Suite.code)
    ).all()
    return tuple(
        model.Suite(
            suite_id=s.code,
            site=s.site.name,
            infectious=s.infectious,
            available_from=s.available_from,
            changeover_days=s.changeover_days,
            decon_days=s.decon_days,
            downtime=tuple(
                model.Downtime(w.first_day, w.last_day + dt.timedelta(days=1), w.reason)
                for w in s.downtime
                if w.active
            ),
        )
        for s in rows
    )


def receiving_sites(session: Session, cdmo_id: int) -> dict[int, str]:
    """Facility id -> the name of the manufacturing site that receives its material."""
    rows = session.execute(
        select(ReceivingSite.facility_id, Site.name)
        .join(Site, Site.id == ReceivingSite.site_id)
        .where(ReceivingSite.organisation_id == cdmo_id)
    ).all()
    return {facility: name for facility, name in rows}


def transfers(session: Session, cdmo_id: int) -> tuple[model.Transfer, ...]:
    """The open shipping routes between the CDMO's manufacturing sites."""
    origin, to = aliased(Site), aliased(Site)
    rows = session.execute(
        select(origin.name, to.name, SiteTransfer.days)
        .join(origin, origin.id == SiteTransfer.from_site_id)
        .join(to, to.id == SiteTransfer.to_site_id)
        .where(SiteTransfer.organisation_id == cdmo_id, SiteTransfer.days.is_not(None))
        .order_by(origin.name, to.name)
    ).all()
    return tuple(model.Transfer(a, b, int(days)) for a, b, days in rows)


def products(session: Session, cdmo_id: int) -> dict[str, ProductSettings]:
    rows = session.scalars(
        select(ProductSettings).where(ProductSettings.organisation_id == cdmo_id)
    ).all()
    return {p.product_code: p for p in rows}


def order_for_product(
    order_id: str,
    settings: ProductSettings,
    *,
    receipt: dt.date,
    required_by: dt.date,
    fresh: bool,
    infectious: bool,
    fixed: FixedBatch | None = None,
    material_site: str = "",
) -> model.Order:
    """A pure order from a product's settings (also used for hypothetical what-if orders)."""
    return model.Order(
        order_id=order_id,
        receipt_date=receipt,
        max_hold_days=settings.fresh_hold_days if fresh else settings.cryo_hold_days,
        required_by=required_by,
        infectious=infectious,
        process_days=settings.process_days,
        qc_days=settings.qc_days,
        ship_days=settings.ship_days,
        product=settings.product_code,
        start_weekdays=parse_weekdays(settings.start_weekdays),
        fixed=fixed,
        material_site=material_site,
    )


def _receipt(order: OrderRow, steps: Mapping[str, CustodyEventRow], inbound: int) -> dt.date:
    if Step.RECEIVED.value in steps:
        return _local_day(steps[Step.RECEIVED.value])
    collected = steps.get(Step.COLLECTED.value)
    start = _local_day(collected) if collected is not None else order.planned_apheresis
    return start + dt.timedelta(days=inbound)


def _zone_day(at: dt.datetime, zone_name: str) -> dt.date:
    try:
        zone = ZoneInfo(zone_name)
    except Exception:  # a zone unknown here: the UTC day is the honest fallback
        zone = ZoneInfo("UTC")
    return at.astimezone(zone).date()


def _failed_block(
    fact: BatchFact, order: model.Order, suite: model.Suite, zone: str, key: str
) -> model.Downtime:
    """A failed batch's suite time: from its start to its failure plus the suite's cleaning
    (the same rule as the what-if ``replan.BatchFailed``)."""
    assert fact.started_at is not None and fact.failed_at is not None
    start = _zone_day(fact.started_at, zone)
    cleaned = _zone_day(fact.failed_at, zone) + dt.timedelta(days=suite.turnaround_days(order))
    return model.Downtime(
        start,
        max(cleaned, start + dt.timedelta(days=1)),
        f"failed batch {fact.batch_id} of {key} and cleaning",
    )


def load_problem(
    session: Session, cdmo_id: int, today: dt.date, published: Plan | None = None
) -> StoreProblem:
    """The CDMO's problem on ``today`` (see the module's conventions)."""
    suites = _suites(session, cdmo_id)
    if not suites:
        raise RuleViolation("no GMP suites are set up yet: add the suites before planning")
    lab = session.scalar(select(LabSettings).where(LabSettings.organisation_id == cdmo_id))
    settings = products(session, cdmo_id)
    receiving = receiving_sites(session, cdmo_id)
    unbound: dict[str, None] = {}
    rows = session.scalars(
        select(OrderRow)
        .join(Facility, Facility.id == OrderRow.facility_id)
        .where(Facility.organisation_id == cdmo_id)
        .options(selectinload(OrderRow.events), selectinload(OrderRow.facility))
        .order_by(OrderRow.placed_at, OrderRow.id)
    ).all()
    numbers = Counter(r.number for r in rows)
    orders: list[model.Order] = []
    refs: dict[str, OrderRef] = {}
    skipped: list[Skipped] = []
    started: list[tuple[str, model.Order, dt.date, str | None]] = []
    in_flight = [r for r in rows if not any(e.step in _DONE for e in r.current_events)]
    facts = plan_facts.batch_facts(session, [r.id for r in in_flight])
    by_code = {s.suite_id.upper(): s for s in suites}
    blocks: dict[str, list[model.Downtime]] = {}
    notes: list[str] = []
    renewed: set[str] = set()
    for row in rows:
        steps = {e.step: e for e in row.current_events}
        if any(s.value in steps for s in DONE_STEPS):
            continue
        key = row.number if numbers[row.number] == 1 else f"{row.number}~{row.id}"
        product = settings.get(row.product_code[:5])
        if product is None:
            skipped.append(Skipped(key, f"no process settings for product {row.product_code[:5]}"))
            continue
        start_event = steps.get(Step.MANUFACTURING_STARTED.value)
        order = order_for_product(
            key,
            product,
            receipt=_receipt(row, steps, product.inbound_days),
            required_by=row.required_by,
            fresh=row.starting_material == "fresh",
            infectious=row.segregated,
            material_site=receiving.get(row.facility_id, ""),
        )
        batches = facts.get(row.id, [])
        zone = row.facility.time_zone
        for fact in batches:
            if fact.failed and fact.started_at is not None and fact.failed_at is not None:
                suite = by_code.get(fact.current_suite.upper())
                if suite is None:
                    notes.append(
                        f"{key}: failed batch {fact.batch_id} worked in {fact.current_suite}, "
                        "which is not a planning suite: no suite time kept for it"
                    )
                    continue
                blocks.setdefault(suite.suite_id, []).append(
                    _failed_block(fact, order, suite, zone, key)
                )
        failed = plan_facts.awaiting_apheresis(batches, row.apheresis_din)
        if failed is not None:
            skipped.append(Skipped(key, f"{failed.failure_text}: a new apheresis is needed"))
            continue
        if any(f.failed for f in batches):
            renewed.add(key)
        if not order.material_site:
            unbound[row.facility.name] = None
        live = plan_facts.live_batch(batches)
        batch_start = live.started_at if live is not None else None
        refs[key] = OrderRef(
            row.id,
            row.organisation_id,
            row.number,
            row.required_by,
            start_event is not None or batch_start is not None,
        )
        if live is not None and batch_start is not None:
            code = live.current_suite.upper()
            if code not in by_code:
                notes.append(
                    f"{key}: batch {live.batch_id} works in {live.current_suite}, which is not "
                    "a planning suite"
                )
            suite_id = by_code[code].suite_id if code in by_code else None
            started.append((key, order, _zone_day(batch_start, zone), suite_id))
        elif start_event is not None:
            started.append((key, order, _local_day(start_event), None))
        else:
            orders.append(order)
    # a batch started in that suite since shows it was cleaned by then: the failed batch's
    # time ends there (the record is the truth, not the cleaning days of the settings)
    for _, _, day, actual in started:
        if actual in blocks:
            blocks[actual] = [
                dataclasses.replace(b, end=day) if b.start < day < b.end else b
                for b in blocks[actual]
            ]
    suites = tuple(
        dataclasses.replace(s, downtime=(*s.downtime, *blocks[s.suite_id]))
        if s.suite_id in blocks
        else s
        for s in suites
    )
    fixed, assumptions, lost = _place_started(started, suites, published)
    assumptions = [*notes, *assumptions]
    for key, reason in lost:
        skipped.append(Skipped(key, reason))
        refs.pop(key, None)
    site_notes = tuple(
        f"facility {name} has no receiving site: its orders may go to any site's suites"
        for name in (unbound if len({s.site for s in suites}) > 1 else ())
    )
    problem = Problem(
        orders=(*fixed, *orders),
        suites=suites,
        qc_capacity=lab.qc_capacity if lab else None,
        max_starts_per_day=lab.max_starts_per_day if lab else None,
        today=today,
        transfers=transfers(session, cdmo_id),
    )
    return StoreProblem(
        problem, refs, tuple(skipped), tuple(assumptions), site_notes, frozenset(renewed)
    )


def _place_started(
    started: list[tuple[str, model.Order, dt.date, str | None]],
    suites: tuple[model.Suite, ...],
    published: Plan | None,
) -> tuple[list[model.Order], list[str], list[tuple[str, str]]]:
    """Fix each started batch in the suite its batch record says it works in; without one, in
    its published suite, or assume the first eligible free one."""
    by_id = {s.suite_id: s for s in suites}
    busy: dict[str, list[tuple[dt.date, dt.date]]] = {s.suite_id: [] for s in suites}
    out: list[model.Order] = []
    notes: list[str] = []
    lost: list[tuple[str, str]] = []
    planned = published.by_order if published is not None else {}

    def span(order: model.Order, suite: model.Suite, start: dt.date) -> tuple[dt.date, dt.date]:
        days = order.process_days + suite.turnaround_days(order)
        return start, start + dt.timedelta(days=days)

    def free(order: model.Order, suite: model.Suite, start: dt.date) -> bool:
        a, b = span(order, suite, start)
        windows = busy[suite.suite_id] + [(w.start, w.end) for w in suite.downtime]
        return suite.available_from <= start and all(b <= x or y <= a for x, y in windows)

    for key, order, start, actual in sorted(started, key=lambda item: (item[2], item[0])):
        eligible = [s for s in suites if s.infectious or not order.infectious]
        # a batch started but never planned is assumed at its material's own site first
        eligible.sort(key=lambda s: bool(order.material_site) and s.site != order.material_site)
        was = planned.get(key)
        if actual is not None:
            suite = by_id[actual]  # the batch record: where it really works
        elif was is not None and was.suite_id in by_id:
            suite = by_id[was.suite_id]
        else:
            choice = next((s for s in eligible if free(order, s, start)), None)
            if choice is None and eligible:
                choice = eligible[0]
            if choice is None:
                lost.append((key, "started, but no suite may take infectious material"))
                continue
            suite = choice
            notes.append(
                f"{key} started on {start} and was never planned: assumed in suite {suite.suite_id}"
            )
        busy[suite.suite_id].append(span(order, suite, start))
        out.append(dataclasses.replace(order, fixed=FixedBatch(suite.suite_id, start)))
    return out, notes, lost
