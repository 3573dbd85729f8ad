"""Reads of programs for pages, the API and the command line (no change, no audit entry)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from vein2vein.audittrail.views import history
from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.programs.tables import Program


def home_counts(session: Session, scope: Scope) -> dict[str, int]:
    """Programs the caller may see."""
    stmt = scope.filter(select(func.count()).select_from(Program), Program)
    return {"programs": int(session.scalar(stmt) or 0)}


def programs(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Programs the caller may see, by code, each with its sponsor's name."""
    stmt = scope.filter(select(Program), Program).order_by(Program.code)
    rows = session.scalars(stmt.options(joinedload(Program.organisation)))
    return [p.public() | {"sponsor": p.organisation.name} for p in rows]


def program(session: Session, scope: Scope, program_id: int) -> dict[str, Any]:
    """One program with its sponsor's name."""
    found = get_scoped(session, scope, Program, program_id)
    return found.public() | {"sponsor": found.organisation.name}


def program_page(session: Session, scope: Scope, program_id: int) -> dict[str, Any]:
    """A program and (for roles that read the trail) its history, newest first."""
    found = program(session, scope, program_id)
    return {"program": found, "history": history(session, scope, "program", found["id"])}
