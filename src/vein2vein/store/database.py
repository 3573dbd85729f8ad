"""The database a process works with: engine, session factory, units of work, schema check."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy import Engine
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
        return make_engine(self.settings.database_url, schema=self.schema)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    def uow(self, actor: Actor) -> UnitOfWork:
        return UnitOfWork(self.session_factory, actor)

    @cached_property
    def read_session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine.execution_options(**{READ_ONLY: True}))

    def read(self) -> Session:
        """A session for reading only (use as a context manager); it takes no write lock."""
        return self.read_session_factory()

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


def _ensure_sqlite_folder(url: str) -> None:
    from pathlib import Path

    prefix = "sqlite:///"
    if url.startswith(prefix) and ":memory:" not in url:
        Path(url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)
