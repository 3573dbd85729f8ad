"""Typed input of the chain of identity (``identity.intake``): anything that is not what it
claims to be is an input error naming the field, never a crash, and never echoes the value."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from vein2vein.core.errors import InputError
from vein2vein.identity import intake
from vein2vein.identity.domain import Step


@pytest.mark.parametrize(
    ("text", "offset"),
    [("+02:00", dt.timedelta(hours=2)), ("-0530", dt.timedelta(hours=-5, minutes=-30))],
)
def test_fixed_offsets(text, offset):
    assert intake.time_zone(text).utcoffset(None) == offset


def test_iana_zones():
    assert intake.time_zone(" Europe/Amsterdam ").utcoffset(dt.datetime(2026, 7, 1)) == (
        dt.timedelta(hours=2)
    )


@pytest.mark.parametrize(
    "text",
    ["", "Mars/Olympus", "+99:99", "+24:00", "-12:60", "../../etc/passwd", "a" * 300, "\x00"],
)
def test_what_is_not_a_time_zone_is_an_input_error(text):
    with pytest.raises(InputError) as err:
        intake.time_zone(text)
    assert err.value.field == "time_zone"


@pytest.mark.parametrize(
    ("typed", "kg"),
    [("72.5", Decimal("72.50")), (" 68.255 ", Decimal("68.26")), (70, Decimal("70.00"))],
)
def test_weight_is_rounded_to_ten_grams(typed, kg):
    assert intake.weight_kg(typed) == kg


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("NaN", "as a number"),
        ("Infinity", "as a number"),
        ("1e400", "as a number"),
        ("²", "as a number"),
        ("", "as a number"),
        ("0.1", "between 0.5 and 400 kg"),
        ("401", "between 0.5 and 400 kg"),
        (str(10**30), "as a number"),  # beyond 28 significant digits
    ],
)
def test_implausible_weights_are_refused(typed, message):
    with pytest.raises(InputError, match=message) as err:
        intake.weight_kg(typed)
    assert err.value.field == "weight_kg"


@pytest.mark.parametrize(("typed", "count"), [(None, 0), ("", 0), ("3", 3), (2, 2), (" 12 ", 12)])
def test_excursion_counts(typed, count):
    assert intake.excursion_count(typed) == count


@pytest.mark.parametrize("typed", ["١٢", "²", "-1", "1e3", "1001", "many", 10**30])
def test_excursion_counts_refused(typed):
    with pytest.raises(InputError) as err:
        intake.excursion_count(typed)
    assert err.value.field == "excursions"


def test_receipt_details_read_the_count():
    details, stored = intake.step_details(Step.RECEIVED, {"condition": "Intact", "excursions": "2"})
    assert stored == {"condition": "intact", "excursions": 2}
    assert details is not None


def test_personal_data_is_never_echoed():
    for call, typed in (
        (intake.date_of_birth, "1961-02-30"),
        (intake.date_of_birth, "2999-01-01"),
        (intake.initials, "QZQ1"),
    ):
        with pytest.raises(InputError) as err:
            call(typed)
        assert typed not in err.value.message


def test_order_terms_check_in_the_order_of_the_form():
    req = intake.OrderRequest(
        patient_id=1,
        product_code="S1234V00",  # not autologous: the first error shown
        dose_level="",
        weight_kg="NaN",
        planned_apheresis="2026-01-05",
        required_by="2026-01-01",
        starting_material="frozen",
        markers={},
    )
    with pytest.raises(InputError) as err:
        intake.order_terms(req)
    assert err.value.field == "product_code"
    good = intake.order_terms(
        req.__class__(
            **(
                req.__dict__
                | {
                    "product_code": "S1234100",
                    "dose_level": " DL2 ",
                    "weight_kg": "71.4",
                    "required_by": "2026-02-01",
                    "starting_material": "Fresh",
                    "markers": dict.fromkeys(("hbv", "hcv", "hiv", "htlv"), "negative")
                    | {"syphilis": "Positive"},
                }
            )
        )
    )
    assert (good.dose_level, good.weight_kg, good.starting_material) == (
        "DL2",
        Decimal("71.40"),
        "fresh",
    )
    assert good.segregated
