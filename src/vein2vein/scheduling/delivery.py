"""Reading the one delivery projection of orders: the order's custody steps and open blockers,
the CDMO's latest published plan and the product's own durations, put through the pure rule of
``scheduling.projection``.

Every screen that shows a delivery date, a days-to-spare figure or a risk flag calls
:func:`project_facts` (lists that already read their orders) or :func:`project_orders` (one
order or a few): the orders list, the order and patient pages, the plan page, the sponsor's
slots and the API. A fixed number of statements whatever the number of orders: product settings,
laboratory margins, the latest plan of each CDMO, and that plan's slots of the orders asked for.

Product settings and plans are the CDMO's rows; a sponsor's caller gets only the projection of
orders within their scope, never the settings themselves.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.scope import Scope
from vein2vein.core.clock import utcnow
from vein2vein.identity.domain import Step
from vein2vein.identity.intake import time_zone
from vein2vein.identity.tables import CustodyEventRow, Facility, HandoffMismatch, Order
from vein2vein.manufacturing import plan_facts
from vein2vein.manufacturing.tables import Batch, Deviation
from vein2vein.scheduling.model import parse_weekdays
from vein2vein.scheduling.projection import (
    Blocker,
    BlockerKind,
    OrderDates,
    PlannedSlot,
    ProductDurations,
    Projection,
    project,
)
from vein2vein.scheduling.tables import LabSettings, PlanSlot, ProductSettings, PublishedPlan

#: the laboratory's at-risk margin when the CDMO has not set one (``sched_lab``'s default)
DEFAULT_MARGIN_DAYS = 2
#: above this many orders the plan's slots are read whole (within scope) instead of by id
_SLOTS_BY_ID = 200
#: the tables the projection reads besides the order and its custody (product and laboratory
#: settings, the published plans and their slots, open deviations, failed batches)
INPUT_TABLES = (ProductSettings, LabSettings, PublishedPlan, PlanSlot, Deviation, Batch)


@dataclass(frozen=True)
class OrderFacts:
    """What the projection reads of one order (from a loaded ``Order`` or from joined rows)."""

    id: int
    cdmo_id: int  # the organisation of the order's manufacturing facility
    product_code: str
    planned_apheresis: dt.date
    required_by: dt.date
    time_zone: str
    events: Sequence[tuple[Step, dt.datetime]] = ()
    #: open blockers: hand-off mismatches (on hold); open deviations (blocked) go here as
    #: ``BlockerKind.DEVIATION`` (see ``open_blockers``); a failed batch that needs a new
    #: apheresis is added by :func:`project_facts` itself (``plan_facts``)
    blockers: Sequence[Blocker] = field(default_factory=tuple)


def mismatch_blocker(mismatch_id: int, step: str) -> Blocker:
    return Blocker(
        BlockerKind.MISMATCH,
        f"#{mismatch_id}",
        f"hand-off mismatch #{mismatch_id} at {step.replace('_', ' ')} open",
    )


def new_apheresis_blocker(failure: str) -> Blocker:
    """``failure``: "batch 12 failed at SELECT (reason)" (``plan_facts.BatchFact``)."""
    return Blocker(
        BlockerKind.NEW_APHERESIS,
        failure.split(" failed")[0],
        f"{failure}: a new apheresis is needed",
    )


def deviation_blocker(number: str) -> Blocker:
    # the number only: a deviation's title may name another client's order (mismatch clearance)
    return Blocker(BlockerKind.DEVIATION, number, f"deviation {number} open")


def facts_of(order: Order) -> OrderFacts:
    """The facts of a loaded order (its events, mismatches and facility loaded or lazy)."""
    events = sorted(order.current_events, key=lambda e: (e.occurred_at, e.id))
    return OrderFacts(
        id=order.id,
        cdmo_id=order.facility.organisation_id,
        product_code=order.product_code,
        planned_apheresis=order.planned_apheresis,
        required_by=order.required_by,
        time_zone=order.time_zone,
        events=[(Step(e.step), e.occurred_at) for e in events],
        blockers=tuple(
            mismatch_blocker(m.id, m.step) for m in order.mismatches if m.cleared_at is None
        ),
    )


def _durations(row: ProductSettings) -> ProductDurations:
    try:
        weekdays: frozenset[int] | None = parse_weekdays(row.start_weekdays)
    except ValueError:  # settings are checked when saved; an old unreadable one allows any day
        weekdays = None
    return ProductDurations(
        inbound_days=row.inbound_days,
        process_days=row.process_days,
        qc_days=row.qc_days,
        ship_days=row.ship_days,
        start_weekdays=weekdays,
    )


def project_facts(
    session: Session, scope: Scope, facts: Sequence[OrderFacts], now: dt.datetime | None = None
) -> dict[int, Projection]:
    """The projection of each order (by id); the orders were read within ``scope``."""
    if not facts:
        return {}
    now = now or utcnow()
    cdmos = sorted({f.cdmo_id for f in facts})
    products = {
        (p.organisation_id, p.product_code): _durations(p)
        for p in session.scalars(
            select(ProductSettings).where(ProductSettings.organisation_id.in_(cdmos))
        )
    }
    margins = dict(
        session.execute(
            select(LabSettings.organisation_id, LabSettings.risk_margin_days).where(
                LabSettings.organisation_id.in_(cdmos)
            )
        ).all()
    )
    slots = _latest_slots(session, scope, cdmos, [f.id for f in facts])
    failed = plan_facts.awaiting_apheresis_of(session, [f.id for f in facts])
    out: dict[int, Projection] = {}
    for f in facts:
        blockers = tuple(f.blockers)
        if f.id in failed:
            blockers += (new_apheresis_blocker(failed[f.id].failure_text),)
        zone = time_zone(f.time_zone)
        actual: dict[Step, dt.datetime] = {}
        for step, at in sorted(f.events, key=lambda e: e[1]):
            actual.setdefault(step, at)
        out[f.id] = project(
            OrderDates(f.planned_apheresis, f.required_by, actual, zone),
            now.astimezone(zone).date(),
            durations=products.get((f.cdmo_id, f.product_code[:5])),
            slot=slots.get(f.id),
            blockers=blockers,
            margin_days=margins.get(f.cdmo_id, DEFAULT_MARGIN_DAYS),
        )
    return out


def _latest_slots(
    session: Session, scope: Scope, cdmos: Sequence[int], order_ids: Sequence[int]
) -> dict[int, PlannedSlot]:
    """Each order's slot in the latest published plan of its CDMO (one statement)."""
    latest = (
        select(func.max(PublishedPlan.id))
        .where(PublishedPlan.organisation_id.in_(cdmos))
        .group_by(PublishedPlan.organisation_id)
    )
    stmt = scope.filter(
        select(PlanSlot, PublishedPlan.version)
        .join(PublishedPlan, PublishedPlan.id == PlanSlot.plan_id)
        .where(PlanSlot.plan_id.in_(latest)),
        PlanSlot,
    )
    if len(order_ids) <= _SLOTS_BY_ID:
        stmt = stmt.where(PlanSlot.order_id.in_(order_ids))
    wanted = set(order_ids)
    return {
        slot.order_id: PlannedSlot(
            version=version,
            status=slot.status,
            start=slot.start,
            release=slot.release,
            delivery=slot.ship,
            note=slot.note,
        )
        for slot, version in session.execute(stmt)
        if slot.order_id in wanted
    }


def open_blockers(
    session: Session, scope: Scope, order_ids: Iterable[int] | None
) -> dict[int, list[Blocker]]:
    """Open blockers of orders within scope (all of the scope's orders when ``order_ids`` is
    None): open hand-off mismatches (the order is on hold) and open deviations of the order
    (blocked until QA closes them). Two statements whatever the number of orders."""
    wanted = list(order_ids) if order_ids is not None else None
    stmt = scope.filter(
        select(HandoffMismatch.order_id, HandoffMismatch.id, HandoffMismatch.step)
        .join(Order, Order.id == HandoffMismatch.order_id)
        .where(HandoffMismatch.cleared_at.is_(None))
        .order_by(HandoffMismatch.id),
        Order,
    )
    if wanted is not None:
        stmt = stmt.where(HandoffMismatch.order_id.in_(wanted))
    out: defaultdict[int, list[Blocker]] = defaultdict(list)
    for order_id, mismatch_id, step in session.execute(stmt):
        out[order_id].append(mismatch_blocker(mismatch_id, step))
    deviations = scope.filter(
        select(Deviation.order_id, Deviation.number)
        .join(Order, Order.id == Deviation.order_id)
        .where(Deviation.status == "open")
        .order_by(Deviation.id),
        Order,
    )
    if wanted is not None:
        deviations = deviations.where(Deviation.order_id.in_(wanted))
    for order_id, number in session.execute(deviations):
        out[order_id].append(deviation_blocker(number))
    return dict(out)


def project_orders(
    session: Session, scope: Scope, order_ids: Sequence[int], now: dt.datetime | None = None
) -> dict[int, Projection]:
    """The projection of orders within scope, by id (an id out of scope is left out)."""
    if not order_ids:
        return {}
    heads = session.execute(
        scope.filter(
            select(
                Order.id,
                Facility.organisation_id,
                Order.product_code,
                Order.planned_apheresis,
                Order.required_by,
                Order.time_zone,
            )
            .join(Facility, Facility.id == Order.facility_id)
            .where(Order.id.in_(list(order_ids))),
            Order,
        )
    ).all()
    events: defaultdict[int, list[tuple[Step, dt.datetime]]] = defaultdict(list)
    rows = session.execute(
        select(CustodyEventRow.order_id, CustodyEventRow.step, CustodyEventRow.occurred_at)
        .join(
            Order,
            (Order.id == CustodyEventRow.order_id)
            & (Order.collection == CustodyEventRow.collection),
        )
        .where(CustodyEventRow.order_id.in_([h[0] for h in heads]))
    )
    for order_id, step, at in rows:
        events[order_id].append((Step(step), at))
    blockers = open_blockers(session, scope, [h[0] for h in heads])
    facts = [
        OrderFacts(*head, events=events[head[0]], blockers=tuple(blockers.get(head[0], ())))
        for head in heads
    ]
    return project_facts(session, scope, facts, now)


# --------------------------------------------------------------------------------------------
# presenters
# --------------------------------------------------------------------------------------------


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def projection_public(p: Projection) -> dict[str, Any]:
    """What pages, the API and the command line show of a projection (dates as ISO text)."""
    return {
        "state": p.state.value,
        "state_text": p.state.text,
        "on_track": p.state.value == "on_track",
        "source": p.source,
        "plan_version": p.plan_version,
        "delivery": _day(p.delivery),
        "delivered": p.delivered,
        "required_by": p.required_by.isoformat(),
        "days_to_spare": p.days_to_spare,
        "margin_days": p.margin_days,
        "blockers": [{"kind": b.kind.value, "ref": b.ref, "text": b.text} for b in p.blockers],
        "message": p.message,
        "target_v2v_days": p.target_v2v_days,
        "allowed_v2v_days": p.allowed_v2v_days,
        "actual_v2v_days": p.actual_v2v_days,
        "projected_v2v_days": p.projected_v2v_days,
    }


def timeline_public(p: Projection, zone_name: str) -> list[dict[str, Any]]:
    """Planned versus actual for every custody step, apheresis to infusion."""
    zone = time_zone(zone_name)
    return [
        {
            "step": s.step.value,
            "label": s.label,
            "optional": s.optional,
            "planned": _day(s.planned),
            "actual": s.actual.isoformat() if s.actual else None,
            "expected": _day(s.expected),
            "late_days": s.late_days(zone),
        }
        for s in p.steps
    ]
