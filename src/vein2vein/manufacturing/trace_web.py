"""Genealogy pages: ``/trace`` (search a lot number; the newest batches and the lots batches used
lately), ``/trace/batch/{id}`` (every lot and piece of equipment a batch used) and
``/trace/lot/{lot}`` (every batch, order and patient that received a lot), each with its CSV
download (``…/csv``). The CDMO's only, as the API (``/api/trace``): a sponsor's user is refused
(another client's batch: not found)."""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.core.errors import NotFound
from vein2vein.manufacturing import trace_csv, trace_views
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import FormError, show
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _csv(text: str, name: str) -> Response:
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_UNSAFE.sub("_", name)}.csv"'},
    )


@router.get("/trace", dependencies=[require(Perm.LOT_READ)])
def trace_page(request: Request, auth: AuthDep, db: DbDep, lot: str = "") -> Response:
    """The search box: a lot number (or ``MATERIAL:LOT``) found opens its trace."""
    wanted = lot.strip()

    def listed(failed: FormError | None = None) -> Response:
        with db.read() as session:
            lists = trace_views.trace_index(session, auth.scope)
        error = failed.context() if failed else {}
        return render(
            request,
            "mfg_trace.html",
            lists | {"lot": wanted} | error,
            status_code=failed.status if failed else 200,
        )

    def search() -> Response:
        if not wanted:
            return listed()
        with db.read() as session:
            found = trace_views.find_lot(session, auth.scope, wanted)
        return RedirectResponse(f"/trace/lot/{quote(found, safe=':')}", status_code=303)

    try:
        return show(listed, search)
    except NotFound as missing:
        return listed(FormError(missing.message, "lot", 404))


@router.get("/trace/batch/{batch_id}", dependencies=[require(Perm.LOT_READ)])
def trace_batch_page(request: Request, batch_id: int, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        trace = trace_views.batch_genealogy(session, auth.scope, batch_id)
    return render(request, "mfg_trace_batch.html", {"trace": trace})


@router.get("/trace/batch/{batch_id}/csv", dependencies=[require(Perm.LOT_READ)])
def trace_batch_csv(batch_id: int, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        trace = trace_views.batch_genealogy(session, auth.scope, batch_id)
    return _csv(trace_csv.batch_csv(trace), f"trace-batch-{batch_id}")


@router.get("/trace/lot/{lot}", dependencies=[require(Perm.LOT_READ)])
def trace_lot_page(request: Request, lot: str, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        trace = trace_views.lot_genealogy(session, auth.scope, lot)
    return render(request, "mfg_trace_lot.html", {"trace": trace})


@router.get("/trace/lot/{lot}/csv", dependencies=[require(Perm.LOT_READ)])
def trace_lot_csv(lot: str, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        trace = trace_views.lot_genealogy(session, auth.scope, lot)
    return _csv(trace_csv.lot_csv(trace), f"trace-lot-{trace['material']}-{trace['lot_number']}")
