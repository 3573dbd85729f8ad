"""Pages of executed batch records: the list (status, suite, day of process, next step,
deviations) and one batch, read-only (steps, entries with who and when, review by exception,
deviations, genealogy). A sponsor sees its own orders' batches' status only. Execution itself
is through the API for now (``batch_api``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from vein2vein.auth.roles import Perm
from vein2vein.manufacturing import batch_views, kinetics
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/batches", dependencies=[require(Perm.BATCH_READ)])
def batches_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        rows = batch_views.list_batches(session, auth.scope)
    return render(request, "mfg_batches.html", {"batches": rows})


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
