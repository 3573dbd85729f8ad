"""Pages of comparability protocols (docs/comparability.md):

====================================  =========================================================
page                                  what
====================================  =========================================================
``/comparability``                    the protocol versions in scope; a new protocol (YAML)
``/comparability/protocols/{id}``     one version: its content, the reference arm's values and
                                      what the criteria make of them (blinded: the test arm's
                                      batches without values until approved), the signatures,
                                      the forms (edit, sign, approve, next version, run), runs
``/comparability/runs/{id}``          a run's report: protocol version (superseded or not),
                                      per attribute the numbers and the engine's figure, the
                                      small-n warnings, provenance, values used; PDF
====================================  =========================================================

Every form posts (CSRF token) and runs one service in one unit of work through
``web.forms.apply_change`` (Post/Redirect/Get); a refusal renders the page again with the
message on the form that failed and the field named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.insights import comparability_domain as rules
from vein2vein.insights import comparability_exports as exports
from vein2vein.insights import comparability_report as report
from vein2vein.insights import comparability_service as service
from vein2vein.insights import comparability_views as views
from vein2vein.insights.comparability_demo import PROTOCOL_FILE
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import FormError, Text, apply_change
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)
READ = [require(Perm.COMPARABILITY_READ)]
AUTHOR = [require(Perm.COMPARABILITY_AUTHOR)]


def _see(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


def _failed_on(
    form: str, field: str | None, page: Callable[..., Response]
) -> Callable[[FormError], Response]:
    def failed(error: FormError) -> Response:
        named = error if error.field else replace(error, field=field)
        return page(failed=named, form=form)

    return failed


def _context(failed: FormError | None, form: str | None, typed: dict[str, str] | None) -> dict:
    return {"failed_form": form if failed else None, "typed": typed or {}} | (
        failed.context() if failed else {}
    )


def _rights(auth: AuthDep) -> dict[str, bool]:
    s = auth.scope
    return {
        "can_author": s.is_cdmo and s.can(Perm.COMPARABILITY_AUTHOR),
        "can_approve": s.is_cdmo and s.can(Perm.COMPARABILITY_APPROVE),
    }


# --------------------------------------------------------------------------------------------
# the list and a new protocol
# --------------------------------------------------------------------------------------------


def _list_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    *,
    failed: FormError | None = None,
    form: str | None = None,
    typed: dict[str, str] | None = None,
    status: str = "",
) -> Response:
    # another value: every version
    shown = status if status in (*rules.STATUSES, views.TO_APPROVE) else None
    with db.read() as session:
        rows = views.list_protocols(session, auth.scope, shown)
    example = PROTOCOL_FILE.read_text(encoding="utf-8")
    context = (
        {"rows": rows, "example": example, "status": shown}
        | _rights(auth)
        | _context(failed, form, typed)
    )
    return render(
        request, "cmp_protocols.html", context, status_code=failed.status if failed else 200
    )


@router.get("/comparability", dependencies=READ)
def protocols_page(request: Request, auth: AuthDep, db: DbDep, status: str = "") -> Response:
    return _list_page(request, auth, db, status=status)


@router.post("/comparability", dependencies=AUTHOR)
def protocol_create(request: Request, auth: AuthDep, db: DbDep, protocol: Text = "") -> Response:
    def change(uow: UnitOfWork) -> int:
        return service.create(uow, auth.scope, protocol, "protocol").id

    page = partial(_list_page, request, auth, db, typed={"protocol": protocol[:200_000]})
    return apply_change(
        db, auth, change, done=lambda new_id: _see(f"/comparability/protocols/{new_id}"),
        failed=_failed_on("create", "protocol", page),
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# one version
# --------------------------------------------------------------------------------------------


def _protocol_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    protocol_id: int,
    *,
    failed: FormError | None = None,
    form: str | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    with db.read() as session:
        p = views.protocol_detail(session, auth.scope, protocol_id)
    latest = max(v["version"] for v in p["versions"])
    rights = _rights(auth)
    mine = p["created_by"].lower() == auth.scope.username.lower()
    forms = {
        "edit": p["status"] == rules.DRAFT and rights["can_author"] and mine,
        "sign": p["status"] == rules.DRAFT and rights["can_author"] and mine,
        "approve": p["status"] == rules.AUTHORED
        and rights["can_approve"]
        and (p.get("authored_by") or "").lower() != auth.scope.username.lower(),
        "run": p["status"] == rules.APPROVED and rights["can_author"],
        "revise": p["status"] != rules.DRAFT and p["version"] == latest and rights["can_author"],
    }
    context = (
        {"p": p, "forms": [name for name, shown in forms.items() if shown]}
        | rights
        | _context(failed, form, typed)
    )
    return render(
        request, "cmp_protocol.html", context, status_code=failed.status if failed else 200
    )


@router.get("/comparability/protocols/{protocol_id}", dependencies=READ)
def protocol_page(request: Request, protocol_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _protocol_page(request, auth, db, protocol_id)


def _text_change(
    request: Request, auth: AuthDep, db: DbDep, protocol_id: int, form: str, protocol: str
) -> Response:
    def change(uow: UnitOfWork) -> int:
        if form == "edit":
            return service.edit(uow, auth.scope, protocol_id, protocol, "protocol").id
        return service.revise(uow, auth.scope, protocol_id, protocol, "protocol").id

    page = partial(
        _protocol_page, request, auth, db, protocol_id, typed={"protocol": protocol[:200_000]}
    )
    return apply_change(
        db, auth, change, done=lambda pid: _see(f"/comparability/protocols/{pid}"),
        failed=_failed_on(form, "protocol", page),
    )  # fmt: skip


@router.post("/comparability/protocols/{protocol_id}/edit", dependencies=AUTHOR)
def protocol_edit(
    request: Request, protocol_id: int, auth: AuthDep, db: DbDep, protocol: Text = ""
) -> Response:
    return _text_change(request, auth, db, protocol_id, "edit", protocol)


@router.post("/comparability/protocols/{protocol_id}/revise", dependencies=AUTHOR)
def protocol_revise(
    request: Request, protocol_id: int, auth: AuthDep, db: DbDep, protocol: Text = ""
) -> Response:
    return _text_change(request, auth, db, protocol_id, "revise", protocol)


def _signing(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    protocol_id: int,
    form: str,
    fn: Callable[..., Any],
    fields: dict[str, str],
) -> Response:
    def change(uow: UnitOfWork) -> None:
        fn(
            uow, auth.scope, db.settings, protocol_id,
            username=fields["username"], password=fields["password"],
            shown_hash=fields["shown_hash"] or None,
        )  # fmt: skip

    page = partial(_protocol_page, request, auth, db, protocol_id)
    return apply_change(
        db, auth, change, done=lambda _: _see(f"/comparability/protocols/{protocol_id}"),
        failed=_failed_on(form, "password", page),
    )  # fmt: skip


@router.post("/comparability/protocols/{protocol_id}/sign", dependencies=AUTHOR)
def protocol_sign(
    request: Request,
    protocol_id: int,
    auth: AuthDep,
    db: DbDep,
    username: Text = "",
    password: Text = "",
    shown_hash: Text = "",
) -> Response:
    fields = {"username": username, "password": password, "shown_hash": shown_hash}
    return _signing(request, auth, db, protocol_id, "sign", service.sign_authored, fields)


@router.post(
    "/comparability/protocols/{protocol_id}/approve",
    dependencies=[require(Perm.COMPARABILITY_APPROVE)],
)
def protocol_approve(
    request: Request,
    protocol_id: int,
    auth: AuthDep,
    db: DbDep,
    username: Text = "",
    password: Text = "",
    shown_hash: Text = "",
) -> Response:
    fields = {"username": username, "password": password, "shown_hash": shown_hash}
    return _signing(request, auth, db, protocol_id, "approve", service.approve, fields)


@router.post("/comparability/protocols/{protocol_id}/runs", dependencies=AUTHOR)
def protocol_run(request: Request, protocol_id: int, auth: AuthDep, db: DbDep) -> Response:
    def change(uow: UnitOfWork) -> int:
        return service.run(uow, auth.scope, protocol_id).id

    page = partial(_protocol_page, request, auth, db, protocol_id)
    return apply_change(
        db, auth, change, done=lambda run_id: _see(f"/comparability/runs/{run_id}"),
        failed=_failed_on("run", None, page),
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# a run's report
# --------------------------------------------------------------------------------------------


@router.get("/comparability/runs/{run_id}", dependencies=READ)
def run_page(request: Request, run_id: int, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        d = views.run_detail(session, auth.scope, run_id)
    result = d["result"]
    context = {
        "d": d,
        "headline": report.headline(d),
        "rows": report.attribute_rows(result),
        "figures": [report.figure_svg(a) for a in result.attributes],
        "provenance": d["stored_result"]["provenance"],
    }
    return render(request, "cmp_run.html", context)


@router.get("/comparability/runs/{run_id}/report.pdf", dependencies=READ)
def run_pdf(run_id: int, auth: AuthDep, db: DbDep) -> Response:
    with db.uow(auth.actor) as uow:
        out = exports.export_report(uow, auth.scope, run_id)
        uow.commit()
    return Response(
        out.data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{out.filename}"',
            "X-Content-SHA256": out.sha256,
        },
    )
