"""Pages of the audit trail: the log with filters, verification, reviews and signing."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vein2vein.audittrail import service, views
from vein2vein.auth.roles import Perm
from vein2vein.core.errors import InputError
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import FormError, Text, apply_change, show
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/audit", dependencies=[require(Perm.AUDIT_READ)])
def audit_page(
    request: Request, auth: AuthDep, db: DbDep, entity: str = "", since: str = ""
) -> Response:
    def page(rows: list[dict[str, object]], error: FormError | None = None) -> Response:
        context = {"entries": rows, "entity": entity, "since": since}
        status = error.status if error else 200
        return render(request, "audit.html", context | (error.context() if error else {}), status)

    def entries() -> Response:
        with db.read() as session:
            rows = views.entries(
                session,
                auth.scope,
                entity=entity or None,
                since=since or None,
                limit=500,
                newest_first=True,
            )
        return page(rows)

    return show(lambda error: page([], error), entries)


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
def reviews_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    return _reviews_page(request, auth, db)


def _reviews_page(
    request: Request, auth: AuthDep, db: DbDep, error: FormError | None = None
) -> Response:
    with db.read() as session:
        reviews = views.reviews(session, auth.scope)
    context = {"reviews": reviews} | (error.context() if error else {})
    return render(request, "audit_reviews.html", context, error.status if error else 200)


@router.post("/audit/reviews", dependencies=[require(Perm.AUDIT_REVIEW)])
def reviews_create(request: Request, auth: AuthDep, db: DbDep, comment: Text = "") -> Response:
    def change(uow: UnitOfWork) -> int:
        return service.create_review(uow, auth.scope, comment).id

    failed = partial(_reviews_page, request, auth, db)
    return apply_change(db, auth, change, done=_back_to, failed=failed)


@router.get("/audit/reviews/{review_id}", dependencies=[require(Perm.AUDIT_READ)])
def review_page(request: Request, review_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _review_page(request, review_id, auth, db)


def _review_page(
    request: Request,
    review_id: int,
    auth: AuthDep,
    db: DbDep,
    error: FormError | None = None,
    form: str = "comment",
) -> Response:
    """The review; ``error`` is shown at the form it came from (``comment`` or ``sign``)."""
    with db.read() as session:
        review = views.review(session, auth.scope, review_id)
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
        if not username or not password:
            raise InputError("enter your user name and password to sign", field="password")
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
