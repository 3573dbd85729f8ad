"""API routes of CPV (``/api/cpv/...``): thin wrappers over ``cpv_views`` and
``cpv_baselines``, answering the public schemas of ``cpv_schemas`` (docs/cpv.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query

from vein2vein.auth.roles import Perm
from vein2vein.insights import cpv_baselines, cpv_schemas, cpv_views
from vein2vein.web.context import AuthDep, DbDep, require

router = APIRouter(prefix="/api/cpv", tags=["Continued process verification"])
READ = [require(Perm.QC_READ)]


@router.get("/series", response_model=list[cpv_schemas.SeriesRow], dependencies=READ)
def list_series(auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    """Every product, site and attribute (QC) or process parameter (batch record) in scope
    with approved values."""
    with db.read() as session:
        return cpv_views.series_list(session, auth.scope)


@router.get("/programs/{program_id}/chart", response_model=cpv_schemas.Dashboard, dependencies=READ)
def chart(
    program_id: int,
    auth: AuthDep,
    db: DbDep,
    site_id: int | None = Query(None, ge=1, le=2**31 - 1),
    attribute: str = Query(
        "",
        max_length=120,
        description="a test code, or a process parameter (record:STEP.entry, derived:...)",
    ),
) -> dict[str, Any]:
    """One series (a quality attribute or a process parameter of the batch record): the
    individuals chart against the frozen (or provisional) limits, each point with its rules,
    capability against the specification (or the MBR's limits), results left out, baselines."""
    with db.read() as session:
        page = cpv_views.dashboard(
            session, auth.scope, program_id, site=site_id, attribute=attribute
        )
    page.pop("figure", None)
    page.pop("title", None)
    page.pop("period_default", None)
    return page


@router.post(
    "/programs/{program_id}/baselines",
    response_model=cpv_schemas.BaselineDetail,
    status_code=201,
    dependencies=[require(Perm.CPV_FREEZE)],
)
def freeze(program_id: int, body: cpv_schemas.Freeze, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Freeze the series' limits from the batches started in the period, signed (meaning
    approved); supersedes the effective baseline named in ``current``."""
    with db.uow(auth.actor) as uow:
        row = cpv_baselines.freeze_baseline(
            uow, auth.scope, db.settings, program_id=program_id, site_id=body.site_id,
            test=body.attribute, start=body.start, end=body.end, reason=body.reason,
            current=body.current, username=body.username, password=body.password,
        )  # fmt: skip
        baseline_id = row.id
        uow.commit()
    with db.read() as session:
        return cpv_views.baseline_detail(session, auth.scope, baseline_id)


@router.get(
    "/baselines/{baseline_id}", response_model=cpv_schemas.BaselineDetail, dependencies=READ
)
def baseline(baseline_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """One frozen baseline: its batches and results, limits, method and signature."""
    with db.read() as session:
        return cpv_views.baseline_detail(session, auth.scope, baseline_id)


@router.get(
    "/programs/{program_id}/conformance",
    response_model=cpv_schemas.Conformance,
    dependencies=READ,
)
def conformance(
    program_id: int,
    auth: AuthDep,
    db: DbDep,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict[str, Any]:
    """All batches met specification? The batches started in the period, how many met their
    specification, and every exception."""
    with db.read() as session:
        return cpv_views.conformance(session, auth.scope, program_id, start, end)
