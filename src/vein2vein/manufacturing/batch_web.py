"""Pages of executed batch records: the list (status, suite, day of process, next step,
deviations) and one batch, read-only (steps, entries with who and when, review by exception,
deviations, genealogy). A sponsor sees its own orders' batches' status only. Execution itself
is through the API for now (``batch_api``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from vein2vein.auth.roles import Perm
from vein2vein.core.errors import InputError
from vein2vein.manufacturing import batch_views, batches
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/batches", dependencies=[require(Perm.BATCH_READ)])
def batches_page(request: Request, auth: AuthDep, db: DbDep, status: str = "") -> Response:
    """Every batch in scope, or those of one status (``?status=IN_REVIEW``: awaiting QA)."""
    wanted = status.strip().upper()
    if wanted and wanted not in batches.STATUSES:
        raise InputError(f"status is one of {', '.join(batches.STATUSES)}", field="status")
    with db.read() as session:
        rows = batch_views.list_batches(session, auth.scope)
    shown = [r for r in rows if r["status"] == wanted] if wanted else rows
    return render(request, "mfg_batches.html", {"batches": shown, "status": wanted})


@router.get("/batches/{batch_id}", dependencies=[require(Perm.BATCH_READ)])
def batch_page(request: Request, batch_id: int, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        batch = batch_views.batch_detail(session, auth.scope, batch_id)
        trace = (
            batch_views.trace_batch(session, auth.scope, batch_id)
            if auth.scope.is_cdmo and auth.scope.can(Perm.LOT_READ)
            else None
        )
    return render(request, "mfg_batch.html", {"batch": batch, "trace": trace})
