"""Pages of the audit trail: the log with filters, verification, reviews and signing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vein2vein.audittrail import service
from vein2vein.auth.roles import Perm
from vein2vein.auth.signatures import signatures_for
from vein2vein.core.canonical import sha256_hex
from vein2vein.core.errors import (
    AuthenticationFailed,
    Conflict,
    InputError,
    PermissionDenied,
    RecordLocked,
)
from vein2vein.store import audit
from vein2vein.web.context import AuthDep, DbDep
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/audit")
def audit_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    entity: str = "",
    since: str = "",
) -> Response:
    error = None
    with db.read() as session:
        try:
            rows = [
                e.to_dict()
                for e in service.read_log(
                    session,
                    auth.scope,
                    entity=entity or None,
                    since=since or None,
                    limit=500,
                    newest_first=True,
                )
            ]
        except InputError as exc:
            rows, error = [], exc.message
    return render(
        request,
        "audit.html",
        {"entries": rows, "entity": entity, "since": since, "error": error},
        status_code=422 if error else 200,
    )


@router.get("/audit/verify")
def verify_page(request: Request, auth: AuthDep, db: DbDep, head: str = "") -> Response:
    auth.scope.require(Perm.AUDIT_VERIFY)
    with db.read() as session:
        result = audit.verify(session, head_hash=head.strip().lower() or None)
    return render(request, "audit_verify.html", {"result": result.to_dict(), "head": head})


@router.get("/audit/reviews")
def reviews_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    auth.scope.require(Perm.AUDIT_READ)
    with db.read() as session:
        reviews = [
            r.public() | {"signed": bool(signatures_for(session, service.REVIEW, r.id))}
            for r in service.list_reviews(session, auth.scope)
        ]
    return render(request, "audit_reviews.html", {"reviews": reviews})


@router.post("/audit/reviews")
def reviews_create(
    request: Request, auth: AuthDep, db: DbDep, comment: Annotated[str, Form()] = ""
) -> Response:
    with db.uow(auth.actor) as uow:
        review = service.create_review(uow, auth.scope, comment)
        uow.commit()
        rid = review.id
    return RedirectResponse(f"/audit/reviews/{rid}", status_code=303)


def _review_page(
    request: Request, review_id: int, auth: AuthDep, db: DbDep, status: int = 200, **extra: object
) -> Response:
    with db.read() as session:
        review = service.get_review(session, auth.scope, review_id)
        sigs = [s.public() for s in signatures_for(session, service.REVIEW, review.id)]
        return render(
            request,
            "audit_review.html",
            {
                "review": review.public(),
                "signatures": sigs,
                "shown_hash": sha256_hex(service.review_content(review)),
                **extra,
            },
            status_code=status,
        )


@router.get("/audit/reviews/{review_id}")
def review_page(request: Request, review_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _review_page(request, review_id, auth, db)


@router.post("/audit/reviews/{review_id}/comment")
def review_comment(
    request: Request,
    review_id: int,
    auth: AuthDep,
    db: DbDep,
    comment: Annotated[str, Form()] = "",
) -> Response:
    try:
        with db.uow(auth.actor) as uow:
            service.update_review_comment(uow, auth.scope, review_id, comment)
            uow.commit()
    except RecordLocked as exc:
        return _review_page(request, review_id, auth, db, status=409, error=exc.message)
    return RedirectResponse(f"/audit/reviews/{review_id}", status_code=303)


@router.post("/audit/reviews/{review_id}/sign")
def review_sign(
    request: Request,
    review_id: int,
    auth: AuthDep,
    db: DbDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    meaning: Annotated[str, Form()] = "reviewed",
    shown_hash: Annotated[str, Form()] = "",
) -> Response:
    try:
        if not username or not password:
            raise InputError("enter your user name and password to sign", field="password")
        with db.uow(auth.actor) as uow:
            service.sign_review(
                uow,
                db.settings,
                auth.scope,
                review_id,
                username=username,
                password=password,
                meaning=meaning,
                shown_hash=shown_hash or None,
            )
            uow.commit()
    except (AuthenticationFailed, InputError, RecordLocked, PermissionDenied, Conflict) as exc:
        return _review_page(request, review_id, auth, db, status=exc.status, sign_error=exc.message)
    return RedirectResponse(f"/audit/reviews/{review_id}", status_code=303)
