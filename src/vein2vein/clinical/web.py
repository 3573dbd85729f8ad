"""Pages of clinical studies: the study list, the study page (upload form, dataset versions,
response table by dose level, interactive Plotly figures, report links), and the two scripts
the figures need, served locally (no CDN: the content security policy allows only 'self')."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.core.errors import Conflict, InputError, NotFound, PermissionDenied
from vein2vein.programs.service import list_programs
from vein2vein.store import audit
from vein2vein.web.assets import LONG_CACHE, plotly_version
from vein2vein.web.context import AuthDep, DbDep
from vein2vein.web.templating import render

from . import service
from .api import read_uploads
from .schemas import ReadoutOverrides, ReadoutParams

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).with_name("static")
Text = Annotated[str, Form()]
#: Errors shown on the form itself; NotFound is never caught here (tenant isolation).
SHOWN = (InputError, Conflict, PermissionDenied)
ASSET_HEADERS = LONG_CACHE


@router.get("/clinical/assets/clinical-figures.js")
def figures_js() -> Response:
    body = (STATIC / "clinical-figures.js").read_bytes()
    return Response(body, media_type="text/javascript", headers=ASSET_HEADERS)


# ------------------------------------------------------------------ study list


def _studies_page(
    request: Request, auth: AuthDep, db: DbDep, status: int = 200, **extra: Any
) -> Response:
    with db.read() as session:
        studies = [
            s.public()
            | {
                "sponsor": s.organisation.name,
                "program": s.program.code,
                "versions": len(s.versions),
            }
            for s in service.list_studies(session, auth.scope)
        ]
        programs = [p.public() for p in list_programs(session, auth.scope)]
    return render(
        request,
        "clinical_studies.html",
        {
            "studies": studies,
            "programs": programs,
            "can_write": service.can_write(auth.scope),
            **extra,
        },
        status_code=status,
    )


@router.get("/clinical")
def studies_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    return _studies_page(request, auth, db)


@router.post("/clinical")
def create_study_form(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    program_id: Annotated[int, Form()],
    code: Text,
    title: Text,
    description: Annotated[str, Form()] = "",
    cutoff: Annotated[str, Form()] = "",
) -> Response:
    try:
        options = ReadoutParams.model_validate({"cutoff": cutoff or None})
    except ValidationError:
        return _studies_page(
            request, auth, db, 422, error=f"cut-off {cutoff!r} is not a date (YYYY-MM-DD)"
        )
    try:
        with db.uow(auth.actor) as uow:
            study = service.create_study(
                uow,
                auth.scope,
                program_id=program_id,
                code=code,
                title=title,
                description=description,
                options=options,
            )
            uow.commit()
            study_id = study.id
    except SHOWN as exc:
        return _studies_page(request, auth, db, exc.status, error=exc.message)
    return RedirectResponse(f"/clinical/studies/{study_id}", status_code=303)


# ------------------------------------------------------------------ study page

OPTION_KEYS = tuple(ReadoutOverrides.model_fields)


def _overrides(request: Request) -> tuple[ReadoutOverrides, str | None]:
    given = {k: v for k, v in request.query_params.items() if k in OPTION_KEYS and v != ""}
    try:
        return ReadoutOverrides.model_validate(given), None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "options"
        return ReadoutOverrides(), f"option {field}: {first.get('msg', 'invalid')}"


def _history(session: Any, auth: AuthDep, study_id: int, version_ids: set[int]) -> list[dict]:
    if not auth.scope.can(Perm.AUDIT_READ):
        return []
    ids = auth.scope.organisation_ids
    entries = audit.query(
        session,
        entity_type="clinical_study",
        entity_id=str(study_id),
        organisation_ids=ids,
    )
    entries += [
        e
        for e in audit.query(session, entity_type="clinical_dataset_version", organisation_ids=ids)
        if e.entity_id in {str(v) for v in version_ids}
    ]
    return [e.to_dict() for e in sorted(entries, key=lambda e: -e.seq)]


def _finite(value: Any) -> Any:
    """JSON for the page: NaN and infinities become null (JSON.parse refuses NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _readout_context(
    session: Any, auth: AuthDep, version: Any, params: ReadoutParams
) -> dict[str, Any]:
    from .figures import BOR_COLOURS, group_colours
    from .report import subject_listing

    _, result = service.compute_readout(session, auth.scope, version.id, params)
    data = result.plot_data()
    table = result.response_table()
    dis = result.disagreements.drop(columns=["subj"], errors="ignore")
    query = {k: v for k, v in params.model_dump(mode="json").items() if v is not None}
    return {
        "response_table": table.to_html(classes="data", border=0),
        "subject_table": subject_listing(result).to_html(classes="data", border=0, index=False),
        "disagreements": dis.to_html(classes="data", border=0, index=False) if len(dis) else "",
        "warnings": list(result.warnings),
        "provenance": result.provenance.summary(),
        "criteria": "iRECIST" if params.irecist else "RECIST 1.1",
        "figures": {
            "data": _finite(data),
            "group_colours": group_colours(data),
            "bor_colours": BOR_COLOURS,
        },
        "km": data["km"],
        "report_query": urlencode(query),
    }


def _study_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    study_id: int,
    version_id: int | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    with db.read() as session:
        study = service.get_study(session, auth.scope, study_id)
        versions = service.list_versions(session, auth.scope, study.id)
        selected = None
        if version_id is not None:
            selected = service.get_version(session, auth.scope, version_id)
            if selected.study_id != study.id:
                raise NotFound(f"clinical dataset version {version_id} not found")
        elif versions:
            selected = versions[0]
        overrides, option_error = _overrides(request)
        params = overrides.apply(study.options or {})
        ctx: dict[str, Any] = {
            "study": study.public()
            | {"sponsor": study.organisation.name, "program": study.program.code},
            "defaults": service.study_defaults(study).stored(),
            "versions": [v.public() for v in versions],
            "selected": selected.public() if selected else None,
            "params": params.model_dump(mode="json"),
            "option_error": option_error,
            "can_write": service.can_write(auth.scope),
            "plotly_version": plotly_version(),
            "history": _history(session, auth, study.id, {v.id for v in versions}),
        }
        if selected is not None:
            try:
                ctx |= _readout_context(session, auth, selected, params)
            except (InputError, ValueError) as exc:
                ctx["readout_error"] = str(exc)
    return render(request, "clinical_study.html", ctx | extra, status_code=status)


@router.get("/clinical/studies/{study_id}")
def study_page(
    request: Request,
    study_id: int,
    auth: AuthDep,
    db: DbDep,
    version_id: int | None = None,
    uploaded: int | None = None,
) -> Response:
    return _study_page(request, auth, db, study_id, version_id, uploaded=uploaded)


@router.post("/clinical/studies/{study_id}/versions")
def upload_form(
    request: Request,
    study_id: int,
    auth: AuthDep,
    db: DbDep,
    files: Annotated[list[UploadFile] | None, File()] = None,
    format: Annotated[str, Form()] = "auto",
    evaluator: Annotated[str, Form()] = "INVESTIGATOR",
    comment: Annotated[str, Form()] = "",
) -> Response:
    uploads = read_uploads(files)
    try:
        with db.uow(auth.actor) as uow:
            version = service.upload_dataset(
                uow,
                auth.scope,
                study_id,
                uploads,
                fmt=format,  # type: ignore[arg-type]  # parse_upload refuses unknown formats
                evaluator=evaluator,
                comment=comment,
            )
            uow.commit()
            version_id, number = version.id, version.version
    except SHOWN as exc:
        return _study_page(request, auth, db, study_id, status=exc.status, upload_error=exc.message)
    return RedirectResponse(
        f"/clinical/studies/{study_id}?version_id={version_id}&uploaded={number}", status_code=303
    )
