"""Unit of work: one transaction per use case, owned by the caller.

A service opens a unit of work, applies domain rules, writes its change together with the audit
entry, and commits once. Leaving the block without ``commit()`` rolls everything back, audit
entries included (after cosmicpython's ``service_layer/unit_of_work.py``).
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from vein2vein.store import audit, audited


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, or an operator at the server's command line."""

    name: str
    user_id: int | None = None
    organisation_id: int | None = None

    @classmethod
    def cli(cls) -> Actor:
        """Command-line administration is attributed to the operating-system account."""
        try:
            who = getpass.getuser()
        except Exception:  # pragma: no cover - no passwd entry in some containers
            who = "unknown"
        return cls(name=f"cli:{who}")

    @classmethod
    def anonymous(cls, claimed: str = "") -> Actor:
        return cls(name=f"anonymous:{claimed}" if claimed else "anonymous")


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session], actor: Actor) -> None:
        self._factory = session_factory
        self.actor = actor
        self._session: Session | None = None
        self._committed = False

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("unit of work used outside its 'with' block")
        return self._session

    def __enter__(self) -> UnitOfWork:
        self._session = self._factory()
        self._committed = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            if not self._committed:
                session.rollback()
        finally:
            session.close()
            self._session = None

    def commit(self) -> None:
        session = self.session
        session.flush()
        audited.check(session)  # a watched table changed without an audit entry is refused
        session.commit()
        self._committed = True

    def rollback(self) -> None:
        self.session.rollback()

    def record(
        self,
        action: str,
        entity_type: str,
        entity_id: str | int,
        *,
        before: Any = None,
        after: Any = None,
        reason: str | None = None,
        organisation_id: int | None = None,
    ) -> audit.AuditEntry:
        """Write the audit entry of a change in this transaction.

        ``organisation_id`` is the organisation the record belongs to (for tenant-scoped audit
        reading); it defaults to the actor's.
        """
        self.session.flush()
        return audit.append(
            self.session,
            actor=self.actor.name,
            actor_id=self.actor.user_id,
            organisation_id=(
                organisation_id if organisation_id is not None else self.actor.organisation_id
            ),
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=before,
            after=after,
            reason=reason,
        )
