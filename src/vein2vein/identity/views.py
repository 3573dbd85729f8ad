"""Read side of the chain of identity: lists, details, the vein-to-vein timeline, the dashboard
of orders in flight and the lookup of a scanned label, always within the caller's scope; and the
presenters that turn rows into the public dicts the pages, the API, the CLI and the audit entries
show.

Lists and the dashboard carry subject ids only. Date of birth and initials appear only in
``patient_detail`` and only for roles holding ``personal_data.read``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.auth.tables import Organisation, Site
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import InputError, NotFound
from vein2vein.core.kept import Kept
from vein2vein.identity import access, domain, isbt128
from vein2vein.identity import coi as coi_module
from vein2vein.identity.domain import Step
from vein2vein.identity.intake import time_zone
from vein2vein.identity.tables import (
    CustodyEventRow,
    Facility,
    HandoffMismatch,
    IssuedDin,
    Order,
    Patient,
)
from vein2vein.manufacturing import deviations, plan_facts
from vein2vein.programs.tables import Program
from vein2vein.scheduling import delivery
from vein2vein.scheduling.projection import STATE_RANK, Projection, State
from vein2vein.store import audit, audited

_ORDER_LOADS = (
    selectinload(Order.events),
    selectinload(Order.mismatches),
    selectinload(Order.bags),
    selectinload(Order.patient),
    selectinload(Order.program),
    selectinload(Order.organisation),
    selectinload(Order.facility),
)

# --------------------------------------------------------------------------------------------
# presenters: rows as the public dicts (and the domain values) every reader gets
# --------------------------------------------------------------------------------------------


def patient_public(p: Patient) -> dict[str, Any]:
    """What any reader within scope may see: the subject id, never the personal data."""
    return {
        "id": p.id,
        "organisation_id": p.organisation_id,
        "sponsor": p.organisation.name,
        "program_id": p.program_id,
        "program": p.program.code,
        "subject_id": p.subject_id,
        "treatment_site": p.treatment_site.name,
        "enrolled_at": p.enrolled_at.isoformat(),
    }


def order_public(o: Order) -> dict[str, Any]:
    fmt = coi_module.get_format()
    return {
        "id": o.id,
        "organisation_id": o.organisation_id,
        "sponsor": o.organisation.name,
        "program": o.program.code,
        "patient_id": o.patient_id,
        "subject_id": o.patient.subject_id,
        "number": o.number,
        "coi": fmt.display(o.coi),
        "facility_fin": o.facility.fin,
        "product_code": o.product_code,
        "product_name": o.product_name,
        "dose_level": o.dose_level,
        "weight_kg": str(o.weight_kg),
        "planned_apheresis": o.planned_apheresis.isoformat(),
        "required_by": o.required_by.isoformat(),
        "time_zone": o.time_zone,
        "starting_material": o.starting_material,
        "markers": o.markers(),
        "segregated": o.segregated,
        "apheresis_din": o.apheresis_din,
        "product_din": o.product_din,
        "batch_number": o.batch_number,
        "bags": [b.public() for b in o.bags],
        "current_step": o.current_step,
        "current_step_at": o.current_step_at.isoformat() if o.current_step_at else None,
        "collection": o.collection,
    }


def din_public(row: IssuedDin) -> dict[str, Any]:
    din = isbt128.Din.from_code(row.din)
    return row.public() | {
        "check_character": din.check_character,
        "eye_readable": din.eye_readable(),
        "barcode": din.barcode_data(),
    }


def domain_events(order: Order) -> list[domain.CustodyEvent]:
    """The custody events of the order's current apheresis collection as the domain rules read
    them, oldest first (an earlier collection, whose batch failed, is history)."""
    return [
        domain.CustodyEvent(Step(e.step), e.occurred_at, e.performed_by, e.location, e.scanned)
        for e in sorted(order.current_events, key=lambda e: (e.occurred_at, e.id))
    ]


def open_mismatches(order: Order) -> list[HandoffMismatch]:
    return [m for m in order.mismatches if m.is_open]


# --------------------------------------------------------------------------------------------
# reads within the caller's scope
# --------------------------------------------------------------------------------------------


def list_patients(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Patients by subject id, each with how many orders they have: two statements whatever the
    number of patients (their sponsor, program and site joined, the orders counted in one
    aggregate)."""
    access.require_read(scope)
    stmt = scope.filter(select(Patient), Patient).order_by(Patient.subject_id)
    stmt = stmt.options(
        joinedload(Patient.organisation),
        joinedload(Patient.program),
        joinedload(Patient.treatment_site),
    )
    counted = scope.filter(
        select(Order.patient_id, func.count(Order.id))
        .join(Patient, Patient.id == Order.patient_id)
        .group_by(Order.patient_id),
        Patient,
    )
    orders: dict[int, int] = dict(session.execute(counted).all())
    return [patient_public(p) | {"orders": orders.get(p.id, 0)} for p in session.scalars(stmt)]


def treatment_sites(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """The sites a patient may be enrolled at (the enrol form's choices), by name."""
    stmt = scope.filter(select(Site), Site).order_by(Site.name)
    return [s.public() for s in session.scalars(stmt)]


def patient_id_by_subject(
    session: Session, scope: Scope, subject_id: str, sponsor: str | None = None
) -> int:
    """The patient with this subject id (``sponsor`` names the client when ids clash)."""
    stmt = scope.filter(select(Patient), Patient).where(
        Patient.subject_id == subject_id.strip().upper()
    )
    found = [p for p in session.scalars(stmt) if sponsor is None or p.organisation.name == sponsor]
    if not found:
        raise NotFound(f"subject {subject_id.strip().upper()} not found")
    if len(found) > 1:
        raise InputError(
            "several sponsors have this subject id: name the sponsor (--sponsor)", field="sponsor"
        )
    return found[0].id


def order_id_by_number(
    session: Session, scope: Scope, number: str, sponsor: str | None = None
) -> int:
    """The order with this number (``sponsor`` names the client when numbers clash)."""
    stmt = scope.filter(select(Order), Order).where(Order.number == number.strip().upper())
    found = [o for o in session.scalars(stmt) if sponsor is None or o.organisation.name == sponsor]
    if not found:
        raise NotFound(f"order {number.strip().upper()} not found")
    if len(found) > 1:
        raise InputError("several sponsors have this order number: add --sponsor", field="sponsor")
    return found[0].id


def patient_detail(session: Session, scope: Scope, patient_id: int) -> dict[str, Any]:
    patient = get_scoped(session, scope, Patient, patient_id)
    access.require_read(scope)
    out = patient_public(patient)
    now = utcnow()
    projected = projections(session, scope, list(patient.orders), now)
    out["orders"] = [
        _summary(
            _OrderHead.of(o),
            domain_events(o),
            [m.id for m in open_mismatches(o)],
            projected[o.id],
        )
        for o in patient.orders
    ]
    if access.sees_personal_data(scope):
        out["personal_data"] = {
            "date_of_birth": (patient.date_of_birth.isoformat() if patient.date_of_birth else None),
            "initials": patient.initials,
        }
    return out


def _local(when: dt.datetime, zone: str) -> str:
    return when.astimezone(time_zone(zone)).isoformat(timespec="minutes")


@dataclass(frozen=True)
class _OrderHead:
    """What a dashboard row shows of an order besides its custody events and open mismatches:
    read from a loaded ``Order`` (one order's page) or from one joined row (the dashboard)."""

    id: int
    number: str
    sponsor: str
    program: str
    subject_id: str
    coi: str
    time_zone: str
    planned_apheresis: dt.date
    required_by: dt.date
    segregated: bool
    weight_kg: Decimal
    cdmo_id: int
    product_code: str

    @classmethod
    def of(cls, order: Order) -> _OrderHead:
        return cls(
            order.id,
            order.number,
            order.organisation.name,
            order.program.code,
            order.patient.subject_id,
            order.coi,
            order.time_zone,
            order.planned_apheresis,
            order.required_by,
            order.segregated,
            order.weight_kg,
            order.facility.organisation_id,
            order.product_code,
        )


def projections(
    session: Session, scope: Scope, orders: list[Order], now: dt.datetime
) -> dict[int, Projection]:
    """The one delivery projection (``scheduling.delivery``) of loaded orders, by id."""
    return delivery.project_facts(session, scope, [delivery.facts_of(o) for o in orders], now)


def order_summary(session: Session, scope: Scope, order: Order, now: dt.datetime) -> dict[str, Any]:
    """One dashboard row of a loaded order (see ``_summary``)."""
    blocking = [m.id for m in open_mismatches(order)]
    projection = projections(session, scope, [order], now)[order.id]
    return _summary(_OrderHead.of(order), domain_events(order), blocking, projection)


def _summary(
    order: _OrderHead,
    events: list[domain.CustodyEvent],
    blocking: list[int],
    projection: Projection,
) -> dict[str, Any]:
    """Where the order stands, what comes next, and its delivery projection (the one service)."""
    state = domain.progress(events)
    return {
        "id": order.id,
        "number": order.number,
        "sponsor": order.sponsor,
        "program": order.program,
        "subject_id": order.subject_id,
        "coi": coi_module.get_format().display(order.coi),
        "product_code": order.product_code,
        "weight_kg": str(order.weight_kg),
        "current_step": state.current.value if state.current else None,
        "current_step_text": state.current.text if state.current else "not started",
        "since": state.since.isoformat() if state.since else None,
        "next_steps": [s.value for s in state.next_steps],
        "required_by": order.required_by.isoformat(),
        "projection": delivery.projection_public(projection),
        "on_hold": bool(blocking),
        "open_mismatch_ids": blocking,
        "segregated": order.segregated,
        "complete": state.complete,
    }


#: what the dashboard reads: a change to any of these tables is audited in the same transaction
#: (checked at commit, ``store.audited``), so the audit trail's head names the dashboard's data
DASHBOARD_INPUTS = tuple(
    t.__tablename__
    for t in (
        Order,
        Patient,
        Facility,
        CustodyEventRow,
        HandoffMismatch,
        Organisation,
        Program,
        *delivery.INPUT_TABLES,
    )
)
audited.require_audit(*DASHBOARD_INPUTS)

#: the last few dashboards computed (every row, in flight or not, worst first), by store, scope,
#: audit head and quarter hour (see ``dashboard``)
_DASHBOARDS: Kept[tuple[Any, ...], list[dict[str, Any]]] = Kept(4)
_STORES: WeakKeyDictionary[Any, int] = WeakKeyDictionary()
_STORE_NUMBERS = itertools.count(1)


def _store_of(session: Session) -> int:
    """A number for the database behind ``session`` (its connection pool: one per engine, shared
    by the read-only engine), never reused for another database within the process."""
    pool = session.get_bind().pool
    number = _STORES.get(pool)
    if number is None:
        number = _STORES.setdefault(pool, next(_STORE_NUMBERS))
    return number


def _quarter_hour(now: dt.datetime) -> dt.datetime:
    """``now`` (UTC) down to the quarter hour: every time zone's offset is a whole number of
    quarter hours, so the local date of every order is the same throughout it."""
    now = now.astimezone(dt.UTC)
    return now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)


def dashboard(
    session: Session, scope: Scope, now: dt.datetime | None = None, include_complete: bool = False
) -> list[dict[str, Any]]:
    """Orders in flight (not yet infused), worst state first: on hold, blocked, late, not
    scheduled, at risk, then the rest (``projection.STATE_RANK``); every order with
    ``include_complete``.

    The rows depend on the orders, their events and blockers, the latest plan and the product
    settings (``DASHBOARD_INPUTS``), the caller's scope and each order's local date. Every change
    to those tables writes an audit entry in its transaction (``store.audited`` refuses a commit
    that does not), so while the audit trail's head (sequence number and hash) and the quarter
    hour are the same, so are the rows: they are computed once and kept (``_DASHBOARDS``), and a
    busy list of thousands of orders costs one indexed read of the audit head per request. The
    rows are shared: callers filter and page them, never change them."""
    access.require_read(scope)
    now = now or utcnow()
    head = audit.head(session)
    seen = scope.organisation_ids
    key = (
        _store_of(session),
        None if seen is None else frozenset(seen),
        _quarter_hour(now),
        head.seq,
        head.hash,
    )
    rows = _DASHBOARDS.get_or_make(key, lambda: _dashboard_rows(session, scope, now))
    return list(rows) if include_complete else [r for r in rows if not r["complete"]]


def _dashboard_rows(session: Session, scope: Scope, now: dt.datetime) -> list[dict[str, Any]]:
    """Every order of the scope as a dashboard row, worst state first.

    A fixed number of statements whatever the number of orders: the orders with their sponsor,
    program, subject and facility joined, every custody event of those orders, their open
    mismatches (plain rows, no ORM objects: the dashboard of a large program lists thousands of
    orders), and the projection's own reads (``scheduling.delivery``)."""
    heads = scope.filter(
        select(
            Order.id,
            Order.number,
            Organisation.name,
            Program.code,
            Patient.subject_id,
            Order.coi,
            Order.time_zone,
            Order.planned_apheresis,
            Order.required_by,
            Order.segregated,
            Order.weight_kg,
            Facility.organisation_id,
            Order.product_code,
        )
        .join(Organisation, Organisation.id == Order.organisation_id)
        .join(Program, Program.id == Order.program_id)
        .join(Patient, Patient.id == Order.patient_id)
        .join(Facility, Facility.id == Order.facility_id),
        Order,
    ).order_by(Order.id)
    events: defaultdict[int, list[domain.CustodyEvent]] = defaultdict(list)
    in_scope = scope.filter(
        select(
            CustodyEventRow.order_id,
            CustodyEventRow.step,
            CustodyEventRow.occurred_at,
            CustodyEventRow.performed_by,
            CustodyEventRow.location,
            CustodyEventRow.scanned,
        )
        .join(
            Order,
            (Order.id == CustodyEventRow.order_id)
            & (Order.collection == CustodyEventRow.collection),
        )
        .order_by(CustodyEventRow.order_id, CustodyEventRow.occurred_at, CustodyEventRow.id),
        Order,
    )
    for order_id, step, at, by, location, scanned in session.execute(in_scope):
        events[order_id].append(domain.CustodyEvent(Step(step), at, by, location, scanned))
    blockers = delivery.open_blockers(session, scope, None)
    found = [_OrderHead(*head) for head in session.execute(heads)]
    facts = [
        delivery.OrderFacts(
            h.id,
            h.cdmo_id,
            h.product_code,
            h.planned_apheresis,
            h.required_by,
            h.time_zone,
            events=[(e.step, e.at) for e in events[h.id]],
            blockers=tuple(blockers.get(h.id, ())),
        )
        for h in found
    ]
    projected = delivery.project_facts(session, scope, facts, now)
    rows = [
        _summary(
            h,
            events[h.id],
            [int(b.ref.lstrip("#")) for b in blockers.get(h.id, ()) if b.kind == "mismatch"],
            projected[h.id],
        )
        for h in found
    ]
    return sorted(rows, key=lambda r: (STATE_RANK[State(r["projection"]["state"])], r["id"]))


def filter_orders(
    rows: Sequence[dict[str, Any]], state: str = "", text: str = ""
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The dashboard's rows that match ``text`` (in the order number, subject, CoI identifier,
    sponsor or program; case and spaces ignored) and, when given, are in delivery ``state``;
    with how many of the rows matching ``text`` are in each state (the filter's counts)."""
    needle = "".join(text.split()).casefold()

    def matches(r: dict[str, Any]) -> bool:
        fields = (r["number"], r["subject_id"], r["coi"], r["sponsor"], r["program"])
        return any(needle in "".join(str(f).split()).casefold() for f in fields)

    found = [r for r in rows if matches(r)] if needle else list(rows)
    counts: dict[str, int] = {}
    for r in found:
        counts[r["projection"]["state"]] = counts.get(r["projection"]["state"], 0) + 1
    if state:
        found = [r for r in found if r["projection"]["state"] == state]
    return found, counts


def _event_dict(e: Any) -> dict[str, Any]:
    step = Step(e.step)
    return {
        "id": e.id,
        "step": step.value,
        "step_text": step.text,
        "occurred_at": e.occurred_at.isoformat(),
        "local_time": _local(e.occurred_at, e.time_zone),
        "time_zone": e.time_zone,
        "location": e.location,
        "performed_by": e.performed_by,
        "recorded_by": e.recorded_by,
        "scanned": e.scanned,
        "identifiers_verified": [x for x in e.identifiers_verified.split(",") if x],
        "details": json.loads(e.details) if e.details else {},
        "suite": e.suite,
        "collection": e.collection,
    }


def mismatch_dict(m: HandoffMismatch) -> dict[str, Any]:
    return {
        "id": m.id,
        "order_id": m.order_id,
        "order_number": m.order.number,
        "subject_id": m.order.patient.subject_id,
        "sponsor": m.order.organisation.name,
        "step": m.step,
        "occurred_at": m.occurred_at.isoformat(),
        "location": m.location,
        "recorded_by": m.recorded_by,
        "scanned": m.scanned,
        "problems": json.loads(m.problems),
        "status": "open" if m.is_open else "cleared",
        "cleared_at": m.cleared_at.isoformat() if m.cleared_at else None,
        "cleared_by": m.cleared_by,
        "clear_reason": m.clear_reason,
    }


def _bar_positions(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Where each step's planned and expected day sit on a bar from the first to the last day
    shown (per cent), for the page's simple visual timeline."""
    days = [dt.date.fromisoformat(s[k]) for s in steps for k in ("planned", "expected") if s[k]]
    first, last = (min(days), max(days)) if days else (None, None)
    span = (last - first).days if first and last else 0

    def pos(text: str | None) -> float | None:
        if not text or not span or first is None:
            return None
        return round((dt.date.fromisoformat(text) - first).days / span * 100, 1)

    return [
        s | {"planned_pos": pos(s["planned"]), "expected_pos": pos(s["expected"])} for s in steps
    ]


def _timeline_dict(order: Order, projection: Projection, now: dt.datetime) -> dict[str, Any]:
    """The order's timeline: planned versus actual for every custody step from apheresis to
    infusion (planned days from the one projection: the published plan, else the product's
    durations), the vein-to-vein days, and the holds and mismatches to mark on it."""
    timeline = domain.vein_to_vein_timeline(domain_events(order), now)
    p = delivery.projection_public(projection)
    return {
        "steps": _bar_positions(delivery.timeline_public(projection, order.time_zone)),
        "source": p["source"],
        "state": p["state"],
        "state_text": p["state_text"],
        "target_v2v_days": p["target_v2v_days"],
        "allowed_v2v_days": p["allowed_v2v_days"],
        "actual_v2v_days": p["actual_v2v_days"],
        "projected_v2v_days": p["projected_v2v_days"],
        "vein_to_vein_days": (
            round(timeline.vein_to_vein_days, 1) if timeline.vein_to_vein_days else None
        ),
        "elapsed_days": (
            round(timeline.elapsed / dt.timedelta(days=1), 1) if timeline.elapsed else None
        ),
        "mismatches": [
            {
                "id": m.id,
                "step": m.step,
                "occurred_at": m.occurred_at.isoformat(),
                "open": m.is_open,
            }
            for m in order.mismatches
        ],
        "summary": timeline.summary(),
    }


def order_detail(session: Session, scope: Scope, order_id: int) -> dict[str, Any]:
    order = get_scoped(session, scope, Order, order_id)
    access.require_read(scope)
    now = utcnow()
    projection = projections(session, scope, [order], now)[order.id]
    blocking = [m.id for m in open_mismatches(order)]
    return order_public(order) | {
        "summary": _summary(_OrderHead.of(order), domain_events(order), blocking, projection),
        "events": [_event_dict(e) for e in sorted(order.events, key=lambda e: e.occurred_at)],
        "mismatches": [mismatch_dict(m) for m in order.mismatches],
        "timeline": _timeline_dict(order, projection, now),
        # deviations linked to this order, including one of a mismatch at another order's
        # hand-off where this order's identifier was scanned
        "deviations": deviations.of_order(session, scope, order.id),
        # the batch failed and its material is used up: what the order waits for
        "new_apheresis_needed": _new_apheresis_needed(session, order),
    }


def _new_apheresis_needed(session: Session, order: Order) -> str | None:
    failed = plan_facts.awaiting_apheresis_of(session, [order.id]).get(order.id)
    return failed.failure_text if failed is not None else None


def order_history(
    session: Session, scope: Scope, order_id: int, limit: int = 50
) -> list[dict[str, Any]]:
    """The order's audit entries, newest first, for roles that read the audit trail (else
    none)."""
    if not scope.can(Perm.AUDIT_READ):
        return []
    return [
        e.to_dict()
        for e in audit.query(
            session,
            entity_type="coi_order",
            entity_id=str(order_id),
            organisation_ids=scope.organisation_ids,
            newest_first=True,
            limit=limit,
        )
    ]


def patient_timeline(session: Session, scope: Scope, patient_id: int) -> dict[str, Any]:
    """Vein-to-vein timeline of each order of one patient (subject id only)."""
    patient = get_scoped(session, scope, Patient, patient_id)
    access.require_read(scope)
    now = utcnow()
    projected = projections(session, scope, list(patient.orders), now)
    return {
        "patient_id": patient.id,
        "subject_id": patient.subject_id,
        "sponsor": patient.organisation.name,
        "program": patient.program.code,
        "orders": [
            {
                "order_id": o.id,
                "number": o.number,
                "coi": coi_module.get_format().display(o.coi),
                "projection": delivery.projection_public(projected[o.id]),
                "timeline": _timeline_dict(o, projected[o.id], now),
                "events": [_event_dict(e) for e in sorted(o.events, key=lambda e: e.occurred_at)],
                "mismatches": [mismatch_dict(m) for m in o.mismatches],
            }
            for o in patient.orders
        ],
    }


def list_mismatches(session: Session, scope: Scope, open_only: bool = True) -> list[dict[str, Any]]:
    access.require_read(scope)
    stmt = scope.filter(select(HandoffMismatch), HandoffMismatch).order_by(HandoffMismatch.id)
    order = joinedload(HandoffMismatch.order)
    stmt = stmt.options(order.joinedload(Order.patient), order.joinedload(Order.organisation))
    if open_only:
        stmt = stmt.where(HandoffMismatch.cleared_at.is_(None))
    return [mismatch_dict(m) for m in session.scalars(stmt)]


def lookup_scan(session: Session, scope: Scope, text: str) -> dict[str, Any]:
    """What a scanned label is, and which order in the caller's scope it belongs to.

    The answer never reveals an order outside the caller's scope: such a label is "not known".
    """
    access.require_read(scope)
    scanned = domain.read_scans([text])
    structures = (
        [isbt128.structure_to_dict(s) for s in isbt128.parse_structures(text)]
        if text.strip()[:1] in {"=", "&", "]"}
        else []
    )
    stmt = scope.filter(select(Order), Order).options(*_ORDER_LOADS)
    conditions = []
    if scanned.dins:
        conditions += [
            Order.apheresis_din.in_(scanned.dins),
            Order.product_din.in_(scanned.dins),
            # an earlier collection's DIN (replaced after a failed batch) still names its order
            Order.id.in_(select(IssuedDin.order_id).where(IssuedDin.din.in_(scanned.dins))),
        ]
    if scanned.coi:
        conditions.append(Order.coi == scanned.coi)
    orders = []
    if conditions:
        orders = list(session.scalars(stmt.where(or_(*conditions))))
    matched = None
    if len(orders) == 1:
        o = orders[0]
        current = {o.apheresis_din, o.product_din}
        earlier = sorted(d for d in scanned.dins if d not in current)
        matched = order_summary(session, scope, o, utcnow()) | {
            "matched_on": [
                name
                for name, ok in (
                    ("apheresis_din", o.apheresis_din in scanned.dins),
                    ("product_din", o.product_din in scanned.dins),
                    ("earlier_din", bool(earlier)),
                    ("coi", scanned.coi == o.coi),
                )
                if ok
            ]
        }
    ok = matched is not None and not scanned.din_check_failed and len(orders) == 1
    if scanned.din_check_failed:
        verdict = "check character does not match: misread or damaged label"
    elif len(orders) > 1:
        verdict = "the scan belongs to more than one order: stop and call QA"
    elif matched is None:
        verdict = "not a label of any order you can see"
    else:
        verdict = f"order {matched['number']}, subject {matched['subject_id']}"
        if "earlier_din" in matched["matched_on"]:
            verdict += (
                ": a DIN of an earlier collection, no longer this order's current material "
                "(stop: do not hand it on as this order's product)"
            )
            ok = False
    return {
        "ok": ok,
        "verdict": verdict,
        "dins": sorted(scanned.dins),
        "coi": coi_module.get_format().display(scanned.coi) if scanned.coi else None,
        "din_check_failed": scanned.din_check_failed,
        "structures": structures,
        "order": matched,
    }
