"""Counting the SQL statements a piece of code sends (SQLAlchemy's ``before_cursor_execute``
event on the engine): N+1 and per-call cost tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from vein2vein.store.database import Database


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements sent through ``db``'s engine while the block runs."""
    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
