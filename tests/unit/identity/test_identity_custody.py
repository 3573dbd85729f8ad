"""Custody rules: order of steps, event checks, cold chain and the vein-to-vein timeline."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from vein2vein.core.errors import InputError, RuleViolation
from vein2vein.identity.domain import (
    MAIN_PATH,
    NEXT_STEPS,
    Condition,
    CustodyEvent,
    OutOfOrder,
    Reading,
    ReceiptDetails,
    ShipmentDetails,
    ShipperLimits,
    Step,
    StorageDetails,
    check_event,
    check_step_order,
    check_temperatures,
    expected_next,
    progress,
    vein_to_vein_timeline,
)

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def all_paths() -> list[list[Step]]:
    """Every complete valid order of steps (optional storage steps taken or not)."""
    out: list[list[Step]] = []

    def walk(path: list[Step]) -> None:
        nxt = NEXT_STEPS[path[-1] if path else None]
        if not nxt:
            out.append(path)
        for s in nxt:
            walk([*path, s])

    walk([])
    return out


def valid_prefixes() -> list[tuple[Step, ...]]:
    order = list(Step)
    prefixes = {tuple(p[:i]) for p in all_paths() for i in range(len(p) + 1)}
    return sorted(prefixes, key=lambda p: (len(p), [order.index(s) for s in p]))


def test_four_complete_paths_and_the_main_path():
    paths = all_paths()
    assert len(paths) == 4
    assert list(MAIN_PATH) in paths
    assert [*Step] in paths  # every step, storage included
    for path in paths:
        for i, step in enumerate(path):
            check_step_order(path[:i], step)


INVALID = [
    (prefix, step)
    for prefix in valid_prefixes()
    for step in Step
    if step not in NEXT_STEPS[prefix[-1] if prefix else None]
]


def _case_id(case: tuple[tuple[Step, ...], Step]) -> str:
    history, step = case
    return ">".join(s.value for s in history) + "--" + step.value


@pytest.mark.parametrize(("history", "step"), INVALID, ids=[_case_id(c) for c in INVALID])
def test_every_invalid_order_is_refused_naming_the_expected_step(history, step):
    with pytest.raises(OutOfOrder) as info:
        check_step_order(list(history), step)
    err = info.value
    assert isinstance(err, RuleViolation)
    assert err.expected == expected_next(list(history))
    assert f"'{step.value}'" in err.message
    if history and history[-1] is Step.INFUSED:
        assert "ends the chain of custody" in err.message
    else:
        for s in err.expected:
            assert f"'{s.value}' ({s.text})" in err.message


def test_invalid_order_count():
    # Each valid prefix refuses every step it does not allow: a sanity check on the table.
    assert len(INVALID) == sum(
        len(Step) - len(NEXT_STEPS[p[-1] if p else None]) for p in valid_prefixes()
    )


@pytest.mark.parametrize(
    ("history", "step", "message"),
    [
        (
            (),
            Step.RECEIVED,
            "'received' cannot be recorded before the order has started: the first step is "
            "'collected' (apheresis collection at the treatment site)",
        ),
        (
            (Step.COLLECTED, Step.PACKED),
            Step.RECEIVED,
            "'received' cannot follow 'packed': the next step is 'shipped' (shipment of the "
            "starting material to the manufacturer)",
        ),
        (
            (Step.COLLECTED, Step.PACKED, Step.SHIPPED, Step.RECEIVED),
            Step.RELEASED,
            "'released' cannot follow 'received': the next step is 'stored' (storage of the "
            "starting material) or 'manufacturing_started' (start of manufacturing)",
        ),
        (
            (Step.COLLECTED, Step.PACKED),
            Step.PACKED,
            "'packed' is already recorded for this order; the next step is 'shipped' (shipment of "
            "the starting material to the manufacturer)",
        ),
        (
            tuple(MAIN_PATH),
            Step.THAWED,
            "'thawed' cannot be recorded: the product was infused, which ends the chain of custody",
        ),
    ],
)
def test_out_of_order_messages(history, step, message):
    with pytest.raises(OutOfOrder) as info:
        check_step_order(list(history), step)
    assert info.value.message == message


# ---- events ----------------------------------------------------------------------------------

SHIP = ShipmentDetails("Courier Ltd", "DS-0042", "TL-9912")


def ev(step: Step, hours: float, **kw) -> CustodyEvent:
    defaults = {
        Step.SHIPPED: SHIP,
        Step.PRODUCT_SHIPPED: SHIP,
        Step.RECEIVED: ReceiptDetails(Condition.INTACT),
        Step.PRODUCT_RECEIVED: ReceiptDetails(Condition.INTACT),
        Step.STORED: StorageDetails("LN2-3", "R2/B4/S7"),
        Step.PRODUCT_STORED: StorageDetails("LN2-1", "R1/B1/S1"),
    }
    kw.setdefault("details", defaults.get(step))
    kw.setdefault("scanned", "=G12349865432177")
    return CustodyEvent(
        step,
        T0 + dt.timedelta(hours=hours),
        kw.pop("actor", "nurse.a"),
        kw.pop("location", "Site 01"),
        **kw,
    )


def test_a_valid_event_passes():
    check_event([ev(Step.COLLECTED, 0)], ev(Step.PACKED, 2))


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (CustodyEvent(Step.PACKED, dt.datetime(2026, 3, 2, 10), "a", "b", "=x"), "time zone"),
        (ev(Step.PACKED, 2, actor=" "), "who and where"),
        (ev(Step.PACKED, -1), "earlier than the previous step"),
        (ev(Step.PACKED, 2, scanned=""), "scan the label"),
    ],
)
def test_event_rules(event, message):
    with pytest.raises((InputError, RuleViolation), match=message):
        check_event([ev(Step.COLLECTED, 0)], event)


def test_shipment_needs_courier_shipper_and_logger():
    history = [ev(Step.COLLECTED, 0), ev(Step.PACKED, 1)]
    with pytest.raises(InputError, match="courier, shipper_id, logger_id"):
        check_event(history, ev(Step.SHIPPED, 2, details=None))


def test_release_needs_no_scan_and_times_in_other_zones_compare_correctly():
    history = [ev(s, i) for i, s in enumerate(MAIN_PATH[:5])]
    paris = ZoneInfo("Europe/Paris")
    later_in_paris = (T0 + dt.timedelta(hours=7)).astimezone(paris)
    check_event(history, CustodyEvent(Step.RELEASED, later_in_paris, "qa.b", "CDMO"))


# ---- cold chain ------------------------------------------------------------------------------

DRY_SHIPPER = ShipperLimits(
    max_c=-150, allowed_excursion=dt.timedelta(minutes=10), max_gap=dt.timedelta(minutes=30)
)


def trace(temps: list[float], step_minutes: int = 5) -> list[Reading]:
    return [Reading(T0 + dt.timedelta(minutes=i * step_minutes), t) for i, t in enumerate(temps)]


def test_no_excursion():
    result = check_temperatures(trace([-190, -185, -180]), DRY_SHIPPER)
    assert result.acceptable and result.excursions == ()


def test_short_excursion_is_tolerated_and_long_one_is_a_breach():
    result = check_temperatures(
        trace([-190, -140, -190, -190, -145, -120, -130, -160, -190]), DRY_SHIPPER
    )
    short, long_ = result.excursions
    assert short.duration == dt.timedelta(minutes=5) and not short.breach
    assert long_.start == T0 + dt.timedelta(minutes=20)
    assert long_.duration == dt.timedelta(minutes=15) and long_.breach
    assert (long_.lowest_c, long_.highest_c) == (-145, -120)
    assert result.breaches == (long_,) and not result.acceptable
    assert result.summary().splitlines()[0] == "2 excursion(s), 1 beyond tolerance"
    assert "0:15:00 (-145 to -120 °C): BREACH" in result.summary()


def test_excursion_at_the_end_is_ongoing():
    (exc,) = check_temperatures(trace([-190, -100, -90, -80]), DRY_SHIPPER).excursions
    assert exc.ongoing and exc.duration == dt.timedelta(minutes=10) and not exc.breach


def test_logger_gaps_and_two_sided_limits():
    readings = [*trace([5, 6]), Reading(T0 + dt.timedelta(hours=2), 1.0)]
    fridge = ShipperLimits(min_c=2, max_c=8, max_gap=dt.timedelta(minutes=30))
    result = check_temperatures(reversed(readings), fridge)
    assert result.gaps == ((T0 + dt.timedelta(minutes=5), T0 + dt.timedelta(hours=2)),)
    assert result.excursions[0].lowest_c == 1.0 and result.excursions[0].ongoing


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: check_temperatures([], DRY_SHIPPER), "no readings"),
        (
            lambda: check_temperatures([Reading(dt.datetime(2026, 1, 1), -190)], DRY_SHIPPER),
            "time zone",
        ),
        (lambda: ShipperLimits(), "at least one"),
        (lambda: ShipperLimits(min_c=8, max_c=2), "above"),
    ],
)
def test_cold_chain_input_errors(make, message):
    with pytest.raises(InputError, match=message):
        make()


# ---- progress, timeline, risk ------------------------------------------------------------------

DAY = 24


def full_order() -> list[CustodyEvent]:
    hours = [
        0,
        3,
        6,
        30,
        54,
        54 + 17 * DAY,
        78 + 17 * DAY,
        82 + 17 * DAY,
        130 + 17 * DAY,
        178 + 17 * DAY,
        179 + 17 * DAY,
        180 + 17 * DAY,
    ]
    return [ev(s, h) for s, h in zip(MAIN_PATH, hours, strict=True)]


def test_progress():
    assert progress([]).next_steps == (Step.COLLECTED,)
    p = progress(full_order()[:4])
    assert p.current is Step.RECEIVED and p.next_steps == (Step.STORED, Step.MANUFACTURING_STARTED)
    assert progress(full_order()).complete


def test_vein_to_vein_timeline():
    events = full_order()
    timeline = vein_to_vein_timeline(events)
    assert [m.label for m in timeline.milestones] == [
        "Apheresis",
        "Receipt at manufacturer",
        "Start of manufacturing",
        "Release",
        "Shipment to site",
        "Infusion",
    ]
    assert [i.duration for i in timeline.intervals] == [
        dt.timedelta(hours=30),
        dt.timedelta(hours=24),
        dt.timedelta(days=17),
        dt.timedelta(hours=28),
        dt.timedelta(hours=98),
    ]
    assert timeline.vein_to_vein == dt.timedelta(hours=180 + 17 * DAY)
    assert timeline.vein_to_vein_days == pytest.approx(24.5)
    assert sum((i.duration for i in timeline.intervals), dt.timedelta()) == timeline.vein_to_vein
    summary = timeline.summary().splitlines()
    assert summary[0].startswith("Apheresis") and summary[0].endswith("2026-03-02T08:00+00:00")
    assert summary[3].endswith("+17.0 d") and summary[-1] == "Vein-to-vein: 24.5 days"


def test_timeline_in_flight_skips_missing_milestones():
    events = [*full_order()[:3], ev(Step.MANUFACTURING_STARTED, 40)]
    now = T0 + dt.timedelta(days=3)
    timeline = vein_to_vein_timeline(events, now=now)
    assert timeline.vein_to_vein is None and timeline.elapsed == dt.timedelta(days=3)
    assert [(i.start, i.end) for i in timeline.intervals] == [
        (Step.COLLECTED, Step.MANUFACTURING_STARTED)
    ]


# The required-by risk and the delivery projection are scheduling.projection's (one rule for
# every screen): tests/unit/scheduling/test_scheduling_projection.py.
