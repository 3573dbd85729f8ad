"""Judging a result against its test: unit conversion first, rounding to the reportable
precision, then the comparison (USP General Notices 7.20), for every kind of criterion."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vein2vein.manufacturing import units
from vein2vein.quality.domain import (
    Criterion,
    Kind,
    Precision,
    ResultError,
    Test,
    criterion_text,
    judge,
    parse_test,
)


def numeric(kind: str, unit: str = "%", decimals: int | None = 0, **limits: Any) -> Test:
    precision = {"decimals": decimals} if decimals is not None else {"significant": 2}
    return parse_test(
        {
            "code": "t",
            "name": "Test",
            "method": "m",
            "unit": unit,
            "criterion": {"kind": kind, **limits},
            "precision": precision,
        }
    )


VIABILITY_WHOLE = numeric("at_least", limit=70)  # ≥ 70 % (ARI-0001, Mol Ther MCD 2018)
VIABILITY_ONE_DP = numeric("at_least", decimals=1, limit=70)  # ≥ 70.0 %


# --- ≥: the worked numbers of USP General Notices 7.20 as in the references notes ----------


@pytest.mark.parametrize(
    ("raw", "rounded", "conforms"),
    [
        ("69.5", "70 %", True),  # notes §2: 69.5 → 70 conforms
        ("69.49", "69 %", False),  # notes §2: 69.49 → 69 does not
        ("69.4", "69 %", False),
        ("69.95", "70 %", True),
        ("69.94", "70 %", True),  # at whole % the 69.94 rounds to 70 and conforms
        ("70", "70 %", True),
        ("97.9", "98 %", True),  # ARI-0001 batch 1 viability
    ],
)
def test_at_least_70_at_whole_percent(raw: str, rounded: str, conforms: bool) -> None:
    j = judge(VIABILITY_WHOLE, raw, "%")
    assert (j.rounded_text, j.conforms) == (rounded, conforms)
    assert j.raw == D(raw)


@pytest.mark.parametrize(
    ("raw", "rounded", "conforms"),
    [
        ("69.95", "70.0 %", True),  # notes §2: ≥ 70.0 %, 69.95 → 70.0 conforms
        ("69.94", "69.9 %", False),  # notes §2: 69.94 → 69.9 does not
        ("69.5", "69.5 %", False),
        (69.95, "70.0 %", True),  # a float is read by its shortest repr, not its binary value
    ],
)
def test_at_least_70_at_one_decimal_place(raw: Any, rounded: str, conforms: bool) -> None:
    j = judge(VIABILITY_ONE_DP, raw, "%")
    assert (j.rounded_text, j.conforms) == (rounded, conforms)


def test_the_message_shows_raw_rounded_rule_and_criterion() -> None:
    j = judge(VIABILITY_WHOLE, "69.5", "%")
    assert j.message == "69.5 % → 70 % (whole numbers, half up): meets ≥ 70 %"
    j = judge(VIABILITY_ONE_DP, "69.94", "percent")
    assert j.message == "69.94 % → 69.9 % (1 decimal place, half up): does not meet ≥ 70.0 %"


# --- the other numeric kinds ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "conforms"),
    [("5.04", True), ("5.05", False), ("4.96", True), ("0.0", True)],
)
def test_at_most_5_0_eu_per_ml(raw: str, conforms: bool) -> None:
    """Endotoxin ≤ 5.0 EU/mL at 0.1 (Front Immunol 2024;15:1328368 table 1: < 5 EU/mL)."""
    test = numeric("at_most", unit="EU/mL", decimals=1, limit=5)
    assert judge(test, raw, "EU/mL").conforms is conforms


@pytest.mark.parametrize(
    ("raw", "rounded", "conforms"),
    [("99.4", "99", True), ("99.5", "100", False), ("100", "100", False), ("12", "12", True)],
)
def test_less_than_100_beads(raw: str, rounded: str, conforms: bool) -> None:
    """Residual beads < 100 per 3 × 10^6 cells (Mol Cancer Ther 2021;20:846-858): 99.5 rounds to
    100, which is not below 100."""
    test = numeric("less_than", unit="beads/3×10^6 cells", limit=100)
    j = judge(test, raw, "beads/3x10^6 cells")
    assert (j.rounded_text, j.conforms) == (f"{rounded} beads/3×10^6 cells", conforms)


@pytest.mark.parametrize(("raw", "conforms"), [("50.4", False), ("50.5", True), ("51", True)])
def test_more_than_50_pg_per_ml(raw: str, conforms: bool) -> None:
    """IFN-γ > 50 pg/mL (Mol Cancer Ther 2021): 50.4 rounds to 50, not above 50."""
    test = numeric("more_than", unit="pg/mL", limit=50)
    assert judge(test, raw, "pg/mL").conforms is conforms


def test_more_than_in_another_unit_of_the_same_quantity() -> None:
    test = numeric("more_than", unit="pg/mL", limit=50)
    j = judge(test, "0.0505", "ng/mL")
    assert j.value == D("50.5") and j.rounded_text == "51 pg/mL" and j.conforms is True


@pytest.mark.parametrize(
    ("raw", "conforms"),
    [("6.75", True), ("6.74", False), ("7.64", True), ("7.65", False), ("7.2", True)],
)
def test_range_inclusive_after_rounding(raw: str, conforms: bool) -> None:
    """pH 6.8–7.6 at 0.1 (an in-process example): 6.75 → 6.8 is in, 7.65 → 7.7 is out."""
    test = numeric("range", unit="pH", decimals=1, low=6.8, high=7.6)
    assert judge(test, raw, "pH").conforms is conforms
    assert criterion_text(test) == "6.8 – 7.6 pH"


def test_report_only_is_rounded_but_never_judged() -> None:
    test = numeric("report_only", unit="10^8 cells", decimals=None)
    j = judge(test, "3.111e8", "cells")  # 2 × 10^6/kg × 70 kg / (0.9 × 0.5), docs/manufacturing
    assert j.conforms is None
    assert j.rounded_text == "3.1 × 10^8 cells"
    assert j.message.endswith(": reported")


def test_report_only_in_words() -> None:
    test = parse_test(
        {"code": "t", "name": "Colour", "method": "visual", "criterion": {"kind": "report_only"}}
    )
    j = judge(test, "  slightly   yellow ")
    assert (j.rounded_text, j.conforms) == ("slightly yellow", None)


# --- units: converted first, exactly --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "unit", "value", "rounded", "conforms"),
    [
        ("0.853", "1", "85.3", "85 %", True),  # a fraction against a % specification
        ("0.853", "fraction", "85.3", "85 %", True),
        ("0.695", "1", "69.5", "70 %", True),
        ("0.6949", "1", "69.49", "69 %", False),
    ],
)
def test_a_fraction_is_converted_to_percent_before_rounding(
    raw: str, unit: str, value: str, rounded: str, conforms: bool
) -> None:
    j = judge(VIABILITY_WHOLE, raw, unit)
    assert (j.value, j.rounded_text, j.conforms) == (D(value), rounded, conforms)
    assert j.raw_unit == "1"
    assert f"{raw} = {value} %" in j.message


def test_conversion_is_exact_where_binary_floats_would_flip_the_verdict() -> None:
    """0.575 × 100 in binary floating point is 57.49999999999999, which rounds to 57."""
    assert units.convert(0.575, "1", "%") < 57.5
    assert units.convert_exact(D("0.575"), "1", "%") == D("57.5")
    j = judge(numeric("at_least", limit=58), "0.575", "1")
    assert (j.rounded_text, j.conforms) == ("58 %", True)


@pytest.mark.parametrize(
    ("value", "src", "dst", "expected"),
    [
        ("30", "beads/cell", "beads/3×10^6 cells", "90000000"),
        ("150", "beads/3×10^6 cells", "beads/cell", "0.00005"),
        ("50", "pg/mL", "ng/mL", "0.05"),
        ("2", "h", "min", "120"),
        ("300", "K", "°C", "26.85"),
        ("1", "s", "min", "0.01666666666666666666666666666666667"),
    ],
)
def test_exact_conversions(value: str, src: str, dst: str, expected: str) -> None:
    assert units.convert_exact(D(value), src, dst) == D(expected)


def test_copies_per_cell_never_pass_for_copies_per_transduced_cell() -> None:
    """The average VCN over all cells is a different quantity from VCN per transduced cell
    (Front Immunol 2024 specifies the latter)."""
    test = numeric("at_most", unit="copies/transduced cell", decimals=None, limit=5)
    with pytest.raises(ResultError) as info:
        judge(test, "1.2", "copies/cell")
    assert info.value.field == "unit"
    assert "cannot convert copies/cell" in info.value.message


# --- qualitative results ----------------------------------------------------------------------

NEGATIVE = parse_test(
    {
        "code": "mycoplasma",
        "name": "Mycoplasma",
        "method": "qPCR",
        "criterion": {"kind": "negative"},
    }
)
CONFORMS = parse_test(
    {
        "code": "identity",
        "name": "Identity",
        "method": "flow",
        "criterion": {"kind": "conforms", "text": "CAR detected on CD3+ cells"},
    }
)


@pytest.mark.parametrize(
    ("words", "outcome", "conforms"),
    [
        ("negative", "negative", True),
        ("Not Detected", "negative", True),
        ("NOT  DETECTED", "negative", True),
        ("no growth", "negative", True),
        ("absent", "negative", True),  # ARI-0001's wording
        ("Positive", "positive", False),
        ("detected", "positive", False),
        ("growth", "positive", False),
    ],
)
def test_negative_criterion(words: str, outcome: str, conforms: bool) -> None:
    j = judge(NEGATIVE, words)
    assert (j.rounded_text, j.conforms, j.rounded) == (outcome, conforms, None)


@pytest.mark.parametrize(("words", "conforms"), [("Conforms", True), ("does not conform", False)])
def test_conforms_criterion(words: str, conforms: bool) -> None:
    j = judge(CONFORMS, words)
    assert j.conforms is conforms
    assert j.message.endswith("Conforms: CAR detected on CD3+ cells")


def test_conforms_is_not_an_answer_to_a_negative_test() -> None:
    with pytest.raises(ResultError) as info:
        judge(NEGATIVE, "conforms")
    assert info.value.field == "value"
    assert "'conforms' is not a result of this test" in info.value.message
    assert "'not detected'" in info.value.message
    assert "mycoplasma (Mycoplasma)" in info.value.message


# --- bad input names the test and the field -----------------------------------------------


@pytest.mark.parametrize(
    ("test", "raw", "unit", "field", "fragment"),
    [
        (VIABILITY_WHOLE, "abc", "%", "value", "'abc' is not a number"),
        (VIABILITY_WHOLE, "7O", "%", "value", "'7O' is not a number"),
        (VIABILITY_WHOLE, True, "%", "value", "true/false is not a number"),
        (VIABILITY_WHOLE, "nan", "%", "value", "'nan' is not a number"),
        (VIABILITY_WHOLE, float("inf"), "%", "value", "not a finite number"),
        (VIABILITY_WHOLE, "1e99", "%", "value", "out of range"),
        (VIABILITY_WHOLE, "69.5", None, "unit", "give the result's unit"),
        (VIABILITY_WHOLE, "69.5", "mL", "unit", "cannot convert mL (volume) to % (fraction)"),
        (VIABILITY_WHOLE, "69.5", "furlongs", "unit", "unknown unit 'furlongs'"),
        (NEGATIVE, "negative", "%", "unit", "a 'negative' result takes no unit"),
        (NEGATIVE, 0, None, "value", "expected the result in words"),
    ],
)
def test_bad_results_name_the_test_and_field(
    test: Test, raw: Any, unit: str | None, field: str, fragment: str
) -> None:
    with pytest.raises(ResultError) as info:
        judge(test, raw, unit)
    err = info.value
    assert err.field == field and err.test_code == test.code
    assert fragment in err.message
    assert err.message.startswith(f"field '{field}': test {test.code} (")


def test_criterion_texts() -> None:
    assert criterion_text(VIABILITY_ONE_DP) == "≥ 70.0 %"
    assert criterion_text(numeric("less_than", unit="EU/mL", decimals=1, limit=5)) == "< 5.0 EU/mL"
    assert criterion_text(NEGATIVE) == "Negative (not detected)"
    plain = Test("x", "X", "m", Criterion(Kind.AT_MOST, limit=D(1)), "1", Precision(decimals=2))
    assert criterion_text(plain) == "≤ 1.00"


@given(st.decimals(min_value=0, max_value=1, allow_nan=False, places=5))
def test_a_fraction_and_its_percentage_are_judged_alike(fraction: D) -> None:
    as_fraction = judge(VIABILITY_ONE_DP, fraction, "1")
    as_percent = judge(VIABILITY_ONE_DP, fraction * 100, "%")
    assert as_fraction.rounded == as_percent.rounded
    assert as_fraction.conforms is as_percent.conforms
    assert as_fraction.conforms is (as_fraction.rounded >= D("70.0"))  # type: ignore[operator]
