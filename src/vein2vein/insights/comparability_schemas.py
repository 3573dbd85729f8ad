"""Public schemas of the comparability API (``/api/comparability/...``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field


class ProtocolText(BaseModel):
    yaml: str = Field(
        min_length=1, max_length=200_000, description="the protocol (docs/comparability.md)"
    )
    file: str = Field(
        "protocol.yaml", min_length=1, max_length=255, description="file name errors name"
    )


class ProtocolSigning(BaseModel):
    """An electronic signature (21 CFR 11.50): authored by the draft's author, approved by a
    second person; the password again, and the hash of what the signer was shown."""

    meaning: Literal["authored", "approved"]
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)
    shown_hash: str | None = Field(
        None, min_length=64, max_length=64, description="SHA-256 of the content reviewed"
    )


class ProtocolSummary(BaseModel):
    id: int
    number: str
    version: int
    label: str
    title: str
    status: str = Field(description="draft, authored, approved or superseded")
    program: str
    created_at: dt.datetime
    created_by: str
    authored_at: dt.datetime | None
    authored_by: str | None
    approved_at: dt.datetime | None
    approved_by: str | None
    superseded_at: dt.datetime | None
    content_hash: str


class RunSummary(BaseModel):
    id: int
    protocol_id: int
    run_at: dt.datetime
    run_by: str
    inputs_hash: str
    conclusion: str


class ProtocolDetail(ProtocolSummary):
    """One version; until it is approved, the test arm's batches without their values."""

    content: dict[str, Any]
    yaml: str
    shown_hash: str
    test_arm_visible: bool
    reference_arm: dict[str, Any]
    test_arm: dict[str, Any]
    reference_batches: list[dict[str, Any]]
    test_batches: list[dict[str, Any]] = Field(description="ids and orders only, no values")
    reference_preview: list[dict[str, Any]]
    reference_missing: list[dict[str, Any]]
    written_after_unblinding: str | None
    versions: list[dict[str, Any]]
    signatures: list[dict[str, Any]]
    runs: list[RunSummary]


class RunDetail(BaseModel):
    run: RunSummary
    protocol: ProtocolSummary
    content: dict[str, Any]
    superseded: bool
    superseded_by: list[str]
    written_after_unblinding: str | None
    signatures: list[dict[str, Any]]
    inputs: dict[str, Any] = Field(description="values used, each with its record; missing ones")
    stored_result: dict[str, Any] = Field(
        description="the engine's result as stored: numbers, warnings, provenance"
    )
    attributes: list[dict[str, Any]]
