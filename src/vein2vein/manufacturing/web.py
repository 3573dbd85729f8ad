"""Pages of master batch records: the list (with import), one version (operations, parameters
with NOR/PAR, materials, equipment, calculations, signatures), the differences between two
versions, signing with the password re-entered, and the editor of a draft."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from vein2vein.auth import signatures
from vein2vein.auth.roles import Meaning, Perm
from vein2vein.core.errors import InputError
from vein2vein.manufacturing import mbr_views, mbrs
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import FormError, Text, apply_change, parse_decimal
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)


def _to(mbr_id: int, tail: str = "") -> Response:
    return RedirectResponse(f"/mbr/{mbr_id}{tail}", status_code=303)


# --- list and import ----------------------------------------------------------------------


@router.get("/mbr", dependencies=[require(Perm.MBR_READ)])
def mbr_list_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    return _list_page(request, auth, db)


def _list_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    error: FormError | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    with db.read() as session:
        rows = mbr_views.mbr_list(session, auth.scope)
    context = {"rows": rows, "typed": typed or {}} | (error.context() if error else {})
    return render(request, "mbr_list.html", context, error.status if error else 200)


@router.post("/mbr", dependencies=[require(Perm.MBR_AUTHOR)])
def mbr_import(
    request: Request, auth: AuthDep, db: DbDep, yaml_text: Text = "", file_name: Text = ""
) -> Response:
    def change(uow: UnitOfWork) -> int:
        if not yaml_text.strip():
            raise InputError("paste the MBR file's text", field="yaml_text")
        return mbrs.import_yaml(uow, auth.scope, yaml_text, file_name or "mbr.yaml").id

    typed = {"yaml_text": yaml_text, "file_name": file_name}
    failed = partial(_list_page, request, auth, db, typed=typed)
    return apply_change(db, auth, change, done=_to, failed=failed)


# --- one version, export, differences -----------------------------------------------------


@router.get("/mbr/{mbr_id}", dependencies=[require(Perm.MBR_READ)])
def mbr_page(request: Request, mbr_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _mbr_page(request, mbr_id, auth, db)


def _mbr_page(
    request: Request,
    mbr_id: int,
    auth: AuthDep,
    db: DbDep,
    error: FormError | None = None,
    form: str = "sign",
) -> Response:
    with db.read() as session:
        page = mbr_views.mbr_detail(session, auth.scope, mbr_id)
    context: dict[str, Any] = page | {"form": form}
    if error is not None:
        context |= error.context()
    return render(request, "mbr_version.html", context, error.status if error else 200)


@router.get("/mbr/{mbr_id}/yaml", dependencies=[require(Perm.MBR_READ)])
def mbr_export(mbr_id: int, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        name, text = mbr_views.export_yaml(session, auth.scope, mbr_id)
    return PlainTextResponse(
        text,
        media_type="application/yaml",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@router.get("/mbr/{mbr_id}/diff/{other_id}", dependencies=[require(Perm.MBR_READ)])
def mbr_diff_page(
    request: Request, mbr_id: int, other_id: int, auth: AuthDep, db: DbDep
) -> Response:
    with db.read() as session:
        page = mbr_views.mbr_diff(session, auth.scope, mbr_id, other_id)
    return render(request, "mbr_diff.html", page)


# --- new version and signing --------------------------------------------------------------


@router.post("/mbr/{mbr_id}/versions", dependencies=[require(Perm.MBR_AUTHOR)])
def mbr_new_version(
    request: Request, mbr_id: int, auth: AuthDep, db: DbDep, reason: Text = ""
) -> Response:
    def change(uow: UnitOfWork) -> int:
        return mbrs.new_version(uow, auth.scope, mbr_id, reason).id

    failed = partial(_mbr_page, request, mbr_id, auth, db, form="version")
    return apply_change(db, auth, change, done=_to, failed=failed)


def _sign(
    meaning: Meaning,
    request: Request,
    mbr_id: int,
    auth: AuthDep,
    db: DbDep,
    username: str,
    password: str,
    shown_hash: str,
) -> Response:
    def change(uow: UnitOfWork) -> None:
        signatures.require_credentials(username, password)
        mbrs.sign_mbr(
            uow,
            auth.scope,
            db.settings,
            mbr_id,
            meaning.value,
            username=username,
            password=password,
            shown_hash=shown_hash or None,
        )

    failed = partial(_mbr_page, request, mbr_id, auth, db, form="sign")
    return apply_change(db, auth, change, done=lambda _: _to(mbr_id), failed=failed)


@router.post("/mbr/{mbr_id}/sign/authored", dependencies=[require(Perm.MBR_AUTHOR)])
def mbr_sign_authored(
    request: Request,
    mbr_id: int,
    auth: AuthDep,
    db: DbDep,
    username: Text = "",
    password: Text = "",
    shown_hash: Text = "",
) -> Response:
    return _sign(Meaning.AUTHORED, request, mbr_id, auth, db, username, password, shown_hash)


@router.post("/mbr/{mbr_id}/sign/reviewed", dependencies=[require(Perm.MBR_REVIEW)])
def mbr_sign_reviewed(
    request: Request,
    mbr_id: int,
    auth: AuthDep,
    db: DbDep,
    username: Text = "",
    password: Text = "",
    shown_hash: Text = "",
) -> Response:
    return _sign(Meaning.REVIEWED, request, mbr_id, auth, db, username, password, shown_hash)


@router.post("/mbr/{mbr_id}/sign/approved", dependencies=[require(Perm.MBR_APPROVE)])
def mbr_sign_approved(
    request: Request,
    mbr_id: int,
    auth: AuthDep,
    db: DbDep,
    username: Text = "",
    password: Text = "",
    shown_hash: Text = "",
) -> Response:
    return _sign(Meaning.APPROVED, request, mbr_id, auth, db, username, password, shown_hash)


# --- the editor of a draft ----------------------------------------------------------------


@router.get("/mbr/{mbr_id}/edit", dependencies=[require(Perm.MBR_AUTHOR)])
def mbr_editor(request: Request, mbr_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _editor(request, mbr_id, auth, db)


def _editor(
    request: Request,
    mbr_id: int,
    auth: AuthDep,
    db: DbDep,
    error: FormError | None = None,
    form: str = "",
) -> Response:
    with db.read() as session:
        page = mbr_views.mbr_editor(session, auth.scope, mbr_id)
    context: dict[str, Any] = page | {"form": form} | (error.context() if error else {})
    return render(request, "mbr_edit.html", context, error.status if error else 200)


def _edited(
    request: Request, mbr_id: int, auth: AuthDep, db: DbDep, form: str, edit: Any
) -> Response:
    def change(uow: UnitOfWork) -> None:
        edit(uow)

    failed = partial(_editor, request, mbr_id, auth, db, form=form)
    return apply_change(db, auth, change, done=lambda _: _to(mbr_id, "/edit"), failed=failed)


def _number(text: str, field: str, label: str) -> float | None:
    value = parse_decimal(text, field, label, required=False, minimum=-1e12, maximum=1e12)
    return float(value) if value is not None else None


@router.post("/mbr/{mbr_id}/edit/parameter", dependencies=[require(Perm.MBR_AUTHOR)])
def mbr_edit_parameter(
    request: Request,
    mbr_id: int,
    auth: AuthDep,
    db: DbDep,
    entry: Text = "",
    target: Text = "",
    nor_low: Text = "",
    nor_high: Text = "",
    par_low: Text = "",
    par_high: Text = "",
    reason: Text = "",
) -> Response:
    def edit(uow: UnitOfWork) -> None:
        operation, _, parameter = entry.partition(".")
        if not parameter:
            raise InputError("choose a parameter", field="entry")
        mbrs.edit_parameter(
            uow,
            auth.scope,
            mbr_id,
            operation,
            parameter,
            target=_number(target, "target", "Target"),
            nor=(_number(nor_low, "nor_low", "NOR low"), _number(nor_high, "nor_high", "NOR high")),
            par=(_number(par_low, "par_low", "PAR low"), _number(par_high, "par_high", "PAR high")),
            reason=reason,
        )

    return _edited(request, mbr_id, auth, db, "parameter", edit)


@router.post("/mbr/{mbr_id}/edit/verification", dependencies=[require(Perm.MBR_AUTHOR)])
def mbr_edit_verification(
    request: Request,
    mbr_id: int,
    auth: AuthDep,
    db: DbDep,
    entry: Text = "",
    required: Text = "",
    reason: Text = "",
) -> Response:
    def edit(uow: UnitOfWork) -> None:
        operation, _, code = entry.partition(".")
        if not code:
            raise InputError("choose an entry", field="entry")
        if required not in ("yes", "no"):
            raise InputError("choose whether a second person verifies it", field="required")
        mbrs.edit_second_person(uow, auth.scope, mbr_id, operation, code, required == "yes", reason)

    return _edited(request, mbr_id, auth, db, "verification", edit)


@router.post("/mbr/{mbr_id}/edit/material", dependencies=[require(Perm.MBR_AUTHOR)])
def mbr_add_material(
    request: Request,
    mbr_id: int,
    auth: AuthDep,
    db: DbDep,
    code: Text = "",
    name: Text = "",
    kind: Text = "",
    operation: Text = "",
    second_person: Text = "",
    reason: Text = "",
) -> Response:
    def edit(uow: UnitOfWork) -> None:
        data: dict[str, Any] = {"code": code, "name": name, "kind": kind}
        data["second_person"] = second_person == "yes"
        if kind.strip().lower() == "lentiviral_vector":
            data["lot_data"] = ["lot_number", "expiry", "release_status", "functional_titer"]
        mbrs.add_material(uow, auth.scope, mbr_id, data, operation, reason)

    return _edited(request, mbr_id, auth, db, "material", edit)


@router.post("/mbr/{mbr_id}/edit/material/remove", dependencies=[require(Perm.MBR_AUTHOR)])
def mbr_remove_material(
    request: Request, mbr_id: int, auth: AuthDep, db: DbDep, code: Text = "", reason: Text = ""
) -> Response:
    def edit(uow: UnitOfWork) -> None:
        mbrs.remove_material(uow, auth.scope, mbr_id, code, reason)

    return _edited(request, mbr_id, auth, db, "material", edit)


@router.post("/mbr/{mbr_id}/edit/equipment", dependencies=[require(Perm.MBR_AUTHOR)])
def mbr_add_equipment(
    request: Request,
    mbr_id: int,
    auth: AuthDep,
    db: DbDep,
    code: Text = "",
    name: Text = "",
    kind: Text = "",
    operation: Text = "",
    reason: Text = "",
) -> Response:
    def edit(uow: UnitOfWork) -> None:
        data = {"code": code, "name": name, "kind": kind, "calibration": True}
        mbrs.add_equipment(uow, auth.scope, mbr_id, data, operation, reason)

    return _edited(request, mbr_id, auth, db, "equipment", edit)


@router.post("/mbr/{mbr_id}/edit/equipment/remove", dependencies=[require(Perm.MBR_AUTHOR)])
def mbr_remove_equipment(
    request: Request, mbr_id: int, auth: AuthDep, db: DbDep, code: Text = "", reason: Text = ""
) -> Response:
    def edit(uow: UnitOfWork) -> None:
        mbrs.remove_equipment(uow, auth.scope, mbr_id, code, reason)

    return _edited(request, mbr_id, auth, db, "equipment", edit)
