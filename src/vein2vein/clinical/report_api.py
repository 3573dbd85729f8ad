"""API routes of the signed readout report: a study's report versions, generating one,
a version, its PDF (audited hand-out) and a member's signature. Thin: parse, call one service
or read of ``report_versions.py``, return a public schema. Permissions (``access.py``):
reading ``program.read``, generating ``clinical.write``, signing ``clinical.report_sign``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from vein2vein.auth.roles import Perm
from vein2vein.web.context import AuthDep, DbDep, require

from . import report_versions as rv
from .report_schemas import (
    ReportGenerate,
    ReportSign,
    ReportSignaturePublic,
    ReportVersionPublic,
)

#: included by ``api.py`` under its prefix ``/api/clinical``
router = APIRouter(prefix="/api/clinical", tags=["clinical"])


@router.get(
    "/studies/{study_id}/reports",
    response_model=list[ReportVersionPublic],
    dependencies=[require(Perm.PROGRAM_READ)],
)
def list_reports(study_id: int, auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    """The study's report versions, newest first, each with its sign-off and status."""
    with db.read() as session:
        return rv.report_versions(session, auth.scope, study_id)


@router.post(
    "/studies/{study_id}/reports",
    response_model=ReportVersionPublic,
    status_code=201,
    dependencies=[require(Perm.CLINICAL_WRITE)],
)
def generate_report(
    study_id: int, body: ReportGenerate, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """The report version of the newest dataset version under the study's settings: the
    previous version when nothing changed (``new`` false), else the next one."""
    with db.uow(auth.actor) as uow:
        made = rv.generate(uow, auth.scope, study_id, body.signatories)
        uow.commit()
        report_id = made.report.id
    with db.read() as session:
        return rv.report_version(session, auth.scope, report_id) | {"new": made.new}


@router.get(
    "/reports/{report_id}",
    response_model=ReportVersionPublic,
    dependencies=[require(Perm.PROGRAM_READ)],
)
def get_report_version(report_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        return rv.report_version(session, auth.scope, report_id)


@router.get(
    "/reports/{report_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    dependencies=[require(Perm.PROGRAM_READ)],
)
def get_report_pdf(report_id: int, auth: AuthDep, db: DbDep) -> Response:
    """The version's PDF: byte for byte the same while its signatures and supersession are
    unchanged. The hand-out is audited with the file's SHA-256."""
    with db.read() as session:
        rendered = rv.render_pdf(session, auth.scope, report_id)
    with db.uow(auth.actor) as uow:
        rv.record_download(uow, rendered)
        uow.commit()
    return Response(
        rendered.content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{rendered.filename}"',
            "X-Report-SHA256": rendered.sha256,
        },
    )


@router.post(
    "/reports/{report_id}/signatures",
    response_model=ReportSignaturePublic,
    status_code=201,
    dependencies=[require(Perm.CLINICAL_REPORT_SIGN)],
)
def sign_report(report_id: int, body: ReportSign, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """A named steering-committee member signs the version (meaning approved)."""
    with db.uow(auth.actor) as uow:
        sig = rv.sign_report(
            uow,
            auth.scope,
            db.settings,
            report_id,
            username=body.username,
            password=body.password,
            shown_hash=body.shown_hash,
        )
        uow.commit()
        return {
            "id": sig.id,
            "username": sig.username,
            "printed_name": sig.printed_name,
            "meaning": sig.meaning,
            "signed_at": sig.signed_at,
            "content_hash": sig.content_hash,
        }
