"""Pages of the signed readout report: generate a version from the study page, a version's
page (status, sign-off, PDF) and a named member's signature. Thin: reads through
``report_versions.py``, changes through its services with the form kit (a refused change
shows the page again with its message). Included by ``web.py``."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import FormError, Text, apply_change
from vein2vein.web.templating import render

from . import report_versions as rv

router = APIRouter(include_in_schema=False)


def _names(text: str) -> list[str] | None:
    names = [n for n in re.split(r"[\s,;]+", text) if n]
    return names or None


def _report_page(
    request: Request, auth: AuthDep, db: DbDep, report_id: int, status: int = 200, **extra: Any
) -> Response:
    with db.read() as session:
        ctx = rv.report_page(session, auth.scope, report_id)
    return render(request, "clinical_report.html", ctx | extra, status_code=status)


@router.get("/clinical/reports/{report_id}", dependencies=[require(Perm.PROGRAM_READ)])
def report_page(
    request: Request, report_id: int, auth: AuthDep, db: DbDep, made: int | None = None
) -> Response:
    return _report_page(request, auth, db, report_id, made=made)


@router.post("/clinical/studies/{study_id}/reports", dependencies=[require(Perm.CLINICAL_WRITE)])
def generate_form(
    request: Request, study_id: int, auth: AuthDep, db: DbDep, signatories: Text = ""
) -> Response:
    def change(uow: UnitOfWork) -> tuple[int, bool]:
        made = rv.generate(uow, auth.scope, study_id, _names(signatories))
        return made.report.id, made.new

    def done(made: tuple[int, bool]) -> Response:
        return RedirectResponse(f"/clinical/reports/{made[0]}?made={int(made[1])}", status_code=303)

    def failed(error: FormError) -> Response:
        from .web import _study_page

        return _study_page(
            request, auth, db, study_id, status=error.status, report_error=error.message,
            report_error_field=error.field, report_signatories=signatories,
        )  # fmt: skip

    return apply_change(db, auth, change, done=done, failed=failed)


@router.post(
    "/clinical/reports/{report_id}/sign", dependencies=[require(Perm.CLINICAL_REPORT_SIGN)]
)
def sign_form(
    request: Request,
    report_id: int,
    auth: AuthDep,
    db: DbDep,
    username: Text = "",
    password: Text = "",
    shown_hash: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        rv.sign_report(
            uow, auth.scope, db.settings, report_id,
            username=username, password=password, shown_hash=shown_hash or None,
        )  # fmt: skip

    def failed(error: FormError) -> Response:
        return _report_page(request, auth, db, report_id, error.status, **error.context())

    return apply_change(
        db,
        auth,
        change,
        done=lambda _: RedirectResponse(f"/clinical/reports/{report_id}", status_code=303),
        failed=failed,
    )
