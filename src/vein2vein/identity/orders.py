"""Use cases of patients and orders: facilities and their DIN counters, enrolment, orders, the
apheresis DIN and the final product's bags. One unit of work per use case, owned by the caller;
every change writes its audit entry in the same transaction.

Each use case reads its rows through the caller's tenant scope, has the input read by
``intake`` and the rules applied by ``domain`` and ``isbt128``, then writes. Personal data (date
of birth, initials) is written by :func:`enrol_patient` and read only through
``views.patient_detail`` by roles holding ``personal_data.read``; audit entries carry a salted
SHA-256 of it, never the values.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.auth.service import organisation_by_name
from vein2vein.auth.tables import Organisation, Site
from vein2vein.core.canonical import canonical_json, sha256_hex
from vein2vein.core.clock import utcnow
from vein2vein.core.dates import bounded_date
from vein2vein.core.errors import Conflict, InputError, NotFound, RuleViolation
from vein2vein.core.text import clean_text, parse_id
from vein2vein.identity import access, intake, isbt128, views
from vein2vein.identity import coi as coi_module
from vein2vein.identity.domain import Step
from vein2vein.identity.tables import (
    Bag,
    DinCounter,
    Facility,
    IssuedDin,
    Order,
    Patient,
)
from vein2vein.manufacturing import plan_facts
from vein2vein.programs.tables import Program
from vein2vein.store.locks import lock_row
from vein2vein.store.uow import UnitOfWork

# --------------------------------------------------------------------------------------------
# facilities and DINs
# --------------------------------------------------------------------------------------------


def register_facility(
    uow: UnitOfWork, organisation: Organisation | str, fin: str, name: str, zone: str = "UTC"
) -> Facility:
    """Register a facility's FIN (server-side administration; ICCBBA assigns the FIN).

    ``organisation`` runs the facility: the row, or its name as typed at the command line."""
    s = uow.session
    if isinstance(organisation, str):
        organisation = organisation_by_name(s, organisation)
    fin = fin.strip().upper()
    isbt128.Din(fin, 0, 1)  # validates the FIN with the DIN rules
    intake.time_zone(zone)
    if not name.strip():
        raise InputError("a facility needs a name", field="name")
    if s.scalar(select(Facility.id).where(Facility.fin == fin)):
        raise Conflict(f"facility {fin} is already registered")
    facility = Facility(organisation_id=organisation.id, fin=fin, name=name.strip(), time_zone=zone)
    s.add(facility)
    s.flush()
    uow.record(
        "coi.facility_register",
        "coi_facility",
        facility.id,
        after=facility.public(),
        organisation_id=organisation.id,
    )
    return facility


def facility_by_fin(session: Session, fin: str) -> Facility:
    facility = session.scalar(select(Facility).where(Facility.fin == fin.strip().upper()))
    if facility is None:
        raise NotFound(f"no facility with FIN {fin.strip().upper()} is registered")
    return facility


def _ensure_counter(session: Session, facility_id: int, year: int) -> None:
    """Create the counter row of (facility, year) if missing; a concurrent creator wins."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(DinCounter)
        .values(facility_id=facility_id, year=year, last_sequence=0)
        .on_conflict_do_nothing(index_elements=["facility_id", "year"])
    )
    session.execute(stmt)


def issue_din(
    uow: UnitOfWork,
    scope: Scope,
    fin: str,
    *,
    purpose: str = "unassigned",
    order: Order | None = None,
    now: dt.datetime | None = None,
) -> IssuedDin:
    """Issue the next DIN of a facility for the current year (in the facility's time zone).

    The counter row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions
    begin IMMEDIATE, which serialises writers), so concurrent issuers never get the same number
    and never skip one; the unique constraints on ``coi_din`` are the last line of defence.
    Issue DINs before any other change of the same unit of work: the counter lock is always
    taken before the audit-chain lock.
    """
    access.require_issue(scope)
    s = uow.session
    facility = facility_by_fin(s, fin)
    year = (now or utcnow()).astimezone(intake.time_zone(facility.time_zone)).year
    _ensure_counter(s, facility.id, year)
    counter = s.scalars(
        select(DinCounter)
        .where(DinCounter.facility_id == facility.id, DinCounter.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    din = isbt128.next_din(facility.fin, year, counter.last_sequence)
    counter.last_sequence = din.sequence
    row = IssuedDin(
        din=din.code,
        facility_id=facility.id,
        year=year,
        sequence=din.sequence,
        organisation_id=order.organisation_id if order else None,
        order_id=order.id if order else None,
        purpose=purpose,
        issued_by=uow.actor.name,
    )
    s.add(row)
    s.flush()
    uow.record(
        "coi.din_issue",
        "coi_din",
        din.code,
        after=row.public() | {"fin": facility.fin},
        organisation_id=order.organisation_id if order else facility.organisation_id,
    )
    return row


# --------------------------------------------------------------------------------------------
# patients
# --------------------------------------------------------------------------------------------


def _personal_digest(salt: str, date_of_birth: dt.date | None, initials: str | None) -> str:
    values = {"date_of_birth": date_of_birth, "initials": initials}
    return sha256_hex({"salt": salt, "values": json.loads(canonical_json(values))})


def _audit_patient(p: Patient) -> dict[str, Any]:
    return {
        "subject_id": p.subject_id,
        "program_id": p.program_id,
        "treatment_site_id": p.treatment_site_id,
        "personal_data_sha256": _personal_digest(p.personal_data_salt, p.date_of_birth, p.initials),
    }


def enrol_patient(
    uow: UnitOfWork,
    scope: Scope,
    *,
    program_id: int,
    subject_id: str,
    treatment_site_id: int,
    date_of_birth: dt.date | str | None = None,
    initials: str | None = None,
) -> Patient:
    s = uow.session
    program = get_scoped(s, scope, Program, program_id)
    access.require_order(scope)
    subject = intake.subject_id(subject_id)
    site_key = parse_id(treatment_site_id)
    site = s.get(Site, site_key) if site_key is not None else None
    if site is None or site.organisation_id != program.organisation_id:
        raise InputError("choose one of the sponsor's treatment sites", field="treatment_site_id")
    dob = intake.date_of_birth(date_of_birth)
    ini = intake.initials(initials)
    if s.scalar(
        select(Patient.id).where(
            Patient.organisation_id == program.organisation_id, Patient.subject_id == subject
        )
    ):
        raise Conflict(f"subject {subject} is already enrolled")
    patient = Patient(
        organisation_id=program.organisation_id,
        program_id=program.id,
        subject_id=subject,
        treatment_site_id=site.id,
        date_of_birth=dob,
        initials=ini,
        personal_data_salt=secrets.token_hex(16),
        enrolled_by=uow.actor.name,
    )
    s.add(patient)
    s.flush()
    uow.record(
        "coi.patient_enrol",
        "coi_patient",
        patient.id,
        after=_audit_patient(patient),
        organisation_id=patient.organisation_id,
    )
    return patient


# --------------------------------------------------------------------------------------------
# orders
# --------------------------------------------------------------------------------------------


def _audit_order(o: Order) -> dict[str, Any]:
    out = views.order_public(o)
    for key in ("sponsor", "program", "subject_id"):
        out.pop(key)
    return out


def _default_facility(s: Session, fin: str | None) -> Facility:
    if fin:
        return facility_by_fin(s, fin)
    facilities = list(s.scalars(select(Facility).order_by(Facility.id).limit(2)))
    if len(facilities) != 1:
        raise InputError(
            "name the manufacturing facility (FIN)"
            if facilities
            else "no manufacturing facility is registered (v2v coi facility add)",
            field="facility_fin",
        )
    return facilities[0]


def place_order(uow: UnitOfWork, scope: Scope, req: intake.OrderRequest) -> Order:
    s = uow.session
    patient = get_scoped(s, scope, Patient, req.patient_id)
    access.require_order(scope)
    facility = _default_facility(s, req.facility_fin)
    terms = intake.order_terms(req)
    # order numbers count per program: hold the program row so two orders placed at once get
    # consecutive numbers (PostgreSQL; SQLite transactions already begin IMMEDIATE)
    lock_row(s, Program, patient.program_id)
    count = s.scalar(select(func.count(Order.id)).where(Order.program_id == patient.program_id))
    fmt = coi_module.get_format()
    coi_id = fmt.new(facility.fin)
    while s.scalar(select(Order.id).where(Order.coi == coi_id)):  # pragma: no cover - 1 in 10^15
        coi_id = fmt.new(facility.fin)
    order = Order(
        organisation_id=patient.organisation_id,
        program_id=patient.program_id,
        patient_id=patient.id,
        facility_id=facility.id,
        number=f"{patient.program.code}-{(count or 0) + 1:04d}",
        coi=coi_id,
        product_code=terms.product.encode()[2:],
        product_name=terms.product_name,
        dose_level=terms.dose_level,
        weight_kg=terms.weight_kg,
        planned_apheresis=terms.planned_apheresis,
        required_by=terms.required_by,
        time_zone=terms.time_zone,
        starting_material=terms.starting_material,
        segregated=terms.segregated,
        placed_by=uow.actor.name,
        **{f"marker_{k}": v for k, v in terms.markers.items()},
    )
    s.add(order)
    s.flush()
    uow.record(
        "coi.order_place",
        "coi_order",
        order.id,
        after=_audit_order(order),
        organisation_id=order.organisation_id,
    )
    return order


def locked_order(s: Session, scope: Scope, order_id: int | str) -> Order:
    """The order within scope, its row held (SELECT ... FOR UPDATE) until the transaction ends:
    two requests on one order (two custody steps, two DIN assignments, a step and a hard stop)
    are serialised, so every check below sees the other's result."""
    order = get_scoped(s, scope, Order, order_id)  # out of scope: not found
    lock_row(s, Order, order.id)
    s.refresh(order)
    return order


def assign_apheresis_din(uow: UnitOfWork, scope: Scope, order_id: int) -> Order:
    """Issue the DIN printed on the apheresis kit's labels and bind it to the order's CoI."""
    s = uow.session
    order = locked_order(s, scope, order_id)
    access.require_issue(scope)
    if order.apheresis_din is not None:
        raise Conflict(f"order {order.number} already has the apheresis DIN {order.apheresis_din}")
    issued = issue_din(uow, scope, order.facility.fin, purpose="apheresis", order=order)
    before = _audit_order(order)
    order.apheresis_din = issued.din
    uow.record(
        "coi.order_bind_apheresis_din",
        "coi_order",
        order.id,
        before=before,
        after=_audit_order(order),
        organisation_id=order.organisation_id,
    )
    return order


def new_apheresis(
    uow: UnitOfWork,
    scope: Scope,
    order_id: int,
    *,
    planned_apheresis: object,
    reason: str,
) -> Order:
    """After the order's batch failed, a new apheresis collection for the same patient and
    chain-of-identity identifier: a new DIN for the new kit's labels, bound to the order in
    place of the one whose material went into the failed batch (that DIN stays issued and on
    the failed batch; the custody steps of the first collection stay as history). The order
    starts collection N + 1 at its first step, ``collected``, on the day planned; the final
    product's DIN, if one was registered for the failed batch, is released from the order so
    that the new batch's product gets its own.

    Only when the batch of the current apheresis DIN has FAILED and no other batch is live
    (``manufacturing.plan_facts``); the order's row is held, so of two people asking at once
    the second finds a new apheresis already on its way (``Conflict``): one new DIN."""
    s = uow.session
    order = locked_order(s, scope, order_id)
    access.require_issue(scope)
    facts = plan_facts.batch_facts(s, [order.id]).get(order.id, [])
    failed = plan_facts.awaiting_apheresis(facts, order.apheresis_din)
    if failed is None:
        raise Conflict(
            f"order {order.number} needs no new apheresis: no failed batch used its apheresis "
            f"DIN {order.apheresis_din or '(none yet)'}"
        )
    day = bounded_date(planned_apheresis, "planned_apheresis")  # type: ignore[arg-type]
    failed_day = (failed.failed_at or utcnow()).astimezone(intake.time_zone(order.time_zone))
    if day < failed_day.date():
        raise InputError(
            f"the new apheresis cannot be planned before the batch failed ({failed_day.date()})",
            field="planned_apheresis",
        )
    reason = clean_text(reason, "reason", 2000, multiline=True)
    if len(reason) < 5:
        raise InputError(
            "say why a new apheresis is needed (at least 5 characters)", field="reason"
        )
    issued = issue_din(uow, scope, order.facility.fin, purpose="apheresis", order=order)
    before = _audit_order(order)
    order.apheresis_din = issued.din
    order.collection += 1
    order.planned_apheresis = day
    order.current_step, order.current_step_at = None, None
    order.batch_number, order.product_din = None, None
    uow.record(
        "coi.order_new_apheresis",
        "coi_order",
        order.id,
        before=before,
        after=_audit_order(order)
        | {"failed_batch": failed.batch_id, "failed_step": failed.failed_step},
        reason=reason,
        organisation_id=order.organisation_id,
    )
    return order


def register_product(uow: UnitOfWork, scope: Scope, order_id: int, bags: int) -> Order:
    """Issue the final product's DIN and register its bags (divisions A0, B0, ...)."""
    s = uow.session
    order = locked_order(s, scope, order_id)
    access.require_issue(scope)
    if order.product_din is not None:
        raise Conflict(f"order {order.number} already has its final product {order.product_din}")
    if order.current_step not in (Step.MANUFACTURING_STARTED, Step.STORED, Step.RECEIVED):
        raise RuleViolation(
            "final-product bags are registered after manufacturing has started and before release"
        )
    intake.bag_count(bags)
    issued = issue_din(uow, scope, order.facility.fin, purpose="product", order=order)
    before = _audit_order(order)
    order.product_din = issued.din
    base = order.product_code[:6]
    earlier = len(order.bags)  # bags of a failed batch's product (an earlier collection) stay
    for i in range(bags):
        order.bags.append(
            Bag(
                organisation_id=order.organisation_id,
                order_id=order.id,
                number=earlier + i + 1,
                din=issued.din,
                product_code=f"{base}{chr(ord('A') + i)}0",
            )
        )
    s.flush()
    uow.record(
        "coi.order_register_product",
        "coi_order",
        order.id,
        before=before,
        after=_audit_order(order),
        organisation_id=order.organisation_id,
    )
    return order
