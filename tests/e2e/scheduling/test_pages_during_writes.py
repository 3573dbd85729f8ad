"""Pages answer while a write transaction is open (SQLite in WAL mode, read-only units of work),
over HTTP with a logged-in client, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tests.factories import PASSWORD
from tests.integration.scheduling import world as S
from tests.webclient import client, logged_in

from vein2vein.store.database import Database
from vein2vein.store.uow import Actor
from vein2vein.web.context import Auth, current_auth

PAGES = ("/schedule", "/schedule/suites", "/schedule/plans", "/coi")


@pytest.fixture
def world(db: Database) -> S.World:
    w = S.build(db)
    S.place(w, subject="HLX-001")
    S.publish(w, S.draft(w, method="greedy"), who="qa")
    return w


@contextmanager
def write_transaction_open(db: Database) -> Iterator[None]:
    """Another request's writing unit of work, open for the duration of the block: on SQLite it
    holds the database's write lock, on PostgreSQL the audit chain's lock."""
    held, release = threading.Event(), threading.Event()

    def writer() -> None:
        with db.uow(Actor("another request")) as uow:
            uow.record("test.hold", "thing", 1)
            uow.session.flush()
            held.set()
            release.wait(60)
            uow.commit()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert held.wait(10)
        yield
    finally:
        release.set()
        thread.join(60)


def _within_one_second(c: Any, pages: tuple[str, ...]) -> dict[str, float]:
    """GET each page in a thread and wait at most 1 s for it; the seconds each one took."""
    took: dict[str, float] = {}
    for page in pages:
        answer: dict[str, Any] = {}

        def get(path: str = page, box: dict[str, Any] = answer) -> None:
            box["response"] = c.get(path)

        thread = threading.Thread(target=get)
        started = time.perf_counter()
        thread.start()
        thread.join(1.0)
        took[page] = time.perf_counter() - started
        assert not thread.is_alive(), f"{page} did not answer within 1 s"
        assert answer["response"].status_code == 200, page
    return took


def test_pages_answer_while_a_write_transaction_is_open(world: S.World) -> None:
    """Logged in: resuming the session is a read too (auth/sessions.py), so nothing waits."""
    db = world.db
    c, _ = logged_in(db, "qa", PASSWORD)
    for page in PAGES:
        assert c.get(page).status_code == 200  # warm: templates compiled, session seen
    with write_transaction_open(db):
        took = _within_one_second(c, PAGES)
    assert max(took.values()) < 1.0


def test_page_reads_take_no_write_lock(world: S.World) -> None:
    """The pages' own reads, the caller already authenticated: they run in read-only units of
    work, so a write transaction held elsewhere does not hold them up."""
    db = world.db
    c = client(db)
    c.app.dependency_overrides[current_auth] = lambda: Auth(  # type: ignore[attr-defined]
        scope=world.scopes["qa"], via="session", csrf_token="x"
    )
    for page in PAGES:
        assert c.get(page).status_code == 200
    with write_transaction_open(db):
        took = _within_one_second(c, PAGES)
    assert max(took.values()) < 1.0
