"""Reads of the audit trail for pages, the API and the command line (no change, no audit entry).

Entries are read within the caller's scope: CDMO staff see every entry, a sponsor's user only the
entries of their organisation. Reviews cover the whole system and are the CDMO's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.audittrail.filters import PAGE_SIZE, AuditFilter, parse_filter
from vein2vein.audittrail.service import REVIEW, get_review, review_content, verify_trail
from vein2vein.audittrail.tables import AuditReview
from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope, scoped_select
from vein2vein.auth.signatures import signatures_for
from vein2vein.auth.tables import Organisation
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


def entries(
    session: Session,
    scope: Scope,
    *,
    entity: str | None = None,
    since: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
    filters: AuditFilter | None = None,
) -> list[dict[str, Any]]:
    """Audit entries the caller may read, filtered by ``TYPE[:ID]`` and a start time (or by
    ``filters``), each with the names of its record and organisation and its changes."""
    scope.require(Perm.AUDIT_READ)
    chosen = filters or parse_filter(entity=entity, since=since)
    criteria = chosen.criteria(scope)
    rows = audit.matching(session, criteria, limit=limit, newest_first=newest_first)
    return labelled(session, scope, [r.to_dict() for r in rows])


def page(
    session: Session,
    scope: Scope,
    filters: AuditFilter,
    *,
    below: int | None = None,
    above: int | None = None,
    size: int = PAGE_SIZE,
) -> dict[str, Any]:
    """One page of the filtered trail, newest first, by keyset on the sequence (``below``: the
    older page, ``above``: the newer), with the total count and the neighbouring pages' keys."""
    scope.require(Perm.AUDIT_READ)
    found = audit.page(session, filters.criteria(scope), size=size, below=below, above=above)
    return {
        "entries": labelled(session, scope, [r.to_dict() for r in found.rows]),
        "total": found.total,
        "newer": found.newer,
        "older": found.older,
        "size": size,
    }


def labelled(session: Session, scope: Scope, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the human names (within the caller's scope) of each entry's record
    (``entity_label``) and organisation (``organisation_label``), and its UTC time as a
    datetime (``at``, for the pages' time filters)."""
    from vein2vein.features import entity_labels  # the composition root asks every feature

    refs = {(r["entity_type"], str(r["entity_id"])) for r in rows}
    refs |= {("organisation", str(r["organisation_id"])) for r in rows if r["organisation_id"]}
    names = entity_labels(session, scope, refs)
    for r in rows:
        r["at"] = dt.datetime.fromisoformat(r["recorded_at"])
        r["entity_label"] = names.get((r["entity_type"], str(r["entity_id"])))
        r["organisation_label"] = names.get(("organisation", str(r["organisation_id"])))
    return rows


def choices(session: Session, scope: Scope) -> dict[str, Any]:
    """What the filters offer: the users, actions and entity types of the entries the caller
    may read, and the organisations (the CDMO's staff: every one; a sponsor's user: their own)."""
    scope.require(Perm.AUDIT_READ)
    within = AuditFilter().criteria(scope)
    orgs = scope_select(session, scope)
    return {
        "users": audit.distinct_values(session, "actor", within),
        "actions": audit.distinct_values(session, "action", within),
        "entity_types": audit.distinct_values(session, "entity_type", within),
        "organisations": orgs,
    }


def scope_select(session: Session, scope: Scope) -> list[dict[str, Any]]:
    stmt = scoped_select(scope, Organisation, "id").order_by(Organisation.name)
    return [{"id": o.id, "name": o.name, "kind": o.kind} for o in session.scalars(stmt)]


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


#: the ``signed`` filter of the reviews list (the home queue "audit reviews to sign" links to
#: ``?signed=no``)
SIGNED_FILTER = {"": None, "no": False, "yes": True}


def signed_filter(value: str) -> bool | None:
    """``no`` (not yet signed), ``yes`` (signed) or empty (every review)."""
    key = (value or "").strip().lower()
    if key not in SIGNED_FILTER:
        raise InputError(f"unknown value '{value}' for signed; use no or yes", field="signed")
    return SIGNED_FILTER[key]


def reviews(session: Session, scope: Scope, signed: bool | None = None) -> list[dict[str, Any]]:
    """Reviews, newest first, each with its signatures (none for a sponsor's user); only the
    unsigned (``signed=False``) or signed ones when asked."""
    scope.require(Perm.AUDIT_READ)
    if not scope.is_cdmo:
        return []
    rows = session.scalars(select(AuditReview).order_by(AuditReview.id.desc()))
    found = [_with_signatures(session, r) for r in rows]
    return [r for r in found if signed is None or r["signed"] is signed]


def review(
    session: Session,
    scope: Scope,
    review_id: int | str,
    *,
    below: int | None = None,
    above: int | None = None,
) -> dict[str, Any]:
    """One review with its signatures, ``shown_hash`` (the SHA-256 of what a signer signs,
    which covers the digest of the entries in ``entries_now``) and one page of the entries it
    covers (``covered``: newest first, by keyset as the trail's page)."""
    row = get_review(session, scope, review_id)
    content = review_content(row)
    covered = audit.Criteria(from_seq=row.from_seq, to_seq=row.to_seq)
    found = audit.page(session, covered, size=PAGE_SIZE, below=below, above=above)
    return _with_signatures(session, row) | {
        "shown_hash": sha256_hex(content),
        "entries_now": content.get("entries_now"),
        "covered": {
            "entries": labelled(session, scope, [r.to_dict() for r in found.rows]),
            "total": found.total,
            "newer": found.newer,
            "older": found.older,
            "size": PAGE_SIZE,
        },
    }


def _with_signatures(session: Session, row: AuditReview) -> dict[str, Any]:
    sigs = [s.public() for s in signatures_for(session, REVIEW, row.id)]
    return row.public() | {"signatures": sigs, "signed": bool(sigs)}
