"""When the next custody step is due (identity/due.py), read from the one delivery projection.

Values worked out by hand for a product whose own durations are 1 day inbound (apheresis to
receipt), 10 days of manufacturing, 3 days of QC and 2 days of shipping (the demo's EpCAM
settings); planned apheresis Tuesday 10 March 2026, required by 31 March 2026.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from vein2vein.identity.domain import Step
from vein2vein.identity.due import due_by, next_due
from vein2vein.scheduling.projection import OrderDates, PlannedSlot, ProductDurations, project

AMS = ZoneInfo("Europe/Amsterdam")
EPCAM = ProductDurations(inbound_days=1, process_days=10, qc_days=3, ship_days=2)
PLANNED = dt.date(2026, 3, 10)
REQUIRED_BY = dt.date(2026, 3, 31)


def _due(today, actual=None, durations=EPCAM, slot=None):
    order = OrderDates(PLANNED, REQUIRED_BY, actual or {}, AMS)
    return next_due(project(order, today, durations=durations, slot=slot))


def test_collection_is_due_on_the_planned_apheresis_day() -> None:
    due = _due(dt.date(2026, 3, 9))
    assert due is not None and due.step is Step.COLLECTED and due.day == PLANNED
    assert not due_by(due, dt.date(2026, 3, 9))
    assert due_by(_due(PLANNED), PLANNED)


def test_receipt_is_due_a_day_after_collection_and_stays_due_when_overdue() -> None:
    at = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
    done = {Step.COLLECTED: at, Step.PACKED: at, Step.SHIPPED: at}
    due = _due(dt.date(2026, 3, 10), done)
    assert due is not None and due.step is Step.RECEIVED and due.day == dt.date(2026, 3, 11)
    assert not due_by(due, dt.date(2026, 3, 10)) and due_by(due, dt.date(2026, 3, 11))
    late = _due(dt.date(2026, 3, 20), done)  # never recorded: expected today, still due
    assert late is not None and late.day == dt.date(2026, 3, 20) and due_by(late, late.day)


def test_the_local_day_decides_near_midnight() -> None:
    # collected 23:30 UTC on 10 March = 00:30 on 11 March in Amsterdam: receipt due on the 12th
    at = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC)
    due = _due(dt.date(2026, 3, 11), {Step.COLLECTED: at, Step.PACKED: at, Step.SHIPPED: at})
    assert due is not None and due.day == dt.date(2026, 3, 12)


def test_storage_is_never_due_and_release_follows_the_products_own_thirteen_days() -> None:
    received = dt.datetime(2026, 3, 11, 10, 0, tzinfo=dt.UTC)
    done = {
        Step.COLLECTED: received - dt.timedelta(days=1),
        Step.PACKED: received - dt.timedelta(days=1),
        Step.SHIPPED: received - dt.timedelta(days=1),
        Step.RECEIVED: received,
    }
    start = _due(dt.date(2026, 3, 11), done)
    assert start is not None and start.step is Step.MANUFACTURING_STARTED  # not STORED
    assert start.day == dt.date(2026, 3, 11)
    done[Step.MANUFACTURING_STARTED] = received + dt.timedelta(hours=2)
    release = _due(dt.date(2026, 3, 12), done)
    assert release is not None and release.step is Step.RELEASED
    assert release.day == dt.date(2026, 3, 24)  # 11 March + 10 + 3 days, not 17 days


def test_the_published_plan_decides_when_it_holds_the_order() -> None:
    slot = PlannedSlot(
        version=3,
        status="planned",
        start=dt.date(2026, 3, 13),
        release=dt.date(2026, 3, 26),
        delivery=dt.date(2026, 3, 28),
    )
    received = dt.datetime(2026, 3, 11, 10, 0, tzinfo=dt.UTC)
    done = {s: received for s in (Step.COLLECTED, Step.PACKED, Step.SHIPPED, Step.RECEIVED)}
    due = _due(dt.date(2026, 3, 11), done, slot=slot)
    assert due is not None and due.step is Step.MANUFACTURING_STARTED
    assert due.day == dt.date(2026, 3, 13) and not due_by(due, dt.date(2026, 3, 12))


def test_without_plan_or_durations_a_later_step_is_not_counted_as_due() -> None:
    at = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
    due = _due(dt.date(2026, 3, 12), {Step.COLLECTED: at, Step.PACKED: at, Step.SHIPPED: at}, None)
    assert due is not None and due.step is Step.RECEIVED and due.day is None
    assert not due_by(due, dt.date(2026, 3, 12))


def test_nothing_is_due_after_infusion() -> None:
    at = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
    assert _due(dt.date(2026, 4, 1), {s: at for s in Step}) is None
