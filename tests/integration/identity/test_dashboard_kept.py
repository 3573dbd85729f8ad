"""The orders in flight are computed once per audit-trail head and quarter hour and kept
(identity.views.dashboard): a change through any service moves the head, so the list never shows
what was; another scope or another day is another list. Both engines."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.integration.identity import world as W

from vein2vein.identity import views
from vein2vein.identity.domain import Step
from vein2vein.store.database import Database


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the rows were computed (not taken from what was kept)."""
    calls: list[int] = []
    compute = views._dashboard_rows

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return compute(*args, **kwargs)

    views._DASHBOARDS.clear()
    monkeypatch.setattr(views, "_dashboard_rows", counting)
    return calls


def _board(db: Database, w: W.World, who: str, **kw: object) -> list[dict]:
    with db.read() as session:
        return views.dashboard(session, w.scopes[who], **kw)  # type: ignore[arg-type]


def test_kept_until_a_change_then_computed_again(db: Database, computed: list[int]) -> None:
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    W.assign_din(w, oid)
    first = _board(db, w, "operator")
    assert [r["id"] for r in first] == [oid] and first[0]["current_step"] is None
    assert _board(db, w, "operator") == first and len(computed) == 1  # kept
    W.record(w, oid, Step.COLLECTED, dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    after = _board(db, w, "operator")
    assert after[0]["current_step"] == "collected" and len(computed) == 2


def test_kept_rows_equal_a_fresh_computation(db: Database, computed: list[int]) -> None:
    w = W.build(db)
    done = W.order(w, W.enrol(w))
    W.assign_din(w, done)
    W.walk(w, done, Step.INFUSED)
    W.order(w, W.enrol(w, subject="HLX-002"))
    now = dt.datetime.now(dt.UTC)
    with db.read() as session:
        kept = views.dashboard(session, w.scopes["operator"], now=now, include_complete=True)
        again = views.dashboard(session, w.scopes["operator"], now=now, include_complete=True)
        in_flight = views.dashboard(session, w.scopes["operator"], now=now)
        views._DASHBOARDS.clear()
        fresh = views.dashboard(session, w.scopes["operator"], now=now, include_complete=True)
    assert kept == again == fresh and len(kept) == 2
    assert in_flight == [r for r in fresh if not r["complete"]] and len(in_flight) == 1
    assert len(computed) == 2  # once kept, once after clearing


def test_scopes_and_days_are_kept_apart(db: Database, computed: list[int]) -> None:
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    W.order(w, W.enrol(w, who="b.clinical", subject="CRV-001", sponsor="b"), who="b.clinical")
    assert len(_board(db, w, "operator")) == 2
    # the sponsors share nothing with the CDMO's list or with each other
    assert [r["id"] for r in _board(db, w, "a.clinical")] == [oid]
    assert [r["id"] for r in _board(db, w, "a.viewer")] == [oid]  # same organisation: kept
    assert len(_board(db, w, "b.clinical")) == 1 and _board(db, w, "b.clinical")[0]["id"] != oid
    assert len(computed) == 3
    # a later quarter hour is another list: the projection counts days from the local today
    now = dt.datetime.now(dt.UTC)
    _board(db, w, "operator", now=now)
    before = len(computed)
    _board(db, w, "operator", now=now + dt.timedelta(minutes=15))
    assert len(computed) == before + 1


def test_quarter_hour() -> None:
    at = dt.datetime(2026, 12, 7, 9, 44, 59, 999, tzinfo=dt.UTC)
    assert views._quarter_hour(at) == dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)
    # Kathmandu (UTC+05:45): its date turns at 18:15 UTC, the start of a quarter hour
    nepal = dt.timezone(dt.timedelta(hours=5, minutes=45))
    turn = dt.datetime(2026, 12, 7, 18, 15, tzinfo=dt.UTC)
    assert views._quarter_hour(turn) == turn
    assert (turn - dt.timedelta(microseconds=1)).astimezone(nepal).date() < turn.astimezone(
        nepal
    ).date()
