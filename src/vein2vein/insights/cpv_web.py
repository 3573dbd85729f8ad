"""Pages of continued process verification (docs/cpv.md):

==========================================  ================================================
page                                        what
==========================================  ================================================
``/cpv``                                    every product, site and attribute (QC) or
                                            process parameter (batch record) with approved
                                            values: n, baseline, points breaking a rule
``/cpv/programs/{id}?site=&attribute=``     one series: the individuals chart (Plotly) with
                                            its limits and run rules, the points as a table
                                            (the chart's text alternative) linking each to
                                            its batch and QC result or record entry,
                                            capability against the specification (or the
                                            MBR's limits), the results left out, the
                                            baselines, and the freeze form (QA approver)
``/cpv/programs/{id}/conformance``          all batches met specification? counts and every
                                            exception of a period, with links
``/cpv/baselines/{id}``                     one frozen baseline: its batches, limits, method,
                                            signature
==========================================  ================================================
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.core.errors import InputError
from vein2vein.insights import cpv_baselines, cpv_views
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.assets import plotly_version
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import FormError, Text, apply_change, parse_date
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)
#: a series' name: a test code, or record:STEP.entry (step and entry as the record stores them)
ATTRIBUTE_LENGTH = 120


@router.get("/cpv", dependencies=[require(Perm.QC_READ)])
def cpv_index(request: Request, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        rows = cpv_views.series_list(session, auth.scope)
    return render(request, "cpv_index.html", {"rows": rows})


def _dashboard(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    program_id: int,
    site: str,
    attribute: str,
    *,
    failed: FormError | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    with db.read() as session:
        page = cpv_views.dashboard(
            session,
            auth.scope,
            program_id,
            site=site or None,
            attribute=attribute[:ATTRIBUTE_LENGTH],
        )
    context: dict[str, Any] = page | {
        "can_freeze": auth.scope.is_cdmo and auth.scope.can(Perm.CPV_FREEZE),
        "plotly_version": plotly_version(),
        "typed": typed or {},
        "failed_form": "freeze" if failed else None,
    }
    if failed:
        context |= failed.context()
    return render(request, "cpv_chart.html", context, status_code=failed.status if failed else 200)


@router.get("/cpv/programs/{program_id}", dependencies=[require(Perm.QC_READ)])
def cpv_chart(
    request: Request,
    program_id: int,
    auth: AuthDep,
    db: DbDep,
    site: str = "",
    attribute: str = "",
    series: str = "",
) -> Response:
    """``site`` and ``attribute`` (a test code) name the series, or ``series`` as
    ``site|attribute`` (the page's chooser); the program's first series otherwise."""
    if series:
        site, _, attribute = series.partition("|")
    return _dashboard(request, auth, db, program_id, site, attribute)


def _current(text: str) -> int | None:
    value = text.strip()
    if not value or value == "none":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise InputError("the effective baseline shown is not a number: reload", field="current")
    return int(value)


@router.post("/cpv/programs/{program_id}/baselines", dependencies=[require(Perm.CPV_FREEZE)])
def cpv_freeze(
    request: Request,
    program_id: int,
    auth: AuthDep,
    db: DbDep,
    site: Text = "",
    attribute: Text = "",
    start: Text = "",
    end: Text = "",
    reason: Text = "",
    current: Text = "",
    username: Text = "",
    password: Text = "",
) -> Response:
    """Freeze the limits of the series from the batches started in the period (signed)."""

    def change(uow: UnitOfWork) -> int:
        cpv_baselines.may_freeze(uow.session, auth.scope, program_id)
        first = parse_date(start, "start", "Baseline from")
        last = parse_date(end, "end", "Baseline to")
        assert first is not None and last is not None  # required: refused above otherwise
        row = cpv_baselines.freeze_baseline(
            uow, auth.scope, db.settings, program_id=program_id, site_id=site.strip(),
            test=attribute.strip()[:ATTRIBUTE_LENGTH], start=first, end=last, reason=reason,
            current=_current(current), username=username, password=password,
        )  # fmt: skip
        return row.id

    typed = {"start": start, "end": end, "reason": reason}

    def failed(error: FormError) -> Response:
        named = error if error.field else replace(error, field="start")
        return _dashboard(request, auth, db, program_id, site, attribute, failed=named, typed=typed)

    query = urlencode({"site": site.strip(), "attribute": attribute.strip()})
    return apply_change(
        db, auth, change,
        done=lambda _id: RedirectResponse(f"/cpv/programs/{program_id}?{query}", status_code=303),
        failed=failed,
    )  # fmt: skip


@router.get("/cpv/programs/{program_id}/conformance", dependencies=[require(Perm.QC_READ)])
def cpv_conformance(
    request: Request,
    program_id: int,
    auth: AuthDep,
    db: DbDep,
    start: str = "",
    end: str = "",
) -> Response:
    """All batches met specification? ``start``/``end``: the period (YYYY-MM-DD, by the day
    each batch was started); every batch when not given."""
    error: InputError | None = None
    with db.read() as session:
        try:
            first = parse_date(start, "start", "From", required=False)
            last = parse_date(end, "end", "To", required=False)
            page = cpv_views.conformance(session, auth.scope, program_id, first, last)
        except InputError as exc:
            error = exc
            page = cpv_views.conformance(session, auth.scope, program_id)
    context = page | {"typed": {"start": start[:40], "end": end[:40]}}
    if error is not None:
        context |= FormError.of(error).context()
    return render(request, "cpv_conformance.html", context, status_code=422 if error else 200)


@router.get("/cpv/baselines/{baseline_id}", dependencies=[require(Perm.QC_READ)])
def cpv_baseline(request: Request, baseline_id: int, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        b = cpv_views.baseline_detail(session, auth.scope, baseline_id)
    return render(request, "cpv_baseline.html", {"b": b})
