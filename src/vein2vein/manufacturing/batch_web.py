"""Pages of executed batch records: the list (status, suite, day of process, next step,
deviations; process-development runs flagged non-GMP, and a small form to import them) and one
batch, read-only (steps, entries with who and when, review by exception, deviations,
genealogy). A sponsor sees its own orders' batches' status only. Execution itself is through
the API for now (``batch_api``)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.core.errors import InputError
from vein2vein.manufacturing import batch_views, batches, kinetics, pd_runs
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import FormError, Text, apply_change, parse_int
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/batches", dependencies=[require(Perm.BATCH_READ)])
def batches_page(
    request: Request, auth: AuthDep, db: DbDep, status: str = "", imported: str = ""
) -> Response:
    """Every batch in scope, or those of one status (``?status=IN_REVIEW``: awaiting QA)."""
    wanted = status.strip().upper()
    if wanted and wanted not in batches.STATUSES:
        raise InputError(f"status is one of {', '.join(batches.STATUSES)}", field="status")
    return _list_page(request, auth, db, imported=imported, status=wanted)


def _list_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    error: FormError | None = None,
    typed: dict[str, str] | None = None,
    imported: str = "",
    status: str = "",
) -> Response:
    with db.read() as session:
        rows = batch_views.list_batches(session, auth.scope)
    shown = [r for r in rows if r["status"] == status] if status else rows
    context = {"batches": shown, "status": status, "typed": typed or {}, "imported": imported[:200]}
    context |= error.context() if error else {}
    return render(request, "mfg_batches.html", context, error.status if error else 200)


@router.post("/batches/pd-import", dependencies=[require(Perm.BATCH_EXECUTE)])
def pd_import_form(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    file: Annotated[UploadFile | None, File()] = None,
    program: Text = "",
    site: Text = "",
    mbr_version: Text = "",
) -> Response:
    """Import process-development runs from the uploaded CSV or XLSX file (one transaction)."""
    data = file.file.read() if file is not None and file.filename else b""
    name = file.filename if file is not None and file.filename else ""

    def change(uow: UnitOfWork) -> pd_runs.PdImport:
        if not name:
            raise InputError("choose a CSV or XLSX file", field="file")
        version = parse_int(mbr_version, "mbr_version", "MBR version", minimum=1)
        return pd_runs.import_pd_runs(
            uow, auth.scope, filename=name, data=data,
            program=program, site=site, mbr_version=int(version or 0),
        )  # fmt: skip

    def done(result: pd_runs.PdImport) -> Response:
        labels = ",".join(r.run_label for r in result.runs)
        return RedirectResponse(f"/batches?imported={labels}", status_code=303)

    typed = {"program": program, "site": site, "mbr_version": mbr_version}
    failed = partial(_list_page, request, auth, db, typed=typed)
    return apply_change(db, auth, change, done=done, failed=failed)


@router.get("/batches/{batch_id}", dependencies=[require(Perm.BATCH_READ)])
def batch_page(request: Request, batch_id: int, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        batch = batch_views.batch_detail(session, auth.scope, batch_id)
        trace = (
            batch_views.trace_batch(session, auth.scope, batch_id)
            if auth.scope.is_cdmo and auth.scope.can(Perm.LOT_READ)
            else None
        )
    growth = batch.get("kinetics")
    figure = (
        kinetics.growth_figure(
            growth["points"], growth["envelope_drawn"], f"Viable cells of batch {batch['id']}"
        )
        if growth
        else None
    )
    return render(
        request,
        "mfg_batch.html",
        {"batch": batch, "trace": trace, "growth_figure": figure, "cells": kinetics.cells_text},
    )
