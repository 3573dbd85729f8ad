"""Advisory locks are per store (PostgreSQL schema), not per database (store/locks.py).

Found by a test run that deadlocked: two test processes, each in its own schema of the same
database, built the same world at once; one held the audit lock and waited for the planning
lock of organisation 1, the other the reverse. PostgreSQL's advisory locks belong to the
database, so unrelated stores (the suite's schema per test, a restore checked beside the live
store) waited for each other. The lock must still serialise two transactions of one store.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from tests.conftest import PG_URL, require_pg

from vein2vein.store.engine import make_engine, normalise_url
from vein2vein.store.locks import advisory_lock

pytestmark = pytest.mark.pg

KEY = 7_262_004


@pytest.fixture
def schemas() -> Iterator[tuple[str, str]]:
    require_pg()
    names = (f"t_{uuid.uuid4().hex[:16]}", f"t_{uuid.uuid4().hex[:16]}")
    admin = create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        for name in names:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield names
    finally:
        with admin.begin() as conn:
            for name in names:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


def _session(schema: str) -> Session:
    return Session(make_engine(PG_URL, schema=schema))


def _try_lock(session: Session, sub: int | None) -> bool:
    """Take the lock within 300 ms, or report that another transaction holds it."""
    session.execute(text("SET LOCAL lock_timeout = '300ms'"))
    try:
        advisory_lock(session, KEY, sub)
    except OperationalError as exc:
        assert "lock timeout" in str(exc)
        session.rollback()
        return False
    return True


@pytest.mark.parametrize("sub", [1, None])
def test_a_lock_held_in_one_store_does_not_block_another_store(schemas, sub) -> None:
    a, b = schemas
    holder, same_store, other_store = _session(a), _session(a), _session(b)
    try:
        advisory_lock(holder, KEY, sub)
        assert _try_lock(same_store, sub) is False  # still one writer at a time in a store
        assert _try_lock(other_store, sub) is True  # another store does not wait
        if sub is not None:
            assert _try_lock(same_store, sub + 1) is True  # another organisation does not wait
        holder.rollback()  # the transaction's end releases it
        assert _try_lock(same_store, sub) is True
    finally:
        for s in (holder, same_store, other_store):
            s.rollback()
            s.get_bind().dispose()  # type: ignore[union-attr]
            s.close()
