"""Resuming a session or a token reads; it writes only when something must be written.

On SQLite a write transaction begins ``IMMEDIATE`` and holds the database's write lock until it
ends: a page that resumed its session inside one waited behind every writer (issue 9).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select
from tests import factories
from tests.factories import PASSWORD
from tests.webclient import client, logged_in

from vein2vein.auth import service, sessions, tokens
from vein2vein.auth.tables import WebSession
from vein2vein.core.clock import set_clock, utcnow
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

PROMPT = 5.0  # seconds: far below SQLite's busy time-out (30 s), far above a page's time


@pytest.fixture
def world(sqlite_db: Database) -> Database:
    cdmo = factories.org(sqlite_db, "CDMO", "Northbridge")
    factories.user(sqlite_db, cdmo, "qa_reviewer", username="qa")
    return sqlite_db


@contextmanager
def writer_holding_the_lock(db: Database) -> Iterator[None]:
    """Another thread holds a write transaction open (``BEGIN IMMEDIATE``) meanwhile."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.uow(Actor("slow writer")) as uow:
            uow.record("thing.change", "thing", 1)  # takes the write lock, not yet committed
            holding.set()
            release.wait(60)

    writer = threading.Thread(target=hold)
    writer.start()
    assert holding.wait(10)
    try:
        yield
    finally:
        release.set()
        writer.join(10)


def _answers_promptly(get) -> int:  # type: ignore[no-untyped-def]
    answer: list[int] = []
    worker = threading.Thread(target=lambda: answer.append(get().status_code))
    worker.start()
    worker.join(PROMPT)
    assert answer, f"no answer within {PROMPT} s: the request waited for the writer"
    return answer[0]


def test_an_authenticated_page_does_not_wait_for_a_writer(world: Database) -> None:
    c, _ = logged_in(world, "qa", PASSWORD)
    with world.uow(Actor("t")) as uow:
        scope = service.scope_of(service.user_by_username(uow.session, "qa"))
        _, plain = tokens.create_token(uow, scope, "script", 1)
        uow.commit()
    api = client(world)
    api.headers["authorization"] = f"Bearer {plain}"
    assert api.get("/api/me").status_code == 200  # first use writes last_used_at
    with writer_holding_the_lock(world):
        assert _answers_promptly(lambda: c.get("/")) == 200
        assert _answers_promptly(lambda: c.get("/audit")) == 200
        assert _answers_promptly(lambda: api.get("/api/me")) == 200


def _last_seen(db: Database) -> dt.datetime:
    with db.read() as session:
        return session.scalars(select(WebSession)).one().last_seen_at


def test_last_seen_is_refreshed_at_most_once_a_minute_and_idle_stays_exact(
    world: Database,
) -> None:
    c, _ = logged_in(world, "qa", PASSWORD)
    seen = _last_seen(world)
    with world.read() as session:
        entries = audit.head(session).seq
    start = utcnow()
    try:
        set_clock(lambda: start + dt.timedelta(seconds=50))
        assert c.get("/account").status_code == 200
        assert _last_seen(world) == seen  # read only
        set_clock(lambda: start + sessions.TOUCH_INTERVAL + dt.timedelta(seconds=5))
        assert c.get("/account").status_code == 200
        touched = _last_seen(world)
        assert touched > seen
        # idle is counted from the refreshed time: 14 minutes later the session still lives,
        set_clock(lambda: touched + dt.timedelta(minutes=14))
        assert c.get("/account").url.path == "/account"
        # and 15 minutes and a second after the last refresh it has ended
        set_clock(lambda: _last_seen(world) + dt.timedelta(minutes=15, seconds=1))
        r = c.get("/account")
    finally:
        set_clock(None)
    assert r.url.path == "/login" and "without activity" in r.text
    with world.read() as session:
        actions = [e.action for e in audit.query(session)][entries:]
    assert actions == ["auth.session_end"]  # resuming wrote no audit entry but the end


def test_an_ended_session_is_refused_without_a_write(world: Database) -> None:
    c, token = logged_in(world, "qa", PASSWORD)
    ended = c.cookies.get("v2v_session")
    assert ended
    assert c.post("/logout", data={"csrf_token": token}).url.path == "/login"
    stranger = client(world)
    with writer_holding_the_lock(world):
        for value in (ended, "not-a-session"):
            headers = {"cookie": f"v2v_session={value}"}
            assert _answers_promptly(lambda h=headers: stranger.get("/api/me", headers=h)) == 401
