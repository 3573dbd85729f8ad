"""API routes of executed batch records (``/api/batches``) and genealogy (``/api/trace``):
thin wrappers over ``batches`` (changes) and ``batch_views`` (reads).

A sponsor's user reads the status of its own orders' batches and nothing of another client's
(not found); executing, verifying and approving are the CDMO's."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, Field

from vein2vein.auth.roles import Perm
from vein2vein.manufacturing import batch_views as views
from vein2vein.manufacturing import batches, pd_runs
from vein2vein.web.context import AuthDep, DbDep, require

router = APIRouter(prefix="/api", tags=["executed batch records"])

_STEP = Field(min_length=1, max_length=32, description="the MBR operation's code, e.g. RECEIPT")
_ENTRY = Field(min_length=1, max_length=64, description="the parameter's or control's code")


class BatchCreate(BaseModel):
    order_id: int
    site: str = Field(min_length=1, max_length=200, description="the CDMO site's name or id")
    suite: str = Field(min_length=1, max_length=64, description="the suite the plan assigned")
    dose_per_kg: float | None = Field(None, gt=0, description="target dose, cells/kg")


class StepStart(BaseModel):
    step: str = _STEP
    suite: str | None = Field(None, max_length=64, description="another suite than planned")
    reason: str = Field("", max_length=2000, description="why another suite")


class ValueEntry(BaseModel):
    step: str = _STEP
    entry: str = _ENTRY
    value: float
    unit: str = Field(min_length=1, max_length=32)


class Correction(ValueEntry):
    reason: str = Field(min_length=1, max_length=2000)


class Verification(BaseModel):
    seq: int = Field(ge=1, description="the number of the entry or lot scan verified")


class LotScan(BaseModel):
    step: str = _STEP
    material: str = Field(min_length=1, max_length=40)
    lot: str = Field(min_length=1, max_length=120, description="lot number (or DIN) as scanned")


class EquipmentUse(BaseModel):
    """The instrument used for a piece of the step's equipment (one of the codes the MBR lists
    for the operation)."""

    step: str = _STEP
    equipment: str = Field(
        min_length=1, max_length=40, description="the MBR's equipment code, e.g. COUNTER"
    )
    instrument: str = Field(
        min_length=1, max_length=64, description="the instrument's asset number, scanned or typed"
    )
    calibration_due: dt.date | None = Field(
        None,
        description="the instrument's calibration due date (required where the MBR calibrates "
        "the equipment); before the day of use: recorded, flagged and a deviation opens",
    )
    reason: str = Field(
        "", max_length=2000, description="why another instrument, when one is recorded already"
    )


class HoldDecision(BaseModel):
    step: str = _STEP
    released: bool
    reason: str = Field(min_length=1, max_length=2000)


class Signing(BaseModel):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1000)
    shown_hash: str | None = Field(
        None, min_length=64, max_length=64, description="SHA-256 of the content reviewed"
    )


class StepSignOff(Signing):
    step: str = _STEP


class Failure(BaseModel):
    step: str = _STEP
    reason: str = Field(min_length=1, max_length=2000)
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1000)


class BatchSummary(BaseModel):
    id: int
    order: str | None = Field(description="the order's number; None for a PD run")
    product: str
    site: str
    mbr_version: int
    status: str
    suite: str
    deviations_open: int
    deviations_closed: int
    gmp: bool = Field(True, description="false: a process-development run (non-GMP)")
    run_label: str | None = Field(None, description="the PD run's label")


class KineticsPoint(BaseModel):
    """A viable cell count of the MBR at its process day: this batch's count and the envelope
    of earlier batches there (lowest, median, highest: null while there is no envelope)."""

    point: str = Field(description="STEP.entry of the count, e.g. HARVEST.viable_cells")
    name: str = Field(description="the count's name in the MBR")
    day: int | None = Field(description="process day of the count's operation in the MBR")
    cells: float | None = Field(description="this batch's current count, cells (null: not yet)")
    n: int = Field(description="earlier batches with a count here")
    low: float | None = Field(description="lowest count of the earlier batches, cells")
    median: float | None = Field(description="median count of the earlier batches, cells")
    high: float | None = Field(description="highest count of the earlier batches, cells")


class BatchKinetics(BaseModel):
    """Growth of the batch (``stats.kinetics``: FE = N_last/N_first, PD = log2 FE,
    DT = elapsed/PD) and its counts against earlier batches of the same MBR version (complete,
    in review or approved, made before this one); the envelope needs at least 3 of them."""

    fold_expansion: float | None = Field(description="N_last / N_first (null: fewer than 2 counts)")
    doublings: float | None = Field(description="population doublings, log2 of the fold expansion")
    doubling_time_h: float | None = Field(description="doubling time, hours")
    doubling_time_days: float | None = Field(description="doubling time, days")
    elapsed_days: float | None = Field(description="days between the first and last count")
    counts_used: int = Field(description="counts entered so far")
    problem: str | None = Field(description="why a number is missing (too few counts, no growth)")
    earlier_batches: int = Field(description="earlier batches of the same MBR version")
    envelope_drawn: bool = Field(description="true from 3 earlier batches on")
    envelope_message: str
    points: list[KineticsPoint]


class BatchDetail(BaseModel):
    """A sponsor receives the first six fields only."""

    id: int
    order: str | None
    product: str
    status: str
    gmp: bool = True
    run_label: str | None = None
    coi: str | None = None
    din: str | None = None
    site: str | None = None
    mbr_id: int | None = None
    mbr_version: int | None = None
    mbr_hash: str | None = None
    planned_suite: str | None = None
    failed_step: str | None = None
    failed_reason: str | None = None
    created_at: dt.datetime | None = None
    created_by: str | None = None
    approved_at: dt.datetime | None = None
    approved_by: str | None = None
    next_step: str | None = None
    steps: list[dict[str, Any]] | None = None
    events: list[dict[str, Any]] | None = None
    review: list[dict[str, Any]] | None = None
    deviations: list[dict[str, Any]] | None = None
    approval_hash: str | None = None
    kinetics: BatchKinetics | None = None


class EquipmentTrace(BaseModel):
    """A piece of equipment of a started step and the instrument recorded for it (null fields
    while the step has not recorded it; an instrument recorded in place of another follows it,
    and the first has ``current`` false)."""

    step: str
    code: str = Field(description="the MBR's equipment code")
    name: str
    instrument: str | None = Field(description="asset number of the instrument used")
    calibration_due: dt.date | None
    calibration: str | None = Field(description="ok, overdue (a deviation) or not required")
    message: str | None
    seq: int | None = Field(description="the record's entry number")
    by: str | None
    at: dt.datetime | None
    replaces: int | None = Field(description="entry number of the record it replaces")
    reason: str | None
    current: bool


class BatchTrace(BaseModel):
    batch: int
    order: str | None
    coi: str
    lots: list[dict[str, Any]]
    equipment: list[EquipmentTrace]


class LotTrace(BaseModel):
    lot_id: int
    material: str
    lot_number: str
    status: str
    batches: list[dict[str, Any]]


class PdRun(BaseModel):
    batch_id: int
    run_label: str
    entries: int = Field(description="values recorded from the file")
    flagged: int = Field(description="values outside the normal operating range")
    outside_par: int = Field(
        description="values outside the proven acceptable range (flagged; no deviation opens "
        "for a non-GMP run)"
    )


class PdImportResult(BaseModel):
    file: str
    sheet: str | None = Field(description="the worksheet read (XLSX)")
    file_sha256: str
    mbr_id: int
    mbr_version: int
    mbr_status: str
    runs: list[PdRun]


class ReleaseBlockers(BaseModel):
    batch_id: int
    releasable: bool = Field(description="true when the batch record blocks nothing")
    blockers: list[str]


def _detail(db: Any, auth: Any, batch_id: int) -> dict[str, Any]:
    with db.read() as session:
        return views.batch_detail(session, auth.scope, batch_id)


@router.get("/batches", response_model=list[BatchSummary], dependencies=[require(Perm.BATCH_READ)])
def list_batches(auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    """Batches in scope, newest first."""
    with db.read() as session:
        return views.list_batches(session, auth.scope)


@router.post(
    "/batches",
    response_model=BatchDetail,
    status_code=201,
    dependencies=[require(Perm.BATCH_EXECUTE)],
)
def create_batch(body: BatchCreate, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """A batch of the order from its product's effective MBR at the site."""
    with db.uow(auth.actor) as uow:
        batch = batches.create_batch(uow, auth.scope, **body.model_dump())
        uow.commit()
        batch_id = batch.id
    return _detail(db, auth, batch_id)


@router.post(
    "/batches/pd-import",
    response_model=PdImportResult,
    status_code=201,
    dependencies=[require(Perm.BATCH_EXECUTE)],
)
def import_pd(
    auth: AuthDep,
    db: DbDep,
    file: Annotated[UploadFile, File(description="CSV or XLSX, one row per entry")],
    program: Annotated[str, Form(min_length=1, max_length=40, description="program code")],
    site: Annotated[str, Form(min_length=1, max_length=200, description="CDMO site")],
    mbr_version: Annotated[int, Form(ge=1, description="MBR version (not a draft)")],
) -> dict[str, Any]:
    """Import process-development runs (non-GMP records) from a CSV or XLSX file, in one
    transaction: a bad cell names file, sheet, row and column, and nothing is written."""
    data = file.file.read()
    with db.uow(auth.actor) as uow:
        result = pd_runs.import_pd_runs(
            uow, auth.scope, filename=file.filename or "", data=data,
            program=program, site=site, mbr_version=mbr_version,
        )  # fmt: skip
        uow.commit()
    return result.public()


@router.get(
    "/batches/{batch_id}/release-blockers",
    response_model=ReleaseBlockers,
    dependencies=[require(Perm.BATCH_READ)],
)
def release_blockers(batch_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Why the batch cannot be released, as far as its batch record goes (the QC release's
    hook): a process-development run, failed, not QA-approved, deviations not closed."""
    with db.read() as session:
        found = views.batch_release_blockers(session, auth.scope, batch_id)
    return {"batch_id": batch_id, "releasable": not found, "blockers": found}


@router.get(
    "/batches/{batch_id}", response_model=BatchDetail, dependencies=[require(Perm.BATCH_READ)]
)
def get_batch(batch_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    return _detail(db, auth, batch_id)


def _change(db: Any, auth: Any, batch_id: int, fn: Any, *args: Any, **kw: Any) -> dict[str, Any]:
    with db.uow(auth.actor) as uow:
        fn(uow, auth.scope, batch_id, *args, **kw)
        uow.commit()
    return _detail(db, auth, batch_id)


def _signed(db: Any, auth: Any, batch_id: int, fn: Any, **kw: Any) -> dict[str, Any]:
    with db.uow(auth.actor) as uow:
        fn(uow, auth.scope, db.settings, batch_id, **kw)
        uow.commit()
    return _detail(db, auth, batch_id)


@router.post(
    "/batches/{batch_id}/start",
    response_model=BatchDetail,
    dependencies=[require(Perm.BATCH_EXECUTE)],
)
def start_step(batch_id: int, body: StepStart, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Start a step, in the planned suite or another one with a reason."""
    return _change(
        db, auth, batch_id, batches.start_step, body.step, suite=body.suite, reason=body.reason
    )


@router.post(
    "/batches/{batch_id}/entries",
    response_model=BatchDetail,
    dependencies=[require(Perm.BATCH_EXECUTE)],
)
def enter_value(batch_id: int, body: ValueEntry, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Enter a value; outside its acceptable range a deviation opens."""
    return _change(
        db, auth, batch_id, batches.enter_value, body.step, body.entry, body.value, body.unit
    )


@router.post(
    "/batches/{batch_id}/corrections",
    response_model=BatchDetail,
    dependencies=[require(Perm.BATCH_EXECUTE)],
)
def correct(batch_id: int, body: Correction, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Correct an entry with a reason (the original stays)."""
    return _change(
        db, auth, batch_id, batches.correct,
        body.step, body.entry, body.value, body.unit, reason=body.reason,
    )  # fmt: skip


@router.post(
    "/batches/{batch_id}/verifications",
    response_model=BatchDetail,
    dependencies=[require(Perm.BATCH_VERIFY)],
)
def verify(batch_id: int, body: Verification, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """A second person verifies an entry or a lot scan."""
    return _change(db, auth, batch_id, batches.verify, body.seq)


@router.post(
    "/batches/{batch_id}/lots",
    response_model=BatchDetail,
    dependencies=[require(Perm.BATCH_EXECUTE)],
)
def scan_lot(batch_id: int, body: LotScan, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Scan the lot of a material (refused: not released, expired, rejected, wrong material)."""
    return _change(db, auth, batch_id, batches.scan_lot, body.step, body.material, body.lot)


@router.post(
    "/batches/{batch_id}/equipment",
    response_model=BatchDetail,
    dependencies=[require(Perm.BATCH_EXECUTE)],
)
def record_equipment(batch_id: int, body: EquipmentUse, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Record the instrument used for a piece of the step's equipment with its calibration due
    date (due before the day of use: recorded, flagged, and a deviation opens)."""
    return _change(
        db, auth, batch_id, batches.record_equipment,
        body.step, body.equipment, body.instrument, body.calibration_due, reason=body.reason,
    )  # fmt: skip


@router.post(
    "/batches/{batch_id}/holds",
    response_model=BatchDetail,
    dependencies=[require(Perm.BATCH_APPROVE)],
)
def decide_hold(batch_id: int, body: HoldDecision, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """QA's decision on a step's hold (not released: the batch fails)."""
    return _change(
        db, auth, batch_id, batches.decide_hold,
        body.step, released=body.released, reason=body.reason,
    )  # fmt: skip


@router.post(
    "/batches/{batch_id}/signoffs",
    response_model=BatchDetail,
    dependencies=[require(Perm.BATCH_EXECUTE)],
)
def sign_off(batch_id: int, body: StepSignOff, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Sign a step off with an electronic signature (user name and password again)."""
    return _signed(db, auth, batch_id, batches.sign_off_step, **body.model_dump())


@router.post(
    "/batches/{batch_id}/failure",
    response_model=BatchDetail,
    dependencies=[require(Perm.BATCH_EXECUTE)],
)
def record_failure(batch_id: int, body: Failure, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Record the batch's failure at a step, with a reason and an electronic signature."""
    return _signed(db, auth, batch_id, batches.record_failure, **body.model_dump())


@router.post(
    "/batches/{batch_id}/submit",
    response_model=BatchDetail,
    dependencies=[require(Perm.BATCH_EXECUTE)],
)
def submit(batch_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """The complete record goes to QA."""
    return _change(db, auth, batch_id, batches.submit)


@router.post(
    "/batches/{batch_id}/approve",
    response_model=BatchDetail,
    dependencies=[require(Perm.BATCH_APPROVE)],
)
def approve(batch_id: int, body: Signing, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """QA approves the record with an electronic signature once its deviations are closed;
    the record is then locked."""
    return _signed(db, auth, batch_id, batches.approve, **body.model_dump())


@router.get(
    "/trace/batches/{batch_id}", response_model=BatchTrace, dependencies=[require(Perm.LOT_READ)]
)
def trace_batch(batch_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Backward trace: the lots and equipment a batch used."""
    with db.read() as session:
        return views.trace_batch(session, auth.scope, batch_id)


@router.get("/trace/lots/{lot_id}", response_model=LotTrace, dependencies=[require(Perm.LOT_READ)])
def trace_lot(lot_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Forward trace: the batches (orders, CoI identifiers) that used a lot."""
    with db.read() as session:
        return views.trace_lot(session, auth.scope, lot_id)
