"""API routes of clinical studies: studies, dataset versions (upload, raw files), readouts and
reports. Thin: parse, call one view (reads) or service function (changes), return a public
schema. Each route declares its permission (``access.py``): reads ``program.read``; creating a
study, changing its settings and uploading a version ``clinical.write``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from starlette.responses import Response

from vein2vein.auth.roles import Perm
from vein2vein.web.context import AuthDep, DbDep, require

from . import datasets, readouts, schemas, studies, views
from .upload import UploadedFile

router = APIRouter(prefix="/api/clinical", tags=["clinical"])


def read_uploads(files: list[UploadFile] | None) -> list[UploadedFile]:
    return [UploadedFile(f.filename or "", f.file.read()) for f in files or [] if f.filename]


@router.get(
    "/studies",
    response_model=list[schemas.StudyPublic],
    dependencies=[require(Perm.PROGRAM_READ)],
)
def list_studies(auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    """Studies of the programs the caller may see."""
    with db.read() as session:
        return views.studies(session, auth.scope)


@router.post(
    "/studies",
    response_model=schemas.StudyPublic,
    status_code=201,
    dependencies=[require(Perm.CLINICAL_WRITE)],
)
def create_study(body: schemas.StudyCreate, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Create a study of a program (sponsor_clinical of that sponsor, or CDMO admin)."""
    with db.uow(auth.actor) as uow:
        study = studies.create_study(
            uow, auth.scope, **body.model_dump(exclude={"options"}), options=body.options
        )
        uow.commit()
        return study.public()


@router.get(
    "/studies/{study_id}",
    response_model=schemas.StudyDetail,
    dependencies=[require(Perm.PROGRAM_READ)],
)
def get_study(study_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """A study with its dataset versions, newest first."""
    with db.read() as session:
        return views.study_detail(session, auth.scope, study_id)


@router.patch(
    "/studies/{study_id}",
    response_model=schemas.StudyPublic,
    dependencies=[require(Perm.CLINICAL_WRITE)],
)
def update_study(
    study_id: int, body: schemas.StudyUpdate, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """Change the title, description or default readout options (with a reason, audited)."""
    changes = body.model_dump(exclude_none=True, exclude={"reason"})
    with db.uow(auth.actor) as uow:
        study = studies.update_study(uow, auth.scope, study_id, changes, body.reason)
        uow.commit()
        return study.public()


@router.post(
    "/studies/{study_id}/versions",
    response_model=schemas.VersionPublic,
    status_code=201,
    dependencies=[require(Perm.CLINICAL_WRITE)],
)
def upload_version(
    study_id: int,
    auth: AuthDep,
    db: DbDep,
    files: Annotated[
        list[UploadFile] | None,
        File(
            description="subjects.csv, lesions.csv, assessments.csv [, new_lesions.csv, "
            "pd_dates.csv]; or SDTM domains (.xpt/.csv); or a .zip of either"
        ),
    ] = None,
    format: Annotated[Literal["auto", "csv", "sdtm"], Form()] = "auto",
    evaluator: Annotated[str, Form(description="SDTM evaluator (TUEVAL/TREVAL/RSEVAL)")] = (
        "INVESTIGATOR"
    ),
    comment: Annotated[str, Form()] = "",
) -> dict[str, Any]:
    """Upload a dataset as the study's next version. The files are read with the engine first:
    bad input answers 422 naming file, row and field, and nothing is stored."""
    with db.uow(auth.actor) as uow:
        version = datasets.upload_dataset(
            uow,
            auth.scope,
            study_id,
            read_uploads(files),
            fmt=format,
            evaluator=evaluator,
            comment=comment,
        )
        uow.commit()
        return version.public()


@router.get(
    "/versions/{version_id}",
    response_model=schemas.VersionPublic,
    dependencies=[require(Perm.PROGRAM_READ)],
)
def get_version(version_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        return views.version(session, auth.scope, version_id)


@router.get(
    "/versions/{version_id}/files/{file_name}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
    dependencies=[require(Perm.PROGRAM_READ)],
)
def get_file(version_id: int, file_name: str, auth: AuthDep, db: DbDep) -> Response:
    """A raw file exactly as uploaded (its SHA-256 is checked before it is sent)."""
    with db.read() as session:
        raw = views.dataset_file(session, auth.scope, version_id, file_name)
    return Response(
        raw["content"],
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{raw["name"]}"',
            "X-Content-SHA256": raw["sha256"],
        },
    )


@router.get(
    "/versions/{version_id}/readout",
    response_model=schemas.ReadoutPublic,
    dependencies=[require(Perm.PROGRAM_READ)],
)
def get_readout(
    version_id: int,
    auth: AuthDep,
    db: DbDep,
    params: Annotated[schemas.ReadoutOverrides, Query()],
) -> dict[str, Any]:
    """The readout JSON of ``v2v clinical readout --json`` for this version; unset options
    take the study's defaults."""
    with db.read() as session:
        return views.readout(session, auth.scope, version_id, params)


@router.get(
    "/versions/{version_id}/report",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "text/html": {}}}},
    dependencies=[require(Perm.PROGRAM_READ)],
)
def get_report(
    version_id: int,
    auth: AuthDep,
    db: DbDep,
    params: Annotated[schemas.ReportQuery, Query()],
) -> Response:
    """The steering-committee report (PDF or HTML). Its provenance and footer carry the
    dataset SHA-256 and the audit trail's head hash; the hand-out is audited with the
    report's own SHA-256."""
    with db.read() as session:
        options = views.readout_params(session, auth.scope, version_id, params)
        report = readouts.build_report(session, auth.scope, version_id, options, params.format)
    with db.uow(auth.actor) as uow:
        readouts.record_report(uow, report)
        uow.commit()
    return Response(
        report.content,
        media_type=report.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{report.filename}"',
            "X-Report-SHA256": report.sha256,
            "X-Audit-Head": report.head.hash,
        },
    )


# the signed readout report (report_api.py), under the same prefix
from .report_api import router as _report_router  # noqa: E402

# added route by route: the including router has a prefix (web.app.api_routes)
router.routes.extend(_report_router.routes)
