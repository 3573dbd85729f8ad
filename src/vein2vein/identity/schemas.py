"""Pydantic schemas at the API edge of the chain of identity.

Public schemas carry subject ids only; ``PatientDetail.personal_data`` is filled only for roles
holding ``personal_data.read``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

Marker = Literal["negative", "positive"]


class Markers(BaseModel):
    hbv: Marker
    hcv: Marker
    hiv: Marker
    htlv: Marker
    syphilis: Marker


class PatientCreate(BaseModel):
    program_id: int
    subject_id: str = Field(min_length=1, max_length=64)
    treatment_site_id: int
    date_of_birth: dt.date | None = Field(None, description="Personal data: QA roles only")
    initials: str | None = Field(None, max_length=4, description="Personal data: QA roles only")


class PatientPublic(BaseModel):
    id: int
    organisation_id: int
    sponsor: str
    program_id: int
    program: str
    subject_id: str
    treatment_site: str
    enrolled_at: str
    orders: int | None = None


class PersonalData(BaseModel):
    date_of_birth: str | None
    initials: str | None


class Bag(BaseModel):
    number: int
    din: str
    product_code: str


class Blocker(BaseModel):
    kind: str = Field(description="mismatch (the order is on hold) or deviation (blocked)")
    ref: str
    text: str


class Projection(BaseModel):
    """The one delivery projection (``scheduling.projection``): the same on every screen."""

    state: str = Field(
        description="on_track, at_risk, late, met, missed, on_hold, blocked, unscheduled or "
        "no_projection; an order with an open blocker is never on_track"
    )
    state_text: str
    on_track: bool
    source: str = Field(description='"published plan v N" or "product durations"')
    plan_version: int | None
    delivery: str | None = Field(description="expected (or actual) day at the treatment site")
    delivered: bool
    required_by: str
    days_to_spare: int | None = Field(description="required_by - delivery, in days")
    margin_days: int
    blockers: list[Blocker]
    message: str
    target_v2v_days: int | None
    allowed_v2v_days: int
    actual_v2v_days: float | None
    projected_v2v_days: int | None


class OrderSummary(BaseModel):
    id: int
    number: str
    sponsor: str
    program: str
    subject_id: str
    coi: str
    product_code: str
    weight_kg: str = Field(description="kilograms")
    current_step: str | None
    current_step_text: str
    since: str | None
    next_steps: list[str]
    required_by: str
    projection: Projection
    on_hold: bool
    open_mismatch_ids: list[int]
    segregated: bool
    complete: bool


class PatientDetail(PatientPublic):
    orders: list[OrderSummary] = []  # type: ignore[assignment]
    personal_data: PersonalData | None = None


class OrderCreate(BaseModel):
    patient_id: int
    product_code: str = Field(description="ISBT 128 product code αooootds, e.g. S1234100")
    product_name: str = ""
    dose_level: str = Field(min_length=1, max_length=40)
    weight_kg: Decimal = Field(gt=0)
    planned_apheresis: dt.date
    required_by: dt.date
    starting_material: Literal["fresh", "cryopreserved"]
    markers: Markers
    time_zone: str = Field("UTC", description="Treatment site's IANA time zone")
    facility_fin: str | None = Field(None, description="Manufacturing facility's FIN")


class OrderPublic(BaseModel):
    id: int
    organisation_id: int
    sponsor: str
    program: str
    patient_id: int
    subject_id: str
    number: str
    coi: str
    facility_fin: str
    product_code: str
    product_name: str
    dose_level: str
    weight_kg: str
    planned_apheresis: str
    required_by: str
    time_zone: str
    starting_material: str
    markers: dict[str, str]
    segregated: bool
    apheresis_din: str | None
    product_din: str | None
    batch_number: str | None
    bags: list[Bag]
    current_step: str | None
    current_step_at: str | None
    collection: int = Field(
        1, description="the apheresis collection the order is in (2 after a failed batch)"
    )


class Event(BaseModel):
    id: int
    step: str
    step_text: str
    occurred_at: str
    local_time: str
    time_zone: str
    location: str
    performed_by: str
    recorded_by: str
    scanned: str | None
    identifiers_verified: list[str]
    details: dict[str, Any]
    suite: str | None = Field(None, description="the GMP suite the step happened in")
    collection: int = Field(1, description="the apheresis collection the step belongs to")


class MismatchPublic(BaseModel):
    id: int
    order_id: int
    order_number: str
    subject_id: str
    sponsor: str
    step: str
    occurred_at: str
    location: str
    recorded_by: str
    scanned: str | None
    problems: list[dict[str, Any]]
    status: str
    cleared_at: str | None
    cleared_by: str | None
    clear_reason: str | None


class TimelineStep(BaseModel):
    step: str
    label: str
    optional: bool
    planned: str | None
    actual: str | None
    expected: str | None
    late_days: int | None


class TimelineMismatch(BaseModel):
    id: int
    step: str
    occurred_at: str
    open: bool


class Timeline(BaseModel):
    steps: list[TimelineStep]
    source: str
    state: str
    state_text: str
    target_v2v_days: int | None
    allowed_v2v_days: int
    actual_v2v_days: float | None
    projected_v2v_days: int | None
    vein_to_vein_days: float | None = Field(description="apheresis to infusion, once infused")
    elapsed_days: float | None
    mismatches: list[TimelineMismatch]
    summary: str


class DeviationRef(BaseModel):
    id: int
    number: str
    title: str
    source: str
    status: str
    classification: str | None
    order: dict[str, Any] | None
    related_order: dict[str, Any] | None
    opened_at: dt.datetime


class OrderDetail(OrderPublic):
    summary: OrderSummary
    events: list[Event]
    mismatches: list[MismatchPublic]
    timeline: Timeline
    deviations: list[DeviationRef] = []
    new_apheresis_needed: str | None = Field(
        None, description="the failed batch, when the order needs a new apheresis"
    )


class NewApheresis(BaseModel):
    planned_apheresis: str = Field(description="day of the new apheresis (YYYY-MM-DD)")
    reason: str = Field(min_length=5, max_length=2000, description="why (the batch's failure)")


class OrderTimeline(BaseModel):
    order_id: int
    number: str
    coi: str
    projection: Projection
    timeline: Timeline
    events: list[Event]
    mismatches: list[MismatchPublic]


class PatientTimeline(BaseModel):
    patient_id: int
    subject_id: str
    sponsor: str
    program: str
    orders: list[OrderTimeline]


class Temperature(BaseModel):
    min_c: float | None = None
    max_c: float | None = None
    allowed_excursion_minutes: float = 0
    max_gap_minutes: float | None = None
    readings: list[dict[str, Any]] = Field(description="[{at: ISO 8601 with offset, celsius}]")


class EventCreate(BaseModel):
    step: str = Field(description="collected, packed, shipped, received, stored, ...")
    occurred_at: str = Field(
        description="ISO 8601 time, e.g. 2026-03-02T09:30+01:00; without an offset it is read "
        "in time_zone"
    )
    time_zone: str = Field("UTC", description="IANA name or offset where the step happened")
    location: str = Field(min_length=1, max_length=200)
    performed_by: str | None = Field(None, description="Defaults to the signed-in user")
    scans: list[str] = Field(
        default_factory=list, description="Scanned barcode texts, or a DIN typed with its check"
    )
    patient_identifiers: dict[str, str] = Field(
        default_factory=dict,
        description="At collection and infusion: subject_id and date_of_birth as read from "
        "the patient (compared, never stored)",
    )
    courier: str | None = None
    shipper_id: str | None = None
    logger_id: str | None = None
    condition: str | None = None
    excursions: int | None = None
    temperature: Temperature | None = None
    storage_location: str | None = None
    position: str | None = None
    batch_number: str | None = None
    suite: str | None = Field(
        None,
        description="receipt and start of manufacturing: the GMP suite (default: the batch's "
        "current suite)",
        max_length=64,
    )

    def details(self) -> dict[str, Any]:
        keys = (
            "courier",
            "shipper_id",
            "logger_id",
            "condition",
            "excursions",
            "storage_location",
            "position",
            "batch_number",
        )
        out: dict[str, Any] = {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        if self.temperature is not None:
            out["temperature"] = self.temperature.model_dump()
        return out


class MismatchClear(BaseModel):
    """A signed clearance: the QA reviewer's reason and electronic signature (user name and
    password asked again, 21 CFR 11.200); a deviation is recorded with it."""

    reason: str = Field(min_length=5, description="Why the hand-off may go on (audited)")
    username: str = Field(min_length=1, max_length=150, description="Signer's user name")
    password: str = Field(min_length=1, max_length=1000, description="Signer's password")


class BagsCreate(BaseModel):
    bags: int = Field(ge=1, le=26)


class DinIssue(BaseModel):
    fin: str = Field(min_length=5, max_length=5)


class DinPublic(BaseModel):
    id: int
    din: str
    year: int
    sequence: int
    purpose: str
    order_id: int | None
    issued_at: str
    check_character: str
    eye_readable: str
    barcode: str


class ScanLookup(BaseModel):
    scanned: str = Field(min_length=1, max_length=500)


class ScanResult(BaseModel):
    ok: bool
    verdict: str
    dins: list[str]
    coi: str | None
    din_check_failed: bool
    structures: list[dict[str, Any]]
    order: dict[str, Any] | None
