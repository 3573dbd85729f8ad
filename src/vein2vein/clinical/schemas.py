"""Pydantic schemas at the API edge of clinical studies, and the readout parameters that a
study stores as its defaults and a request may override (the engine's ``ReadoutOptions``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .bor import BorOptions, parse_benefit
from .readout import ReadoutOptions

Benefit = Literal["CR", "PR", "SD", "NON-CR/NON-PD"]
#: the engine's default (``bor.BENEFIT``), typed for the schema
DEFAULT_BENEFIT: tuple[Benefit, ...] = ("CR", "PR", "SD", "NON-CR/NON-PD")


def _benefit_list(value: Any) -> Any:
    """A comma-separated text (a query string, a form) or a list, in canonical order."""
    if value is None:
        return None
    if isinstance(value, str):
        return list(parse_benefit(value))
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(parse_benefit(",".join(value)))
    return value


class ReadoutParams(BaseModel):
    """Every option of ``v2v clinical readout``, with the same defaults (docs/clinical.md)."""

    model_config = ConfigDict(extra="forbid")

    cutoff: dt.date | None = Field(default=None, description="Data cut-off date (YYYY-MM-DD)")
    basis: Literal["confirmed", "unconfirmed"] = Field(
        default="confirmed",
        description="ORR, DCR and DOR from the confirmed or the unconfirmed BOR",
    )
    irecist: bool = Field(default=False, description="iRECIST time points (iUPD, iCPD, reset)")
    ci: Literal["log-log", "log", "plain"] = Field(
        default="log-log", description="Kaplan-Meier band that the median interval inverts"
    )
    population: Literal["evaluable", "infused"] = "evaluable"
    confirm_days: int = Field(default=28, ge=0, le=366)
    sd_min_days: int = Field(default=42, ge=0, le=366)
    max_ne: int = Field(default=1, ge=0, le=20)
    accept_sd: bool = False
    cr_then_pr: Literal["SD", "PD"] = "SD"
    missing_as_ne: bool = False
    after_pd: Literal["drop", "keep"] = Field(
        default="drop",
        description="Assessments after the first progression: dropped (RECIST) or kept "
        "(admiralonco without a PD source)",
    )
    benefit: list[Benefit] = Field(
        default_factory=lambda: list(DEFAULT_BENEFIT),
        description="BOR categories that count as clinical benefit (DCR); a list or a "
        "comma-separated text",
    )

    _split_benefit = field_validator("benefit", mode="before")(_benefit_list)

    def to_options(self) -> ReadoutOptions:
        return ReadoutOptions(
            bor=BorOptions(
                confirm_days=self.confirm_days,
                sd_min_days=self.sd_min_days,
                max_ne=self.max_ne,
                accept_sd=self.accept_sd,
                cr_then_pr=self.cr_then_pr,
                missing_as="NE" if self.missing_as_ne else "MISSING",
                truncate_at_first_pd=self.after_pd == "drop",
                benefit=tuple(self.benefit),
            ),
            use_confirmed=self.basis == "confirmed",
            conf_type=self.ci,
            cutoff=self.cutoff,
            irecist=self.irecist,
            population=self.population,
        )

    def stored(self) -> dict[str, Any]:
        """JSON of the options that differ from the defaults (what a study keeps)."""
        return self.model_dump(mode="json", exclude_defaults=True)


class ReadoutOverrides(BaseModel):
    """Query parameters of a readout or report request: unset ones take the study's defaults."""

    cutoff: dt.date | None = None
    basis: Literal["confirmed", "unconfirmed"] | None = None
    irecist: bool | None = None
    ci: Literal["log-log", "log", "plain"] | None = None
    population: Literal["evaluable", "infused"] | None = None
    confirm_days: int | None = Field(default=None, ge=0, le=366)
    sd_min_days: int | None = Field(default=None, ge=0, le=366)
    max_ne: int | None = Field(default=None, ge=0, le=20)
    accept_sd: bool | None = None
    cr_then_pr: Literal["SD", "PD"] | None = None
    missing_as_ne: bool | None = None
    after_pd: Literal["drop", "keep"] | None = None
    benefit: list[Benefit] | None = None

    _split_benefit = field_validator("benefit", mode="before")(_benefit_list)

    def apply(self, defaults: dict[str, Any]) -> ReadoutParams:
        given = self.model_dump(exclude_none=True, include=set(ReadoutParams.model_fields))
        return ReadoutParams.model_validate({**defaults, **given})


class ReportQuery(ReadoutOverrides):
    format: Literal["html", "pdf"] = Field(default="pdf", description="Report file format")


class StudyCreate(BaseModel):
    program_id: int
    code: str = Field(min_length=1, max_length=32)
    title: str = Field(min_length=1, max_length=300)
    description: str = ""
    options: ReadoutParams = Field(default_factory=ReadoutParams)


class StudyUpdate(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = None
    options: ReadoutParams | None = None
    reason: str = Field(min_length=1, description="Why the study record changes (audited)")


class FilePublic(BaseModel):
    name: str
    sha256: str
    size: int


class VersionPublic(BaseModel):
    id: int
    study_id: int
    organisation_id: int
    version: int
    format: str
    evaluator: str | None
    sha256: str = Field(description="Dataset hash: the input hash every readout of it cites")
    counts: dict[str, int]
    warnings: list[str]
    ignored_files: list[str]
    comment: str
    uploaded_at: dt.datetime
    uploaded_by: str
    files: list[FilePublic]


class StudyPublic(BaseModel):
    id: int
    organisation_id: int
    program_id: int
    code: str
    title: str
    description: str
    options: dict[str, Any]
    created_at: dt.datetime
    created_by: str


class StudyDetail(StudyPublic):
    sponsor: str
    program: str
    versions: list[VersionPublic]


class ReadoutPublic(BaseModel):
    """The engine's readout JSON (docs/clinical.md, "Output") with the study and version."""

    study: StudyPublic
    version: VersionPublic
    options: ReadoutParams
    readout: dict[str, Any]
