"""Writing and read-only units of work on SQLite and PostgreSQL: SQLite files run in WAL mode,
a read-only unit takes no write lock (it answers while a writer holds its transaction open, and
a writer commits while it is open) and cannot write."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from tests.conftest import _drop_schema, _pg_db, make_settings

from vein2vein.auth.tables import Organisation
from vein2vein.store import audit
from vein2vein.store.database import Database, ReadOnlyViolation
from vein2vein.store.engine import SQLITE_BUSY_TIMEOUT_S, is_sqlite_file
from vein2vein.store.uow import Actor


def test_a_sqlite_file_runs_in_wal_mode_with_a_busy_timeout(sqlite_db: Database) -> None:
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        timeout = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert timeout == SQLITE_BUSY_TIMEOUT_S * 1000


def test_an_in_memory_sqlite_database_still_works() -> None:
    for url in ("sqlite://", "sqlite:///:memory:"):
        assert not is_sqlite_file(url)
        db = Database(make_settings(url))
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "memory"
        with db.read() as session:
            assert session.execute(text("SELECT 1")).scalar() == 1
        with db.uow(Actor("t")) as uow:
            uow.session.execute(text("CREATE TABLE t (x INTEGER)"))
            uow.session.execute(text("INSERT INTO t VALUES (1)"))
            uow.commit()
        db.dispose()
    assert is_sqlite_file("sqlite:///var/v2v.db")
    assert not is_sqlite_file("postgresql://u@h/db")


def _hold_write(db: Database, held: threading.Event, release: threading.Event) -> None:
    """A writing unit of work that has written (SQLite: the write lock; PostgreSQL: the audit
    chain's lock) and stays open until ``release``."""
    with db.uow(Actor("writer")) as uow:
        uow.record("test.hold", "thing", 1)
        uow.session.flush()
        held.set()
        release.wait(30)
        uow.commit()


def test_a_read_only_unit_answers_while_a_writer_holds_its_transaction(db: Database) -> None:
    with db.uow(Actor("t")) as uow:
        uow.record("test.before", "thing", 0)
        uow.commit()
    held, release = threading.Event(), threading.Event()
    writer = threading.Thread(target=_hold_write, args=(db, held, release))
    writer.start()
    try:
        assert held.wait(10)
        started = time.perf_counter()
        with db.read() as session:
            actions = [e.action for e in audit.query(session)]
        assert time.perf_counter() - started < 1.0
        assert actions == ["test.before"]  # the open transaction's entry is not seen
    finally:
        release.set()
        writer.join(30)
    with db.read() as session:
        assert [e.action for e in audit.query(session)] == ["test.before", "test.hold"]


def test_a_writer_commits_while_a_read_only_unit_is_open(db: Database) -> None:
    with db.read() as session:
        session.execute(select(Organisation.id)).all()  # the read transaction has begun
        started = time.perf_counter()
        with db.uow(Actor("t")) as uow:
            uow.record("test.change", "thing", 1)
            uow.commit()
        assert time.perf_counter() - started < 1.0


def test_a_read_only_unit_cannot_write(db: Database) -> None:
    with db.read() as session:
        session.add(Organisation(name="Written by mistake", kind="SPONSOR"))
        with pytest.raises(ReadOnlyViolation):
            session.flush()
    with db.read() as session:
        names = session.scalars(select(Organisation.name)).all()
    assert "Written by mistake" not in names


@pytest.fixture
def pg_db() -> Iterator[Database]:
    database, schema = _pg_db()
    try:
        yield database
    finally:
        database.dispose()
        _drop_schema(schema)


@pytest.mark.pg
def test_a_read_only_unit_is_a_read_only_transaction_on_postgresql(pg_db: Database) -> None:
    db = pg_db
    with db.read() as session:
        assert session.execute(text("SHOW transaction_read_only")).scalar() == "on"
        with pytest.raises(DBAPIError, match="read-only transaction"):
            session.execute(text("UPDATE organisation SET name = name"))
    with db.uow(Actor("t")) as uow:
        assert uow.session.execute(text("SHOW transaction_read_only")).scalar() == "off"
