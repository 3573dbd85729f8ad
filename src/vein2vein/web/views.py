"""Reads of the home page and the health check (no SQL in the page module, web/home.py).

The home page shows real counts of what the store holds within the caller's scope: each feature
contributes its own counts (``features.py``: ``home="views:home_counts"``), the audit chain's
count and latest entries are added for roles that read the trail.

The health check reads the schema revision the database is at (``schema_revision``), which
proves the database answers; ``DatabaseCheck`` keeps that answer for a second, so a health
endpoint polled by load balancers and monitors (or by every user's browser) costs the database
at most one read a second per server process.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.store import audit
from vein2vein.store.database import Database

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


def schema_revision(session: Session) -> str | None:
    """The Alembic revision the database is at; raises unless the database answers (a read
    session: it waits behind no writer)."""
    return MigrationContext.configure(session.connection()).get_current_revision()


@dataclass(frozen=True)
class DatabaseState:
    revision: str | None
    checked_at: float  # time.monotonic() of the check


class DatabaseCheck:
    """The database's answer to :func:`schema_revision`, kept for ``max_age`` seconds.

    One check at a time per database: callers that arrive while a check runs wait for it and
    share its answer rather than each sending their own. A failed check is not kept: the next
    caller checks again (and fails again while the database is away).
    """

    def __init__(self, db: Database, max_age: float = 1.0) -> None:
        self.db = db
        self.max_age = max_age
        self._last: DatabaseState | None = None
        self._lock = threading.Lock()

    def state(self, fresh: bool = False) -> DatabaseState:
        """The last answer if younger than ``max_age`` (and not ``fresh``), else a new one."""
        last = self._last
        if not fresh and last is not None and self._young(last):
            return last
        with self._lock:
            last = self._last
            if not fresh and last is not None and self._young(last):
                return last  # checked by the caller this one waited for
            with self.db.read() as session:
                state = DatabaseState(schema_revision(session), time.monotonic())
            self._last = state
            return state

    def _young(self, state: DatabaseState) -> bool:
        return time.monotonic() - state.checked_at < self.max_age


_checks: weakref.WeakKeyDictionary[Database, DatabaseCheck] = weakref.WeakKeyDictionary()
_checks_lock = threading.Lock()


def database_check(db: Database) -> DatabaseCheck:
    """The one :class:`DatabaseCheck` of a database in this process."""
    with _checks_lock:
        check = _checks.get(db)
        if check is None:
            check = _checks[db] = DatabaseCheck(db)
        return check
