"""Use cases of the audit trail: read it within scope, verify it, review and sign the review."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.audittrail.tables import AuditReview
from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.auth.signatures import ensure_unlocked, sign
from vein2vein.auth.tables import Signature
from vein2vein.core.errors import InputError, NotFound
from vein2vein.core.settings import Settings
from vein2vein.core.text import clean_text, parse_id
from vein2vein.store import audit
from vein2vein.store.uow import UnitOfWork

REVIEW = "audit_review"


def parse_entity(value: str | None) -> tuple[str | None, str | None]:
    """``TYPE:ID`` or ``TYPE`` → (type, id)."""
    if not value:
        return None, None
    kind, _, ident = value.partition(":")
    if not kind.strip():
        raise InputError("use TYPE:ID, for example user:3", field="entity")
    return kind.strip(), (ident.strip() or None)


def parse_since(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"'{value}' is not a date; use YYYY-MM-DD or an ISO 8601 time", field="since"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def read_log(
    session: Session,
    scope: Scope | None,
    *,
    entity: str | None = None,
    since: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[audit.AuditEntry]:
    """Audit entries; ``scope`` None is the server operator at the command line (sees all)."""
    if scope is not None:
        scope.require(Perm.AUDIT_READ)
    etype, eid = parse_entity(entity)
    return audit.query(
        session,
        entity_type=etype,
        entity_id=eid,
        since=parse_since(since),
        organisation_ids=None if scope is None else scope.organisation_ids,
        limit=limit,
        newest_first=newest_first,
    )


def create_review(uow: UnitOfWork, scope: Scope, comment: str) -> AuditReview:
    """Record that the trail was reviewed up to its current head (sign it to anchor the head)."""
    scope.require(Perm.AUDIT_REVIEW)
    if not scope.is_cdmo:
        raise InputError("audit-trail reviews are made by the CDMO's QA", field="role")
    s = uow.session
    previous = s.scalar(select(AuditReview).order_by(AuditReview.id.desc()).limit(1))
    result = audit.verify(s)
    review = AuditReview(
        from_seq=(previous.to_seq + 1) if previous else 1,
        to_seq=result.head.seq,
        head_hash=result.head.hash,
        chain_ok=result.ok,
        entries=result.count,
        comment=clean_text(comment, "comment", 4000, multiline=True),
        created_by=scope.user_id,
    )
    s.add(review)
    s.flush()
    uow.record("audit_review.create", REVIEW, review.id, after=review.public())
    return review


def update_review_comment(
    uow: UnitOfWork, scope: Scope, review_id: int, comment: str
) -> AuditReview:
    review = get_review(uow.session, scope, review_id)
    scope.require(Perm.AUDIT_REVIEW)
    ensure_unlocked(uow.session, REVIEW, review.id)
    before = review.public()
    review.comment = clean_text(comment, "comment", 4000, multiline=True)
    uow.record("audit_review.update", REVIEW, review.id, before=before, after=review.public())
    return review


def get_review(
    session: Session, scope: Scope, review_id: int | str, *, lock: bool = False
) -> AuditReview:
    """Reviews cover the whole system: only CDMO staff see them (others get not found).

    ``lock``: hold the row (SELECT ... FOR UPDATE) until the transaction ends, e.g. to sign it.
    """
    key = parse_id(review_id)
    review = session.get(AuditReview, key, with_for_update=lock) if scope.is_cdmo and key else None
    if review is None:
        raise NotFound(f"audit review {review_id} not found")
    scope.require(Perm.AUDIT_READ)
    return review


def list_reviews(session: Session, scope: Scope) -> list[AuditReview]:
    scope.require(Perm.AUDIT_READ)
    if not scope.is_cdmo:
        return []
    return list(session.scalars(select(AuditReview).order_by(AuditReview.id.desc())))


def sign_review(
    uow: UnitOfWork,
    settings: Settings,
    scope: Scope,
    review_id: int | str,
    *,
    username: str,
    password: str,
    meaning: str = "reviewed",
    shown_hash: str | None = None,
    reason: str | None = None,
) -> Signature:
    """Sign a review; the row is locked so no edit can land between the check and the signature."""
    review = get_review(uow.session, scope, review_id, lock=True)
    return sign(
        uow,
        settings,
        signer_id=scope.user_id,
        username=username,
        password=password,
        record_type=REVIEW,
        record_id=review.id,
        organisation_id=None,
        meaning=meaning,
        content=review_content(review),
        shown_hash=shown_hash,
        reason=reason,
    )


def review_content(review: AuditReview) -> dict[str, object]:
    """What a reviewer signs: the range and head the review covers, and its comment."""
    return {k: v for k, v in review.public().items() if k != "created_at"}
