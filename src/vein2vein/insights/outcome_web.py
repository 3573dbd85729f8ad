"""Pages of product ↔ outcome (docs/outcome.md):

==================================  =========================================================
page                                what
==================================  =========================================================
``/outcome``                        the studies in scope, with how many subjects are linked
``/outcome/studies/{id}``           every subject with its batch's attributes beside BOR, best
                                    % change, PFS and OS; the exploratory analyses (figures
                                    and their tables); the link form, unlink, link history
==================================  =========================================================

Forms post (CSRF token) and run one service in one unit of work (``web.forms.apply_change``);
a refusal renders the page again with the message and the field named.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.insights import outcome_figures as figs
from vein2vein.insights import outcome_links, outcome_views
from vein2vein.insights.outcome_analysis import attribute
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import FormError, Text, apply_change
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/outcome", dependencies=[require(Perm.OUTCOME_READ)])
def outcome_studies(request: Request, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        rows = outcome_views.studies(session, auth.scope)
    return render(request, "outcome_studies.html", {"rows": rows})


def _figures(page: dict[str, Any], key: str) -> dict[str, Any]:
    a = attribute(key)
    analysis = page["analysis"]
    mwu = next(m for m in analysis["by_response"] if m["attribute"] == key)
    return {
        "dot": figs.dot_plot(page["rows"], key, a.name, a.unit, mwu),
        "scatter": figs.dose_scatter(page["rows"], analysis["dose_vs_change"]),
        "km": [figs.km_figure(k, a.name) for k in analysis["km"]],
    }


def _study_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    study_id: str,
    attribute_key: str = "car_positive",
    *,
    failed: FormError | None = None,
    form: str | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    with db.read() as session:
        page = outcome_views.study_outcome(session, auth.scope, study_id, attribute_key)
    context = page | {
        "figures": _figures(page, attribute_key),
        "attribute": attribute(attribute_key),
        "can_link": auth.scope.can(Perm.OUTCOME_LINK),
        "failed_form": form if failed else None,
        "typed": typed or {},
    }
    if failed:
        context |= failed.context()
    return render(
        request, "outcome_study.html", context, status_code=failed.status if failed else 200
    )


@router.get("/outcome/studies/{study_id}", dependencies=[require(Perm.OUTCOME_READ)])
def outcome_study(
    request: Request, study_id: str, auth: AuthDep, db: DbDep, attribute: str = "car_positive"
) -> Response:
    from vein2vein.insights.outcome_analysis import ATTRIBUTES

    key = attribute if attribute in {a.key for a in ATTRIBUTES} else "car_positive"
    return _study_page(request, auth, db, study_id, key)


@router.post("/outcome/studies/{study_id}/links", dependencies=[require(Perm.OUTCOME_LINK)])
def outcome_link(
    request: Request,
    study_id: str,
    auth: AuthDep,
    db: DbDep,
    subject_id: Text = "",
    coi: Text = "",
    year_of_birth: Text = "",
    reason: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> int:
        link = outcome_links.link_subject(
            uow, auth.scope, study_id, subject_id, coi,
            year_of_birth=year_of_birth or None, reason=reason,
        )  # fmt: skip
        return link.study_id

    typed = {"subject_id": subject_id, "coi": coi, "year_of_birth": year_of_birth}

    def failed(error: FormError) -> Response:
        named = error if error.field else replace(error, field="coi")
        return _study_page(request, auth, db, study_id, failed=named, form="link", typed=typed)

    return apply_change(
        db,
        auth,
        change,
        done=lambda sid: RedirectResponse(f"/outcome/studies/{sid}#links", status_code=303),
        failed=failed,
    )


@router.post("/outcome/links/{link_id}/unlink", dependencies=[require(Perm.OUTCOME_LINK)])
def outcome_unlink(
    request: Request, link_id: str, auth: AuthDep, db: DbDep, reason: Text = ""
) -> Response:
    def change(uow: UnitOfWork) -> int:
        return outcome_links.unlink(uow, auth.scope, link_id, reason).study_id

    def failed(error: FormError) -> Response:
        with db.read() as session:
            link = outcome_links.get_link(session, auth.scope, link_id)
        named = error if error.field else replace(error, field="reason")
        return _study_page(
            request, auth, db, str(link.study_id), failed=named, form=f"unlink-{link_id}"
        )

    return apply_change(
        db,
        auth,
        change,
        done=lambda sid: RedirectResponse(f"/outcome/studies/{sid}#links", status_code=303),
        failed=failed,
    )
