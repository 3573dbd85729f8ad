"""Reads of the audit trail for pages, the API and the command line (no change, no audit entry).

Entries are read within the caller's scope: CDMO staff see every entry, a sponsor's user only the
entries of their organisation. Reviews cover the whole system and are the CDMO's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.audittrail.service import REVIEW, get_review, review_content, verify_trail
from vein2vein.audittrail.tables import AuditReview
from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.auth.signatures import signatures_for
from vein2vein.core.canonical import sha256_hex
from vein2vein.core.errors import InputError
from vein2vein.store import audit


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
        # in UTC, as the trail is kept (a time at the edge of the calendar may not convert)
        return parsed.replace(tzinfo=parsed.tzinfo or dt.UTC).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise InputError(
            f"'{value}' is not a date; use YYYY-MM-DD or an ISO 8601 time", field="since"
        ) from None


def entries(
    session: Session,
    scope: Scope,
    *,
    entity: str | None = None,
    since: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """Audit entries the caller may read, filtered by ``TYPE[:ID]`` and a start time."""
    scope.require(Perm.AUDIT_READ)
    etype, eid = parse_entity(entity)
    rows = audit.query(
        session,
        entity_type=etype,
        entity_id=eid,
        since=parse_since(since),
        organisation_ids=scope.organisation_ids,
        limit=limit,
        newest_first=newest_first,
    )
    return [r.to_dict() for r in rows]


def history(
    session: Session, scope: Scope, entity_type: str, entity_id: int | str, limit: int | None = None
) -> list[dict[str, Any]]:
    """The audit entries of one record, newest first; empty for a role that may not read the
    trail (record pages show the history to those who may)."""
    if not scope.can(Perm.AUDIT_READ):
        return []
    return entries(
        session, scope, entity=f"{entity_type}:{entity_id}", limit=limit, newest_first=True
    )


def verification(session: Session, scope: Scope, head: str | None = None) -> dict[str, Any]:
    """Walk the hash chain against the heads of signed reviews and ``head`` (``HASH`` or
    ``SEQ:HASH``, when given), then check every signature (``service.verify_trail``)."""
    scope.require(Perm.AUDIT_VERIFY)
    return verify_trail(session, head)


def head(session: Session, scope: Scope) -> dict[str, Any]:
    """The current head (sequence and hash), to record outside the database."""
    scope.require(Perm.AUDIT_VERIFY)
    h = audit.head(session)
    return {"seq": h.seq, "hash": h.hash}


def reviews(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Reviews, newest first, each with its signatures (none for a sponsor's user)."""
    scope.require(Perm.AUDIT_READ)
    if not scope.is_cdmo:
        return []
    rows = session.scalars(select(AuditReview).order_by(AuditReview.id.desc()))
    return [_with_signatures(session, r) for r in rows]


def review(session: Session, scope: Scope, review_id: int | str) -> dict[str, Any]:
    """One review with its signatures and ``shown_hash``: the SHA-256 of what a signer signs."""
    row = get_review(session, scope, review_id)
    return _with_signatures(session, row) | {"shown_hash": sha256_hex(review_content(row))}


def _with_signatures(session: Session, row: AuditReview) -> dict[str, Any]:
    sigs = [s.public() for s in signatures_for(session, REVIEW, row.id)]
    return row.public() | {"signatures": sigs, "signed": bool(sigs)}
