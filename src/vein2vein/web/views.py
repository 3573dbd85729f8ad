"""Reads of the home page and the health check (no SQL in the page module, web/home.py).

The home page shows real counts of what the store holds within the caller's scope: each feature
contributes its own counts (``features.py``: ``home="views:home_counts"``), the audit chain's
count and latest entries are added for roles that read the trail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.store import audit

#: what a feature contributes to the home page: counts of its records the caller may see
HomeCounts = Callable[[Session, Scope], dict[str, int]]


def store_counts(session: Session, scope: Scope, sources: Sequence[HomeCounts]) -> dict[str, int]:
    """Counts of records the caller may see (a sponsor's counts never include other clients)."""
    counts: dict[str, int] = {}
    for source in sources:
        counts.update(source(session, scope))
    if scope.can(Perm.AUDIT_READ):
        counts["audit_entries"] = audit.count(session, organisation_ids=scope.organisation_ids)
    return counts


def recent_entries(session: Session, scope: Scope, limit: int = 10) -> list[dict[str, Any]]:
    """The latest audit entries the caller may read (none for a role that may not)."""
    if not scope.can(Perm.AUDIT_READ):
        return []
    rows = audit.query(
        session, organisation_ids=scope.organisation_ids, newest_first=True, limit=limit
    )
    return [e.to_dict() for e in rows]


def database_answers(session: Session) -> None:
    """Raise unless the database answers (a read session: it waits behind no writer)."""
    session.execute(text("SELECT 1"))
