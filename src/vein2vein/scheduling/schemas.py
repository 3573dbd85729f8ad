"""Pydantic schemas of the scheduling API (validated at the edge; services re-check values)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vein2vein.identity.schemas import Projection


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SuiteCreate(_In):
    site_id: int
    code: str = Field(max_length=32)
    name: str = Field(default="", max_length=200)
    infectious: bool = False
    changeover_days: int = Field(default=1, ge=0, le=60)
    decon_days: int = Field(default=0, ge=0, le=60)
    available_from: str | None = Field(default=None, description="YYYY-MM-DD (default: today)")


class SuiteUpdate(_In):
    reason: str = Field(min_length=1, max_length=300)
    name: str | None = Field(default=None, max_length=200)
    infectious: bool | None = None
    changeover_days: int | None = Field(default=None, ge=0, le=60)
    decon_days: int | None = Field(default=None, ge=0, le=60)
    available_from: str | None = None


class DowntimeCreate(_In):
    first_day: str = Field(description="first day down, YYYY-MM-DD")
    last_day: str = Field(description="last day down (included), YYYY-MM-DD")
    reason: str = Field(min_length=1, max_length=300)


class Reason(_In):
    reason: str = Field(min_length=1, max_length=300)


class DowntimePublic(BaseModel):
    id: int
    suite_id: int
    suite: str | None
    first_day: str
    last_day: str
    reason: str
    active: bool
    cancel_reason: str | None = None


class SuitePublic(BaseModel):
    id: int
    code: str
    name: str
    site_id: int
    site: str | None
    infectious: bool
    changeover_days: int
    decon_days: int
    available_from: str
    downtime: list[DowntimePublic] = []


class ProductIn(_In):
    product_code: str = Field(max_length=8, description="ISBT 128 product description code")
    name: str = Field(default="", max_length=200)
    process_days: int = Field(ge=1, le=120)
    start_weekdays: str = Field(default="Mon-Fri", max_length=40)
    qc_method: Literal["rapid", "compendial"] = "compendial"
    qc_days_rapid: int = Field(ge=0, le=60)
    qc_days_compendial: int = Field(ge=0, le=60)
    fresh_hold_days: int = Field(default=2, ge=0, le=30)
    cryo_hold_days: int = Field(default=180, ge=0, le=3650)
    inbound_days: int = Field(default=1, ge=0, le=30)
    ship_days: int = Field(default=2, ge=0, le=30)
    reason: str = Field(default="", max_length=300)


class ProductPublic(BaseModel):
    id: int
    product_code: str
    name: str
    process_days: int
    start_weekdays: str
    qc_method: str
    qc_days_rapid: int
    qc_days_compendial: int
    qc_days: int
    fresh_hold_days: int
    cryo_hold_days: int
    inbound_days: int
    ship_days: int


class LabIn(_In):
    qc_capacity: int | None = Field(default=None, ge=1, le=1000)
    max_starts_per_day: int | None = Field(default=None, ge=1, le=1000)
    risk_margin_days: int = Field(default=2, ge=0, le=60)
    reason: str = Field(default="", max_length=300)


class LabPublic(BaseModel):
    qc_capacity: int | None
    max_starts_per_day: int | None
    risk_margin_days: int


class WhatIfEvent(_In):
    """One change to try: ``order_arrived`` (product_code, receipt_date, required_by,
    starting_material, infectious), ``batch_failed`` (order, on, retry_receipt,
    retry_max_hold_days), ``suite_down`` (suite, first_day, last_day, reason) or
    ``order_cancelled`` (order)."""

    kind: Literal["order_arrived", "batch_failed", "suite_down", "order_cancelled"]
    order_id: str | None = Field(default=None, max_length=40)
    product_code: str | None = Field(default=None, max_length=8)
    receipt_date: str | None = None
    required_by: str | None = None
    starting_material: Literal["fresh", "cryopreserved"] | None = None
    infectious: bool = False
    order: str | None = Field(default=None, max_length=40)
    on: str | None = None
    retry_receipt: str | None = None
    retry_max_hold_days: int | None = Field(default=None, ge=0, le=3650)
    suite: str | None = Field(default=None, max_length=32)
    first_day: str | None = None
    last_day: str | None = None
    reason: str | None = Field(default=None, max_length=300)


class DraftCreate(_In):
    method: Literal["greedy", "cpsat"] = "greedy"
    time_limit: float = Field(default=5.0, gt=0, le=8.0, description="seconds (CP-SAT)")
    mode: Literal["replan", "plan"] = Field(
        default="replan", description="replan: fewest changes to the published plan"
    )
    events: list[WhatIfEvent] = []


class Publish(_In):
    comment: str = Field(default="", max_length=2000)


class Draft(BaseModel):
    id: int
    kind: str
    method: str
    created_at: str
    created_by: str
    published_plan_id: int | None
    based_on_id: int | None
    today: str
    before: dict[str, Any] | None
    after: dict[str, Any]
    changes: list[dict[str, Any]]
    events: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    assumptions: list[str]
    site_notes: list[str] = []
    restarted: list[dict[str, Any]] = []
    validation: dict[str, Any]
    solver: dict[str, Any] | None
    provenance: dict[str, Any] | None = None
    assignments: list[dict[str, Any]]
    unscheduled: list[dict[str, Any]]
    at_risk: list[dict[str, Any]]
    plan_sha256: str
    inputs_sha256: str


class PlanSummary(BaseModel):
    id: int
    version: int
    kind: str
    method: str
    plan_day: str
    published_at: str
    published_by: str
    comment: str
    metrics: dict[str, Any]
    valid: bool
    changes: int | list[dict[str, Any]]
    events: list[dict[str, Any]]
    plan_sha256: str
    inputs_sha256: str


class PlanDetail(PlanSummary):
    based_on_id: int | None
    solver: dict[str, Any]
    provenance: dict[str, Any] | None = None
    validation: dict[str, Any]
    assignments: list[dict[str, Any]]
    started: list[str] = Field(
        default_factory=list,
        description="orders whose batch had started: pinned on its day in the suite its batch "
        "record says it works in",
    )
    unscheduled: list[dict[str, Any]]
    at_risk: list[dict[str, Any]]
    margin_days: int
    latest: bool = False
    projections: dict[str, Projection] = Field(
        default_factory=dict,
        description="each order's one delivery projection, by plan order id (latest plan only)",
    )


class Slot(BaseModel):
    order_id: int
    order_number: str
    status: str
    start: str | None
    end: str | None
    release: str | None
    planned_delivery: str | None = Field(description="the published plan's delivery day")
    delivery: str | None = Field(description="projected delivery (the order's one projection)")
    required_by: str
    days_to_spare: int | None
    days_late: int | None
    note: str
    projection: Projection | None
