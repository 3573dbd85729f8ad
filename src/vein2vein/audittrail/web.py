"""Pages of the audit trail: the log with filters, verification, reviews and signing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vein2vein.audittrail import export, service, views
from vein2vein.audittrail.filters import FILTER_FIELDS, AuditFilter, parse_filter
from vein2vein.auth import signatures
from vein2vein.auth.roles import Perm
from vein2vein.core.errors import InputError
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import FormError, Text, apply_change, parse_int, show
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)


def _filters(db: DbDep, q: Mapping[str, str]) -> AuditFilter:
    return parse_filter(
        user=q.get("user"),
        action=q.get("action"),
        entity_type=q.get("entity_type"),
        entity_id=q.get("entity_id"),
        entity=q.get("entity"),
        organisation=q.get("organisation") or None,
        date_from=q.get("from"),
        date_to=q.get("to"),
        since=q.get("since"),
        zone=db.settings.display_time_zone,
    )


def _key(q: Mapping[str, str], name: str) -> int | None:
    return parse_int(q.get(name), name, "Page", required=False, minimum=0)


@router.get("/audit", dependencies=[require(Perm.AUDIT_READ)])
def audit_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    """The trail, newest first, 100 entries a page (keyset on the sequence, no cap), filtered
    by user, action, entity, organisation and dates; each change field by field."""
    return _audit_page(request, auth, db, request.query_params)


def _audit_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    q: Mapping[str, str],
    error: FormError | None = None,
) -> Response:
    typed = {k: q.get(k, "") for k in FILTER_FIELDS}
    with db.read() as session:
        options = views.choices(session, auth.scope)

    def page(found: dict[str, Any] | None, filters: AuditFilter | None, err: FormError | None):  # type: ignore[no-untyped-def]
        context = {
            "found": found,
            "typed": typed,
            "options": options,
            "params": filters.params() if filters else {},
            "query": urlencode(filters.params()) if filters else "",
        } | (err.context() if err else {})
        return render(request, "audit.html", context, err.status if err else 200)

    if error is not None:
        return page(None, None, error)

    def entries() -> Response:
        filters = _filters(db, q)
        below, above = _key(q, "below"), _key(q, "above")
        with db.read() as session:
            found = views.page(session, auth.scope, filters, below=below, above=above)
        return page(found, filters, None)

    return show(lambda err: page(None, None, err), entries)


@router.post("/audit/export", dependencies=[require(Perm.AUDIT_READ)])
def audit_export(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    format: Text = "",
    user: Text = "",
    action: Text = "",
    entity_type: Text = "",
    entity_id: Text = "",
    organisation: Text = "",
    date_from: Annotated[str, Form(alias="from")] = "",
    date_to: Annotated[str, Form(alias="to")] = "",
) -> Response:
    """The filtered entries as CSV or PDF with the chain's head; the export is audited."""
    fields = {
        "format": format,
        "user": user,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "organisation": organisation,
        "from": date_from,
        "to": date_to,
    }
    return _export(request, auth, db, fields)


def _export(request: Request, auth: AuthDep, db: DbDep, fields: dict[str, str]) -> Response:
    def made() -> Response:
        filters = _filters(db, fields)
        with db.read() as session:
            exported = export.build_export(session, auth.scope, filters, fields.get("format", ""))
        with db.uow(auth.actor) as uow:
            export.record_export(uow, exported)
            uow.commit()
        return Response(
            exported.content,
            media_type=exported.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{exported.filename}"',
                "X-Export-SHA256": exported.sha256,
                "X-Audit-Head": f"{exported.head.seq}:{exported.head.hash}",
            },
        )

    return show(lambda err: _audit_page(request, auth, db, fields, err), made)


@router.get("/audit/verify", dependencies=[require(Perm.AUDIT_VERIFY)])
def verify_page(request: Request, auth: AuthDep, db: DbDep, head: str = "") -> Response:
    def page(result: dict[str, object] | None, error: FormError | None = None) -> Response:
        context = {"result": result, "head": head} | (error.context() if error else {})
        return render(request, "audit_verify.html", context, error.status if error else 200)

    def verified() -> Response:
        with db.read() as session:
            return page(views.verification(session, auth.scope, head))

    return show(lambda error: page(None, error), verified)


@router.get("/audit/reviews", dependencies=[require(Perm.AUDIT_READ)])
def reviews_page(request: Request, auth: AuthDep, db: DbDep, signed: str = "") -> Response:
    try:
        wanted = views.signed_filter(signed)
    except InputError as exc:
        return _reviews_page(request, auth, db, FormError.of(exc))
    return _reviews_page(request, auth, db, signed=wanted)


def _reviews_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    error: FormError | None = None,
    signed: bool | None = None,
) -> Response:
    with db.read() as session:
        reviews = views.reviews(session, auth.scope, signed)
    context = {"reviews": reviews, "signed": signed} | (error.context() if error else {})
    return render(request, "audit_reviews.html", context, error.status if error else 200)


@router.post("/audit/reviews", dependencies=[require(Perm.AUDIT_REVIEW)])
def reviews_create(request: Request, auth: AuthDep, db: DbDep, comment: Text = "") -> Response:
    def change(uow: UnitOfWork) -> int:
        return service.create_review(uow, auth.scope, comment).id

    failed = partial(_reviews_page, request, auth, db)
    return apply_change(db, auth, change, done=_back_to, failed=failed)


@router.get("/audit/reviews/{review_id}", dependencies=[require(Perm.AUDIT_READ)])
def review_page(request: Request, review_id: int, auth: AuthDep, db: DbDep) -> Response:
    """The review, the entries it covers (100 a page) and its signature or the form to sign."""
    q = request.query_params
    return show(
        lambda error: _review_page(request, review_id, auth, db, error),
        lambda: _review_page(
            request, review_id, auth, db, below=_key(q, "below"), above=_key(q, "above")
        ),
    )


def _review_page(
    request: Request,
    review_id: int,
    auth: AuthDep,
    db: DbDep,
    error: FormError | None = None,
    form: str = "comment",
    *,
    below: int | None = None,
    above: int | None = None,
) -> Response:
    """The review; ``error`` is shown at the form it came from (``comment`` or ``sign``)."""
    with db.read() as session:
        review = views.review(session, auth.scope, review_id, below=below, above=above)
    for sig in review["signatures"]:
        sig["signed_at_dt"] = dt.datetime.fromisoformat(sig["signed_at"])
    context: dict[str, object] = {
        "review": review,
        "signatures": review["signatures"],
        "shown_hash": review["shown_hash"],
    }
    if error is not None:
        context |= {"error" if form == "comment" else "sign_error": error.message}
    return render(request, "audit_review.html", context, error.status if error else 200)


def _back_to(review_id: int) -> Response:
    return RedirectResponse(f"/audit/reviews/{review_id}", status_code=303)


@router.post("/audit/reviews/{review_id}/comment", dependencies=[require(Perm.AUDIT_REVIEW)])
def review_comment(
    request: Request, review_id: int, auth: AuthDep, db: DbDep, comment: Text = ""
) -> Response:
    def change(uow: UnitOfWork) -> None:
        service.update_review_comment(uow, auth.scope, review_id, comment)

    failed = partial(_review_page, request, review_id, auth, db)
    return apply_change(db, auth, change, done=lambda _: _back_to(review_id), failed=failed)


@router.post("/audit/reviews/{review_id}/sign", dependencies=[require(Perm.AUDIT_REVIEW)])
def review_sign(
    request: Request,
    review_id: int,
    auth: AuthDep,
    db: DbDep,
    username: Text = "",
    password: Text = "",
    meaning: Text = "reviewed",
    shown_hash: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        signatures.require_credentials(username, password)
        service.sign_review(
            uow,
            auth.scope,
            db.settings,
            review_id,
            username=username,
            password=password,
            meaning=meaning,
            shown_hash=shown_hash or None,
        )

    failed = partial(_review_page, request, review_id, auth, db, form="sign")
    return apply_change(db, auth, change, done=lambda _: _back_to(review_id), failed=failed)
