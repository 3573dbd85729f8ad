"""Organisations and users looked up through the caller's scope, by id or by name.

Services take identifiers (pages and the API) or names (the command line); these are the one
place that turns either into a row. Outside the scope is *not found*, like an absent record.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import Session

from vein2vein.auth.scope import Scope, scoped_select
from vein2vein.auth.tables import Organisation, User
from vein2vein.core.errors import NotFound
from vein2vein.core.text import parse_id

#: an organisation or user named by its id (int) or its name (str)
Ref = int | str


def organisation(session: Session, scope: Scope, ref: Ref, *, lock: bool = False) -> Organisation:
    stmt = scoped_select(scope, Organisation, "id")
    return _find(session, stmt, Organisation.name, "organisation", ref, lock)


def user(session: Session, scope: Scope, ref: Ref, *, lock: bool = False) -> User:
    """``lock``: hold the row (``SELECT ... FOR UPDATE``) until the transaction ends."""
    return _find(session, scoped_select(scope, User), User.username, "user", ref, lock)


def _find(session: Session, stmt: Any, name: Any, label: str, ref: Ref, lock: bool) -> Any:
    """The one row of ``stmt`` whose ``name`` (case-insensitive) or id is ``ref``."""
    if isinstance(ref, str):
        stmt = stmt.where(func.lower(name) == ref.strip().lower())
        missing = f"no {label} named '{ref}'"
    else:
        stmt = stmt.where(name.class_.id == parse_id(ref))
        missing = f"{label} {ref} not found"
    row = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        raise NotFound(missing)
    return row
