"""Reads of executed batch records for pages, API and CLI: the list, one batch (a sponsor sees
its own orders' batches' status and nothing else), genealogy (a batch's lots and equipment;
a lot's batches with their orders and chain-of-identity identifiers), and the release gate
(``batch_release_blockers``, the hook of the QC release).

Process-development runs (``gmp`` false) are listed with every batch, flagged (``gmp``,
``run_label``; no order). They are left out of the earlier batches a GMP record's
out-of-trend rule compares with (:func:`earlier_records`); a kinetics envelope may include them
only when the caller asks for it explicitly (``include_pd=True``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from vein2vein.auth.roles import Meaning, Perm
from vein2vein.auth.scope import Scope
from vein2vein.auth.signatures import signatures_for
from vein2vein.core.canonical import sha256_hex
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import PermissionDenied
from vein2vein.identity.tables import Order
from vein2vein.manufacturing import (
    batches,
    deviations,
    execution,
    kinetics,
    lots,
    release_gate,
    signed_content,
)
from vein2vein.manufacturing.domain import Verdict
from vein2vein.manufacturing.tables import Batch, BatchEvent, Deviation, MaterialLot

_LOADS = (
    selectinload(Batch.order).selectinload(Order.program),
    selectinload(Batch.program),
    selectinload(Batch.site),
)


def _product(b: Batch) -> str:
    program = b.order.program if b.order is not None else b.program
    return program.code if program is not None else ""


def _order_number(b: Batch) -> str | None:
    return b.order.number if b.order is not None else None


def _suites(session: Session, ids: list[int]) -> dict[int, str]:
    """The suite each batch works in now: that of its latest started step."""
    rows = session.execute(
        select(BatchEvent.batch_id, BatchEvent.payload)
        .where(BatchEvent.batch_id.in_(ids), BatchEvent.kind == "StepStarted")
        .order_by(BatchEvent.batch_id, BatchEvent.seq)
    )
    return {batch_id: json.loads(data)["suite"] for batch_id, data in rows}


def _deviation_counts(session: Session, ids: list[int]) -> dict[tuple[int, str], int]:
    rows = session.execute(
        select(Deviation.batch_id, Deviation.status, func.count())
        .where(Deviation.batch_id.in_(ids))
        .group_by(Deviation.batch_id, Deviation.status)
    )
    return {(b, s): n for b, s, n in rows}


def list_batches(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Batches in scope, newest first: id, order (None for a process-development run), product,
    site, MBR version, status, suite (where it works now), deviations open and closed, ``gmp``
    (false: a process-development run) and its ``run_label``."""
    scope.require(Perm.BATCH_READ)
    rows = list(
        session.scalars(
            scope.filter(select(Batch), Batch).options(*_LOADS).order_by(Batch.id.desc())
        )
    )
    ids = [b.id for b in rows]
    suites, counts = _suites(session, ids), _deviation_counts(session, ids)
    return [
        {
            "id": b.id,
            "order": _order_number(b),
            "product": _product(b),
            "site": b.site.name,
            "mbr_version": b.mbr_version,
            "status": b.status,
            "suite": suites.get(b.id, b.planned_suite),
            "deviations_open": counts.get((b.id, "open"), 0),
            "deviations_closed": counts.get((b.id, "closed"), 0),
            "gmp": b.gmp,
            "run_label": b.run_label,
        }
        for b in rows
    ]


def _earlier(batch: Batch, *, include_pd: bool = False) -> list[Any]:
    """Conditions for the batches made before ``batch`` (a smaller id) from the same MBR
    version that are complete, in review or approved: GMP batches only unless ``include_pd``.
    The one definition of "earlier batches" for the out-of-trend rule and the kinetics
    envelope (a later batch never changes an earlier batch's review or chart)."""
    conditions = [
        Batch.mbr_id == batch.mbr_id,
        Batch.id < batch.id,
        Batch.status.in_((batches.COMPLETE, batches.IN_REVIEW, batches.APPROVED)),
    ]
    if not include_pd:
        conditions.append(Batch.gmp.is_(True))
    return conditions


def earlier_records(
    session: Session, batch: Batch, *, include_pd: bool = False
) -> list[execution.BatchRecord]:
    """The earlier records of the same MBR version (:func:`_earlier`), the basis of the
    out-of-trend rule, which never includes process-development runs; ``include_pd`` adds the
    PD runs, for a kinetics envelope whose user chose to include them explicitly."""
    stmt = select(Batch).where(*_earlier(batch, include_pd=include_pd))
    others = session.scalars(stmt.options(selectinload(Batch.events), selectinload(Batch.mbr)))
    return [batches.record_of(b) for b in others]


def batch_detail(session: Session, scope: Scope, batch_id: int | str) -> dict[str, Any]:
    """One batch. A sponsor: its status only. The CDMO: the binding, the steps, every event,
    the review by exception and the deviations."""
    batch = batches.get_batch(session, scope, batch_id)
    head = {
        "id": batch.id,
        "order": _order_number(batch),
        "product": _product(batch),
        "status": batch.status,
        "gmp": batch.gmp,
        "run_label": batch.run_label,
    }
    if not scope.is_cdmo:
        return head
    record = batches.record_of(batch)
    steps = []
    for op in record.mbr.operations:
        started = record.of(execution.StepStarted, op.code)
        status = record.step_status(op.code)
        decision = record.decision(op.code)
        steps.append(
            {
                "code": op.code,
                "name": op.name,
                "status": status.value,
                "suite": started[0].suite if started else None,
                "signed_by": next(
                    (e.by for e in record.of(execution.StepSignedOff, op.code)), None
                ),
                "hold": op.hold.question if op.hold else None,
                "hold_decision": (
                    {"released": decision.released, "by": decision.by, "reason": decision.reason}
                    if decision
                    else None
                ),
                "signoff_hash": (
                    sha256_hex(execution.signoff_content(record, op.code))
                    if status is execution.StepStatus.IN_PROGRESS
                    else None
                ),
            }
        )
    review = execution.review_by_exception(
        record, execution.earlier_values(record, earlier_records(session, batch))
    )
    nxt = record.next_step()
    return head | {
        "coi": batch.coi,
        "din": batch.din,
        "site": batch.site.name,
        "mbr_id": batch.mbr_id,
        "mbr_version": batch.mbr_version,
        "mbr_hash": batch.mbr_hash,
        "planned_suite": batch.planned_suite,
        "failed_step": batch.failed_step,
        "failed_reason": batch.failed_reason,
        "created_at": batch.created_at,
        "created_by": batch.created_by,
        "approved_at": batch.approved_at,
        "approved_by": batch.approved_by,
        "next_step": nxt.code if nxt is not None and batch.status not in batches.FINISHED else None,
        "steps": steps,
        "events": [json.loads(row.payload) for row in batch.events],
        "review": [
            {
                "kind": i.kind.value,
                "step": i.step,
                "subject": i.subject,
                "seq": i.seq,
                "message": i.message,
            }
            for i in review
        ],
        "deviations": [
            deviations.summary(d, scope) for d in batches.batch_deviations(session, batch.id)
        ],
        "approval_hash": (
            sha256_hex(batches.approval_content(session, batch, record))
            if batch.status == batches.IN_REVIEW
            else None
        ),
        "kinetics": batch_kinetics(session, batch, record),
    }


def _earlier_counts(
    session: Session, batch: Batch, points: list[kinetics.CountPoint]
) -> list[dict[str, float]]:
    """Viable counts of the earlier batches of the same MBR version (made before this one, and
    complete, in review or approved; GMP batches only), one mapping per batch, read from the
    stored entries."""
    ids = list(session.scalars(select(Batch.id).where(*_earlier(batch)).order_by(Batch.id)))
    wanted = {tuple(p.point.split(".", 1)) for p in points}
    rows = session.execute(
        select(BatchEvent.batch_id, BatchEvent.step, BatchEvent.item, BatchEvent.value,
               BatchEvent.unit)
        .where(BatchEvent.batch_id.in_(ids), BatchEvent.kind == "ValueEntered")
        .order_by(BatchEvent.batch_id, BatchEvent.seq)
    )  # fmt: skip
    entries = [
        (b, f"{step}.{item}", value, unit)
        for b, step, item, value, unit in rows
        if (step, item) in wanted and value is not None and unit is not None
    ]
    return kinetics.counts_by_batch(ids, entries)


def batch_kinetics(session: Session, batch: Batch, record: execution.BatchRecord) -> dict[str, Any]:
    """The batch's growth (fold expansion, doublings, doubling time) and its viable counts by
    process day beside the envelope of earlier batches of the same MBR version
    (``manufacturing.kinetics``)."""
    points = kinetics.count_points(record.mbr)
    growth = kinetics.growth_of(record)
    env = kinetics.envelope(points, _earlier_counts(session, batch, points))
    return {
        "fold_expansion": growth.fold_expansion,
        "doublings": growth.doublings,
        "doubling_time_h": growth.doubling_time_h,
        "doubling_time_days": growth.doubling_time_days,
        "elapsed_days": growth.elapsed_days,
        "counts_used": growth.counts_used,
        "problem": growth.problem,
        "earlier_batches": env.n_batches,
        "envelope_drawn": env.drawn,
        "envelope_message": env.message,
        "points": kinetics.table_rows(points, kinetics.counts_of(record, points), env),
    }


def _lots_only_for_cdmo(scope: Scope) -> None:
    if not scope.is_cdmo:
        raise PermissionDenied("material lots and genealogy are the CDMO's")
    scope.require(Perm.LOT_READ)


def trace_batch(session: Session, scope: Scope, batch_id: int | str) -> dict[str, Any]:
    """Backward trace: every material lot the batch used (material, lot number, status today,
    step) and the equipment of the steps it started, with the instrument recorded and its
    calibration due date (:func:`equipment_used`)."""
    batch = batches.get_batch(session, scope, batch_id)
    _lots_only_for_cdmo(scope)
    record = batches.record_of(batch)
    today = utcnow().date()
    used = []
    for row in batch.events:
        if row.kind != "LotScanned":
            continue
        if row.lot is not None:
            shown = lots.public(row.lot, today)
            used.append(
                {"step": row.step, "material": row.lot.material.code, "lot_id": row.lot.id,
                 "lot_number": row.lot.lot_number, "status": shown["status"]}
            )  # fmt: skip
        else:  # the patient's own starting material, identified by the apheresis DIN
            used.append(
                {"step": row.step, "material": row.item, "lot_id": None,
                 "lot_number": json.loads(row.payload)["lot_number"], "status": "patient"}
            )  # fmt: skip
    return {
        "batch": batch.id,
        "order": _order_number(batch),
        "coi": batch.coi,
        "lots": used,
        "equipment": equipment_used(record),
    }


def equipment_used(record: execution.BatchRecord) -> list[dict[str, Any]]:
    """The equipment of the started steps, in MBR order: each instrument recorded (one recorded
    in place of another follows it, ``current`` false on the first), or one row with
    ``instrument`` None while the step has not recorded it. ``calibration`` is ``ok``,
    ``overdue`` (due before the day of use: a deviation), ``not required`` or None."""
    rows = []
    for op in record.mbr.operations:
        if record.step_status(op.code) is execution.StepStatus.NOT_STARTED:
            continue
        for code in op.equipment:
            item = next((e for e in record.mbr.equipment if e.code == code), None)
            head = {"step": op.code, "code": code, "name": item.name if item else code}
            used = [e for e in record.of(execution.EquipmentUsed, op.code) if e.equipment == code]
            if not used:
                rows.append(head | dict.fromkeys(_USE_FIELDS) | {"current": True})
            for e in used:
                rows.append(head | _use(e, item) | {"current": e is used[-1]})
    return rows


_USE_FIELDS = ("instrument", "calibration_due", "calibration", "message", "seq", "by", "at",
               "replaces", "reason")  # fmt: skip


def _use(e: execution.EquipmentUsed, item: Any) -> dict[str, Any]:
    if item is not None and not item.calibration:
        state = "not required"
    else:
        state = "overdue" if e.verdict is Verdict.DEVIATION else "ok"
    return {
        "instrument": e.instrument,
        "calibration_due": e.calibration_due,
        "calibration": state,
        "message": e.message,
        "seq": e.seq,
        "by": e.by,
        "at": e.at,
        "replaces": e.replaces,
        "reason": e.reason,
    }


def trace_lot(session: Session, scope: Scope, lot_ref: int | str) -> dict[str, Any]:
    """Forward trace: every batch that used the lot, with its order, chain-of-identity
    identifier, step and status."""
    lot: MaterialLot = lots.get_lot(session, scope, lot_ref)
    _lots_only_for_cdmo(scope)
    rows = session.execute(
        select(BatchEvent.step, Batch)
        .join(Batch, Batch.id == BatchEvent.batch_id)
        .where(BatchEvent.lot_id == lot.id, BatchEvent.kind == "LotScanned")
        .options(selectinload(Batch.order))
        .order_by(Batch.id, BatchEvent.seq)
    ).all()
    return {
        "lot_id": lot.id,
        "material": lot.material.code,
        "lot_number": lot.lot_number,
        "status": lots.public(lot, utcnow().date())["status"],
        "batches": [
            {
                "batch": b.id,
                "order": _order_number(b),
                "coi": b.coi,
                "step": step,
                "status": b.status,
                "gmp": b.gmp,
            }
            for step, b in rows
        ],
    }


def batch_release_blockers(session: Session, scope: Scope, batch_id: int | str) -> list[str]:
    """Why the batch cannot be released, as ``release_gate.release_blockers`` says (empty: its
    batch record does not block release): a process-development run, a failed batch, a record
    not QA-approved or whose approval signature no longer matches it, deviations not closed.
    The hook the QC release (issue 13) calls before it releases a batch; within the caller's
    scope (another client's batch: not found)."""
    batch = batches.get_batch(session, scope, batch_id)
    approval = next(
        (
            sig
            for sig in signatures_for(session, batches.RECORD, batch.id)
            if sig.meaning == Meaning.APPROVED.value and sig.locks_record
        ),
        None,
    )
    intact = None
    if approval is not None:
        now = signed_content.approval_now(session, str(batch.id))
        intact = now is not None and sha256_hex(now) == approval.content_hash
    facts = release_gate.BatchFacts(
        batch_id=batch.id,
        gmp=batch.gmp,
        status=batch.status,
        failed_step=batch.failed_step,
        failed_reason=batch.failed_reason,
        approval_intact=intact,
        open_deviations=[
            d.number for d in batches.batch_deviations(session, batch.id) if d.status != "closed"
        ],
    )
    return release_gate.release_blockers(facts)
