"""Pages of material lots (list with status, one lot, receive and QA decision forms) and of
deviations (list with filters, one deviation, classify and signed close forms).

Every route declares its permission; every form goes through ``web.forms`` (refusals shown on
the form, one unit of work per change)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.core.clock import utcnow
from vein2vein.manufacturing import deviations, lots
from vein2vein.manufacturing.materials import UNITS_SHOWN, LotRefused, LotStatus, MaterialKind
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import FormError, Text, apply_change, parse_date, parse_int, show
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)


def _rights(auth: AuthDep) -> dict[str, bool]:
    s = auth.scope
    return {
        "can_receive": s.is_cdmo and s.can(Perm.LOT_RECEIVE),
        "can_decide": s.is_cdmo and s.can(Perm.LOT_RELEASE),
        "can_open": s.is_cdmo and s.can(Perm.DEVIATION_OPEN),
        "can_manage": s.is_cdmo and s.can(Perm.DEVIATION_MANAGE),
    }


def _page(
    request: Request,
    auth: AuthDep,
    template: str,
    context: dict[str, Any],
    failed: FormError | None = None,
    status: int = 200,
) -> Response:
    error = failed.context() if failed is not None else {}
    code = failed.status if failed is not None else status
    return render(request, template, context | _rights(auth) | error, status_code=code)


# --------------------------------------------------------------------------------------------
# lots
# --------------------------------------------------------------------------------------------


def _lots(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    status: str = "",
    material: str = "",
    failed: FormError | None = None,
    form: dict[str, str] | None = None,
    check: dict[str, Any] | None = None,
) -> Response:
    def listed(error: FormError | None = None) -> Response:
        with db.read() as session:
            materials = lots.list_materials(session, auth.scope)
            rows = (
                []
                if error
                else lots.list_lots(session, auth.scope, status=status, material=material)
            )
        context = {
            "lots": rows,
            "materials": materials,
            "status": status,
            "material": material,
            "statuses": [s.value for s in LotStatus],
            "kinds": [k.value for k in MaterialKind],
            "units": UNITS_SHOWN,
            "form": form or {},
            "check": check,
        }
        return _page(request, auth, "mfg_lots.html", context, failed or error)

    return show(listed, listed)


@router.get("/lots", dependencies=[require(Perm.LOT_READ)])
def lots_page(
    request: Request, auth: AuthDep, db: DbDep, status: str = "", material: str = ""
) -> Response:
    return _lots(request, auth, db, status, material)


@router.post("/lots", dependencies=[require(Perm.LOT_RECEIVE)])
def lots_receive(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    material: Text = "",
    lot_number: Text = "",
    supplier: Text = "",
    supplier_lot: Text = "",
    expiry: Text = "",
    quantity: Text = "",
    titer: Text = "",
) -> Response:
    form = {
        "material": material,
        "lot_number": lot_number,
        "supplier": supplier,
        "supplier_lot": supplier_lot,
        "expiry": expiry,
        "quantity": quantity,
        "titer": titer,
    }

    def change(uow: UnitOfWork) -> int:
        day = parse_date(expiry, "expiry", "Expiry")
        assert day is not None  # required
        lot = lots.receive_lot(
            uow,
            auth.scope,
            material=material,
            lot_number=lot_number,
            supplier=supplier,
            supplier_lot=supplier_lot or None,
            expiry=day,
            quantity=quantity,
            titer=titer or None,
        )
        return lot.id

    return apply_change(
        db,
        auth,
        change,
        done=lambda new_id: RedirectResponse(f"/lots/{new_id}", status_code=303),
        failed=lambda error: _lots(request, auth, db, failed=error, form=form),
    )


@router.post("/materials", dependencies=[require(Perm.LOT_RELEASE)])
def materials_add(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    code: Text = "",
    name: Text = "",
    kind: Text = "",
    unit: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        lots.add_material(uow, auth.scope, code=code, name=name, kind=kind, unit=unit)

    return apply_change(
        db,
        auth,
        change,
        done=lambda _: RedirectResponse("/lots", status_code=303),
        failed=lambda error: _lots(request, auth, db, failed=error),
    )


@router.post("/lots/check", dependencies=[require(Perm.LOT_READ)])
def lots_check(
    request: Request, auth: AuthDep, db: DbDep, lot: Text = "", material: Text = ""
) -> Response:
    """The scan check on the lot list (a keyboard-wedge scanner types the lot number)."""

    def checked() -> Response:
        with db.read() as session:
            try:
                found = lots.check_scanned_lot(session, auth.scope, lot, material, utcnow())
                result = {"ok": True, "message": f"lot {found.lot_number} may be used"}
            except LotRefused as refused:
                result = {"ok": False, "message": refused.message, "reason": refused.reason}
        return _lots(request, auth, db, check=result)

    return show(lambda error: _lots(request, auth, db, failed=error), checked)


def _lot(
    request: Request, lot_id: int, auth: AuthDep, db: DbDep, failed: FormError | None = None
) -> Response:
    with db.read() as session:
        lot = lots.lot_detail(session, auth.scope, lot_id)
    return _page(request, auth, "mfg_lot.html", {"lot": lot}, failed)


@router.get("/lots/{lot_id}", dependencies=[require(Perm.LOT_READ)])
def lot_page(request: Request, lot_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _lot(request, lot_id, auth, db)


def _lot_change(request: Request, lot_id: int, auth: AuthDep, db: DbDep, change: Any) -> Response:
    return apply_change(
        db,
        auth,
        change,
        done=lambda _: RedirectResponse(f"/lots/{lot_id}", status_code=303),
        failed=lambda error: _lot(request, lot_id, auth, db, error),
    )


@router.post("/lots/{lot_id}/decision", dependencies=[require(Perm.LOT_RELEASE)])
def lot_decide(
    request: Request,
    lot_id: int,
    auth: AuthDep,
    db: DbDep,
    decision: Text = "",
    reason: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        lots.decide_lot(uow, auth.scope, lot_id, decision, reason)

    return _lot_change(request, lot_id, auth, db, change)


@router.post("/lots/{lot_id}/titer", dependencies=[require(Perm.LOT_RECEIVE)])
def lot_titer(
    request: Request, lot_id: int, auth: AuthDep, db: DbDep, titer: Text = ""
) -> Response:
    def change(uow: UnitOfWork) -> None:
        lots.record_titer(uow, auth.scope, lot_id, titer)

    return _lot_change(request, lot_id, auth, db, change)


# --------------------------------------------------------------------------------------------
# deviations
# --------------------------------------------------------------------------------------------


def _deviations(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    status: str = "",
    classification: str = "",
    failed: FormError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    def listed(error: FormError | None = None) -> Response:
        with db.read() as session:
            rows = (
                []
                if error
                else deviations.list_deviations(
                    session, auth.scope, status=status, classification=classification
                )
            )
        context = {
            "deviations": rows,
            "status": status,
            "classification": classification,
            "form": form or {},
        }
        return _page(request, auth, "mfg_deviations.html", context, failed or error)

    return show(listed, listed)


@router.get("/deviations", dependencies=[require(Perm.DEVIATION_READ)])
def deviations_page(
    request: Request, auth: AuthDep, db: DbDep, status: str = "", classification: str = ""
) -> Response:
    return _deviations(request, auth, db, status, classification)


@router.post("/deviations", dependencies=[require(Perm.DEVIATION_OPEN)])
def deviations_open(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    title: Text = "",
    description: Text = "",
    order_id: Text = "",
    batch_id: Text = "",
) -> Response:
    form = {"title": title, "description": description, "order_id": order_id, "batch_id": batch_id}

    def change(uow: UnitOfWork) -> int:
        order = parse_int(order_id, "order_id", "Order id", required=False, minimum=1)
        batch = parse_int(batch_id, "batch_id", "Batch id", required=False, minimum=1)
        dev = deviations.open_deviation(
            uow, auth.scope, title=title, description=description, order_id=order, batch_id=batch
        )
        return dev.id

    return apply_change(
        db,
        auth,
        change,
        done=lambda new_id: RedirectResponse(f"/deviations/{new_id}", status_code=303),
        failed=lambda error: _deviations(request, auth, db, failed=error, form=form),
    )


def _deviation(
    request: Request,
    deviation_id: int,
    auth: AuthDep,
    db: DbDep,
    failed: FormError | None = None,
    form: str = "classify",
) -> Response:
    with db.read() as session:
        dev = deviations.deviation_detail(session, auth.scope, deviation_id)
    context: dict[str, Any] = {"deviation": dev, "failed_form": form if failed else None}
    return _page(request, auth, "mfg_deviation.html", context, failed)


@router.get("/deviations/{deviation_id}", dependencies=[require(Perm.DEVIATION_READ)])
def deviation_page(request: Request, deviation_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _deviation(request, deviation_id, auth, db)


@router.post("/deviations/{deviation_id}/classify", dependencies=[require(Perm.DEVIATION_MANAGE)])
def deviation_classify(
    request: Request,
    deviation_id: int,
    auth: AuthDep,
    db: DbDep,
    classification: Text = "",
    root_cause: Text = "",
    capa: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        deviations.classify(
            uow,
            auth.scope,
            deviation_id,
            classification=classification,
            root_cause=root_cause,
            capa=capa,
        )

    return apply_change(
        db,
        auth,
        change,
        done=lambda _: RedirectResponse(f"/deviations/{deviation_id}", status_code=303),
        failed=lambda error: _deviation(request, deviation_id, auth, db, error, "classify"),
    )


@router.post("/deviations/{deviation_id}/close", dependencies=[require(Perm.DEVIATION_MANAGE)])
def deviation_close(
    request: Request,
    deviation_id: int,
    auth: AuthDep,
    db: DbDep,
    username: Text = "",
    password: Text = "",
    shown_hash: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        deviations.close(
            uow,
            auth.scope,
            db.settings,
            deviation_id,
            username=username,
            password=password,
            shown_hash=shown_hash or None,
        )

    return apply_change(
        db,
        auth,
        change,
        done=lambda _: RedirectResponse(f"/deviations/{deviation_id}", status_code=303),
        failed=lambda error: _deviation(request, deviation_id, auth, db, error, "close"),
    )
