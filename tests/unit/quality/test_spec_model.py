"""Validating a specification: criteria consistent with their units and precision, every problem
named by its path."""

from __future__ import annotations

import copy
from decimal import Decimal as D
from typing import Any

import pytest

from vein2vein.quality.domain import (
    Category,
    Kind,
    Phase,
    Precision,
    SpecError,
    Stage,
    from_data,
    to_data,
)

BASE: dict[str, Any] = {
    "spec_format": 1,
    "product": "HLX-EPC-01",
    "stage": "drug_product",
    "phase": "iit",
    "title": "Release",
    "tests": [
        {
            "code": "viability",
            "name": "Viability",
            "category": "purity",
            "method": "7-AAD flow cytometry",
            "unit": "%",
            "criterion": {"kind": "at_least", "limit": 70},
            "precision": {"decimals": 0},
        },
        {
            "code": "sterility",
            "name": "Sterility",
            "category": "safety",
            "method": "Ph. Eur. 2.6.27",
            "criterion": {"kind": "negative", "text": "No growth"},
            "after_release": True,
        },
    ],
}


def with_test(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["tests"][0].update(changes)
    return {**data, "tests": [{k: v for k, v in data["tests"][0].items() if v is not None}]}


def error(data: Any) -> SpecError:
    with pytest.raises(SpecError) as info:
        from_data(data)
    return info.value


def test_a_valid_specification_reads_into_the_model() -> None:
    spec = from_data(BASE)
    assert (spec.product, spec.stage, spec.phase) == ("HLX-EPC-01", Stage.DRUG_PRODUCT, Phase.IIT)
    viability = spec.test("viability")
    assert viability.criterion.kind is Kind.AT_LEAST and viability.criterion.limit == D(70)
    assert viability.precision == Precision(decimals=0)
    assert viability.category is Category.PURITY
    sterility = spec.test("sterility")
    assert sterility.after_release and sterility.unit is None and sterility.precision is None
    assert from_data(to_data(spec)) == spec


@pytest.mark.parametrize(
    ("changes", "path", "fragment"),
    [
        ({"unit": None}, "tests[0].unit", "'at_least' criterion needs the result's unit"),
        ({"precision": None}, "tests[0].precision", "needs its reportable precision"),
        (
            {"criterion": {"kind": "at_least", "limit": 70.05}, "precision": {"decimals": 1}},
            "tests[0].criterion.limit",
            "70.05 is written more finely than the reportable precision (1 decimal place)",
        ),
        (
            {"criterion": {"kind": "at_most", "limit": 5.5}, "precision": {"significant": 1}},
            "tests[0].criterion.limit",
            "(1 significant figure)",
        ),
        (
            {"criterion": {"kind": "at_least", "limit": 120}},
            "tests[0].criterion.limit",
            "a fraction cannot exceed 100 %",
        ),
        (
            {"unit": "1", "criterion": {"kind": "at_least", "limit": 70}},
            "tests[0].criterion.limit",
            "a fraction cannot exceed 100 % (70 1 given)",
        ),
        (
            {"unit": "EU/mL", "criterion": {"kind": "at_most", "limit": -1}},
            "tests[0].criterion.limit",
            "a endotoxin concentration in EU/mL cannot be negative",
        ),
        (
            {"criterion": {"kind": "range", "low": 80, "high": 70}},
            "tests[0].criterion.high",
            "must be above low (80)",
        ),
        ({"criterion": {"kind": "range", "low": 80}}, "tests[0].criterion.high", "required"),
        (
            {"criterion": {"kind": "at_least", "low": 70}},
            "tests[0].criterion.low",
            "unknown field (known: kind, limit, text)",
        ),
        ({"criterion": {"kind": "above"}}, "tests[0].criterion.kind", "one of range, at_least"),
        ({"criterion": {"kind": "at_least", "limit": "7O"}}, "tests[0].criterion.limit", "'7O'"),
        ({"unit": "furlongs"}, "tests[0].unit", "unknown unit 'furlongs'"),
        ({"unit": 5}, "tests[0].unit", "a unit is text"),
        (
            {"precision": {"decimals": 1, "significant": 2}},
            "tests[0].precision",
            "either decimals or significant",
        ),
        ({"precision": {"decimals": 9}}, "tests[0].precision.decimals", "from 0 to 6"),
        ({"precision": {"decimals": 1.5}}, "tests[0].precision.decimals", "a whole number"),
        ({"rounding": "banker"}, "tests[0].rounding", "one of half_up, half_even"),
        ({"method": ""}, "tests[0].method", "required"),
        ({"code": "Viability!"}, "tests[0].code", "lower-case letters"),
        ({"after_release": "yes"}, "tests[0].after_release", "true or false"),
        ({"result_days": 7}, "tests[0].result_days", "only for a test whose result may follow"),
        (
            {"after_release": True, "result_days": 0},
            "tests[0].result_days",
            "from 1 to 365 days",
        ),
        (
            {"after_release": True, "result_days": True},
            "tests[0].result_days",
            "a whole number of days",
        ),
        (
            {"after_release": True, "result_days": 7.5},
            "tests[0].result_days",
            "a whole number of days",
        ),
        (
            {"criterion": {"kind": "negative"}},
            "tests[0].unit",
            "a 'negative' test takes no unit",
        ),
        (
            {"criterion": {"kind": "conforms"}, "unit": None, "precision": None},
            "tests[0].criterion.text",
            "say what a conforming result shows",
        ),
        (
            {"criterion": {"kind": "report_only"}, "unit": None},
            "tests[0].precision",
            "a text result (no unit) takes no precision",
        ),
    ],
)
def test_inconsistent_tests_are_refused_by_path(
    changes: dict[str, Any], path: str, fragment: str
) -> None:
    err = error(with_test(**changes))
    assert err.path == path
    assert fragment in err.message


def test_test_codes_are_unique() -> None:
    data = copy.deepcopy(BASE)
    data["tests"][1]["code"] = "viability"
    err = error(data)
    assert (err.path, err.message) == ("tests[1].code", "'viability' is used by an earlier test")


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"stage": "final"}, "stage"),
        ({"phase": "pivotal"}, "phase"),
        ({"product": ""}, "product"),
        ({"product": "HLX EPC"}, "product"),
        ({"tests": []}, "tests"),
        ({"spec_format": 2}, "spec_format"),
        ({"version": 3}, "version"),
    ],
)
def test_top_level_problems(changes: dict[str, Any], path: str) -> None:
    assert error({**BASE, **changes}).path == path


def test_a_limit_at_the_precision_may_be_written_with_or_without_its_zero() -> None:
    """USP 7.20 reads the precision from the limit; here it is stated, and 70 at 0.1 is 70.0."""
    spec = from_data(
        with_test(criterion={"kind": "at_least", "limit": 70.0}, precision={"decimals": 1})
    )
    assert spec.tests[0].criterion.limit == D("70.0")


def test_a_result_after_release_is_due_on_its_own_day_or_after_the_compendial_culture() -> None:
    """``result_days`` counts from freezing; without it the 14-day culture of Ph. Eur. 2.6.27 /
    USP <71> (the sterility test of the base specification names none)."""
    data = copy.deepcopy(BASE)
    data["tests"][0].update(after_release=True, result_days=7)
    spec = from_data(data)
    assert [(t.code, t.result_days, t.days_to_result) for t in spec.tests] == [
        ("viability", 7, 7),
        ("sterility", None, 14),
    ]
    assert to_data(spec)["tests"][0]["result_days"] == 7
    assert "result_days" not in to_data(spec)["tests"][1]
    assert from_data(to_data(spec)) == spec
