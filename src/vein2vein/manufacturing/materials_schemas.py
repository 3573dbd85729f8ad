"""Pydantic schemas at the API edge of material lots and deviations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field


class MaterialCreate(BaseModel):
    code: str = Field(min_length=1, max_length=40, examples=["LV-EPCAM-01"])
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(description="selection_reagent, activation_reagent, lentiviral_vector, ...")
    unit: str = Field(description="mL, L, µg, mg, g, vial, bag, kit or unit")


class MaterialPublic(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    unit: str
    lots: int = 0


class LotReceive(BaseModel):
    material: str = Field(min_length=1, max_length=40, description="material code")
    lot_number: str = Field(min_length=1, max_length=64)
    supplier: str = Field(min_length=1, max_length=200)
    supplier_lot: str | None = Field(None, max_length=64)
    expiry: dt.date
    quantity: Decimal = Field(gt=0, le=1_000_000, decimal_places=3)
    titer_tu_per_ml: Decimal | None = Field(
        None, description="functional titer, TU/mL (10^5-10^11; lentiviral vector only)"
    )


class LotTiter(BaseModel):
    titer_tu_per_ml: Decimal = Field(description="functional titer, TU/mL (10^5-10^11)")


class LotDecision(BaseModel):
    reason: str = Field(min_length=5, max_length=2000, description="why (audited)")


class LotCheck(BaseModel):
    lot: str = Field(min_length=1, max_length=105, description="lot number as scanned")
    material: str = Field(min_length=1, max_length=40, description="material the step needs")


class LotCheckResult(BaseModel):
    ok: bool
    lot_id: int | None
    message: str
    reason: str | None


class LotPublic(BaseModel):
    id: int
    material_id: int
    material_code: str
    material_name: str
    kind: str
    unit: str
    lot_number: str
    supplier: str
    supplier_lot: str | None
    expiry: dt.date
    quantity: Decimal
    titer_tu_per_ml: Decimal | None
    recorded_status: str
    status: str
    status_reason: str | None
    status_by: str | None
    status_at: dt.datetime | None
    received_at: dt.datetime
    received_by: str


class LotDetail(LotPublic):
    history: list[dict[str, Any]]


class DeviationCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=10, max_length=4000)
    order_id: int | None = Field(None, ge=1, le=2**31 - 1)
    lot_id: int | None = Field(None, ge=1, le=2**31 - 1)
    batch_id: int | None = Field(None, ge=1, le=2**31 - 1)
    step_id: int | None = Field(None, ge=1, le=2**31 - 1)
    entry_id: int | None = Field(None, ge=1, le=2**31 - 1)


class DeviationClassify(BaseModel):
    classification: str = Field(description="minor, major or critical")
    root_cause: str = Field(min_length=10, max_length=4000)
    capa: str = Field("", max_length=4000, description="required for major and critical")


class DeviationClose(BaseModel):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1000)
    shown_hash: str | None = Field(
        None, min_length=64, max_length=64, description="SHA-256 of the content reviewed"
    )


class DeviationSummary(BaseModel):
    id: int
    number: str
    title: str
    source: str
    status: str
    classification: str | None
    order: dict[str, Any] | None
    related_order: dict[str, Any] | None
    mismatch_id: int | None
    lot: dict[str, Any] | None
    batch_id: int | None
    step_id: int | None
    entry_id: int | None
    opened_at: dt.datetime
    opened_by: str
    closed_at: dt.datetime | None
    closed_by: str | None


class DeviationDetail(DeviationSummary):
    description: str
    root_cause: str
    capa: str
    classified_by: str | None
    classified_at: dt.datetime | None
    shown_hash: str
    signatures: list[dict[str, Any]]
    editable: bool
