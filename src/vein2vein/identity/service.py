"""Use cases of the chain of identity: facilities, DIN issuing, enrolment, orders, custody events,
hand-off checks and their clearance. One unit of work per use case, owned by the caller; every
change writes its audit entry in the same transaction.

The rules themselves are the pure functions of ``identity.domain`` and ``identity.isbt128``;
this module only loads rows through the caller's tenant scope, hands them to the rules and
stores the outcome.

Personal data (date of birth, initials) is written by ``enrol_patient`` and read only through
``views.patient_detail`` by roles holding ``personal_data.read``. Audit entries carry a salted
SHA-256 of it, never the values; errors and logs never contain it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.auth.tables import Organisation, Site
from vein2vein.core.canonical import canonical_json, sha256_hex
from vein2vein.core.clock import utcnow
from vein2vein.core.dates import bounded_date
from vein2vein.core.errors import Conflict, InputError, NotFound, PermissionDenied, RuleViolation
from vein2vein.core.text import clean_text
from vein2vein.identity import access, domain, isbt128
from vein2vein.identity import coi as coi_module
from vein2vein.identity.domain import Step
from vein2vein.identity.tables import (
    MARKERS,
    Bag,
    CustodyEventRow,
    DinCounter,
    Facility,
    HandoffMismatch,
    IssuedDin,
    Order,
    Patient,
)
from vein2vein.programs.tables import Program
from vein2vein.store.locks import lock_row
from vein2vein.store.uow import UnitOfWork

MARKER_VALUES = ("negative", "positive")
STARTING_MATERIAL = ("fresh", "cryopreserved")
#: Steps at which the patient is present, so the patient's own identifiers are checked too.
PATIENT_CHECK_STEPS = frozenset({Step.COLLECTED, Step.INFUSED})
#: Steps that handle the final product (expected: product DIN and product code).
PRODUCT_STEPS = frozenset(Step) - {
    Step.COLLECTED,
    Step.PACKED,
    Step.SHIPPED,
    Step.RECEIVED,
    Step.STORED,
    Step.MANUFACTURING_STARTED,
}
MAX_BAGS = 26  # one first-level division letter per bag, A to Z


class HandoffStopped(RuleViolation):
    """The scan did not match the order: recorded, audited, and the order is on hold."""

    title = "Hand-off stopped"
    status = 409

    def __init__(self, mismatch_id: int, step: Step, messages: Sequence[str]) -> None:
        self.mismatch_id = mismatch_id
        self.step = step
        self.messages = list(messages)
        super().__init__(
            f"hand-off stopped at '{step.value}': {'; '.join(messages)}. Mismatch #{mismatch_id} "
            "was recorded; nothing more can be recorded for this order until QA clears it."
        )


# --------------------------------------------------------------------------------------------
# small parsers shared by the entry points
# --------------------------------------------------------------------------------------------


def time_zone(name: str, field_name: str = "time_zone") -> dt.tzinfo:
    """An IANA time zone (``Europe/Amsterdam``) or a fixed offset (``+02:00``)."""
    text = (name or "").strip()
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text)
    if m:
        minutes = int(m[2]) * 60 + int(m[3])
        sign = -1 if m[1] == "-" else 1
        return dt.timezone(sign * dt.timedelta(minutes=minutes))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            "give an IANA time zone such as Europe/Amsterdam, or an offset such as +02:00",
            field=field_name,
        ) from None


def local_time(when: str | dt.datetime, zone: str) -> dt.datetime:
    """An aware time from an ISO text or datetime; a naive one is read in ``zone``."""
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when.strip())
        except ValueError:
            raise InputError(
                "give the time as ISO 8601, e.g. 2026-03-02T09:30", field="occurred_at"
            ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=time_zone(zone))
    return when


def _parse_date(value: dt.date | str, field_name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        # never echo the value: it may be a date of birth
        raise InputError("give a date as YYYY-MM-DD", field=field_name) from None


# --------------------------------------------------------------------------------------------
# facilities and DINs
# --------------------------------------------------------------------------------------------


def register_facility(
    uow: UnitOfWork, organisation: Organisation, fin: str, name: str, zone: str = "UTC"
) -> Facility:
    """Register a facility's FIN (server-side administration; ICCBBA assigns the FIN)."""
    fin = fin.strip().upper()
    isbt128.Din(fin, 0, 1)  # validates the FIN with the DIN rules
    time_zone(zone)
    if not name.strip():
        raise InputError("a facility needs a name", field="name")
    s = uow.session
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
    year = (now or utcnow()).astimezone(time_zone(facility.time_zone)).year
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


def din_public(row: IssuedDin) -> dict[str, Any]:
    din = isbt128.Din.from_code(row.din)
    return row.public() | {
        "check_character": din.check_character,
        "eye_readable": din.eye_readable(),
        "barcode": din.barcode_data(),
    }


# --------------------------------------------------------------------------------------------
# patients and orders
# --------------------------------------------------------------------------------------------


def _personal_digest(salt: str, date_of_birth: dt.date | None, initials: str | None) -> str:
    values = {"date_of_birth": date_of_birth, "initials": initials}
    return sha256_hex({"salt": salt, "values": json.loads(canonical_json(values))})


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
    subject_id = subject_id.strip().upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9._/-]{0,63}", subject_id):
        raise InputError(
            "a subject id is 1-64 letters, digits and . _ / - (no names)", field="subject_id"
        )
    site = s.get(Site, treatment_site_id) if str(treatment_site_id).isdigit() else None
    if site is None or site.organisation_id != program.organisation_id:
        raise InputError("choose one of the sponsor's treatment sites", field="treatment_site_id")
    dob = None if date_of_birth in (None, "") else _parse_date(date_of_birth, "date_of_birth")  # type: ignore[arg-type]
    if dob is not None and not (dt.date(1900, 1, 1) <= dob <= utcnow().date()):
        raise InputError("the date of birth must be a past date", field="date_of_birth")
    ini = (initials or "").strip().upper() or None
    if ini is not None and not re.fullmatch(r"[A-Z]{1,4}", ini):
        raise InputError("initials are 1-4 letters", field="initials")
    if s.scalar(
        select(Patient.id).where(
            Patient.organisation_id == program.organisation_id, Patient.subject_id == subject_id
        )
    ):
        raise Conflict(f"subject {subject_id} is already enrolled")
    patient = Patient(
        organisation_id=program.organisation_id,
        program_id=program.id,
        subject_id=subject_id,
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


@dataclass(frozen=True)
class OrderRequest:
    patient_id: int
    product_code: str
    dose_level: str
    weight_kg: Decimal | float | str
    planned_apheresis: dt.date | str
    required_by: dt.date | str
    starting_material: str
    markers: Mapping[str, str]
    product_name: str = ""
    time_zone: str = "UTC"
    facility_fin: str | None = None


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
    }


def _audit_order(o: Order) -> dict[str, Any]:
    out = order_public(o)
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


def place_order(uow: UnitOfWork, scope: Scope, req: OrderRequest) -> Order:
    s = uow.session
    patient = get_scoped(s, scope, Patient, req.patient_id)
    access.require_order(scope)
    facility = _default_facility(s, req.facility_fin)
    product = isbt128.autologous_product_code(req.product_code)
    try:
        weight = Decimal(str(req.weight_kg)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise InputError("give the weight in kg as a number", field="weight_kg") from None
    if not Decimal("0.5") <= weight <= Decimal("400"):
        raise InputError("the weight must be between 0.5 and 400 kg", field="weight_kg")
    if not req.dose_level.strip():
        raise InputError("a dose level is required", field="dose_level")
    planned = bounded_date(
        _parse_date(req.planned_apheresis, "planned_apheresis"), "planned_apheresis"
    )
    required = bounded_date(_parse_date(req.required_by, "required_by"), "required_by")
    if required <= planned:
        raise InputError("the required-by date must come after the apheresis", field="required_by")
    material = req.starting_material.strip().lower()
    if material not in STARTING_MATERIAL:
        raise InputError("starting material is fresh or cryopreserved", field="starting_material")
    markers: dict[str, str] = {}
    for marker in MARKERS:
        value = str(req.markers.get(marker, "")).strip().lower()
        if value not in MARKER_VALUES:
            raise InputError(
                f"the {marker.upper()} result is required: negative or positive",
                field=f"markers.{marker}",
            )
        markers[marker] = value
    time_zone(req.time_zone)
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
        product_code=product.encode()[2:],
        product_name=clean_text(req.product_name, "product_name", 200),
        dose_level=clean_text(req.dose_level, "dose_level", 40),
        weight_kg=weight,
        planned_apheresis=planned,
        required_by=required,
        time_zone=req.time_zone.strip(),
        starting_material=material,
        segregated="positive" in markers.values(),
        placed_by=uow.actor.name,
        **{f"marker_{k}": v for k, v in markers.items()},
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


def _locked_order(s: Session, scope: Scope, order_id: int | str) -> Order:
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
    order = _locked_order(s, scope, order_id)
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


def register_product(uow: UnitOfWork, scope: Scope, order_id: int, bags: int) -> Order:
    """Issue the final product's DIN and register its bags (divisions A0, B0, ...)."""
    s = uow.session
    order = _locked_order(s, scope, order_id)
    access.require_issue(scope)
    if order.product_din is not None:
        raise Conflict(f"order {order.number} already has its final product {order.product_din}")
    if order.current_step not in (Step.MANUFACTURING_STARTED, Step.STORED, Step.RECEIVED):
        raise RuleViolation(
            "final-product bags are registered after manufacturing has started and before release"
        )
    if not 1 <= bags <= MAX_BAGS:
        raise InputError(f"a product has 1 to {MAX_BAGS} bags", field="bags")
    issued = issue_din(uow, scope, order.facility.fin, purpose="product", order=order)
    before = _audit_order(order)
    order.product_din = issued.din
    base = order.product_code[:6]
    for i in range(bags):
        order.bags.append(
            Bag(
                organisation_id=order.organisation_id,
                order_id=order.id,
                number=i + 1,
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


# --------------------------------------------------------------------------------------------
# custody events and hand-offs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventRequest:
    """A custody step as entered: ``occurred_at`` must be aware (or read in ``time_zone``)."""

    step: str
    occurred_at: dt.datetime | str
    location: str
    time_zone: str = "UTC"
    scans: Sequence[str] = ()
    patient_identifiers: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    performed_by: str | None = None


def parse_step(value: str) -> Step:
    try:
        return Step(value.strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in Step)
        raise InputError(f"unknown custody step; known steps: {known}", field="step") from None


def domain_events(order: Order) -> list[domain.CustodyEvent]:
    return [
        domain.CustodyEvent(Step(e.step), e.occurred_at, e.performed_by, e.location, e.scanned)
        for e in sorted(order.events, key=lambda e: (e.occurred_at, e.id))
    ]


def open_mismatches(order: Order) -> list[HandoffMismatch]:
    return [m for m in order.mismatches if m.is_open]


def _details(step: Step, raw: Mapping[str, Any]) -> tuple[domain.StepDetails | None, dict]:
    """Domain details of a step and what is stored (temperature check summarised)."""
    kind = domain.DETAILS_REQUIRED.get(step)

    def text(name: str) -> str:
        value = str(raw.get(name) or "").strip()
        if not value:
            raise InputError(f"'{step.value}' needs {name.replace('_', ' ')}", field=name)
        return value

    if kind is domain.ShipmentDetails:
        d = domain.ShipmentDetails(text("courier"), text("shipper_id"), text("logger_id"))
        return d, {"courier": d.courier, "shipper_id": d.shipper_id, "logger_id": d.logger_id}
    if kind is domain.StorageDetails:
        d2 = domain.StorageDetails(text("storage_location"), text("position"))
        return d2, {"storage_location": d2.location, "position": d2.position}
    if kind is domain.ReceiptDetails:
        try:
            condition = domain.Condition(str(raw.get("condition") or "").strip().lower())
        except ValueError:
            raise InputError(
                "the condition on receipt is intact, damaged or seal_broken", field="condition"
            ) from None
        stored: dict[str, Any] = {"condition": condition.value}
        temperature = raw.get("temperature")
        if temperature:
            check = _temperature_check(temperature)
            excursions = len(check.excursions)
            stored |= {
                "excursions": excursions,
                "breaches": len(check.breaches),
                "gaps": len(check.gaps),
                "acceptable": check.acceptable,
                "temperature_summary": check.summary(),
            }
        else:
            try:
                excursions = int(raw.get("excursions") or 0)
            except (TypeError, ValueError):
                raise InputError("excursions is a whole number", field="excursions") from None
            if excursions < 0:
                raise InputError("excursions cannot be negative", field="excursions")
            stored["excursions"] = excursions
        return domain.ReceiptDetails(condition, excursions), stored
    if step is Step.MANUFACTURING_STARTED:
        return None, {"batch_number": text("batch_number")}
    return None, {}


def _finite(value: Any, lo: float, hi: float) -> float:
    """A finite number within [lo, hi] (NaN, infinities and absurd magnitudes are refused)."""
    x = float(value)
    if not math.isfinite(x) or not lo <= x <= hi:
        raise ValueError(value)
    return x


def _aware(value: Any) -> dt.datetime:
    when = dt.datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError(value)  # logger readings carry their offset
    return when


def _temperature_check(raw: Mapping[str, Any]) -> domain.TemperatureCheck:
    minutes = 60 * 24 * 60  # at most 60 days
    try:
        limits = domain.ShipperLimits(
            min_c=None if raw.get("min_c") is None else _finite(raw["min_c"], -273.15, 200),
            max_c=None if raw.get("max_c") is None else _finite(raw["max_c"], -273.15, 200),
            allowed_excursion=dt.timedelta(
                minutes=_finite(raw.get("allowed_excursion_minutes", 0), 0, minutes)
            ),
            max_gap=(
                None
                if raw.get("max_gap_minutes") is None
                else dt.timedelta(minutes=_finite(raw["max_gap_minutes"], 0, minutes))
            ),
        )
        readings = [
            domain.Reading(_aware(r["at"]), _finite(r["celsius"], -273.15, 200))
            for r in raw.get("readings", [])
        ]
    except (KeyError, TypeError, ValueError, OverflowError):
        raise InputError(
            "temperature: give min_c/max_c (°C), allowed_excursion_minutes (0 to 60 days) and "
            "readings [{at, celsius}] with ISO 8601 times carrying their UTC offset",
            field="temperature",
        ) from None
    return domain.check_temperatures(readings, limits)


def expected_identity(order: Order, step: Step) -> domain.ExpectedIdentity:
    """What the item in hand must be at ``step``: starting material or final product."""
    if step in PRODUCT_STEPS:
        if order.product_din is None:
            raise RuleViolation(
                f"'{step.value}' needs the final product's DIN: register the bags first"
            )
        din, product = order.product_din, order.product_code[:5]
    else:
        if order.apheresis_din is None:
            raise RuleViolation(
                f"'{step.value}' needs the apheresis DIN: issue it for order {order.number} first"
            )
        din, product = order.apheresis_din, None
    patient: dict[str, str] = {}
    if step in PATIENT_CHECK_STEPS:
        patient["subject_id"] = order.patient.subject_id
        if order.patient.date_of_birth is not None:
            patient["date_of_birth"] = order.patient.date_of_birth.isoformat()
    return domain.ExpectedIdentity(din=din, coi=order.coi, product_code=product, patient=patient)


def _given_patient(raw: Mapping[str, str]) -> dict[str, str]:
    out = {k: str(v).strip() for k, v in raw.items() if v is not None and str(v).strip()}
    if "date_of_birth" in out:
        out["date_of_birth"] = _parse_date(out["date_of_birth"], "date_of_birth").isoformat()
    if "subject_id" in out:
        out["subject_id"] = out["subject_id"].upper()
    return out


def _mismatch_dict(m: domain.Mismatch) -> dict[str, Any]:
    return {
        "field": m.field,
        "kind": m.kind.value,
        "expected": m.expected,
        "found": m.found,
        "message": m.message,
    }


def record_event(
    uow: UnitOfWork,
    scope: Scope,
    order_id: int,
    req: EventRequest,
    *,
    commit_on_stop: bool = True,
) -> CustodyEventRow:
    """Record one custody step after the order, time, details and hand-off checks.

    A hand-off whose scan does not match is a hard stop: the mismatch is stored and audited,
    **committed**, and :class:`HandoffStopped` is raised; no further step is accepted until QA
    clears it. ``commit_on_stop=False`` leaves the commit to the caller (the demo loader, which
    loads everything in one unit of work).
    """
    s = uow.session
    order = _locked_order(s, scope, order_id)
    step = parse_step(req.step)
    access.require_record(scope, step)
    blocking = open_mismatches(order)
    if blocking:
        first = blocking[0]
        raise RuleViolation(
            f"order {order.number} is on hold: hand-off mismatch #{first.id} at "
            f"'{first.step}' must be cleared by QA first"
        )
    zone = clean_text(req.time_zone, "time_zone", 64) or "UTC"
    time_zone(zone)  # always: a stored zone must be one that reads back
    when = local_time(req.occurred_at, zone)
    if when > utcnow() + dt.timedelta(minutes=5):
        raise InputError("the event time is in the future", field="occurred_at")
    if when < order.placed_at - dt.timedelta(days=366):
        raise InputError("the event time is before the order existed", field="occurred_at")
    location = clean_text(req.location, "location", 200)
    performed_by = clean_text(req.performed_by or scope.full_name, "performed_by", 200)
    if step is Step.RELEASED and order.product_din is None:
        raise RuleViolation(
            f"order {order.number}: register the final-product bags (their DIN) before release"
        )
    scans = [t for t in (x.strip() for x in req.scans) if t]
    history = domain_events(order)
    domain.check_step_order([e.step for e in history], step)  # the expected step first
    details, stored_details = _details(step, req.details)
    event = domain.CustodyEvent(
        step, when, performed_by, location, " | ".join(scans) or None, details
    )
    domain.check_event(history, event)
    verified: list[str] = []
    if step in domain.HANDOFF_STEPS:
        expected = expected_identity(order, step)
        scanned = domain.read_scans(scans, patient=_given_patient(req.patient_identifiers))
        problems = domain.check_handoff(expected, scanned)
        if problems:
            _stop(uow, order, step, when, location, event.scanned, problems, commit_on_stop)
        verified = ["din", "coi"] + [f"patient.{k}" for k in expected.patient]
    row = CustodyEventRow(
        organisation_id=order.organisation_id,
        order_id=order.id,
        step=step.value,
        occurred_at=when,
        time_zone=zone,
        location=location,
        performed_by=performed_by,
        recorded_by=uow.actor.name,
        scanned=event.scanned,
        identifiers_verified=",".join(verified),
        details=canonical_json(stored_details).decode() if stored_details else None,
    )
    order.events.append(row)  # keeps the loaded collection current within this unit of work
    before = {"current_step": order.current_step, "batch_number": order.batch_number}
    order.current_step = domain.progress([*history, event]).current
    order.current_step_at = max(when, order.current_step_at or when)
    if step is Step.MANUFACTURING_STARTED:
        order.batch_number = stored_details["batch_number"]
    s.flush()
    uow.record(
        "coi.custody_event",
        "coi_order",
        order.id,
        before=before,
        after={
            "event_id": row.id,
            "step": step.value,
            "occurred_at": when.isoformat(),
            "time_zone": row.time_zone,
            "location": location,
            "performed_by": performed_by,
            "scanned": row.scanned,
            "identifiers_verified": verified,
            "details": stored_details,
            "current_step": order.current_step,
            "batch_number": order.batch_number,
        },
        organisation_id=order.organisation_id,
    )
    return row


def _stop(
    uow: UnitOfWork,
    order: Order,
    step: Step,
    when: dt.datetime,
    location: str,
    scanned: str | None,
    problems: Sequence[domain.Mismatch],
    commit: bool,
) -> None:
    listed = [_mismatch_dict(m) for m in problems]
    row = HandoffMismatch(
        organisation_id=order.organisation_id,
        order_id=order.id,
        step=step.value,
        occurred_at=when,
        location=location,
        recorded_by=uow.actor.name,
        scanned=scanned,
        problems=canonical_json(listed).decode(),
    )
    order.mismatches.append(row)
    uow.session.flush()
    uow.record(
        "coi.handoff_mismatch",
        "coi_order",
        order.id,
        after={"mismatch_id": row.id, "step": step.value, "scanned": scanned, "problems": listed},
        organisation_id=order.organisation_id,
    )
    if commit:
        uow.commit()  # the stop itself must be on record even though the step is refused
    raise HandoffStopped(row.id, step, [m.message for m in problems])


def clear_mismatch(uow: UnitOfWork, scope: Scope, mismatch_id: int, reason: str) -> HandoffMismatch:
    s = uow.session
    mismatch = get_scoped(s, scope, HandoffMismatch, mismatch_id)
    access.require_clear(scope)
    _locked_order(s, scope, mismatch.order_id)
    s.refresh(mismatch)
    if not mismatch.is_open:
        raise Conflict(f"mismatch #{mismatch.id} was already cleared")
    if mismatch.recorded_by == uow.actor.name:
        raise PermissionDenied(
            "the person whose hand-off was stopped cannot clear it: a second QA person must"
        )
    reason = clean_text(reason, "reason", 2000, multiline=True)
    if len(reason) < 5:
        raise InputError(
            "say why the mismatch can be cleared (at least 5 characters)", field="reason"
        )
    mismatch.cleared_at = utcnow()
    mismatch.cleared_by = uow.actor.name
    mismatch.clear_reason = reason
    uow.record(
        "coi.handoff_mismatch_clear",
        "coi_handoff_mismatch",
        mismatch.id,
        before={"status": "open"},
        after={"status": "cleared", "order_id": mismatch.order_id, "step": mismatch.step},
        reason=mismatch.clear_reason,
        organisation_id=mismatch.organisation_id,
    )
    return mismatch
