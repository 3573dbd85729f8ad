"""Pages of clinical studies: the study list, the study page (upload form, dataset versions,
response table by dose level, interactive Plotly figures, report links), and the script the
figures need, served locally (no CDN: the content security policy allows only 'self').

Thin: reads through ``views.py``, changes through ``studies.py`` and ``datasets.py`` with the
form kit (``web/forms.py``): a refused change shows the form again with its message."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.assets import LONG_CACHE, plotly_version
from vein2vein.web.context import AuthDep, DbDep, public, require
from vein2vein.web.forms import FormError, Text, apply_change, choice_id, parse_date
from vein2vein.web.templating import render

from . import datasets, queues, studies, views
from .api import read_uploads
from .schemas import ReadoutOverrides, ReadoutParams

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).with_name("static")
ASSET_HEADERS = LONG_CACHE


@router.get("/clinical/assets/clinical-figures.js", dependencies=[public()])
def figures_js() -> Response:
    body = (STATIC / "clinical-figures.js").read_bytes()
    return Response(body, media_type="text/javascript", headers=ASSET_HEADERS)


# ------------------------------------------------------------------ study list


def _studies_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    status: int = 200,
    datasets: str = "",
    reports: str = "",
    **extra: Any,
) -> Response:
    with db.read() as session:
        ctx = views.study_list_page(session, auth.scope)
        chosen = queues.study_filter(session, auth.scope, datasets, reports)  # a home queue
    if chosen is not None:
        ctx["studies"] = [s for s in ctx["studies"] if s["id"] in chosen[1]]
    ctx["filter_label"] = chosen[0] if chosen else None
    return render(request, "clinical_studies.html", ctx | extra, status_code=status)


@router.get("/clinical", dependencies=[require(Perm.PROGRAM_READ)])
def studies_page(
    request: Request, auth: AuthDep, db: DbDep, datasets: str = "", reports: str = ""
) -> Response:
    return _studies_page(request, auth, db, datasets=datasets, reports=reports)


@router.post("/clinical", dependencies=[require(Perm.CLINICAL_WRITE)])
def create_study_form(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    program_id: Text = "",
    code: Text = "",
    title: Text = "",
    description: Text = "",
    cutoff: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> int:
        options = ReadoutParams(cutoff=parse_date(cutoff, "cutoff", "Data cut-off", required=False))
        study = studies.create_study(
            uow,
            auth.scope,
            program_id=choice_id(program_id, "program_id", "a program"),
            code=code,
            title=title,
            description=description,
            options=options,
        )
        return study.id

    def failed(error: FormError) -> Response:
        # what was typed goes back into the form (a study record holds no personal data)
        typed = {"program_id": program_id, "code": code, "title": title}
        typed |= {"description": description, "cutoff": cutoff}
        return _studies_page(request, auth, db, error.status, **error.context(), form=typed)

    return apply_change(
        db,
        auth,
        change,
        done=lambda study_id: RedirectResponse(f"/clinical/studies/{study_id}", status_code=303),
        failed=failed,
    )


# ------------------------------------------------------------------ study page

OPTION_KEYS = tuple(ReadoutOverrides.model_fields)


def _overrides(request: Request) -> tuple[ReadoutOverrides, str | None]:
    given: dict[str, Any] = {
        k: v for k, v in request.query_params.items() if k in OPTION_KEYS and v != ""
    }
    if "benefit" in given:  # checkboxes: one value per category ticked
        given["benefit"] = ",".join(request.query_params.getlist("benefit"))
    try:
        return ReadoutOverrides.model_validate(given), None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "options"
        return ReadoutOverrides(), f"option {field}: {first.get('msg', 'invalid')}"


def _study_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    study_id: int,
    version_id: int | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    overrides, option_error = _overrides(request)
    with db.read() as session:
        ctx = views.study_page(session, auth.scope, study_id, version_id, overrides)
    ctx |= {"option_error": option_error, "plotly_version": plotly_version()}
    return render(request, "clinical_study.html", ctx | extra, status_code=status)


@router.get("/clinical/studies/{study_id}", dependencies=[require(Perm.PROGRAM_READ)])
def study_page(
    request: Request,
    study_id: int,
    auth: AuthDep,
    db: DbDep,
    version_id: int | None = None,
    uploaded: int | None = None,
    saved: int | None = None,
) -> Response:
    return _study_page(request, auth, db, study_id, version_id, uploaded=uploaded, saved=saved)


@router.post("/clinical/studies/{study_id}/versions", dependencies=[require(Perm.CLINICAL_WRITE)])
def upload_form(
    request: Request,
    study_id: int,
    auth: AuthDep,
    db: DbDep,
    files: Annotated[list[UploadFile] | None, File()] = None,
    format: Text = "auto",
    evaluator: Text = "INVESTIGATOR",
    comment: Text = "",
) -> Response:
    uploads = read_uploads(files)

    def change(uow: UnitOfWork) -> tuple[int, int]:
        version = datasets.upload_dataset(
            uow,
            auth.scope,
            study_id,
            uploads,
            fmt=format,  # type: ignore[arg-type]  # parse_upload refuses unknown formats
            evaluator=evaluator,
            comment=comment,
        )
        return version.id, version.version

    def done(stored: tuple[int, int]) -> Response:
        version_id, number = stored
        return RedirectResponse(
            f"/clinical/studies/{study_id}?version_id={version_id}&uploaded={number}",
            status_code=303,
        )

    def failed(error: FormError) -> Response:
        return _study_page(
            request,
            auth,
            db,
            study_id,
            status=error.status,
            upload_error=error.message,
            upload_error_field=error.field,
        )

    return apply_change(db, auth, change, done=done, failed=failed)


# ------------------------------------------------------------------ study settings


@router.post("/clinical/studies/{study_id}/settings", dependencies=[require(Perm.CLINICAL_WRITE)])
def settings_form(
    request: Request,
    study_id: int,
    auth: AuthDep,
    db: DbDep,
    cutoff: Text = "",
    basis: Text = "",
    irecist: Text = "",
    ci: Text = "",
    population: Text = "",
    confirm_days: Text = "",
    sd_min_days: Text = "",
    max_ne: Text = "",
    accept_sd: Text = "",
    cr_then_pr: Text = "",
    missing_as_ne: Text = "",
    after_pd: Text = "",
    benefit: Annotated[list[str] | None, Form()] = None,
    reason: Text = "",
) -> Response:
    """Change the study's default readout options (its settings), with a reason (audited);
    a blank field takes the engine's default."""
    typed = {
        "cutoff": cutoff,
        "basis": basis,
        "irecist": irecist,
        "ci": ci,
        "population": population,
        "confirm_days": confirm_days,
        "sd_min_days": sd_min_days,
        "max_ne": max_ne,
        "accept_sd": accept_sd,
        "cr_then_pr": cr_then_pr,
        "missing_as_ne": missing_as_ne,
        "after_pd": after_pd,
    }
    options: dict[str, Any] = {k: v.strip() for k, v in typed.items() if v.strip()}
    # none ticked is refused with its field named, not silently the default
    options["benefit"] = [b for b in benefit or [] if b.strip()] or ""

    def change(uow: UnitOfWork) -> None:
        studies.update_study(uow, auth.scope, study_id, {"options": options}, reason)

    def failed(error: FormError) -> Response:
        return _study_page(
            request,
            auth,
            db,
            study_id,
            status=error.status,
            settings_error=error.message,
            settings_error_field=error.field,
        )

    return apply_change(
        db,
        auth,
        change,
        done=lambda _: RedirectResponse(f"/clinical/studies/{study_id}?saved=1", status_code=303),
        failed=failed,
    )


# the signed readout report's pages (report_web.py)
from .report_web import router as _report_router  # noqa: E402

# added route by route: an included router is one entry whose routes the route checks
# (web.app.registered_routes) do not see
router.routes.extend(_report_router.routes)
