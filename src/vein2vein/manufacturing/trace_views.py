"""Reads of the genealogy pages (``/trace``): the backward trace of a batch and the forward trace
of a lot as ``batch_views.trace_batch`` / ``trace_lot`` give them to the API and the CLI, with
what an investigator needs beside them (lot expiry and quantity, the MBR's quantity per batch,
who scanned when, equipment and its calibration; each batch's order, chain-of-identity
identifier, where the patient's product is, sites and status), and the trace page's lists.

Genealogy is the CDMO's: a sponsor's user is refused (its own batch: forbidden; another
client's: not found), as in the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.core.text import clean_text
from vein2vein.identity.domain import Step
from vein2vein.identity.tables import Order, Patient
from vein2vein.manufacturing import batch_views, batches, lots, mbrs
from vein2vein.manufacturing.tables import Batch, BatchEvent, MaterialLot

#: how many batches and lots the trace page lists (newest first); older ones by search
RECENT = 25


def _custody(order: Order) -> dict[str, str | None]:
    """Where the patient's product is: the order's last custody step."""
    step = Step(order.current_step) if order.current_step else None
    return {
        "custody_step": step.value if step else None,
        "custody_text": step.text if step else "not started",
    }


def batch_genealogy(session: Session, scope: Scope, batch_id: int) -> dict[str, Any]:
    """Every lot the batch used (material, lot number, status today, expiry, lot quantity, the
    MBR's quantity per batch, step, scanned by and when) and the equipment of its started
    steps (kind, whether calibrated, the instrument recorded with its calibration due date and
    state, who recorded it when)."""
    trace = batch_views.trace_batch(session, scope, batch_id)  # scoped, the CDMO's only
    batch = batches.get_batch(session, scope, batch_id)
    mbr = mbrs.model_of(batch.mbr)
    materials = {m.code: m for m in mbr.materials}
    equipment = {e.code: e for e in mbr.equipment}
    scans = [row for row in batch.events if row.kind == "LotScanned"]
    ids = [t["lot_id"] for t in trace["lots"] if t["lot_id"] is not None]
    rows = {
        lot.id: lot
        for lot in session.scalars(
            select(MaterialLot)
            .where(MaterialLot.id.in_(ids))
            .options(selectinload(MaterialLot.material))
        )
    }
    used = []
    for item, scan in zip(trace["lots"], scans, strict=True):
        lot = rows.get(item["lot_id"]) if item["lot_id"] is not None else None
        need = materials.get(item["material"])
        used.append(
            item
            | {
                "ref": lot_ref(item["material"], item["lot_number"]) if lot else None,
                "material_name": lot.material.name if lot else (need.name if need else ""),
                "expiry": lot.expiry if lot else None,
                "lot_quantity": lot.quantity if lot else None,
                "lot_unit": lot.material.unit if lot else None,
                "mbr_quantity": need.quantity if need else None,
                "mbr_unit": need.unit if need else None,
                "scanned_at": scan.at,
                "scanned_by": scan.by,
            }
        )
    return {
        "batch": batch.id,
        "order": batch.order.number,
        "order_id": batch.order_id,
        "coi": batch.coi,
        "din": batch.din,
        "product": batch.order.program.code,
        "site": batch.site.name,
        "status": batch.status,
        "mbr_id": batch.mbr_id,
        "mbr_version": batch.mbr_version,
        "lots": used,
        "equipment": [
            q
            | {
                "kind": equipment[q["code"]].kind if q["code"] in equipment else "",
                "calibrated": equipment[q["code"]].calibration if q["code"] in equipment else None,
            }
            for q in trace["equipment"]
        ],
    }


def lot_genealogy(session: Session, scope: Scope, ref: int | str) -> dict[str, Any]:
    """Every batch that used the lot, with its order, chain-of-identity identifier, where the
    patient's product is (last custody step), treatment and manufacturing sites, the step and
    the batch's status."""
    ref = _typed(ref)
    trace = batch_views.trace_lot(session, scope, ref)  # the CDMO's only
    lot = lots.public(lots.get_lot(session, scope, ref))
    found = {
        b.id: b
        for b in session.scalars(
            select(Batch)
            .where(Batch.id.in_([t["batch"] for t in trace["batches"]]))
            .options(
                selectinload(Batch.site),
                selectinload(Batch.order)
                .selectinload(Order.patient)
                .selectinload(Patient.treatment_site),
                selectinload(Batch.order).selectinload(Order.program),
            )
        )
    }
    rows = []
    for t in trace["batches"]:
        b = found[t["batch"]]
        rows.append(
            t
            | {
                "order_id": b.order_id,
                "product": b.order.program.code,
                "subject_id": b.order.patient.subject_id,
                "treatment_site": b.order.patient.treatment_site.name,
                "site": b.site.name,
            }
            | _custody(b.order)
        )
    keep = ("material_name", "kind", "supplier", "supplier_lot", "expiry", "quantity", "unit")
    return {
        **{k: lot[k] for k in keep},
        **trace,
        "ref": lot_ref(trace["material"], trace["lot_number"]),
        "batches": rows,
        "patients": len({r["coi"] for r in rows}),
    }


def trace_index(session: Session, scope: Scope) -> dict[str, Any]:
    """The trace page's lists: the newest batches and the lots batches used lately."""
    batch_views._lots_only_for_cdmo(scope)
    scope.require(Perm.BATCH_READ)
    recent = session.scalars(
        scope.filter(select(Batch), Batch)
        .options(selectinload(Batch.order))
        .order_by(Batch.id.desc())
        .limit(RECENT)
    )
    last_use = (
        select(BatchEvent.lot_id, func.max(BatchEvent.id).label("last"))
        .where(BatchEvent.kind == "LotScanned", BatchEvent.lot_id.is_not(None))
        .group_by(BatchEvent.lot_id)
        .subquery()
    )
    used = session.scalars(
        select(MaterialLot)
        .join(last_use, last_use.c.lot_id == MaterialLot.id)
        .options(selectinload(MaterialLot.material))
        .order_by(last_use.c.last.desc())
        .limit(RECENT)
    )
    return {
        "batches": [
            {"batch": b.id, "order": b.order.number, "coi": b.coi, "status": b.status}
            for b in recent
        ],
        "lots": [
            {
                "lot_id": lot.id,
                "material": lot.material.code,
                "lot_number": lot.lot_number,
                "ref": lot_ref(lot.material.code, lot.lot_number),
            }
            for lot in used
        ],
    }


def _typed(ref: int | str) -> int | str:
    """A lot as typed or in a path: trimmed, bounded, no control characters (a NUL would fail
    the statement on PostgreSQL)."""
    return ref if isinstance(ref, int) else clean_text(ref, "lot", 120, required=True)


def lot_ref(material: str, lot_number: str) -> str:
    """How pages name a lot in a trace link: ``MATERIAL:LOT`` (never ambiguous)."""
    return f"{material}:{lot_number}"


def find_lot(session: Session, scope: Scope, text: str) -> str:
    """The lot a search names (lot number, ``MATERIAL:LOT``, or id), as ``lot_ref``; not found
    or ambiguous (a number two materials share) raise with the message the page shows."""
    lot = lots.get_lot(session, scope, _typed(text))
    return lot_ref(lot.material.code, lot.lot_number)
