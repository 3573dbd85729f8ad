"""Use cases of the audit trail: review it up to its head and sign the review (reads of the trail
are in ``views.py``)."""

from __future__ import annotations

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
    uow: UnitOfWork, scope: Scope, review_id: int | str, comment: str
) -> AuditReview:
    """Edit the comment of an unsigned review.

    The review row is locked *before* its signatures are looked at, as signing does: on
    PostgreSQL an edit and a signature arriving together are serialised, so either the edit
    lands first (and the signature, made against the old content, is refused) or the signature
    does (and the edit is refused as locked), never both.
    """
    review = get_review(uow.session, scope, review_id, lock=True)
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

    ``lock``: hold the row (SELECT ... FOR UPDATE) until the transaction ends, to edit or sign it.
    """
    key = parse_id(review_id)
    review = session.get(AuditReview, key, with_for_update=lock) if scope.is_cdmo and key else None
    if review is None:
        raise NotFound(f"audit review {review_id} not found")
    scope.require(Perm.AUDIT_READ)
    return review


def sign_review(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    review_id: int | str,
    *,
    username: str,
    password: str,
    meaning: str = "reviewed",
    shown_hash: str | None = None,
    reason: str | None = None,
) -> Signature:
    """Sign a review (reviewers only: ``audit.review``, whatever the meaning); the row is locked
    first, as an edit locks it, so no edit can land between the check and the signature."""
    review = get_review(uow.session, scope, review_id, lock=True)
    scope.require(Perm.AUDIT_REVIEW)
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
