"""Tables whose every change carries an audit entry in the same transaction, checked at commit.

Some reads are kept between requests and stay valid for as long as the audit trail's head has
not moved (``identity.views.dashboard``: the orders in flight). That holds only if every change
to what they read writes an audit entry in the same transaction, so it is checked rather than
assumed: a feature names such tables with :func:`require_audit`; every connection of an engine
made by ``store.engine.make_engine`` notes which of them its transaction writes (INSERT, UPDATE
or DELETE, through the ORM or not), and a unit of work that commits such a change without an
audit entry is refused with :class:`UnauditedChange` and rolled back (``store.uow``).

Part 11 asks for the audit entry anyway (21 CFR 11.10(e)); this makes forgetting it a failing
test instead of a stale screen. The check is conservative: a write undone by a rolled-back
savepoint still counts as written. Only engines made by ``make_engine`` are tracked.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

AUDIT_TABLE = "audit_log"
_KEY = "v2v_written"  # in the DBAPI connection's info: tables written by its transaction
_WATCHED: set[str] = set()
_DML = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


class UnauditedChange(RuntimeError):
    """A change to a table that must be audited was committed without an audit entry (a
    programming error: the service forgot ``uow.record``)."""


def require_audit(*tables: str) -> None:
    """Refuse, from now on, any commit that changes one of ``tables`` without an audit entry."""
    _WATCHED.update(tables)


def watched() -> frozenset[str]:
    return frozenset(_WATCHED)


def track(engine: Engine) -> None:
    """Note on each connection the watched tables (and the audit table) its transaction writes."""

    @event.listens_for(engine, "begin")
    def _forget(conn: Any) -> None:
        conn.info.pop(_KEY, None)

    @event.listens_for(engine, "before_cursor_execute")
    def _note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        match = _DML.match(statement)
        if match is None:
            return
        table = match.group(1).lower()
        if table == AUDIT_TABLE or table in _WATCHED:
            conn.info.setdefault(_KEY, set()).add(table)


def check(session: Session) -> None:
    """Raise :class:`UnauditedChange` when the session's transaction changed a watched table
    without writing an audit entry (call after the last flush, before commit)."""
    if not _WATCHED or not session.in_transaction():
        return
    written: set[str] = session.connection().info.get(_KEY, set())
    changed = sorted(written & _WATCHED)
    if changed and AUDIT_TABLE not in written:
        raise UnauditedChange(
            f"a change to {', '.join(changed)} was about to be committed without an audit "
            "entry; every change to these tables is audited in the same transaction"
        )
