"""Rounding to the reportable precision, on the decimal value, half away from zero (USP General
Notices 7.20) or to even where a specification says so (ISO 80000-1 Annex B)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vein2vein.quality.domain import Precision, Rounding, decimal_text, round_to

WHOLE = Precision(decimals=0)
ONE_DP = Precision(decimals=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Python's round() gives 0, 2, 2 here (round half to even on binary floats)
        ("0.5", "1"),
        ("1.5", "2"),
        ("2.5", "3"),
        ("3.5", "4"),
        ("-0.5", "-1"),  # away from zero, not up: -0.5 → -1
        ("-2.5", "-3"),
        ("0.49", "0"),
        ("69.5", "70"),  # USP 7.20 example in the notes: ≥ 70 %, 69.5 → 70
        ("69.49", "69"),  # notes: 69.49 → 69
        ("99.5", "100"),
    ],
)
def test_half_away_from_zero_at_whole_numbers(value: str, expected: str) -> None:
    assert decimal_text(round_to(D(value), WHOLE)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("69.45", "69.5"),  # exactly half on the decimal: up
        ("69.95", "70.0"),  # USP 7.20 as in the notes: ≥ 70.0 %, 69.95 → 70.0
        ("69.94", "69.9"),  # notes: 69.94 → 69.9
        ("0.05", "0.1"),
        ("2.25", "2.3"),
        ("2.35", "2.4"),
        ("70", "70.0"),  # the precision's trailing zero is kept
    ],
)
def test_half_up_at_one_decimal_place(value: str, expected: str) -> None:
    assert decimal_text(round_to(D(value), ONE_DP)) == expected


def test_binary_float_would_round_2_675_down() -> None:
    """Why rounding is done on decimals: the example of Python's own documentation of round()
    ("Floating-Point Arithmetic: Issues and Limitations"): round(2.675, 2) gives 2.67."""
    assert round(2.675, 2) == 2.67
    assert round_to(D("2.675"), Precision(decimals=2)) == D("2.68")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.5", "0"), ("1.5", "2"), ("2.5", "2"), ("69.45", "69.4"), ("69.55", "69.6")],
)
def test_half_even_when_the_specification_says_so(value: str, expected: str) -> None:
    precision = ONE_DP if "." in value and len(value.split(".")[1]) == 2 else WHOLE
    assert decimal_text(round_to(D(value), precision, Rounding.HALF_EVEN)) == expected


@pytest.mark.parametrize(
    ("value", "figures", "expected"),
    [
        ("1.45", 2, "1.5"),  # ARI-0001 batch VCN 1.45 (Mol Ther Methods Clin Dev 2018, table 2)
        ("2.32", 2, "2.3"),
        ("2.51", 1, "3"),
        ("0.012345", 3, "0.0123"),
        ("0.012355", 3, "0.0124"),
        ("311150000", 3, "311000000"),
        ("9.996", 3, "10.0"),  # the carry adds a digit: still three figures
        ("99.95", 3, "100"),
        ("0", 2, "0.0"),
    ],
)
def test_significant_figures(value: str, figures: int, expected: str) -> None:
    assert decimal_text(round_to(D(value), Precision(significant=figures))) == expected


@given(
    st.decimals(min_value=-(10**6), max_value=10**6, allow_nan=False, places=4),
    st.integers(min_value=0, max_value=3),
)
def test_rounding_moves_a_value_by_at_most_half_a_step(value: D, places: int) -> None:
    rounded = round_to(value, Precision(decimals=places))
    step = D(1).scaleb(-places)
    assert abs(rounded - value) <= step / 2
    assert rounded.as_tuple().exponent == -places
    # exactly half a step away only for a tie, which goes away from zero
    if abs(rounded - value) == step / 2:
        assert abs(rounded) > abs(value)
