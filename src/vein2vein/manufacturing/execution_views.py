"""Reads of the two working pages of an executed batch record: the operator's tablet view (the
step to work on now, nothing else) and QA's review by exception (only what needs a look, then
the signature manifest once approved).

Both go through the caller's scope (``batches.get_batch``: another client's batch is not
found); a sponsor gets the status only, as on the batch page (``batch_views.batch_detail``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.auth.scope import Scope
from vein2vein.auth.signatures import signatures_for
from vein2vein.core.canonical import sha256_hex
from vein2vein.manufacturing import batch_views, batches, execution
from vein2vein.manufacturing.domain import (
    FORMULAS,
    Control,
    Limits,
    MaterialKind,
    Operation,
    Parameter,
)
from vein2vein.manufacturing.execution import BatchRecord, StepStatus
from vein2vein.manufacturing.tables import Batch, BatchEvent, Deviation

# --------------------------------------------------------------------------------------------
# the tablet: the step to work on now
# --------------------------------------------------------------------------------------------


def _range(limits: Limits, unit: str) -> str | None:
    return limits.text(unit) if limits.bounded else None


def _deviation_of(devs: list[Deviation], seq: int) -> Deviation | None:
    return next((d for d in devs if d.entry_id == seq), None)


def _entry(record: BatchRecord, e: execution.ValueEntered, devs: list[Deviation]) -> dict[str, Any]:
    dev = _deviation_of(devs, e.seq)
    return {
        "seq": e.seq,
        "value": e.value,
        "unit": e.unit,
        "typed": e.typed,
        "typed_unit": e.typed_unit,
        "verdict": e.verdict.value,
        "message": e.message,
        "by": e.by,
        "at": e.at,
        "reason": e.reason,
        "calculated": e.calculated,
        "inputs": [{"argument": a, "source": s, "value": v, "unit": u} for a, s, v, u in e.inputs],
        "deviation": {"id": dev.id, "number": dev.number, "status": dev.status} if dev else None,
        "verified_by": [v.by for v in record.verifications(e.seq)],
    }


def _item(
    record: BatchRecord, op: Operation, item: Parameter | Control, devs: list[Deviation]
) -> dict[str, Any]:
    """A parameter or control of the step: its limits, every value (the original first, then
    each correction) and, for a calculated one, its formula."""
    calc = record.mbr.calculated().get(f"{op.code}.{item.code}")
    history = [_entry(record, e, devs) for e in record.history(op.code, item.code)]
    current = record.current(op.code, item.code)
    return {
        "code": item.code,
        "name": item.name,
        "kind": "parameter" if isinstance(item, Parameter) else "control",
        "unit": item.unit,
        "target": item.target if isinstance(item, Parameter) else None,
        "method": item.method if isinstance(item, Control) else "",
        "nor": _range(item.nor, item.unit),
        "par": _range(item.par, item.unit),
        "second_person": item.second_person,
        "calculated": (
            {"name": calc.name, "formula": FORMULAS[calc.formula].text} if calc else None
        ),
        "history": history,
        "current": history[-1] if history else None,
        "needs_verification": current is not None and execution.unverified(record, current),
    }


def _material(record: BatchRecord, step: str, code: str) -> dict[str, Any]:
    spec = record.mbr.material(code)
    scan = record.lot(step, code.upper())
    return {
        "code": code,
        "name": spec.name if spec else code,
        "kind": spec.kind.value if spec else "",
        "patient": spec is not None and spec.kind is MaterialKind.STARTING_MATERIAL,
        "second_person": spec is not None and spec.second_person,
        "scan": (
            {
                "seq": scan.seq,
                "lot_number": scan.lot_number,
                "titer": scan.titer_tu_per_ml,
                "by": scan.by,
                "at": scan.at,
                "verified_by": [v.by for v in record.verifications(scan.seq)],
                "needs_verification": execution.unverified(record, scan),
            }
            if scan
            else None
        ),
    }


def _equipment(record: BatchRecord, step: str, code: str, devs: list[Deviation]) -> dict[str, Any]:
    """One piece of the step's equipment: the instrument recorded now (or None) and whether the
    MBR asks for its calibration due date."""
    spec = next((e for e in record.mbr.equipment if e.code == code), None)
    used = record.instrument(step, code)
    dev = _deviation_of(devs, used.seq) if used else None
    return {
        "code": code,
        "name": spec.name if spec else code,
        "calibrated": bool(spec and spec.calibration),
        "used": (
            {
                "seq": used.seq,
                "instrument": used.instrument,
                "calibration_due": used.calibration_due,
                "verdict": used.verdict.value,
                "message": used.message,
                "by": used.by,
                "at": used.at,
                "deviation": {"id": dev.id, "number": dev.number} if dev else None,
                "verified_by": [v.by for v in record.verifications(used.seq)],
                "needs_verification": execution.unverified(record, used),
            }
            if used
            else None
        ),
    }


def _step(record: BatchRecord, op: Operation, devs: list[Deviation]) -> dict[str, Any]:
    status = record.step_status(op.code)
    started = record.of(execution.StepStarted, op.code)
    decision = record.decision(op.code)
    index = record.mbr.operations.index(op)
    return {
        "code": op.code,
        "name": op.name,
        "number": index + 1,
        "day": op.day,
        "instructions": op.instructions,
        "note": op.note,
        "status": status.value,
        "suite": started[0].suite if started else None,
        "suite_reason": started[0].suite_reason if started else "",
        "equipment": [_equipment(record, op.code, c, devs) for c in op.equipment],
        "entries": [_item(record, op, i, devs) for i in (*op.parameters, *op.controls)],
        "materials": [_material(record, op.code, m) for m in op.materials],
        "hold": (
            {"question": op.hold.question, "max_hours": op.hold.max_hours} if op.hold else None
        ),
        "hold_waiting": op.hold is not None
        and status is StepStatus.SIGNED_OFF
        and decision is None,
        "signoff_hash": (
            sha256_hex(execution.signoff_content(record, op.code))
            if status is StepStatus.IN_PROGRESS
            else None
        ),
    }


def _done(record: BatchRecord, seq: int | None, devs: list[Deviation]) -> dict[str, Any] | None:
    """What the last action made (``seq``: the event), shown at the top after the redirect: a
    value's verdict and, for a deviation, its number."""
    if seq is None or not 1 <= seq <= len(record.events):
        return None
    e = record.events[seq - 1]
    out: dict[str, Any] = {"seq": seq, "kind": type(e).__name__, "step": e.step}
    if isinstance(e, execution.ValueEntered):
        out |= _entry(record, e, devs) | {"entry": e.entry, "corrects": e.corrects}
        out["calculated_after"] = [
            {"entry": c.entry, "value": c.value, "unit": c.unit, "verdict": c.verdict.value}
            for c in record.events[seq:]
            if isinstance(c, execution.ValueEntered) and c.calculated and c.at == e.at
        ]
    elif isinstance(e, execution.LotScanned):
        out |= {"material": e.material, "lot_number": e.lot_number}
    elif isinstance(e, execution.EquipmentUsed):
        dev = _deviation_of(devs, e.seq)
        out |= {
            "equipment": e.equipment,
            "instrument": e.instrument,
            "verdict": e.verdict.value,
            "message": e.message,
            "deviation": {"id": dev.id, "number": dev.number} if dev else None,
        }
    elif isinstance(e, execution.Verified):
        target = record.event(e.target)
        name = getattr(target, "entry", None) or getattr(target, "material", "")
        out |= {"target": e.target, "name": name, "by": e.by}
    elif isinstance(e, execution.StepStarted):
        out |= {"suite": e.suite}
    elif isinstance(e, execution.QaDecision):
        out |= {"released": e.released}
    return out


def execution_page(
    session: Session, scope: Scope, batch_id: int | str, done: int | None = None
) -> dict[str, Any]:
    """The tablet page: the batch's binding and the step to work on now (its instructions,
    parameters and controls with unit, target, NOR and PAR, values with their verdicts,
    calculations with their formula, materials and their scans, the hold), or what the record
    waits for once no step is open. A sponsor: the status only."""
    batch = batches.get_batch(session, scope, batch_id)
    head = {
        "id": batch.id,
        "order": batch.order.number,
        "product": batch.order.program.code,
        "status": batch.status,
    }
    if not scope.is_cdmo:
        return head
    record = batches.record_of(batch)
    devs = batches.batch_deviations(session, batch.id)
    ops = record.mbr.operations
    current = record.next_step() if batch.status not in batches.FINISHED else None
    return head | {
        "coi": batch.coi,
        "din": batch.din,
        "site": batch.site.name,
        "mbr_id": batch.mbr_id,
        "mbr_version": batch.mbr_version,
        "planned_suite": batch.planned_suite,
        "steps_total": len(ops),
        "steps_signed": sum(record.step_status(op.code) is StepStatus.SIGNED_OFF for op in ops),
        "step": _step(record, current, devs) if current is not None else None,
        "complete": batch.status == batches.COMPLETE,
        "failed": (
            {"step": batch.failed_step, "reason": batch.failed_reason}
            if batch.status == batches.FAILED
            else None
        ),
        "done": _done(record, done, devs),
    }


def latest_event(
    session: Session, batch_id: int, kind: str, step: str | None = None, item: str | None = None
) -> int | None:
    """The number of the latest event of ``kind`` (of ``step``, of the entry or material
    ``item``) of a batch: what the action just made, to show after the redirect."""
    stmt = select(BatchEvent.seq).where(BatchEvent.batch_id == batch_id, BatchEvent.kind == kind)
    if step is not None:
        stmt = stmt.where(BatchEvent.step == step)
    if item is not None:
        stmt = stmt.where(BatchEvent.item == item)
    return session.scalar(stmt.order_by(BatchEvent.seq.desc()).limit(1))


# --------------------------------------------------------------------------------------------
# QA review by exception
# --------------------------------------------------------------------------------------------


def _correction(events: dict[int, dict[str, Any]], seq: int) -> dict[str, Any] | None:
    e = events.get(seq, {})
    old = events.get(e.get("corrects") or 0)
    if old is None:
        return None
    return {
        "original": {"seq": old["seq"], "value": old["value"], "unit": old["unit"],
                     "by": old["by"]},
        "corrected": {"value": e["value"], "unit": e["unit"], "by": e["by"]},
        "reason": e.get("reason", ""),
    }  # fmt: skip


def _manifest(session: Session, batch: Batch, record: BatchRecord) -> list[dict[str, Any]]:
    """Every signature of the record: each step's sign-off, then the approval."""
    rows = []
    for op in record.mbr.operations:
        rows += signatures_for(session, batches.STEP_RECORD, f"{batch.id}:{op.code}")
    rows += signatures_for(session, batches.RECORD, batch.id)
    return [
        {
            "what": (
                "approval of the record"
                if s.record_type == batches.RECORD
                else f"sign-off of {s.record_id.split(':', 1)[1]}"
            ),
            "printed_name": s.printed_name,
            "username": s.username,
            "meaning": s.meaning,
            "signed_at": s.signed_at,
            "content_hash": s.content_hash,
            "locks": s.locks_record,
        }
        for s in rows
    ]


#: the events an operator makes (a verification is a second person's, a hold decision QA's)
_OPERATOR_EVENTS = {"StepStarted", "ValueEntered", "LotScanned", "StepSignedOff"}


def _who(events: list[dict[str, Any]], kinds: set[str]) -> list[str]:
    return sorted({e["by"] for e in events if e["kind"] in kinds and not e.get("calculated")})


def review_page(session: Session, scope: Scope, batch_id: int | str) -> dict[str, Any]:
    """QA's review by exception: the items of ``execution.review_by_exception`` (trend against
    earlier batches of the same MBR) with each deviation's number and state and each
    correction's original, the batch's deviations, the operators who executed it, the approval
    hash to sign and, once signed, the signature manifest. A sponsor: the status only."""
    detail = batch_views.batch_detail(session, scope, batch_id)
    if not scope.is_cdmo:
        return detail
    batch = batches.get_batch(session, scope, batch_id)
    record = batches.record_of(batch)
    events = {e["seq"]: e for e in detail["events"]}
    by_entry = {d["entry_id"]: d for d in detail["deviations"] if d["entry_id"]}
    items = []
    for item in detail["review"]:
        extra: dict[str, Any] = {}
        if item["kind"] == execution.ExceptionKind.DEVIATION.value:
            extra["deviation"] = by_entry.get(item["seq"])
        if item["kind"] == execution.ExceptionKind.CORRECTION.value:
            extra["correction"] = _correction(events, item["seq"])
        items.append(item | extra)
    kinds: dict[str, int] = {}
    for item in items:
        kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
    return detail | {
        "exceptions": items,
        "counts": kinds,
        "open_deviations": [d for d in detail["deviations"] if d["status"] != "closed"],
        "operators": _who(detail["events"], _OPERATOR_EVENTS),
        "verifiers": _who(detail["events"], {"Verified"}),
        "qa_deciders": _who(detail["events"], {"QaDecision"}),
        "manifest": _manifest(session, batch, record),
    }
