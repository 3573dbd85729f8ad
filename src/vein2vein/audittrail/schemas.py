"""Pydantic schemas at the API edge for the audit trail."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ChangePublic(BaseModel):
    field: str
    kind: str = Field(description="added, removed or changed")
    before: str | None
    after: str | None


class AuditEntryPublic(BaseModel):
    seq: int
    recorded_at: str
    actor_id: int | None
    actor: str
    organisation_id: int | None
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any
    reason: str | None
    prev_hash: str
    hash: str
    changes: list[ChangePublic] = Field(
        default_factory=list, description="Field-by-field difference of before and after"
    )
    entity_label: str | None = Field(
        None, description="The record's name, if the caller may see it"
    )
    organisation_label: str | None = None


class AuditPagePublic(BaseModel):
    entries: list[AuditEntryPublic]
    total: int = Field(description="Entries matching the filters")
    newer: int | None = Field(description="Pass as `above` for the newer page")
    older: int | None = Field(description="Pass as `below` for the older page")
    size: int


class BadSignaturePublic(BaseModel):
    signature_id: int
    record_type: str = Field(description="e.g. mbr, mfg_deviation, mfg_batch_step, mfg_batch")
    record_id: str
    signer: str = Field(description="The printed name of who signed")
    meaning: str
    problem: str


class VerifyPublic(BaseModel):
    ok: bool
    count: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = Field(description="First sequence where the chain breaks")
    bad_signature: int | None = Field(
        None, description="Id of the first signature that is not what was signed"
    )
    review_anchors: int = Field(0, description="Heads of signed reviews checked")
    problem: str | None
    bad_signatures: list[BadSignaturePublic] = Field(
        default_factory=list,
        description="Every signature that is not what was signed (the signed record changed, "
        "or the signature row did)",
    )


class ReviewCreate(BaseModel):
    comment: str = ""


class ReviewUpdate(BaseModel):
    comment: str


class SignRequest(BaseModel):
    username: str = Field(min_length=1, description="The signer's user name, asked again")
    password: str = Field(min_length=1, description="The signer's password, asked again")
    content_hash: str | None = Field(
        None, description="SHA-256 of the content shown to the signer; refused if it changed"
    )
    meaning: str = "reviewed"
    reason: str | None = None


class SignaturePublic(BaseModel):
    id: int
    user_id: int
    record_type: str
    record_id: str
    printed_name: str
    username: str
    meaning: str
    signed_at: str
    content_hash: str
    reason: str | None
    hash: str = Field(description="SHA-256 over the content's hash and the signer's identity")


class ReviewPublic(BaseModel):
    id: int
    from_seq: int
    to_seq: int
    head_hash: str
    chain_ok: bool
    entries: int
    entries_sha256: str | None = Field(
        None, description="SHA-256 of the covered entries' SEQ:HASH lines when the review was made"
    )
    entries_now: str | None = Field(
        None, description="The same digest over the entries as they are now (what is signed)"
    )
    comment: str
    created_by: int
    created_at: str
    signatures: list[SignaturePublic] = []
