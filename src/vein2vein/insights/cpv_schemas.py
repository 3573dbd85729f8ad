"""Pydantic schemas at the API edge of CPV (``cpv_api.py``): the freeze request and the public
shape of every answer (docs/cpv.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class Freeze(BaseModel):
    """Freeze the limits of one series from the batches started in a period (signed)."""

    site_id: int = Field(ge=1, le=2**31 - 1, description="the manufacturing site")
    attribute: str = Field(
        min_length=1,
        max_length=64,
        description="the test code, or a process parameter: record:STEP.entry, "
        "derived:fold_expansion, derived:doubling_time_h",
    )
    start: dt.date = Field(description="first day of the period (batches started from it)")
    end: dt.date = Field(description="last day of the period (included)")
    reason: str = Field(min_length=1, max_length=2000, description="why these batches")
    current: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="the baseline seen as effective (none: null); refused when it changed",
    )
    username: str = Field(min_length=1, max_length=150, description="the signer's user name")
    password: str = Field(min_length=1, max_length=1000, description="the signer's password")


class SeriesRow(BaseModel):
    program_id: int
    product: str
    site_id: int
    site: str
    attribute: str = Field(description="a test code, or record:STEP.entry / derived:quantity")
    kind: str = Field(description="quality attribute (QC result) or process parameter (record)")
    name: str
    unit: str | None
    n: int
    last_batch: str
    baseline_id: int | None
    baseline_frozen_at: dt.datetime | None
    flagged: int
    problem: str | None = Field(None, description="why the series has no chart")


class Baseline(BaseModel):
    id: int
    program_id: int
    product: str
    site_id: int
    site: str
    attribute: str
    kind: str
    unit: str | None
    period_start: dt.date
    period_end: dt.date
    n: int
    center: float
    sigma: float
    lcl: float
    ucl: float
    mr_center: float
    mr_ucl: float
    status: str
    frozen_at: dt.datetime
    frozen_by: str
    frozen_by_name: str
    reason: str
    supersedes_id: int | None
    superseded_at: dt.datetime | None
    content_hash: str
    warnings: list[str]
    method: dict[str, Any]


class BaselineDetail(Baseline):
    points: list[list[float | None]] = Field(
        description="[batch id, QC result id (null: a batch-record value), value] of each batch"
    )
    records: list[str] = Field(description="where each value was read, in the order of points")
    signatures: list[dict[str, Any]]


class ChartPoint(BaseModel):
    index: int
    batch_id: int
    batch: str
    result_id: int | None = Field(description="the QC result (null: a batch-record value)")
    source: str = Field(description="qc_result 12, mfg_batch 3 entry 41, mfg_batch 3 kinetics")
    entry_seq: int | None
    made_on: dt.date
    value: float = Field(description="in the series' unit (the latest point's)")
    unit: str | None
    converted_from: str | None = Field(description="the value and unit before conversion")
    rounded: str
    outcome: str
    disposition: str
    phase: str = Field(description="baseline, monitoring, before (the baseline) or provisional")
    rules: list[str]
    moving_range: float | None


class Dashboard(BaseModel):
    program: dict[str, Any]
    series: list[SeriesRow]
    key: dict[str, Any] | None
    site: str | None = None
    attribute: dict[str, Any] | None = None
    spec: dict[str, Any] | None = None
    problem: str | None = None
    frozen: bool | None = None
    chart: dict[str, Any] | None = None
    points: list[ChartPoint] = []
    flagged: list[ChartPoint] = []
    capability: dict[str, Any] | None = None
    capability_problem: str | None = None
    cpk_warning: str | None = None
    warnings: list[str] = []
    waiting: int = 0
    invalidated: list[dict[str, Any]] = []
    baseline: Baseline | None = None
    baselines: list[Baseline] = []


class ConformanceBatch(BaseModel):
    batch_id: int
    batch: str
    site: str
    made_on: dt.date
    batch_status: str
    disposition: str
    met: bool


class ConformanceException(BaseModel):
    batch_id: int
    batch: str
    kind: str
    text: str
    result_id: int | None
    investigation: str | None


class Conformance(BaseModel):
    program: dict[str, Any]
    start: dt.date | None
    end: dt.date | None
    batches: list[ConformanceBatch]
    count: int
    decided: int
    met: int
    all_met: bool
    exceptions: list[ConformanceException]
    kinds: dict[str, str]
