"""Use cases of executed batch records: create a batch from an order and the effective MBR of
its product at a site, work its steps (start, enter, correct, verify, scan a lot, QA hold
decision, sign-off with an electronic signature), record a failure, submit to QA and approve.
The rules are in ``execution.py`` (pure); this module loads the record from its events, asks
the rules, and appends the new events with the audit entry in the caller's unit of work.

Who may do what (``Perm`` in ``auth/roles.py``):

=============================== ================== ==========================================
action                          permission         rule
=============================== ================== ==========================================
read                            ``batch.read``     CDMO staff: all; a sponsor: the status of
                                                   its own orders' batches, nothing else
create, start, enter, correct,  ``batch.execute``  CDMO operators (never the administrator)
scan a lot, record equipment,
sign off a step, record a
failure, submit
verify an entry, a scan or an   ``batch.verify``   another person than the one who entered it
instrument
decide a QA hold, approve       ``batch.approve``  QA approver; approval only when every
                                                   deviation of the batch is closed
=============================== ================== ==========================================

Locking (STYLE 10): every change takes the batch's row lock (``SELECT ... FOR UPDATE``) first
and reads the events after it, so two people acting on one batch at once are taken one after
the other (two operators signing off the same step: one sign-off; the second is refused by the
rule that a signed-off step cannot change). Approval signs the record (``mfg_batch``) with a
locking signature under the same row lock, and every change checks ``ensure_unlocked`` under
it; the database also refuses any change of an APPROVED batch and any new event of it.

A value outside its proven acceptable range opens a deviation (``deviations.record_deviation``,
source ``process_limit``) in the same unit of work, linked to the order, the batch
(``batch_id``), the step (``step_id``: its position in the MBR, 1-based) and the entry
(``entry_id``: the entry's number in the record); so does an instrument used past its
calibration due date (source ``equipment``, the entry: the equipment record).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth import signatures
from vein2vein.auth.roles import Meaning, Perm
from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.auth.signatures import ensure_unlocked, sign
from vein2vein.auth.tables import Signature, Site
from vein2vein.core.canonical import canonical_json, sha256_hex
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import Conflict, InputError, NotFound, PermissionDenied, RuleViolation
from vein2vein.core.settings import Settings
from vein2vein.core.text import clean_text, parse_id
from vein2vein.identity import isbt128
from vein2vein.identity.tables import Order
from vein2vein.manufacturing import deviations, execution, lots, mbrs
from vein2vein.manufacturing import materials as material_rules
from vein2vein.manufacturing.domain import MaterialKind, Verdict
from vein2vein.manufacturing.execution import BatchRecord, Outcome
from vein2vein.manufacturing.tables import Batch, BatchEvent, Deviation, MasterBatchRecord
from vein2vein.scheduling.settings import require_suite_for
from vein2vein.store.locks import lock_row
from vein2vein.store.uow import UnitOfWork

RECORD = "mfg_batch"
STEP_RECORD = "mfg_batch_step"  # a step's sign-off signature: record id "BATCH:STEP"
FAILURE_RECORD = "mfg_batch_failure"
IN_PROGRESS, ON_HOLD, COMPLETE, IN_REVIEW, APPROVED, FAILED = (
    "IN_PROGRESS",
    "ON_HOLD",
    "COMPLETE",
    "IN_REVIEW",
    "APPROVED",
    "FAILED",
)
STATUSES = (IN_PROGRESS, ON_HOLD, COMPLETE, IN_REVIEW, APPROVED, FAILED)
#: statuses in which nothing more is executed
FINISHED = frozenset({IN_REVIEW, APPROVED, FAILED})
_FROM_RECORD = {
    execution.RecordStatus.IN_PROGRESS: IN_PROGRESS,
    execution.RecordStatus.ON_HOLD: ON_HOLD,
    execution.RecordStatus.COMPLETE: COMPLETE,
    execution.RecordStatus.STOPPED: FAILED,
}
_KINDS: dict[str, type[execution.Event]] = {
    cls.__name__: cls
    for cls in (
        execution.StepStarted,
        execution.ValueEntered,
        execution.LotScanned,
        execution.EquipmentUsed,
        execution.Verified,
        execution.QaDecision,
        execution.StepSignedOff,
    )
}


# --------------------------------------------------------------------------------------------
# the record from its rows, and back
# --------------------------------------------------------------------------------------------


def get_batch(session: Session, scope: Scope, batch_id: int | str, *, lock: bool = False) -> Batch:
    """A batch within the caller's scope (another client's: not found); ``lock`` holds its row
    until the transaction ends (every change takes it before reading the events)."""
    batch = get_scoped(session, scope, Batch, batch_id)
    scope.require(Perm.BATCH_READ)
    if lock:
        lock_row(session, Batch, batch.id)
        session.refresh(batch)
        session.expire(batch, ["events"])
    return batch


def payload(event: execution.Event) -> dict[str, Any]:
    """An event as the plain dict stored (canonical JSON) and rebuilt from."""
    return {"kind": type(event).__name__} | vars(event)


def _event(data: dict[str, Any]) -> execution.Event:
    values = dict(data)
    cls = _KINDS[values.pop("kind")]
    values["at"] = dt.datetime.fromisoformat(values["at"])
    if cls is execution.ValueEntered:
        values["verdict"] = Verdict(values["verdict"])
        values["inputs"] = tuple(tuple(i) for i in values["inputs"])
    if cls is execution.EquipmentUsed:
        values["verdict"] = Verdict(values["verdict"])
        due = values["calibration_due"]
        values["calibration_due"] = dt.date.fromisoformat(due) if due is not None else None
    return cls(**values)


def record_of(batch: Batch) -> BatchRecord:
    """The executed record: the MBR version the batch was made from (checked against the hash
    bound at creation) and its events, in order."""
    mbr_row = batch.mbr
    if mbr_row.content_hash != batch.mbr_hash:
        raise Conflict(
            f"batch {batch.id}: MBR {mbr_row.id} no longer has the content the batch was made "
            "from (hash differs)"
        )
    facts = tuple(tuple(f) for f in json.loads(batch.order_facts))
    events = tuple(_event(json.loads(row.payload)) for row in batch.events)
    return BatchRecord(
        mbr=mbrs.model_of(mbr_row),
        mbr_id=batch.mbr_id,
        mbr_version=batch.mbr_version,
        mbr_hash=batch.mbr_hash,
        coi=batch.coi or "",
        din=batch.din or "",
        planned_suite=batch.planned_suite,
        order_facts=facts,  # type: ignore[arg-type]
        events=events,
        gmp=batch.gmp,
    )


def _append(
    session: Session, batch: Batch, before: BatchRecord, after: BatchRecord, lot_id: int | None
) -> list[BatchEvent]:
    """Write the events ``after`` has beyond ``before`` (``lot_id``: of the lot scanned)."""
    rows = []
    for event in after.events[len(before.events) :]:
        value = getattr(event, "value", None)
        row = BatchEvent(
            batch_id=batch.id,
            seq=event.seq,
            kind=type(event).__name__,
            step=event.step,
            item=(
                getattr(event, "entry", None)
                or getattr(event, "material", None)
                or getattr(event, "equipment", None)
            ),
            value=value,
            unit=getattr(event, "unit", None),
            lot_id=lot_id if isinstance(event, execution.LotScanned) else None,
            by=event.by,
            at=event.at,
            reason=getattr(event, "reason", "") or getattr(event, "suite_reason", ""),
            payload=canonical_json(payload(event)).decode("utf-8"),
        )
        session.add(row)
        rows.append(row)
    session.flush()
    _set_status(batch, after)
    return rows


append_events = _append


def _set_status(batch: Batch, record: BatchRecord) -> None:
    if batch.status in FINISHED:
        return
    status = _FROM_RECORD[record.status]
    if status == FAILED:
        stopped = next(e for e in record.of(execution.QaDecision) if not e.released)
        batch.failed_step, batch.failed_reason = stopped.step, f"QA hold: {stopped.reason}"
        batch.failed_at = stopped.at
    batch.status = status


def public(batch: Batch) -> dict[str, Any]:
    """What the audit trail records of a batch (a process-development run: also its flag,
    label and program; a GMP batch's image is as it was before runs existed, so that what QA
    signed of it stays the same)."""
    data: dict[str, Any] = {
        "order_id": batch.order_id,
        "coi": batch.coi,
        "din": batch.din,
        "mbr_id": batch.mbr_id,
        "mbr_version": batch.mbr_version,
        "mbr_hash": batch.mbr_hash,
        "site_id": batch.site_id,
        "planned_suite": batch.planned_suite,
        "status": batch.status,
    }
    if not batch.gmp:
        data |= {"gmp": False, "run_label": batch.run_label, "program_id": batch.program_id}
    return data


# --------------------------------------------------------------------------------------------
# create
# --------------------------------------------------------------------------------------------


def _cdmo_executes(scope: Scope, perm: Perm = Perm.BATCH_EXECUTE) -> None:
    scope.require(perm)
    if not scope.is_cdmo:
        raise PermissionDenied("batch records are kept by the CDMO")


def _site(session: Session, scope: Scope, site: int | str) -> Site:
    key = parse_id(site) if isinstance(site, int) or str(site).strip().isdigit() else None
    stmt = select(Site).where(Site.organisation_id == scope.organisation_id)
    if key is not None:
        found = session.scalars(stmt.where(Site.id == key)).first()
    else:
        found = session.scalars(
            stmt.where(func.lower(Site.name) == str(site).strip().lower())
        ).first()
    if found is None:
        raise InputError(f"the CDMO has no site {site}", field="site")
    return found


#: what process-development imports (``pd_runs``) share with GMP batches
cdmo_executes = _cdmo_executes
site_of = _site


def effective_mbr(session: Session, program_id: int, site_id: int) -> MasterBatchRecord:
    row = session.scalars(
        select(MasterBatchRecord).where(
            MasterBatchRecord.program_id == program_id,
            MasterBatchRecord.site_id == site_id,
            MasterBatchRecord.status == mbrs.EFFECTIVE,
        )
    ).first()
    if row is None:
        raise RuleViolation("the order's product has no effective master batch record at this site")
    return row


def create_batch(
    uow: UnitOfWork,
    scope: Scope,
    *,
    order_id: int | str,
    site: int | str,
    suite: str,
    dose_per_kg: float | None = None,
) -> Batch:
    """A new batch of ``order_id`` at ``site`` from its product's effective MBR there, bound to
    the order's CoI identifier and apheresis DIN and to that MBR version. One batch per order,
    unless every earlier one FAILED (the order's row is held while this is checked)."""
    _cdmo_executes(scope)
    s = uow.session
    try:
        order = get_scoped(s, scope, Order, order_id)
    except NotFound:
        raise InputError(f"order {order_id} not found", field="order_id") from None
    lock_row(s, Order, order.id)
    where = _site(s, scope, site)
    earlier = s.scalars(select(Batch).where(Batch.order_id == order.id)).all()
    live = [b for b in earlier if b.status != FAILED]
    if live:
        raise Conflict(
            f"order {order.number} has batch {live[0].id} ({live[0].status}); a new batch "
            "needs the earlier one to have failed"
        )
    if not order.apheresis_din:
        raise RuleViolation(f"order {order.number} has no apheresis DIN yet")
    used = next((b for b in earlier if b.din == order.apheresis_din), None)
    if used is not None:
        raise RuleViolation(
            f"order {order.number}: the material of apheresis {order.apheresis_din} went into "
            f"batch {used.id}, which failed; record a new apheresis (a new DIN) first"
        )
    mbr_row = effective_mbr(s, order.program_id, where.id)
    suite = clean_text(suite, "suite", 64, required=True)
    require_suite_for(s, scope.organisation_id, suite, infectious=order.segregated)
    record = execution.create(
        mbrs.model_of(mbr_row),
        mbr_id=mbr_row.id,
        mbr_version=mbr_row.version,
        mbr_hash=mbr_row.content_hash,
        coi=order.coi,
        din=order.apheresis_din,
        planned_suite=suite,
        weight_kg=float(order.weight_kg),
        dose_per_kg=dose_per_kg,
    )
    batch = Batch(
        organisation_id=order.organisation_id,
        order_id=order.id,
        coi=record.coi,
        din=record.din,
        mbr_id=mbr_row.id,
        mbr_version=mbr_row.version,
        mbr_hash=mbr_row.content_hash,
        site_id=where.id,
        planned_suite=record.planned_suite,
        order_facts=canonical_json([list(f) for f in record.order_facts]).decode("utf-8"),
        status=IN_PROGRESS,
        created_at=utcnow(),
        created_by=uow.actor.name,
    )
    s.add(batch)
    s.flush()
    uow.record(
        "mfg.batch_create",
        RECORD,
        batch.id,
        after=public(batch) | {"order": order.number},
        organisation_id=batch.organisation_id,
    )
    return batch


# --------------------------------------------------------------------------------------------
# executing
# --------------------------------------------------------------------------------------------


def _for_change(
    uow: UnitOfWork, scope: Scope, batch_id: int | str, perm: Perm
) -> tuple[Batch, BatchRecord]:
    """The batch, row locked, and its record, for a change: scope first (another client's: not
    found), then the permission, then the lock by signature, then the status."""
    batch = get_batch(uow.session, scope, batch_id, lock=True)
    _cdmo_executes(scope, perm)
    ensure_unlocked(uow.session, RECORD, batch.id)
    if not batch.gmp:
        raise RuleViolation(
            f"batch {batch.id} is a process-development run (non-GMP): it is recorded by import "
            "(v2v batches import-pd), never executed, signed off, submitted or approved here"
        )
    if batch.status in FINISHED:
        raise RuleViolation(f"batch {batch.id} is {batch.status}: nothing in it can change")
    return batch, record_of(batch)


def _audit(
    uow: UnitOfWork,
    batch: Batch,
    action: str,
    events: list[BatchEvent],
    reason: str | None = None,
    **extra: Any,
) -> None:
    uow.record(
        action,
        RECORD,
        batch.id,
        after={"events": [json.loads(r.payload) for r in events], "status": batch.status} | extra,
        reason=reason,
        organisation_id=batch.organisation_id,
    )


def _apply(
    uow: UnitOfWork,
    scope: Scope,
    batch: Batch,
    before: BatchRecord,
    outcome: Outcome,
    action: str,
    *,
    lot_id: int | None = None,
    reason: str | None = None,
) -> Outcome:
    """Store an outcome's events, open its deviations, audit, in the caller's unit of work."""
    rows = _append(uow.session, batch, before, outcome.record, lot_id)
    _audit(uow, batch, action, rows, reason)
    if outcome.deviations:
        order = uow.session.get_one(Order, batch.order_id)
        codes = [op.code for op in outcome.record.mbr.operations]
        for dev in outcome.deviations:
            deviations.record_deviation(
                uow,
                scope,
                source=dev.source,
                title=dev.title,
                description=dev.description,
                order=order,
                batch_id=batch.id,
                step_id=codes.index(dev.step) + 1,
                entry_id=dev.entry_seq,
            )
    return outcome


def _run(
    uow: UnitOfWork,
    scope: Scope,
    batch_id: int | str,
    perm: Perm,
    action: str,
    change: Callable[[BatchRecord, dt.datetime], Outcome | BatchRecord],
    *,
    lot_id: Callable[[], int | None] | None = None,
    reason: str | None = None,
) -> Batch:
    batch, record = _for_change(uow, scope, batch_id, perm)
    result = change(record, utcnow())
    outcome = result if isinstance(result, Outcome) else Outcome(result, result.events[-1])
    _apply(
        uow,
        scope,
        batch,
        record,
        outcome,
        action,
        lot_id=lot_id() if lot_id is not None else None,
        reason=reason,
    )
    return batch


def start_step(
    uow: UnitOfWork,
    scope: Scope,
    batch_id: int | str,
    step: str,
    *,
    suite: str | None = None,
    reason: str = "",
) -> Batch:
    """Start ``step`` in the planned suite, or in another one with a reason."""
    by = uow.actor.name
    suite = clean_text(suite, "suite", 64) or None
    reason = clean_text(reason, "reason", 2000, multiline=True)

    def change(record: BatchRecord, at: dt.datetime) -> BatchRecord:
        # an infectious donor's material only in a designated suite (the plan's rule)
        order = uow.session.scalars(select(Order).where(Order.coi == record.coi)).one()
        where = suite or record.planned_suite
        require_suite_for(uow.session, scope.organisation_id, where, infectious=order.segregated)
        return execution.start_step(record, step, by=by, at=at, suite=suite, reason=reason)

    return _run(
        uow,
        scope,
        batch_id,
        Perm.BATCH_EXECUTE,
        "mfg.batch_step_start",
        change,
        reason=reason or None,
    )


def enter_value(
    uow: UnitOfWork,
    scope: Scope,
    batch_id: int | str,
    step: str,
    entry: str,
    value: float,
    unit: str,
) -> Batch:
    """Enter a value (checked against the MBR's limits; outside the PAR: a deviation opens)."""
    by = uow.actor.name
    return _run(
        uow,
        scope,
        batch_id,
        Perm.BATCH_EXECUTE,
        "mfg.batch_enter",
        lambda r, at: execution.enter_value(r, step, entry, value, unit, by=by, at=at),
    )


def enter_values(
    uow: UnitOfWork,
    scope: Scope,
    batch_id: int | str,
    step: str,
    values: Sequence[tuple[str, float, str]],
) -> Batch:
    """Enter several values of one step at once (``(entry, value, unit)``, a step's form sent
    whole): each is checked as :func:`enter_value` checks it, in the order given, with the
    same time; one change, one audit entry listing every event, and a deviation for each value
    outside its PAR. A value refused refuses them all."""
    by = uow.actor.name
    if not values:
        raise InputError("no values to enter", field="values")

    def change(record: BatchRecord, at: dt.datetime) -> Outcome:
        outcome = None
        found: list[execution.DeviationToOpen] = []
        for entry, value, unit in values:
            outcome = execution.enter_value(record, step, entry, value, unit, by=by, at=at)
            record = outcome.record
            found.extend(outcome.deviations)
        assert outcome is not None
        return Outcome(record, outcome.event, deviations=tuple(found))

    return _run(uow, scope, batch_id, Perm.BATCH_EXECUTE, "mfg.batch_enter", change)


def correct(
    uow: UnitOfWork,
    scope: Scope,
    batch_id: int | str,
    step: str,
    entry: str,
    value: float,
    unit: str,
    *,
    reason: str,
) -> Batch:
    """Correct an entry with a reason; the original stays in the record."""
    by = uow.actor.name
    reason = clean_text(reason, "reason", 2000, multiline=True)
    return _run(
        uow,
        scope,
        batch_id,
        Perm.BATCH_EXECUTE,
        "mfg.batch_correct",
        lambda r, at: execution.correct(r, step, entry, value, unit, reason=reason, by=by, at=at),
        reason=reason,
    )


def verify(uow: UnitOfWork, scope: Scope, batch_id: int | str, seq: int) -> Batch:
    """A second person verifies entry or lot scan number ``seq``."""
    by = uow.actor.name
    return _run(
        uow,
        scope,
        batch_id,
        Perm.BATCH_VERIFY,
        "mfg.batch_verify",
        lambda r, at: execution.verify(r, int(seq), by=by, at=at),
    )


def verify_entries(
    uow: UnitOfWork, scope: Scope, batch_id: int | str, seqs: Sequence[int]
) -> Batch:
    """A second person verifies several entries or lot scans at once (each as :func:`verify`
    checks it); one change, one audit entry. One refused refuses them all."""
    by = uow.actor.name
    if not seqs:
        raise InputError("no entries to verify", field="seq")

    def change(record: BatchRecord, at: dt.datetime) -> BatchRecord:
        for seq in seqs:
            record = execution.verify(record, int(seq), by=by, at=at)
        return record

    return _run(uow, scope, batch_id, Perm.BATCH_VERIFY, "mfg.batch_verify", change)


def scan_lot(
    uow: UnitOfWork,
    scope: Scope,
    batch_id: int | str,
    step: str,
    material: str,
    scanned: str,
) -> Batch:
    """Scan the lot used for ``material`` in ``step``: a purchased lot must pass
    ``lots.check_scanned_lot`` (released, not expired, the right material; ``LotRefused``
    otherwise); the patient's own starting material is identified by the batch's apheresis DIN
    (typed or scanned), which must be this batch's."""
    by = uow.actor.name
    code = material.strip().upper()
    found: dict[str, int | None] = {"lot": None}

    def change(record: BatchRecord, at: dt.datetime) -> Outcome:
        spec = record.mbr.material(code)
        if spec is not None and spec.kind is MaterialKind.STARTING_MATERIAL:
            facts = _starting_material(record, spec.name, code, scanned)
        else:
            lot = lots.check_scanned_lot(uow.session, scope, scanned, code, at)
            found["lot"] = lot.id
            facts = lots.facts(lot)
        return execution.scan_lot(record, step, code, facts, by=by, at=at)

    return _run(
        uow,
        scope,
        batch_id,
        Perm.BATCH_EXECUTE,
        "mfg.batch_lot_scan",
        change,
        lot_id=lambda: found["lot"],
    )


def record_equipment(
    uow: UnitOfWork,
    scope: Scope,
    batch_id: int | str,
    step: str,
    equipment: str,
    instrument: str,
    calibration_due: dt.date | str | None,
    *,
    reason: str = "",
) -> Batch:
    """Record the instrument used for ``equipment`` (a code the step's operation lists in the
    MBR) in ``step``: its identifier (asset number, scanned or typed) and calibration due date
    (a date or ``YYYY-MM-DD``; required where the MBR calibrates the equipment). A calibration
    due before the day of use is recorded, flagged and opens a deviation (source ``equipment``)
    in the same unit of work; another instrument for equipment recorded already needs a
    reason. The service every caller uses: API, tablet page, demo."""
    by = uow.actor.name
    instrument = clean_text(instrument, "instrument", execution.MAX_INSTRUMENT, required=True)
    reason = clean_text(reason, "reason", 2000, multiline=True)
    due = _date(calibration_due, "calibration_due")
    return _run(
        uow,
        scope,
        batch_id,
        Perm.BATCH_EXECUTE,
        "mfg.batch_equipment",
        lambda r, at: execution.record_equipment(
            r, step, equipment, instrument, due, by=by, at=at, reason=reason
        ),
        reason=reason or None,
    )


def _date(value: dt.date | str | None, name: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name} must be a date (YYYY-MM-DD)", field=name) from None


def _starting_material(
    record: BatchRecord, name: str, code: str, scanned: str
) -> material_rules.LotFacts:
    """The patient's own cells are not a purchased lot: their identity is the apheresis DIN.
    A DIN of another donation is refused; the matching one is fit for use (its age and
    condition are the receipt step's parameters)."""
    text = scanned.strip()
    din = isbt128.parse_din_structure(text).din if text.startswith("=") else text
    if isbt128.parse_din(din).code != record.din:
        raise execution.ExecutionError(
            None, f"the scanned DIN {din} is not this batch's apheresis DIN {record.din}"
        )
    return material_rules.LotFacts(
        lot_number=record.din,
        material_code=code,
        material_name=name,
        kind=material_rules.MaterialKind.CONSUMABLE,  # not a vector: no titer asked
        status=material_rules.LotStatus.RELEASED,
        expiry=dt.date.max,
    )


def decide_hold(
    uow: UnitOfWork,
    scope: Scope,
    batch_id: int | str,
    step: str,
    *,
    released: bool,
    reason: str,
) -> Batch:
    """QA decides the hold after ``step``: released, the next step may start; not released,
    the batch FAILS (the record stops)."""
    by = uow.actor.name
    reason = clean_text(reason, "reason", 2000, multiline=True)
    return _run(
        uow,
        scope,
        batch_id,
        Perm.BATCH_APPROVE,
        "mfg.batch_hold_decision",
        lambda r, at: execution.decide_hold(
            r, step, released=released, reason=reason, by=by, at=at
        ),
        reason=reason,
    )


def sign_off_step(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    batch_id: int | str,
    step: str,
    *,
    username: str,
    password: str,
    shown_hash: str | None = None,
) -> Signature:
    """Sign ``step`` off with an electronic signature (meaning ``authored``: the operator
    performed it) over :func:`execution.signoff_content`; its SHA-256 is the sign-off event's
    ``content_hash``. Under the batch's row lock: of two operators signing the same step at
    once, the second finds it signed off."""
    batch, record = _for_change(uow, scope, batch_id, Perm.BATCH_EXECUTE)
    signatures.require_credentials(username, password)
    after = execution.sign_off(record, step, by=uow.actor.name, at=utcnow())
    content = execution.signoff_content(after, step)
    sig = sign(
        uow,
        settings,
        signer_id=scope.user_id,
        username=username,
        password=password,
        record_type=STEP_RECORD,
        record_id=f"{batch.id}:{step}",
        organisation_id=batch.organisation_id,
        meaning=Meaning.AUTHORED.value,
        content=content,
        shown_hash=shown_hash,
        reason=f"sign-off of step {step} of batch {batch.id}",
    )
    signed = after.events[-1]
    assert isinstance(signed, execution.StepSignedOff) and signed.content_hash == sig.content_hash
    rows = _append(uow.session, batch, record, after, None)
    _audit(uow, batch, "mfg.batch_step_signoff", rows, signature_id=sig.id)
    return sig


def signoff_hash(session: Session, scope: Scope, batch_id: int | str, step: str) -> str:
    """The SHA-256 the signer of ``step`` is shown (posted back as ``shown_hash``)."""
    batch = get_batch(session, scope, batch_id)
    return sha256_hex(execution.signoff_content(record_of(batch), step))


def record_failure(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    batch_id: int | str,
    step: str,
    *,
    reason: str,
    username: str,
    password: str,
) -> Signature:
    """The batch failed at ``step`` (a reason and an electronic signature); nothing more is
    executed, and the order may get a new batch."""
    batch, record = _for_change(uow, scope, batch_id, Perm.BATCH_EXECUTE)
    codes = [op.code for op in record.mbr.operations]
    if step not in codes:
        raise InputError(f"{step} is not a step of this MBR ({', '.join(codes)})", field="step")
    reason = clean_text(reason, "reason", 2000, required=True, multiline=True)
    if len(reason) < execution.MIN_REASON:
        raise InputError("say why the batch failed", field="reason")
    signatures.require_credentials(username, password)
    sig = sign(
        uow,
        settings,
        signer_id=scope.user_id,
        username=username,
        password=password,
        record_type=FAILURE_RECORD,
        record_id=batch.id,
        organisation_id=batch.organisation_id,
        meaning=Meaning.AUTHORED.value,
        content=public(batch) | {"failed_step": step, "reason": reason},
        reason=f"failure of batch {batch.id} at {step}",
    )
    before = public(batch)
    batch.status, batch.failed_step, batch.failed_reason = FAILED, step, reason
    batch.failed_at = sig.signed_at
    uow.record(
        "mfg.batch_fail",
        RECORD,
        batch.id,
        before=before,
        after=public(batch) | {"failed_step": step, "signature_id": sig.id},
        reason=reason,
        organisation_id=batch.organisation_id,
    )
    return sig


def submit(uow: UnitOfWork, scope: Scope, batch_id: int | str) -> Batch:
    """The complete record goes to QA (IN_REVIEW)."""
    batch, record = _for_change(uow, scope, batch_id, Perm.BATCH_EXECUTE)
    if not record.complete:
        raise RuleViolation(
            f"batch {batch.id} is {batch.status}: only a complete record goes to QA"
        )
    before = public(batch)
    batch.status, batch.submitted_at, batch.submitted_by = IN_REVIEW, utcnow(), uow.actor.name
    uow.record(
        "mfg.batch_submit",
        RECORD,
        batch.id,
        before=before,
        after=public(batch),
        organisation_id=batch.organisation_id,
    )
    return batch


def batch_deviations(session: Session, batch_id: int) -> list[Deviation]:
    return list(
        session.scalars(
            select(Deviation).where(Deviation.batch_id == batch_id).order_by(Deviation.id)
        )
    )


def approval_content(session: Session, batch: Batch, record: BatchRecord) -> dict[str, Any]:
    """What QA signs: the binding, every event (as stored), the review list and the batch's
    deviations with their status. QA signs a record in review: its status is IN_REVIEW in the
    content whatever it is now, so that ``v2v audit verify`` recomputes the same content from
    the approved row (``signed_content.approval_now``)."""
    return public(batch) | {
        "status": IN_REVIEW,
        "events": [payload(e) for e in record.events],
        "review": [vars(i) for i in execution.review_by_exception(record)],
        "deviations": [(d.number, d.status) for d in batch_deviations(session, batch.id)],
    }


def approve(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    batch_id: int | str,
    *,
    username: str,
    password: str,
    shown_hash: str | None = None,
) -> Signature:
    """QA approves the record with an electronic signature (meaning ``approved``) once every
    deviation of the batch is closed; the locking signature and the database then refuse every
    change."""
    s = uow.session
    batch = get_batch(s, scope, batch_id, lock=True)
    _cdmo_executes(scope, Perm.BATCH_APPROVE)
    ensure_unlocked(s, RECORD, batch.id)
    if not batch.gmp:
        raise RuleViolation(
            f"batch {batch.id} is a process-development run (non-GMP): it can never be approved"
        )
    if batch.status != IN_REVIEW:
        raise RuleViolation(f"batch {batch.id} is {batch.status}: QA approves a record in review")
    still_open = [d.number for d in batch_deviations(s, batch.id) if d.status != "closed"]
    if still_open:
        raise RuleViolation(f"batch {batch.id} has deviations not closed: {', '.join(still_open)}")
    record = record_of(batch)
    execution.check_independent_approver(record, uow.actor.name)
    signatures.require_credentials(username, password)
    sig = sign(
        uow,
        settings,
        signer_id=scope.user_id,
        username=username,
        password=password,
        record_type=RECORD,
        record_id=batch.id,
        organisation_id=batch.organisation_id,
        meaning=Meaning.APPROVED.value,
        content=approval_content(s, batch, record),
        shown_hash=shown_hash,
        reason=f"QA approval of batch {batch.id}",
    )
    before = public(batch)
    batch.status, batch.approved_at, batch.approved_by = APPROVED, sig.signed_at, uow.actor.name
    uow.record(
        "mfg.batch_approve",
        RECORD,
        batch.id,
        before=before,
        after=public(batch) | {"signature_id": sig.id},
        organisation_id=batch.organisation_id,
    )
    return sig
