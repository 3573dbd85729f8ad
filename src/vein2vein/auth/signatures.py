"""Electronic signatures (21 CFR 11.50, 11.70, 11.200; EU GMP Annex 11 §14).

Signing re-asks for the password, records the printed name, UTC time, meaning and the SHA-256 of
the canonical content that was signed, and locks the record: services call ``ensure_unlocked``
before any edit and are refused once a locking signature exists.

Signing and editing a signable record take **the same row lock** (``SELECT ... FOR UPDATE`` of
the record's row) *before* looking at its signatures: on PostgreSQL, where readers do not wait
for writers, an edit that checked ``ensure_unlocked`` without the lock could land together with
a signature of the content it replaced (``audittrail.service`` shows the pattern; the test is
``tests/integration/test_review_signing.py``). On SQLite every writer begins ``IMMEDIATE``.

A signature row carries its own hash (:func:`signature_hash`): SHA-256 over the hash of the
content that was signed *and* who signed it, as what, when. :func:`find_bad_signature` (run by
``v2v audit verify``) checks every row against its hash, against the audit entry that recorded
the signing (hash-chained, so editing a row *and* recomputing its hash still shows), and, for
the record types it is given, against the record's content now.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.auth.passwords import verify_password
from vein2vein.auth.roles import MEANING_PERMISSION, Meaning, has_permission
from vein2vein.auth.service import clear_failures, record_failed_password
from vein2vein.auth.tables import Signature, User
from vein2vein.core.canonical import sha256_hex
from vein2vein.core.clock import iso_utc, utcnow
from vein2vein.core.errors import (
    AuthenticationFailed,
    Conflict,
    InputError,
    PermissionDenied,
    RecordLocked,
)
from vein2vein.core.settings import Settings
from vein2vein.core.text import clean_text, parse_id
from vein2vein.store.audit import AuditEntry
from vein2vein.store.uow import UnitOfWork

#: the fields of a signature its hash covers, in the canonical form of :func:`signature_hash`
SIGNED_FIELDS = (
    "record_type",
    "record_id",
    "organisation_id",
    "content_hash",
    "user_id",
    "username",
    "printed_name",
    "meaning",
    "signed_at",
    "reason",
    "locks_record",
)


def signature_hash(row: Any) -> str:
    """SHA-256 of the canonical JSON of a signature's :data:`SIGNED_FIELDS` (``signed_at`` as
    fixed-width ISO 8601 UTC with microseconds). One form for every signature: migration 0005
    computed it, with a frozen copy of this function, for the signatures made before it."""
    values = {name: getattr(row, name) for name in SIGNED_FIELDS}
    values["signed_at"] = iso_utc(values["signed_at"])
    return sha256_hex({"signature": 1} | values)


def parse_meaning(value: str) -> Meaning:
    try:
        return Meaning(value.strip().lower())
    except ValueError:
        raise InputError(
            f"unknown signature meaning '{value}'; use one of "
            + ", ".join(m.value for m in Meaning),
            field="meaning",
        ) from None


def require_credentials(username: str | None, password: str | None) -> None:
    """A signing form or command sent without its user name or password: refused on the
    ``password`` field before anything is looked up (a blank is not a wrong password, so it
    does not count towards the lock-out)."""
    if not username or not password:
        raise InputError("enter your user name and password to sign", field="password")


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
    if not signer.enabled or signer.password_locked:
        raise AuthenticationFailed(
            "This account is disabled, or its password is paused after repeated wrong "
            "passwords: it cannot sign now."
        )
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
        record_failed_password(uow, settings, signer, "signature.failed", end_sessions=True)
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
    clear_failures(signer)
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
    sig.hash = signature_hash(sig)
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


#: reads a signed record's content now, by the record id its signatures carry
ContentReader = Callable[[Session, str], Any]


def row_content_reader(model: Any, content: Callable[[Any], Any]) -> ContentReader:
    """The reader of a signed record keyed by its own id: ``content`` of its row now, or None
    when the row is gone (for the features' ``signed_contents``, which ``v2v audit verify``
    checks each locking signature against)."""

    def read(session: Session, record_id: str) -> Any:
        key = parse_id(record_id)
        row = session.get(model, key) if key is not None else None
        return content(row) if row is not None else None

    return read


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


# --- verification --------------------------------------------------------------------------

#: the content of a signed record now, by record type: ``(session, record_id) -> content``
#: (None when the record is gone); the feature that owns the record type provides it
ContentReader = Callable[[Session, str], Any]


@dataclass(frozen=True)
class BadSignature:
    """A signature that is not what was signed: which record, who signed it as what, and why."""

    signature_id: int
    problem: str
    record_type: str = ""
    record_id: str = ""
    signer: str = ""
    meaning: str = ""

    def public(self) -> dict[str, object]:
        return {
            "signature_id": self.signature_id,
            "record_type": self.record_type,
            "record_id": self.record_id,
            "signer": self.signer,
            "meaning": self.meaning,
            "problem": self.problem,
        }


def find_bad_signatures(
    session: Session, contents: Mapping[str, ContentReader] | None = None
) -> list[BadSignature]:
    """Every signature (by id) that is not what was signed; empty when all are.

    Each row is checked against its own hash (a field edited in the database), against the
    ``signature.sign`` audit entry that recorded it (a field edited and the hash recomputed: the
    chain keeps the original, and ``audit.verify`` keeps the chain), and, for a locking
    signature whose record type is in ``contents``, against the record's content now (a signed
    record edited in the database; each feature provides the readers of its record types,
    ``features.signed_contents``). Verify the chain first: this trusts its entries.
    """
    recorded = _signing_entries(session)
    found = []
    for sig in session.scalars(select(Signature).order_by(Signature.id)):
        problem = _problem(session, sig, recorded.get(sig.id), contents or {})
        if problem is not None:
            found.append(
                BadSignature(
                    sig.id,
                    f"signature {sig.id}: {problem}",
                    record_type=sig.record_type,
                    record_id=sig.record_id,
                    signer=sig.printed_name,
                    meaning=sig.meaning,
                )
            )
    return found


def find_bad_signature(
    session: Session, contents: Mapping[str, ContentReader] | None = None
) -> BadSignature | None:
    """The first signature (by id) that is not what was signed, or None when all are
    (:func:`find_bad_signatures`)."""
    found = find_bad_signatures(session, contents)
    return found[0] if found else None


def _signing_entries(session: Session) -> dict[int, tuple[int, dict[str, Any]]]:
    """The ``signature.sign`` entries of the chain by signature id: (sequence, what they
    recorded of the signature)."""
    found: dict[int, tuple[int, dict[str, Any]]] = {}
    rows = session.execute(
        select(AuditEntry.seq, AuditEntry.after)
        .where(AuditEntry.action == "signature.sign")
        .order_by(AuditEntry.seq)
    )
    for seq, after in rows:
        try:
            data = json.loads(after) if after else None
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("id"), int):
            found.setdefault(data["id"], (seq, data))
    return found


def _problem(
    session: Session,
    sig: Signature,
    recorded: tuple[int, dict[str, Any]] | None,
    contents: Mapping[str, ContentReader],
) -> str | None:
    if sig.hash != signature_hash(sig):
        return "its fields do not match its hash: it was edited after signing"
    if recorded is None:
        return "no audit entry records its signing: it was inserted out of band"
    seq, data = recorded
    differing = [name for name, now in _public(sig).items() if name in data and data[name] != now]
    if not _same_time(data.get("signed_at"), sig.signed_at):
        differing.append("signed_at")
    if differing:
        return (
            f"differs from the audit entry at sequence {seq} that recorded its signing "
            f"({', '.join(sorted(differing))}): it was edited after signing"
        )
    reader = contents.get(sig.record_type)
    if reader is not None and sig.locks_record:
        content = reader(session, sig.record_id)
        if content is None:
            return f"the signed {sig.record_type} {sig.record_id} is missing"
        if sha256_hex(content) != sig.content_hash:
            return (
                f"the {sig.record_type} {sig.record_id} no longer has the content that was "
                "signed: it was edited after signing"
            )
    return None


def _public(sig: Signature) -> dict[str, object]:
    """What the signing's audit entry recorded, except the time (compared as a time)."""
    return {k: v for k, v in sig.public().items() if k != "signed_at"}


def _same_time(recorded: object, signed_at: dt.datetime) -> bool:
    if not isinstance(recorded, str):
        return False
    try:
        return dt.datetime.fromisoformat(recorded) == signed_at
    except ValueError:
        return False
