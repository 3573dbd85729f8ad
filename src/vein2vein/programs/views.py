"""Reads of programs for pages (no change, no audit entry)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.scope import Scope
from vein2vein.programs.tables import Program


def home_counts(session: Session, scope: Scope) -> dict[str, int]:
    """Programs the caller may see."""
    stmt = scope.filter(select(func.count()).select_from(Program), Program)
    return {"programs": int(session.scalar(stmt) or 0)}
