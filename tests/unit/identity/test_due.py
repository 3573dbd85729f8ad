"""When the next custody step is due (identity/due.py): values worked out by hand from
``DEFAULT_STEP_DURATIONS`` (receipt 1 day after shipment, start of manufacturing 1 day after
receipt, release 17 days after the start)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from vein2vein.identity.domain import CustodyEvent, Step
from vein2vein.identity.due import due_by, next_due

AMS = ZoneInfo("Europe/Amsterdam")
DAY = dt.date(2026, 3, 10)


def _event(step: Step, at: dt.datetime) -> CustodyEvent:
    return CustodyEvent(step, at, "someone", "somewhere")


def test_collection_is_due_on_the_planned_apheresis_day_at_eight() -> None:
    due = next_due([], DAY, AMS)
    assert due is not None and due.step is Step.COLLECTED
    assert due.at == dt.datetime(2026, 3, 10, 8, 0, tzinfo=AMS)
    assert due_by(due, DAY, AMS) and not due_by(due, DAY - dt.timedelta(days=1), AMS)


def test_receipt_is_due_a_day_after_shipment_and_stays_due_when_overdue() -> None:
    shipped = dt.datetime(2026, 3, 10, 22, 30, tzinfo=dt.UTC)  # 23:30 in Amsterdam
    events = [
        _event(Step.COLLECTED, shipped - dt.timedelta(hours=6)),
        _event(Step.PACKED, shipped - dt.timedelta(hours=3)),
        _event(Step.SHIPPED, shipped),
    ]
    due = next_due(events, DAY, AMS)
    assert due is not None and due.step is Step.RECEIVED
    assert due.at == dt.datetime(2026, 3, 11, 22, 30, tzinfo=dt.UTC)
    assert due_by(due, dt.date(2026, 3, 11), AMS)  # 23:30 local on the 11th
    assert not due_by(due, dt.date(2026, 3, 10), AMS)
    assert due_by(due, dt.date(2026, 3, 20), AMS)  # overdue: still in the queue


def test_the_local_day_decides_near_midnight() -> None:
    # shipped 23:30 UTC on the 9th = 00:30 on the 10th in Amsterdam: receipt due on the 11th local
    shipped = dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.UTC)
    due = next_due([_event(Step.SHIPPED, shipped)], DAY, AMS)
    assert due is not None
    assert not due_by(due, dt.date(2026, 3, 10), AMS)
    assert due_by(due, dt.date(2026, 3, 11), AMS)


def test_storage_is_never_due_and_release_follows_seventeen_days_after_start() -> None:
    received = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    due = next_due([_event(Step.RECEIVED, received)], DAY, AMS)
    assert due is not None and due.step is Step.MANUFACTURING_STARTED  # not the optional storage
    started = received + dt.timedelta(days=1)
    due = next_due([_event(Step.MANUFACTURING_STARTED, started)], DAY, AMS)
    assert due is not None and due.step is Step.RELEASED
    assert due.at == dt.datetime(2026, 3, 19, 9, 0, tzinfo=dt.UTC)


def test_nothing_is_due_after_infusion() -> None:
    at = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert next_due([_event(Step.INFUSED, at)], DAY, AMS) is None
    assert not due_by(None, DAY, AMS)
