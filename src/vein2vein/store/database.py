"""The database a process works with: engine, session factory, units of work, schema check."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from vein2vein.core.settings import Settings
from vein2vein.store.engine import READ_ONLY, make_engine, make_session_factory
from vein2vein.store.uow import Actor, UnitOfWork


class Database:
    def __init__(self, settings: Settings, *, schema: str | None = None) -> None:
        self.settings = settings
        self.schema = schema

    @cached_property
    def engine(self) -> Engine:
        _ensure_sqlite_folder(self.settings.database_url)
        return make_engine(
            self.settings.database_url,
            schema=self.schema,
            pool_size=self.settings.db_pool_size,
            max_overflow=self.settings.db_max_overflow,
        )

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    def uow(self, actor: Actor) -> UnitOfWork:
        return UnitOfWork(self.session_factory, actor)

    @cached_property
    def read_session_factory(self) -> sessionmaker[Session]:
        factory = make_session_factory(self.engine.execution_options(**{READ_ONLY: True}))
        event.listen(factory, "before_flush", _refuse_writes)
        return factory

    def read(self) -> Session:
        """A read-only unit of work: a session to use as a context manager (``with db.read() as
        session:``) for pages, API reads, CLI listings and the read step of a computation.

        It takes no write lock (SQLite: deferred ``BEGIN``; with WAL it neither waits for a writer
        nor blocks one) and cannot write (PostgreSQL: ``SET TRANSACTION READ ONLY``; on both
        engines a flush of changes raises). Leaving the block ends the transaction.
        """
        return self.read_session_factory()

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


class ReadOnlyViolation(RuntimeError):
    """A change was flushed in a read-only unit of work (a programming error)."""


def _refuse_writes(session: Session, flush_context: Any, instances: Any) -> None:
    if session.new or session.deleted or any(session.is_modified(o) for o in session.dirty):
        raise ReadOnlyViolation("a read-only unit of work (Database.read) cannot write")


def _ensure_sqlite_folder(url: str) -> None:
    from pathlib import Path

    prefix = "sqlite:///"
    if url.startswith(prefix) and ":memory:" not in url:
        Path(url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)
