"""API routes of manufacturing: master batch records (``/api/mbr``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import PlainTextResponse

from vein2vein.auth.roles import Meaning, Perm
from vein2vein.manufacturing import mbr_schemas as schemas
from vein2vein.manufacturing import mbr_views, mbrs
from vein2vein.web.context import Auth, AuthDep, DbDep, require

router = APIRouter(prefix="/api/mbr", tags=["master batch records"])


@router.get("", response_model=list[schemas.MbrSummary], dependencies=[require(Perm.MBR_READ)])
def list_mbrs(auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    with db.read() as session:
        return mbr_views.mbr_list(session, auth.scope)


@router.get("/{mbr_id}", response_model=schemas.MbrDetail, dependencies=[require(Perm.MBR_READ)])
def get_mbr(mbr_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        return mbr_views.mbr_detail(session, auth.scope, mbr_id)


@router.get(
    "/{mbr_id}/yaml",
    response_class=PlainTextResponse,
    responses={200: {"content": {"application/yaml": {}}}},
    dependencies=[require(Perm.MBR_READ)],
)
def export_mbr(mbr_id: int, auth: AuthDep, db: DbDep) -> PlainTextResponse:
    with db.read() as session:
        name, text = mbr_views.export_yaml(session, auth.scope, mbr_id)
    return PlainTextResponse(
        text,
        media_type="application/yaml",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/{mbr_id}/diff/{other_id}",
    response_model=schemas.MbrDiff,
    dependencies=[require(Perm.MBR_READ)],
)
def diff_mbrs(mbr_id: int, other_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        return mbr_views.mbr_diff(session, auth.scope, mbr_id, other_id)


@router.post(
    "",
    response_model=schemas.MbrSummary,
    status_code=201,
    dependencies=[require(Perm.MBR_AUTHOR)],
)
def import_mbr(body: schemas.MbrImport, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    with db.uow(auth.actor) as uow:
        row = mbrs.import_yaml(uow, auth.scope, body.yaml, body.file_name)
        uow.commit()
        mbr_id = row.id
    return _summary(auth, db, mbr_id)


def _summary(auth: Auth, db: Any, mbr_id: int) -> dict[str, Any]:
    with db.read() as session:
        detail: dict[str, Any] = mbr_views.mbr_detail(session, auth.scope, mbr_id)["mbr"]
        return detail


@router.post(
    "/{mbr_id}/versions",
    response_model=schemas.MbrSummary,
    status_code=201,
    dependencies=[require(Perm.MBR_AUTHOR)],
)
def new_version(
    mbr_id: int, body: schemas.MbrNewVersion, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    with db.uow(auth.actor) as uow:
        new_id = mbrs.new_version(uow, auth.scope, mbr_id, body.reason).id
        uow.commit()
    return _summary(auth, db, new_id)


@router.put(
    "/{mbr_id}/parameter",
    response_model=schemas.MbrSummary,
    dependencies=[require(Perm.MBR_AUTHOR)],
)
def edit_parameter(
    mbr_id: int, body: schemas.MbrParameterEdit, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """A draft's parameter: target, NOR and PAR (a missing bound: no limit on that side)."""
    with db.uow(auth.actor) as uow:
        mbrs.edit_parameter(
            uow,
            auth.scope,
            mbr_id,
            body.operation,
            body.parameter,
            target=body.target,
            nor=(body.nor_low, body.nor_high),
            par=(body.par_low, body.par_high),
            reason=body.reason,
        )
        uow.commit()
    return _summary(auth, db, mbr_id)


def _sign(meaning: Meaning, mbr_id: int, body: schemas.MbrSign, auth: Auth, db: Any) -> Any:
    with db.uow(auth.actor) as uow:
        sig = mbrs.sign_mbr(
            uow,
            auth.scope,
            db.settings,
            mbr_id,
            meaning.value,
            username=body.username,
            password=body.password,
            shown_hash=body.shown_hash,
        )
        uow.commit()
        signature_id = sig.id
    status = _summary(auth, db, mbr_id)["status"]
    return {"signature_id": signature_id, "meaning": meaning.value, "status": status}


@router.post(
    "/{mbr_id}/sign/authored",
    response_model=schemas.MbrSigned,
    dependencies=[require(Perm.MBR_AUTHOR)],
)
def sign_authored(mbr_id: int, body: schemas.MbrSign, auth: AuthDep, db: DbDep) -> Any:
    return _sign(Meaning.AUTHORED, mbr_id, body, auth, db)


@router.post(
    "/{mbr_id}/sign/reviewed",
    response_model=schemas.MbrSigned,
    dependencies=[require(Perm.MBR_REVIEW)],
)
def sign_reviewed(mbr_id: int, body: schemas.MbrSign, auth: AuthDep, db: DbDep) -> Any:
    return _sign(Meaning.REVIEWED, mbr_id, body, auth, db)


@router.post(
    "/{mbr_id}/sign/approved",
    response_model=schemas.MbrSigned,
    dependencies=[require(Perm.MBR_APPROVE)],
)
def sign_approved(mbr_id: int, body: schemas.MbrSign, auth: AuthDep, db: DbDep) -> Any:
    return _sign(Meaning.APPROVED, mbr_id, body, auth, db)
