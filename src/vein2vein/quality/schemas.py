"""Pydantic schemas at the API edge of QC release (``quality/api.py``): what a request may
carry and the public shape of every answer (docs/quality.md describes the records)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field, StrictFloat, StrictInt, StrictStr

_USERNAME = Field(min_length=1, max_length=150, description="the signer's user name, asked again")
_PASSWORD = Field(min_length=1, max_length=1000, description="the signer's password, asked again")
_TEXT = Field(min_length=1, max_length=4000)


# --------------------------------------------------------------------------------------------
# requests
# --------------------------------------------------------------------------------------------


class Signing(BaseModel):
    """An electronic signature (21 CFR 11.50): the password again, and the hash of what the
    signer was shown (refused when the record changed since)."""

    username: str = _USERNAME
    password: str = _PASSWORD
    shown_hash: str | None = Field(
        None, min_length=64, max_length=64, description="SHA-256 of the content reviewed"
    )


class SpecImport(BaseModel):
    yaml: str = Field(
        min_length=1, max_length=200_000, description="the specification (docs/quality.md)"
    )
    file: str = Field(
        "spec.yaml", min_length=1, max_length=255, description="file name errors name"
    )


class ResultCreate(BaseModel):
    test: str = Field(min_length=1, max_length=64, description="the specification's test code")
    value: StrictStr | StrictInt | StrictFloat = Field(
        description="a number, or the words of a qualitative result (true/false are refused)"
    )
    unit: str | None = Field(None, max_length=40, description="the value's unit, if any")
    tested_on: dt.date | None = None
    instrument: str | None = Field(None, max_length=64, description="the instrument's asset no.")
    method_ref: str | None = Field(None, max_length=120, description="SOP or method reference")


class PhaseI(BaseModel):
    """Phase I (laboratory) conclusion of an OOS investigation (FDA OOS guidance 2006)."""

    finding: str = _TEXT
    assignable: bool = Field(description="an assignable laboratory cause was found")
    justification: str = Field("", max_length=4000)
    username: str = _USERNAME
    password: str = _PASSWORD


class PhaseII(BaseModel):
    """Phase II (full-scale) closure of an OOS investigation: the result stands."""

    conclusion: str = _TEXT
    impact: str = _TEXT
    username: str = _USERNAME
    password: str = _PASSWORD
    shown_hash: str | None = Field(None, min_length=64, max_length=64)


class Rejection(Signing):
    reason: str = _TEXT


class ExceptionRequest(BaseModel):
    """The treating physician's written request for an out-of-specification batch (EudraLex
    Vol. 4 Part IV, GMP for ATMPs, 11.5)."""

    physician: str = Field(min_length=1, max_length=200)
    physician_request: str = Field(
        min_length=1, max_length=200, description="reference of the written request"
    )
    requested_on: dt.date
    no_alternative: str = _TEXT
    risk_assessment: str = _TEXT
    authority_notification: str = _TEXT


# --------------------------------------------------------------------------------------------
# answers
# --------------------------------------------------------------------------------------------


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
    hash: str


class SpecSummary(BaseModel):
    id: int
    label: str
    product: str
    stage: str
    phase: str
    version: int
    title: str
    status: str = Field(description="draft, effective or superseded")
    content_hash: str
    created_at: dt.datetime
    created_by: str
    effective_at: dt.datetime | None
    effective_by: str | None
    superseded_at: dt.datetime | None


class SpecTest(BaseModel):
    code: str
    name: str
    category: str
    method: str
    unit: str | None
    criterion: str
    after_release: bool


class SpecDetail(SpecSummary):
    tests: list[SpecTest]
    shown_hash: str = Field(description="SHA-256 of what an approver signs")
    signatures: list[SignaturePublic]


class ResultPublic(BaseModel):
    id: int
    batch_id: int
    spec_id: int
    test: str
    attempt: int
    value: str = Field(description="as entered")
    unit: str | None
    converted: str | None = Field(description="converted to the test's unit, exactly")
    rounded: str = Field(description="rounded to the reportable precision, with its unit")
    outcome: str = Field(description="conforms, does not conform or reported")
    message: str
    analyst: str
    analyst_name: str
    tested_on: str | None
    instrument: str | None
    method_ref: str | None
    source: str = Field(description="form, csv, flow, qpcr or calculated")
    source_file: str | None
    source_row: int | None
    entered_at: dt.datetime
    entered_by: str
    valid: bool
    invalidated_at: dt.datetime | None
    invalidated_by: str | None
    retest_of: int | None
    inputs: dict[str, Any] | None = Field(description="a calculated result's formula and inputs")


class TestRow(BaseModel):
    code: str
    name: str
    category: str
    method: str
    unit: str | None
    criterion: str
    after_release: bool
    calculated: bool
    qualitative: bool
    result: ResultPublic | None = Field(description="the valid result (null: none yet)")
    history: list[ResultPublic] = Field(description="earlier results, invalidated")


class InvestigationSummary(BaseModel):
    id: int
    number: str
    batch_id: int
    result_id: int
    test: str
    result: str
    rounded: str
    analyst: str
    status: str
    status_text: str
    closed: bool
    after_release: bool
    escalation: Any = Field(None, description="actions after a late failure")
    opened_at: dt.datetime
    opened_by: str
    finding: str | None
    assignable: bool | None
    justification: str | None
    conclusion: str | None
    impact: str | None
    closed_at: dt.datetime | None
    closed_by: str | None


class DeviationRef(BaseModel):
    number: str
    title: str
    status: str


class InvestigationDetail(InvestigationSummary):
    deviations: list[DeviationRef]
    shown_hash: str
    signatures: list[SignaturePublic]


class Precondition(BaseModel):
    name: str
    met: bool
    detail: str
    blocks: bool = Field(description="false: shown, but a conditional release may go ahead")


class DoseBag(BaseModel):
    number: int
    volume_ml: float
    cells: float
    cells_per_kg: float


class DoseFinding(BaseModel):
    flag: str
    message: str


class DosePlan(BaseModel):
    """The fill of the batch for its patient (``quality/dose.py``); numbers unrounded."""

    cells: float = Field(description="CAR+ viable T cells filled")
    volume_ml: float
    cells_per_kg: float = Field(description="at the patient's weight at order")
    target_cells: float
    achievable_cells: float
    achievable_cells_per_kg: float
    concentration_cells_per_ml: float
    bags: list[DoseBag]
    flagged: bool = Field(description="the batch cannot be filled to its dose as it stands")
    findings: list[DoseFinding]


class Dose(BaseModel):
    level: str
    weight_kg: float | None
    missing: str | None = Field(description="why there is no plan yet")
    plan: DosePlan | None
    problem: str | None


class ExceptionPublic(BaseModel):
    batch_id: int
    nonconformities: list[str]
    physician: str
    physician_request: str
    requested_on: str
    no_alternative: str
    risk_assessment: str
    authority_notification: str
    in_clinical_trial: bool


class Decision(BaseModel):
    state: str
    decided_state: str
    decided_at: dt.datetime
    decided_by: str
    reason: str | None
    pending: list[str]
    completed_at: dt.datetime | None
    escalated_at: dt.datetime | None


class BatchRef(BaseModel):
    id: int
    order: str | None
    coi: str | None
    status: str


class QcPage(BaseModel):
    """Everything QA weighs before releasing one batch, on one page."""

    batch: BatchRef
    spec: SpecSummary | None
    preconditions: list[Precondition]
    blockers: list[str]
    would_be: str = Field(description="the state a release now would give (pending: none)")
    pending: list[str]
    nonconforming: list[str]
    tests: list[TestRow]
    investigations: list[InvestigationSummary]
    dose: Dose
    exception: ExceptionPublic | None
    exception_missing: list[str] = Field(description="sign-offs the exception still needs")
    release: Decision | None
    state: str = Field(description="pending, released, conditional, exceptional or rejected")
    shown_hash: str = Field(description="SHA-256 of what a release now would sign")
    signatures: list[SignaturePublic]


class ReleaseRow(BaseModel):
    batch: int
    order: str | None
    coi: str | None
    product: str
    site: str
    batch_status: str
    spec: str | None
    spec_version: int | None
    state: str
    decided_at: dt.datetime | None
    decided_by: str | None
    pending: list[str]
    escalated: bool


class CoaIssued(BaseModel):
    number: str
    issued_at: dt.datetime
    issued_by: str
    content_hash: str
    file_sha256: str


class CoaVerdict(BaseModel):
    """The verdict on a presented certificate (200 whatever it is)."""

    file: str
    sha256: str
    authentic: bool
    current: bool
    status: str
    reasons: list[str]
    document_number: str | None
    batch_id: int | None
    issued_at: dt.datetime | None
