"""Reads of organisations, sites and users for pages (no change, no audit entry)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.auth.tables import Organisation, Site, User


def home_counts(session: Session, scope: Scope) -> dict[str, int]:
    """Organisations, sites and (for roles that read users) users the caller may see."""

    def count(model: type, column: str = "organisation_id") -> int:
        stmt = scope.filter(select(func.count()).select_from(model), model, column)
        return int(session.scalar(stmt) or 0)

    counts = {"organisations": count(Organisation, "id"), "sites": count(Site)}
    if scope.can(Perm.USER_READ):
        counts["users"] = count(User)
    return counts
