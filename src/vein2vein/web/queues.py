"""Work queues of the home page: what waits for the caller's role, each count linking to the list
filtered to exactly those rows.

Features declare a source (``features.py``: ``queues="queues:work_queues"``), called as
``source(session, scope, now)``; it returns the :class:`QueueItem` of the queues it can answer,
each naming the roles whose home page shows it. The kit imports no feature: it is handed the
sources, keeps the items meant for the caller's role and renders them in the sources' order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from vein2vein.auth.scope import Scope


@dataclass(frozen=True)
class QueueItem:
    """One queue: ``count`` records wait at ``href`` (the list filtered to exactly them)."""

    key: str  # unique over the application, e.g. "coi.due_today" (data attribute, tests)
    label: str  # what waits, as words: "Hand-offs due today"
    count: int
    href: str
    roles: frozenset[str]  # roles (``auth.roles.Role`` values) whose home page shows it
    hint: str = ""  # one line on what is counted

    def for_role(self, role: str) -> bool:
        return role in self.roles


#: a feature's queue source: ``source(session, scope, now)``
QueueSource = Callable[[Session, Scope, dt.datetime], Iterable[QueueItem]]


def wanted(scope: Scope, roles: Iterable[str]) -> bool:
    """Whether a source should compute a queue meant for ``roles`` (saves the queries of
    queues the caller's home page does not show)."""
    return scope.role in set(roles)


def queues_for(
    session: Session, scope: Scope, sources: Sequence[QueueSource], now: dt.datetime
) -> list[QueueItem]:
    """The queues of the caller's role, in the order of the sources."""
    return [
        item
        for source in sources
        for item in source(session, scope, now)
        if item.for_role(scope.role)
    ]
