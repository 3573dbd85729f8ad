"""A process's PostgreSQL pool is as large as the web server's worker threads.

Starlette runs synchronous endpoints on AnyIO's default thread limiter (40 tokens). With
SQLAlchemy's default pool (5 + 10 overflow = 15), the 16th concurrent request waited 30 s for a
connection and then failed while 25 threads sat idle (found by the page-load benchmark).
"""

import threading

import anyio
import pytest
from sqlalchemy import text
from tests.conftest import PG_URL, make_settings, require_pg

from vein2vein.core.settings import Settings
from vein2vein.store.database import Database


def test_the_default_pool_matches_starlettes_worker_threads():
    async def tokens() -> float:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    settings = Settings()
    assert settings.db_pool_size + settings.db_max_overflow == anyio.run(tokens)


@pytest.mark.pg
def test_forty_requests_hold_a_connection_at_once_without_waiting():
    require_pg()
    db = Database(make_settings(PG_URL))
    db.engine.pool._timeout = 2  # fail fast instead of the 30 s default if the pool were too small
    barrier = threading.Barrier(40, timeout=20)
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                barrier.wait()  # all 40 connections are checked out at this moment
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hold) for _ in range(40)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        db.dispose()
    assert errors == []
