"""Electronic signatures (21 CFR 11.50, 11.70, 11.200; EU GMP Annex 11 §14).

Signing re-asks for the password, records the printed name, UTC time, meaning and the SHA-256 of
the canonical content that was signed, and locks the record: services call ``ensure_unlocked``
before any edit and are refused once a locking signature exists.

Signing and editing a signable record take **the same row lock** (``SELECT ... FOR UPDATE`` of
the record's row) *before* looking at its signatures: on PostgreSQL, where readers do not wait
for writers, an edit that checked ``ensure_unlocked`` without the lock could land together with
a signature of the content it replaced (``audittrail.service`` shows the pattern; the test is
``tests/integration/test_review_signing.py``). On SQLite every writer begins ``IMMEDIATE``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.auth.passwords import verify_password
from vein2vein.auth.roles import MEANING_PERMISSION, Meaning, has_permission
from vein2vein.auth.service import record_failed_password
from vein2vein.auth.tables import Signature, User
from vein2vein.core.canonical import sha256_hex
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import (
    AuthenticationFailed,
    Conflict,
    InputError,
    PermissionDenied,
    RecordLocked,
)
from vein2vein.core.settings import Settings
from vein2vein.core.text import clean_text
from vein2vein.store.uow import UnitOfWork


def parse_meaning(value: str) -> Meaning:
    try:
        return Meaning(value.strip().lower())
    except ValueError:
        raise InputError(
            f"unknown signature meaning '{value}'; use one of "
            + ", ".join(m.value for m in Meaning),
            field="meaning",
        ) from None


def sign(
    uow: UnitOfWork,
    settings: Settings,
    *,
    signer_id: int,
    username: str,
    password: str,
    record_type: str,
    record_id: str | int,
    organisation_id: int | None,
    meaning: str,
    content: Any,
    shown_hash: str | None = None,
    reason: str | None = None,
    locks: bool = True,
) -> Signature:
    """Sign ``content`` (the record as shown to the signer) with the given meaning.

    Both components of the signature are asked every time: the user name and the password
    (21 CFR 11.200(a)(1)(i) requires both at the first signing of a session; asking both always
    keeps the rule simple). A wrong user name or password signs nothing: the failed attempt is
    audited and committed, counts towards lock-out, and ``AuthenticationFailed`` is raised.

    ``shown_hash``: the SHA-256 of the content the signer was shown (the page posts it back);
    if the record changed since, nothing is signed. Callers lock the record row first
    (``SELECT ... FOR UPDATE``) so that no edit can slip in between the check and the signature.
    """
    meaning_enum = parse_meaning(meaning)
    signer = uow.session.get(User, signer_id, with_for_update=True)
    if signer is None:
        raise AuthenticationFailed("Unknown signer: nothing was signed.")
    if not has_permission(signer.role, MEANING_PERMISSION[meaning_enum]):
        raise PermissionDenied(
            f"your role ({signer.role}) may not sign with the meaning '{meaning_enum.value}'"
        )
    if not signer.is_active:
        raise AuthenticationFailed("This account is locked or disabled: it cannot sign.")
    content_hash = sha256_hex(content)
    if shown_hash is not None and shown_hash.lower() != content_hash:
        raise Conflict(
            "The record changed after it was shown to you: nothing was signed. "
            "Reload it, review it again and sign."
        )
    same_user = username.strip().lower() == signer.username.lower()
    if not same_user or not verify_password(signer.password_hash, password):
        uow.rollback()
        signer = uow.session.get_one(User, signer_id, with_for_update=True)
        record_failed_password(uow, settings, signer, "signature.failed")
        uow.commit()
        raise AuthenticationFailed("The user name or password is not correct: nothing was signed.")
    existing = uow.session.scalar(
        select(Signature).where(
            Signature.record_type == record_type,
            Signature.record_id == str(record_id),
            Signature.meaning == meaning_enum.value,
            Signature.user_id == signer.id,
        )
    )
    if existing is not None:
        raise RecordLocked(
            f"you already signed this {record_type.replace('_', ' ')} as "
            f"{meaning_enum.value} on {existing.signed_at:%Y-%m-%d %H:%M} UTC"
        )
    signer.failed_logins = 0
    sig = Signature(
        organisation_id=organisation_id,
        record_type=record_type,
        record_id=str(record_id),
        user_id=signer.id,
        printed_name=signer.full_name,
        username=signer.username,
        meaning=meaning_enum.value,
        signed_at=utcnow(),
        content_hash=content_hash,
        reason=clean_text(reason, "reason", 2000, multiline=True) or None,
        locks_record=locks,
    )
    uow.session.add(sig)
    uow.session.flush()
    uow.record(
        "signature.sign",
        record_type,
        record_id,
        after=sig.public(),
        reason=sig.reason,
        organisation_id=organisation_id,
    )
    return sig


def signatures_for(session: Session, record_type: str, record_id: str | int) -> list[Signature]:
    return list(
        session.scalars(
            select(Signature)
            .where(Signature.record_type == record_type, Signature.record_id == str(record_id))
            .order_by(Signature.signed_at, Signature.id)
        )
    )


def ensure_unlocked(session: Session, record_type: str, record_id: str | int) -> None:
    """Refuse an edit of a record that carries a locking signature; call it with the record's
    row locked, as signing locks it (see the module's docstring)."""
    sig = session.scalar(
        select(Signature)
        .where(
            Signature.record_type == record_type,
            Signature.record_id == str(record_id),
            Signature.locks_record.is_(True),
        )
        .order_by(Signature.signed_at)
        .limit(1)
    )
    if sig is not None:
        raise RecordLocked(
            f"This {record_type.replace('_', ' ')} was signed ({sig.meaning}) by "
            f"{sig.printed_name} on {sig.signed_at:%Y-%m-%d %H:%M} UTC and can no longer be "
            "edited. Record a correction instead."
        )


def content_matches(sig: Signature, content: Any) -> bool:
    """Whether ``content`` is what was signed (detects changes made after signing)."""
    return sig.content_hash == sha256_hex(content)
