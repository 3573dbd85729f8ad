"""API routes of material lots (``/api/materials``, ``/api/lots``) and deviations
(``/api/deviations``): thin wrappers over the use cases (``lots``, ``deviations``).

Lots are the CDMO's: a sponsor's user is refused the lists and finds no lot. Deviations of a
sponsor's orders are readable by that sponsor; classifying and closing are CDMO QA's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from vein2vein.auth.roles import Perm
from vein2vein.core.clock import utcnow
from vein2vein.manufacturing import deviations, lots
from vein2vein.manufacturing import materials_schemas as schemas
from vein2vein.manufacturing.materials import LotRefused, LotStatus
from vein2vein.web.context import AuthDep, DbDep, require

router = APIRouter(prefix="/api", tags=["material lots and deviations"])


@router.get(
    "/materials",
    response_model=list[schemas.MaterialPublic],
    dependencies=[require(Perm.LOT_READ)],
)
def list_materials(auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    with db.read() as session:
        return lots.list_materials(session, auth.scope)


@router.post(
    "/materials",
    response_model=schemas.MaterialPublic,
    status_code=201,
    dependencies=[require(Perm.LOT_RELEASE)],
)
def add_material(body: schemas.MaterialCreate, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """QA defines a material (code, name, kind, unit)."""
    with db.uow(auth.actor) as uow:
        m = lots.add_material(uow, auth.scope, **body.model_dump())
        uow.commit()
        return lots.material_public(m)


@router.get("/lots", response_model=list[schemas.LotPublic], dependencies=[require(Perm.LOT_READ)])
def list_lots(
    auth: AuthDep, db: DbDep, status: str = "", material: str = ""
) -> list[dict[str, Any]]:
    """Lots, newest first, with their status today (expired derived from the expiry date)."""
    with db.read() as session:
        return lots.list_lots(session, auth.scope, status=status, material=material)


@router.post(
    "/lots",
    response_model=schemas.LotPublic,
    status_code=201,
    dependencies=[require(Perm.LOT_RECEIVE)],
)
def receive_lot(body: schemas.LotReceive, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Receive a lot into quarantine."""
    data = body.model_dump()
    titer = data.pop("titer_tu_per_ml")
    with db.uow(auth.actor) as uow:
        lot = lots.receive_lot(uow, auth.scope, titer=titer, **data)
        uow.commit()
        return lots.public(lot)


@router.post(
    "/lots/check", response_model=schemas.LotCheckResult, dependencies=[require(Perm.LOT_READ)]
)
def check_lot(body: schemas.LotCheck, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """The scan check: may this lot be used now for a step that needs ``material``? A refusal
    names lot, material and reason (not released, rejected, expired, wrong material)."""
    with db.read() as session:
        try:
            lot = lots.check_scanned_lot(session, auth.scope, body.lot, body.material, utcnow())
        except LotRefused as refused:
            return {
                "ok": False,
                "lot_id": None,
                "message": refused.message,
                "reason": refused.reason,
            }
        return {
            "ok": True,
            "lot_id": lot.id,
            "message": f"lot {lot.lot_number} of {lot.material.code} may be used",
            "reason": None,
        }


@router.get(
    "/lots/{lot_id}", response_model=schemas.LotDetail, dependencies=[require(Perm.LOT_READ)]
)
def get_lot(lot_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        return lots.lot_detail(session, auth.scope, lot_id)


@router.post(
    "/lots/{lot_id}/titer",
    response_model=schemas.LotPublic,
    dependencies=[require(Perm.LOT_RECEIVE)],
)
def record_titer(lot_id: int, body: schemas.LotTiter, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Record a vector lot's functional titer (TU/mL) while it is in quarantine."""
    with db.uow(auth.actor) as uow:
        lot = lots.record_titer(uow, auth.scope, lot_id, body.titer_tu_per_ml)
        uow.commit()
        return lots.public(lot)


def _decide(lot_id: int, to: LotStatus, reason: str, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    with db.uow(auth.actor) as uow:
        lot = lots.decide_lot(uow, auth.scope, lot_id, to, reason)
        uow.commit()
        return lots.public(lot)


@router.post(
    "/lots/{lot_id}/release",
    response_model=schemas.LotPublic,
    dependencies=[require(Perm.LOT_RELEASE)],
)
def release_lot(lot_id: int, body: schemas.LotDecision, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """QA releases a lot (a vector lot needs its titer; an expired lot cannot be released)."""
    return _decide(lot_id, LotStatus.RELEASED, body.reason, auth, db)


@router.post(
    "/lots/{lot_id}/reject",
    response_model=schemas.LotPublic,
    dependencies=[require(Perm.LOT_RELEASE)],
)
def reject_lot(lot_id: int, body: schemas.LotDecision, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """QA rejects a lot."""
    return _decide(lot_id, LotStatus.REJECTED, body.reason, auth, db)


# --- deviations ---------------------------------------------------------------------------


@router.get(
    "/deviations",
    response_model=list[schemas.DeviationSummary],
    dependencies=[require(Perm.DEVIATION_READ)],
)
def list_deviations(
    auth: AuthDep, db: DbDep, status: str = "", classification: str = ""
) -> list[dict[str, Any]]:
    """Deviations in scope, newest first (``status``: open, closed; ``classification``: minor,
    major, critical or unclassified)."""
    with db.read() as session:
        return deviations.list_deviations(
            session, auth.scope, status=status, classification=classification
        )


@router.post(
    "/deviations",
    response_model=schemas.DeviationDetail,
    status_code=201,
    dependencies=[require(Perm.DEVIATION_OPEN)],
)
def open_deviation(body: schemas.DeviationCreate, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    with db.uow(auth.actor) as uow:
        dev = deviations.open_deviation(uow, auth.scope, **body.model_dump())
        uow.commit()
        dev_id = dev.id
    with db.read() as session:
        return deviations.deviation_detail(session, auth.scope, dev_id)


@router.get(
    "/deviations/{deviation_id}",
    response_model=schemas.DeviationDetail,
    dependencies=[require(Perm.DEVIATION_READ)],
)
def get_deviation(deviation_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        return deviations.deviation_detail(session, auth.scope, deviation_id)


@router.post(
    "/deviations/{deviation_id}/classify",
    response_model=schemas.DeviationDetail,
    dependencies=[require(Perm.DEVIATION_MANAGE)],
)
def classify_deviation(
    deviation_id: int, body: schemas.DeviationClassify, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """QA classifies the deviation and records root cause and CAPA (until it is closed)."""
    with db.uow(auth.actor) as uow:
        deviations.classify(uow, auth.scope, deviation_id, **body.model_dump())
        uow.commit()
    with db.read() as session:
        return deviations.deviation_detail(session, auth.scope, deviation_id)


@router.post(
    "/deviations/{deviation_id}/close",
    response_model=schemas.DeviationDetail,
    dependencies=[require(Perm.DEVIATION_MANAGE)],
)
def close_deviation(
    deviation_id: int, body: schemas.DeviationClose, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """QA closes the deviation with an electronic signature (user name and password again);
    the closed deviation is locked."""
    with db.uow(auth.actor) as uow:
        deviations.close(
            uow,
            auth.scope,
            db.settings,
            deviation_id,
            username=body.username,
            password=body.password,
            shown_hash=body.shown_hash,
        )
        uow.commit()
    with db.read() as session:
        return deviations.deviation_detail(session, auth.scope, deviation_id)
