"""Pydantic schemas at the API edge for organisations, users and tokens."""

from __future__ import annotations

from pydantic import BaseModel, Field


class OrganisationPublic(BaseModel):
    id: int
    name: str
    kind: str


class SitePublic(BaseModel):
    id: int
    organisation_id: int
    name: str
    city: str
    country: str
    purpose: str


class OrganisationDetail(OrganisationPublic):
    sites: list[SitePublic]


class OrganisationCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(description="CDMO or SPONSOR")


class UserPublic(BaseModel):
    id: int
    username: str
    full_name: str
    organisation_id: int
    organisation: str | None
    role: str
    status: str


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    full_name: str = Field(min_length=1, max_length=200)
    organisation_id: int
    role: str
    password: str = Field(description="Checked against the password policy; never stored plain")
    email: str = ""


class RoleChange(BaseModel):
    role: str
    reason: str = Field(min_length=1)


class Reason(BaseModel):
    reason: str = Field(min_length=1)


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    days: int = Field(90, ge=1, le=366, description="Lifetime in days; every token expires")


class TokenPublic(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked: bool


class TokenIssued(TokenPublic):
    token: str = Field(description="Shown once; only its hash is stored")


class Me(BaseModel):
    user_id: int
    username: str
    full_name: str
    organisation_id: int
    organisation_kind: str
    role: str
    permissions: list[str]
