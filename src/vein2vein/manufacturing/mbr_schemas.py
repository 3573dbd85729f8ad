"""Pydantic schemas at the API edge for master batch records."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

Finite = Annotated[float, Field(allow_inf_nan=False)]


class MbrSummary(BaseModel):
    id: int
    program_id: int
    site_id: int
    product: str
    program_name: str
    site: str
    version: int
    status: str
    title: str
    content_hash: str
    based_on_id: int | None
    effective_at: str | None
    superseded_at: str | None
    signed: dict[str, str] = Field(description="meaning → printed name of the signer")


class MbrDetail(BaseModel):
    mbr: MbrSummary
    content: dict[str, Any] = Field(description="the MBR as data (docs/manufacturing.md)")
    signatures: list[dict[str, Any]]
    shown_hash: str = Field(description="SHA-256 of the content; post it back when signing")


class MbrChange(BaseModel):
    kind: str
    path: str
    before: Any = None
    after: Any = None


class MbrDiff(BaseModel):
    a: MbrSummary
    b: MbrSummary
    changes: list[MbrChange]


class MbrImport(BaseModel):
    yaml: str = Field(min_length=1, max_length=1_000_000, description="the MBR file's text")
    file_name: str = Field("mbr.yaml", max_length=200)


class MbrNewVersion(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="why the process changes")


class MbrSign(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    shown_hash: str | None = Field(None, max_length=64)


class MbrParameterEdit(BaseModel):
    operation: str = Field(min_length=1, max_length=40)
    parameter: str = Field(min_length=1, max_length=40)
    target: Finite | None = None
    nor_low: Finite | None = None
    nor_high: Finite | None = None
    par_low: Finite | None = None
    par_high: Finite | None = None
    reason: str = Field("", max_length=2000)


class MbrSigned(BaseModel):
    signature_id: int
    meaning: str
    status: str
