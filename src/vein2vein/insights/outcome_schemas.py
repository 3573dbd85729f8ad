"""Pydantic schemas of the product ↔ outcome API (public shapes only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class StudySummary(BaseModel):
    id: int
    code: str
    title: str
    program: str
    subjects: int
    linked: int


class LinkRequest(BaseModel):
    subject_id: str = Field(min_length=1, max_length=64)
    coi: str = Field(min_length=1, max_length=40, description="the order's CoI identifier")
    year_of_birth: int | None = Field(
        default=None, ge=1900, le=2100, description="from the case report form, compared"
    )
    reason: str = Field(default="", max_length=2000)


class UnlinkRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class Link(BaseModel):
    id: int
    study_id: int
    subject_id: str
    order_id: int
    order_number: str | None
    coi: str
    checks: dict[str, Any]
    reason: str
    linked_at: dt.datetime
    linked_by: str
    unlinked_at: dt.datetime | None
    unlinked_by: str | None
    unlink_reason: str | None


class StudyOutcome(BaseModel):
    """Every subject with its batch's attributes beside its outcome, the link history and the
    exploratory analyses (each with its test named and its n; provenance in ``analysis``)."""

    study: dict[str, Any]
    version: dict[str, Any] | None
    readout_error: str | None
    rows: list[dict[str, Any]]
    attributes: list[dict[str, Any]]
    km_attribute: str
    links: list[Link]
    analysis: dict[str, Any]
    summary: str
