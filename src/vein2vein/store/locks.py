"""Locks for things two people can change at once (STYLE 10), in one place.

PostgreSQL takes them for real; on SQLite every writing transaction already begins ``IMMEDIATE``
(store/engine.py), which serialises writers, so these are no-ops there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session


def lock_row(session: Session, model: Any, ident: int) -> None:
    """Hold one row (``SELECT ... FOR UPDATE``) until the transaction ends."""
    session.execute(select(model.id).where(model.id == ident).with_for_update())


def advisory_lock(session: Session, key: int, sub: int | None = None) -> None:
    """A transaction-scoped advisory lock on ``key`` (and ``sub``, e.g. an organisation id).

    PostgreSQL's advisory locks belong to the whole database, while a store is one schema of it:
    the lock is taken on a 64-bit hash of the schema, ``key`` and ``sub``, so that two stores in
    one database (a restore being checked beside the live one; the test suite's schema per test,
    whose processes run at once) never wait for, or deadlock with, each other."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || :name, 0))"),
        {"name": f"/{key}" if sub is None else f"/{key}/{sub}"},
    )
