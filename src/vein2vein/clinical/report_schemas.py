"""Pydantic schemas of the signed readout report's API (``report_api.py``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class ReportGenerate(BaseModel):
    """Generate the study's report version from its newest dataset version and settings."""

    signatories: list[str] | None = Field(
        default=None,
        max_length=20,
        description="User names of the steering-committee members who must sign (users of "
        "the study's sponsor holding clinical.report_sign); omitted: the members named on the "
        "previous version",
    )


class ReportSign(BaseModel):
    """A named member's electronic signature (meaning approved): user name and password."""

    username: str = Field(max_length=64)
    password: str = Field(max_length=200)
    shown_hash: str | None = Field(
        default=None,
        max_length=64,
        description="content_hash of the version as shown to the signer: nothing is signed "
        "if the version is not that one",
    )


class SignatoryPublic(BaseModel):
    user_id: int
    username: str
    printed_name: str


class SignedPublic(BaseModel):
    username: str
    printed_name: str
    meaning: str
    signed_at: str
    content_hash: str


class ReportVersionPublic(BaseModel):
    id: int
    organisation_id: int
    study_id: int
    study_code: str
    number: int
    dataset_version_id: int
    dataset_version: int
    dataset_sha256: str
    options: dict[str, Any]
    inputs_hash: str
    content_hash: str
    generated_at: dt.datetime
    generated_by: str
    signatories: list[SignatoryPublic]
    signatures: list[SignedPublic]
    missing: list[str]
    final: bool
    superseded_by: int | None
    status: str
    new: bool | None = Field(default=None, description="generation only: a new version")


class ReportSignaturePublic(BaseModel):
    id: int
    username: str
    printed_name: str
    meaning: str
    signed_at: dt.datetime
    content_hash: str
