"""The one delivery projection (``scheduling.projection``), with worked numbers.

Reference values are worked by hand from the rule in the module's docstring (docs/identity.md,
"Delivery projection"): the product of the test world takes 1 day inbound, 10 days of process,
3 days of QC and 2 days of shipping (16 days apheresis to delivery), not the fixed 17 days from
start of manufacturing to release that the orders list used to assume (issue 11).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from vein2vein.identity.domain import Step
from vein2vein.scheduling.projection import (
    Blocker,
    BlockerKind,
    OrderDates,
    PlannedSlot,
    ProductDurations,
    State,
    project,
)

AMS = ZoneInfo("Europe/Amsterdam")
D = dt.date
PRODUCT = ProductDurations(inbound_days=1, process_days=10, qc_days=3, ship_days=2)
MON_THU = ProductDurations(1, 10, 3, 2, start_weekdays=frozenset({0, 1, 2, 3}))
APHERESIS, REQUIRED = D(2026, 3, 2), D(2026, 3, 25)  # a Monday; required by 23 days later
HOLD = Blocker(BlockerKind.MISMATCH, "#7", "hand-off mismatch #7 at received open")
DEVIATION = Blocker(BlockerKind.DEVIATION, "DEV-3", "deviation DEV-3 open")


def order(**actual: dt.datetime) -> OrderDates:
    return OrderDates(APHERESIS, REQUIRED, {Step(k): v for k, v in actual.items()}, AMS)


def at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=AMS)


def test_product_durations_are_used_not_17_days():
    p = project(order(), D(2026, 3, 1), durations=PRODUCT)
    # apheresis 2 Mar; receipt +1 = 3 Mar; start 3 Mar; release +10+3 = 16 Mar; delivery +2
    assert p.delivery == D(2026, 3, 18) and p.source == "product durations"
    planned = {s.step: s.planned for s in p.steps}
    assert planned[Step.RECEIVED] == D(2026, 3, 3)
    assert planned[Step.RELEASED] == D(2026, 3, 16)
    assert planned[Step.INFUSED] == D(2026, 3, 18) and planned[Step.STORED] is None
    # 25 - 18 = 7 days to spare, beyond the 2-day margin; the old rule (17 days to release)
    # would have put delivery on 23 Mar
    assert p.days_to_spare == 7 and p.state is State.ON_TRACK
    assert p.target_v2v_days == 16 and p.allowed_v2v_days == 23 and p.projected_v2v_days == 16


def test_the_published_plan_is_preferred_over_the_durations():
    slot = PlannedSlot(3, "planned", D(2026, 3, 5), D(2026, 3, 18), D(2026, 3, 21))
    p = project(order(), D(2026, 3, 1), durations=PRODUCT, slot=slot)
    # the plan waits two days for a suite: delivery 21 Mar, 25 - 21 = 4 days to spare
    assert p.source == "published plan v3" and p.plan_version == 3
    assert p.delivery == D(2026, 3, 21) and p.days_to_spare == 4
    assert p.state is State.ON_TRACK
    assert {s.step: s.planned for s in p.steps}[Step.MANUFACTURING_STARTED] == D(2026, 3, 5)
    assert "delivery 2026-03-21 (published plan v3); 4 days to spare" in p.message


def test_an_order_on_hold_is_never_on_track():
    slot = PlannedSlot(3, "planned", D(2026, 3, 5), D(2026, 3, 18), D(2026, 3, 21))
    p = project(order(), D(2026, 3, 1), durations=PRODUCT, slot=slot, blockers=[HOLD])
    # same dates, same days to spare, but the state is the hold
    assert p.state is State.ON_HOLD and p.days_to_spare == 4 and p.delivery == D(2026, 3, 21)
    assert p.message.startswith("on hold: hand-off mismatch #7")
    blocked = project(order(), D(2026, 3, 1), durations=PRODUCT, blockers=[DEVIATION])
    assert blocked.state is State.BLOCKED


@pytest.mark.parametrize("required_in", range(-5, 40, 3))
@pytest.mark.parametrize("blockers", [[HOLD], [DEVIATION], [HOLD, DEVIATION]])
def test_no_blocked_order_is_on_track_whatever_its_dates(required_in, blockers):
    dates = OrderDates(APHERESIS, APHERESIS + dt.timedelta(days=required_in), {}, AMS)
    for slot in (None, PlannedSlot(1, "planned", D(2026, 3, 3), D(2026, 3, 16), D(2026, 3, 18))):
        p = project(dates, D(2026, 3, 1), durations=PRODUCT, slot=slot, blockers=blockers)
        assert p.state in (State.ON_HOLD, State.BLOCKED)
        assert p.state is State.ON_HOLD if blockers[0] is HOLD else State.BLOCKED


def test_actual_steps_overtake_the_plan():
    slot = PlannedSlot(3, "planned", D(2026, 3, 5), D(2026, 3, 18), D(2026, 3, 21))
    late = order(collected=at(2), packed=at(2), shipped=at(2), received=at(10))
    p = project(late, D(2026, 3, 10), durations=PRODUCT, slot=slot)
    # received 10 Mar, after the planned start: start 10 Mar, release 23 Mar, delivery 25 Mar
    assert p.delivery == D(2026, 3, 25) and p.days_to_spare == 0 and p.state is State.AT_RISK
    received = next(s for s in p.steps if s.step is Step.RECEIVED)
    assert received.planned == D(2026, 3, 3) and received.late_days(AMS) == 7


def test_a_step_not_done_is_expected_no_earlier_than_today():
    p = project(order(), D(2026, 3, 5), durations=PRODUCT)  # apheresis 3 days overdue
    assert p.delivery == D(2026, 3, 21) and p.days_to_spare == 4


def test_margin_late_and_the_site_day():
    # spare 2 = margin: at risk; 3: on track; -1: late
    for required, state in ((D(2026, 3, 20), State.AT_RISK), (D(2026, 3, 21), State.ON_TRACK)):
        dates = OrderDates(APHERESIS, required, {}, AMS)
        assert project(dates, D(2026, 3, 1), durations=PRODUCT).state is state
    dates = OrderDates(APHERESIS, D(2026, 3, 17), {}, AMS)
    assert project(dates, D(2026, 3, 1), durations=PRODUCT).state is State.LATE
    # 23:30 UTC on 2 Mar is 3 Mar in Amsterdam: collection counts on the site's day
    utc = dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.UTC)
    p = project(order(collected=utc), D(2026, 3, 3), durations=PRODUCT)
    assert p.delivery == D(2026, 3, 19)


def test_start_weekdays_of_the_product():
    # apheresis Thu 5 Mar, receipt Fri 6 Mar, batches start Mon-Thu: start Mon 9 Mar,
    # release 22 Mar, delivery 24 Mar
    dates = OrderDates(D(2026, 3, 5), REQUIRED, {}, AMS)
    p = project(dates, D(2026, 3, 1), durations=MON_THU)
    assert {s.step: s.planned for s in p.steps}[Step.MANUFACTURING_STARTED] == D(2026, 3, 9)
    assert p.delivery == D(2026, 3, 24) and p.days_to_spare == 1 and p.state is State.AT_RISK


def test_delivered_met_missed_and_vein_to_vein():
    done = {
        "collected": dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC),
        "product_received": at(24),
        "infused": dt.datetime(2026, 3, 20, 20, tzinfo=dt.UTC),
    }
    p = project(order(**done), D(2026, 3, 26), durations=PRODUCT)
    assert p.state is State.MET and p.delivered and p.days_to_spare == 1
    assert p.actual_v2v_days == 18.5  # 2 Mar 08:00 to 20 Mar 20:00 UTC
    missed = project(order(product_received=at(26)), D(2026, 3, 27), durations=PRODUCT)
    assert missed.state is State.MISSED and missed.days_to_spare == -1


def test_unscheduled_and_no_projection():
    slot = PlannedSlot(4, "unscheduled", note="no suite free before the hold expires")
    p = project(order(), D(2026, 3, 1), durations=PRODUCT, slot=slot)
    assert p.state is State.UNSCHEDULED and p.delivery == D(2026, 3, 18)
    assert p.source == "product durations; not scheduled in published plan v4"
    assert "no suite free" in p.message
    none = project(order(), D(2026, 3, 1), durations=None)
    assert none.state is State.NO_PROJECTION and none.delivery is None
    assert none.source == "no published plan and no product durations"


FAILED_BATCH = Blocker(
    BlockerKind.NEW_APHERESIS,
    "batch 12",
    "batch 12 failed at SELECT (column clogged): a new apheresis is needed",
)


def test_a_failed_batch_blocks_and_leaves_no_delivery_day_until_a_new_apheresis():
    # started on 4 Mar in plan v3, which promised delivery on 21 Mar (4 days to spare): the
    # batch failed, its material is used up, so nothing after the start can be projected
    slot = PlannedSlot(3, "started", D(2026, 3, 4), D(2026, 3, 18), D(2026, 3, 21))
    actual = order(collected=at(2), received=at(3), manufacturing_started=at(4))
    p = project(actual, D(2026, 3, 6), durations=PRODUCT, slot=slot, blockers=[FAILED_BATCH])
    assert p.state is State.BLOCKED and p.state is not State.ON_TRACK
    assert p.delivery is None and p.days_to_spare is None and p.projected_v2v_days is None
    expected = {s.step: s.expected for s in p.steps}
    assert expected[Step.MANUFACTURING_STARTED] == D(2026, 3, 4)  # what happened stays
    assert expected[Step.RELEASED] is None and expected[Step.PRODUCT_RECEIVED] is None
    assert p.message.startswith(
        "blocked: batch 12 failed at SELECT (column clogged): a new apheresis is needed"
    )
    assert "no delivery projection" in p.message
    # without the failure the same order is on track on the plan's dates
    fine = project(actual, D(2026, 3, 6), durations=PRODUCT, slot=slot)
    assert fine.state is State.ON_TRACK and fine.delivery == D(2026, 3, 21)
