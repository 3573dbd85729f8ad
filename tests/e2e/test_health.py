"""The health endpoint costs the database at most one read a second per process (issue 15), keeps
its fields, and ``?deep=1`` reads now."""

from __future__ import annotations

import time

import pytest
from tests.sqlcount import statements
from tests.webclient import client

from vein2vein import __version__
from vein2vein.store.database import Database
from vein2vein.store.migrate import head_revision
from vein2vein.web import views
from vein2vein.web.views import DatabaseCheck


def test_health_reads_the_database_at_most_once_a_second(db: Database) -> None:
    c = client(db)
    first = c.get("/api/health")
    assert first.status_code == 200
    assert first.json() == {
        "status": "ok",
        "version": __version__,
        "database": db.engine.dialect.name,
        "schema_revision": head_revision(db.engine),
    }
    with statements(db) as sent:
        for _ in range(20):
            assert c.get("/api/health").json() == first.json()
    assert sent == []  # answered from the check made by the first call
    with statements(db) as sent:
        assert c.get("/api/health?deep=1").json() == first.json()
    assert sent  # read now
    views.database_check(db).max_age = 0.05
    time.sleep(0.1)
    with statements(db) as sent:
        assert c.get("/api/health").json() == first.json()
    assert sent  # older than max_age: read again


class _Unreachable:
    def read(self):  # type: ignore[no-untyped-def]
        raise ConnectionError("database unreachable")


def test_a_failed_check_is_not_kept(db: Database) -> None:
    check = DatabaseCheck(db)
    good = check.state()
    assert check.state() is good  # kept for a second
    check.db = _Unreachable()  # type: ignore[assignment]
    assert check.state() is good  # still young: no read
    with pytest.raises(ConnectionError):
        check.state(fresh=True)
    check.db = db
    assert check.state().revision == good.revision  # back: read again
