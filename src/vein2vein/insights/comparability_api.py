"""API routes of comparability protocols (``/api/comparability/...``): thin wrappers over
``comparability_service`` (one unit of work each) and ``comparability_views``, answering the
public schemas of ``comparability_schemas``. Blinded like the pages: a version not yet approved
answers the reference arm's values and the test arm's batches without values."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from vein2vein.auth.roles import Perm
from vein2vein.insights import comparability_exports as exports
from vein2vein.insights import comparability_report as report
from vein2vein.insights import comparability_schemas as schemas
from vein2vein.insights import comparability_service as service
from vein2vein.insights import comparability_views as views
from vein2vein.web.context import AuthDep, DbDep, require

router = APIRouter(prefix="/api/comparability", tags=["Comparability"])
READ = [require(Perm.COMPARABILITY_READ)]
AUTHOR = [require(Perm.COMPARABILITY_AUTHOR)]


@router.get("/protocols", response_model=list[schemas.ProtocolSummary], dependencies=READ)
def list_protocols(auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    """Every protocol version in scope."""
    with db.read() as session:
        return views.list_protocols(session, auth.scope)


@router.get("/protocols/{protocol_id}", response_model=schemas.ProtocolDetail, dependencies=READ)
def get_protocol(protocol_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """One version, blinded until approved."""
    with db.read() as session:
        return views.protocol_detail(session, auth.scope, protocol_id)


@router.post(
    "/protocols",
    response_model=schemas.ProtocolDetail,
    status_code=201,
    dependencies=AUTHOR,
)
def create_protocol(body: schemas.ProtocolText, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Version 1 of a new protocol, a draft."""
    with db.uow(auth.actor) as uow:
        new_id = service.create(uow, auth.scope, body.yaml, body.file).id
        uow.commit()
    return get_protocol(new_id, auth, db)


@router.put("/protocols/{protocol_id}", response_model=schemas.ProtocolDetail, dependencies=AUTHOR)
def edit_protocol(
    protocol_id: int, body: schemas.ProtocolText, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """A draft's new content (its author; a signed version is refused: revise it)."""
    with db.uow(auth.actor) as uow:
        service.edit(uow, auth.scope, protocol_id, body.yaml, body.file)
        uow.commit()
    return get_protocol(protocol_id, auth, db)


@router.post(
    "/protocols/{protocol_id}/versions",
    response_model=schemas.ProtocolDetail,
    status_code=201,
    dependencies=AUTHOR,
)
def revise_protocol(
    protocol_id: int, body: schemas.ProtocolText, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """The next version of a signed protocol, a draft."""
    with db.uow(auth.actor) as uow:
        new_id = service.revise(uow, auth.scope, protocol_id, body.yaml, body.file).id
        uow.commit()
    return get_protocol(new_id, auth, db)


@router.post(
    "/protocols/{protocol_id}/signatures",
    response_model=schemas.ProtocolDetail,
    dependencies=[require(Perm.SIGN_AUTHORED)],
)
def sign_protocol(
    protocol_id: int, body: schemas.ProtocolSigning, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """Sign a version: ``authored`` (its author; locks the content) or ``approved`` (a second
    person with the approval permission; the test arm may be shown from then on)."""
    fn = service.sign_authored if body.meaning == "authored" else service.approve
    with db.uow(auth.actor) as uow:
        fn(
            uow, auth.scope, db.settings, protocol_id,
            username=body.username, password=body.password, shown_hash=body.shown_hash,
        )  # fmt: skip
        uow.commit()
    return get_protocol(protocol_id, auth, db)


@router.post(
    "/protocols/{protocol_id}/runs",
    response_model=schemas.RunDetail,
    status_code=201,
    dependencies=AUTHOR,
)
def run_protocol(protocol_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Run an approved version on the approved results stored now."""
    with db.uow(auth.actor) as uow:
        run_id = service.run(uow, auth.scope, protocol_id).id
        uow.commit()
    return get_run(run_id, auth, db)


@router.get("/runs/{run_id}", response_model=schemas.RunDetail, dependencies=READ)
def get_run(run_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """A run: the protocol version (superseded or not), the values used, the stored result
    with its provenance, and a row per attribute."""
    with db.read() as session:
        d = views.run_detail(session, auth.scope, run_id)
    return views.run_json(d) | {"attributes": report.attribute_rows(d["result"])}


@router.get(
    "/runs/{run_id}/report.pdf",
    response_class=Response,
    dependencies=READ,
    responses={200: {"content": {"application/pdf": {}}, "description": "the report"}},
)
def run_pdf(run_id: int, auth: AuthDep, db: DbDep) -> Response:
    """The run's report as PDF (its hand-out audited)."""
    with db.uow(auth.actor) as uow:
        out = exports.export_report(uow, auth.scope, run_id)
        uow.commit()
    return Response(
        out.data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{out.filename}"',
            "X-Content-SHA256": out.sha256,
        },
    )
