"""API routes of the audit trail: read, verify, head, reviews and their signatures."""

from __future__ import annotations

from fastapi import APIRouter, Query

from vein2vein.audittrail import schemas, service, views
from vein2vein.auth.roles import Perm
from vein2vein.web.context import AuthDep, DbDep, require

router = APIRouter(prefix="/api/audit", tags=["audit trail"])


@router.get(
    "", response_model=list[schemas.AuditEntryPublic], dependencies=[require(Perm.AUDIT_READ)]
)
def read_log(
    auth: AuthDep,
    db: DbDep,
    entity: str | None = Query(None, description="TYPE or TYPE:ID"),
    since: str | None = Query(None, description="YYYY-MM-DD or ISO 8601 (UTC)"),
    limit: int = Query(500, ge=1, le=10000),
) -> list[dict[str, object]]:
    """Audit entries of the caller's organisations (CDMO QA and admins: all), newest first."""
    with db.read() as session:
        return views.entries(
            session, auth.scope, entity=entity, since=since, limit=limit, newest_first=True
        )


@router.get(
    "/verify", response_model=schemas.VerifyPublic, dependencies=[require(Perm.AUDIT_VERIFY)]
)
def verify(
    auth: AuthDep, db: DbDep, head: str | None = Query(None, description="Anchored head hash")
) -> dict[str, object]:
    """Walk the hash chain and report the first broken sequence number."""
    with db.read() as session:
        return views.verification(session, auth.scope, head)


@router.get(
    "/reviews", response_model=list[schemas.ReviewPublic], dependencies=[require(Perm.AUDIT_READ)]
)
def list_reviews(auth: AuthDep, db: DbDep) -> list[dict[str, object]]:
    with db.read() as session:
        return views.reviews(session, auth.scope)


@router.post(
    "/reviews",
    response_model=schemas.ReviewPublic,
    status_code=201,
    dependencies=[require(Perm.AUDIT_REVIEW)],
)
def create_review(body: schemas.ReviewCreate, auth: AuthDep, db: DbDep) -> dict[str, object]:
    """Record a review of the trail up to its current head; sign it to anchor the head."""
    with db.uow(auth.actor) as uow:
        review_id = service.create_review(uow, auth.scope, body.comment).id
        uow.commit()
    return _review(db, auth, review_id)


@router.get(
    "/reviews/{review_id}",
    response_model=schemas.ReviewPublic,
    dependencies=[require(Perm.AUDIT_READ)],
)
def get_review(review_id: int, auth: AuthDep, db: DbDep) -> dict[str, object]:
    return _review(db, auth, review_id)


@router.patch(
    "/reviews/{review_id}",
    response_model=schemas.ReviewPublic,
    dependencies=[require(Perm.AUDIT_REVIEW)],
)
def update_review(
    review_id: int, body: schemas.ReviewUpdate, auth: AuthDep, db: DbDep
) -> dict[str, object]:
    """Edit the comment; refused once the review is signed."""
    with db.uow(auth.actor) as uow:
        service.update_review_comment(uow, auth.scope, review_id, body.comment)
        uow.commit()
    return _review(db, auth, review_id)


@router.post(
    "/reviews/{review_id}/sign",
    response_model=schemas.SignaturePublic,
    status_code=201,
    dependencies=[require(Perm.AUDIT_REVIEW)],
)
def sign_review(
    review_id: int, body: schemas.SignRequest, auth: AuthDep, db: DbDep
) -> dict[str, object]:
    """Sign a review with user name and password asked again (21 CFR 11.200)."""
    with db.uow(auth.actor) as uow:
        sig = service.sign_review(
            uow,
            auth.scope,
            db.settings,
            review_id,
            username=body.username,
            password=body.password,
            meaning=body.meaning,
            shown_hash=body.content_hash,
            reason=body.reason,
        )
        uow.commit()
        return sig.public()


def _review(db: DbDep, auth: AuthDep, review_id: int) -> dict[str, object]:
    with db.read() as session:
        return views.review(session, auth.scope, review_id)
