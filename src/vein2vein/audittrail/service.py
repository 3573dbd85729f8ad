"""Use cases of the audit trail: verify it, review it up to its head and sign the review (reads
of the trail are in ``views.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from vein2vein.audittrail.tables import AuditReview
from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.auth.signatures import ensure_unlocked, find_bad_signatures, sign
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
    result = verify_trail(s)
    from_seq = (previous.to_seq + 1) if previous else 1
    review = AuditReview(
        from_seq=from_seq,
        to_seq=result["head_seq"],
        entries_sha256=audit.range_digest(s, from_seq, result["head_seq"]),
        head_hash=result["head_hash"],
        chain_ok=result["ok"],
        entries=result["count"],
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
    """What a reviewer signs: the range and head the review covers, its comment, and the digest
    of the covered entries' hashes in sequence order **as they are now** (``entries_now``:
    ``audit.hashes_digest``; the page shows those entries). Verification reads it again, so a
    signature no longer matches once any covered entry differs from what was signed. Reviews
    made before migration 0008 keep the content they were signed over (no digest)."""
    content = {k: v for k, v in review.public().items() if k != "created_at"}
    if review.entries_sha256 is not None:
        session = object_session(review)
        if session is None:  # pragma: no cover - a review is always read through a session
            raise RuntimeError("review_content needs the review's session")
        content["entries_now"] = audit.range_digest(session, review.from_seq, review.to_seq)
    return content


# --- verification --------------------------------------------------------------------------


def verify_trail(session: Session, head: str | None = None) -> dict[str, Any]:
    """Check the whole trail: the hash chain, against every signed review's head and ``head``
    (``HASH``, or ``SEQ:HASH`` to locate a rewrite), then every signature.

    The heads of signed reviews are anchors kept outside the rows they cover: a tail rewritten
    with recomputed hashes is internally consistent, and the first anchored head it no longer
    contains locates the rewrite (``audit.verify``). Then every signature must still be what was
    signed (``signatures.find_bad_signatures``), a locking one also against its record's content
    now: a review's is read here, every other feature's through the composition root
    (``features.signed_contents``: MBR approvals, deviation closures, batch step sign-offs and
    batch approvals), so that the audit trail imports no feature. The chain's first problem is
    reported as ``broken_seq``; the first bad signature as ``bad_signature`` (and ``problem``),
    and every bad signature in ``bad_signatures`` (record type, id, signer, meaning, problem).
    """
    from vein2vein.features import signed_contents  # the composition root asks every feature

    head_hash, typed = parse_head(head)
    reviewed = signed_review_anchors(session)
    result = audit.verify(session, head_hash=head_hash, anchors=[*reviewed, *typed])
    report = result.to_dict() | {
        "review_anchors": len(reviewed),
        "bad_signature": None,
        "bad_signatures": [],
    }
    if result.ok:
        readers = signed_contents() | {REVIEW: _review_content_now}
        bad = find_bad_signatures(session, readers)
        if bad:
            report |= {
                "ok": False,
                "bad_signature": bad[0].signature_id,
                "problem": bad[0].problem,
                "bad_signatures": [b.public() for b in bad],
            }
    return report


def parse_head(value: str | None) -> tuple[str | None, list[tuple[int, str]]]:
    """A head typed to verify against: ``HASH`` (must be in the chain) or ``SEQ:HASH`` (must be
    the hash at that sequence) -> (head hash, anchors)."""
    text = (value or "").strip()
    if not text:
        return None, []
    seq, sep, digest = text.rpartition(":")
    if not sep:
        return text.lower(), []
    seq = seq.strip()
    if not seq.isascii() or not seq.isdigit() or len(seq) > 12:
        raise InputError(
            "give a head as HASH or SEQ:HASH (a sequence number, a colon, a SHA-256)",
            field="head",
        )
    return None, [(int(seq), digest.strip().lower())]


def signed_review_anchors(session: Session) -> list[tuple[int, str]]:
    """(to_seq, head_hash) of every review that carries a signature: heads anchored outside the
    rows they cover. A head that is not a SHA-256 is left out: the review was edited, which its
    signature's check reports."""
    signed = set(
        session.scalars(select(Signature.record_id).where(Signature.record_type == REVIEW))
    )
    rows = session.execute(
        select(AuditReview.id, AuditReview.to_seq, AuditReview.head_hash).order_by(AuditReview.id)
    )
    return [
        (to_seq, head_hash)
        for review_id, to_seq, head_hash in rows
        if str(review_id) in signed and to_seq > 0 and audit.is_hash(head_hash)
    ]


def _review_content_now(session: Session, record_id: str) -> dict[str, object] | None:
    key = parse_id(record_id)
    review = session.get(AuditReview, key) if key is not None else None
    return review_content(review) if review is not None else None
