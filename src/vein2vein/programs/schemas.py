"""Pydantic schemas at the API edge for programs."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ProgramPublic(BaseModel):
    id: int
    organisation_id: int
    code: str
    name: str
    product: str
    target: str
    indication: str
    phase: str
    description: str


class ProgramCreate(BaseModel):
    organisation_id: int
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    product: str = ""
    target: str = ""
    indication: str = ""
    phase: str = ""
    description: str = ""


class ProgramUpdate(BaseModel):
    name: str | None = None
    product: str | None = None
    target: str | None = None
    indication: str | None = None
    phase: str | None = None
    description: str | None = None
    reason: str = Field(min_length=1, description="Why the program record changes (audited)")
