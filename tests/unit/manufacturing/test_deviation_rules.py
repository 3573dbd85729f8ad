"""Deviation rules: a root cause always, a CAPA for major and critical deviations (ICH Q10
3.2.2; EU GMP Part I 1.4(xiv)), closing needs the classification, a closed deviation is
locked, numbers as people quote them."""

from __future__ import annotations

import pytest

from vein2vein.core.errors import InputError, RecordLocked, RuleViolation
from vein2vein.manufacturing.deviation_rules import (
    Classification,
    DeviationFacts,
    Status,
    check_closable,
    check_editable,
    check_investigation,
    number,
    parse_classification,
)


def facts(**changes: object) -> DeviationFacts:
    values: dict[str, object] = dict(
        number="DEV-2026-0001",
        status=Status.OPEN,
        classification=Classification.MINOR,
        root_cause="CO2 supply bottle change overran",
        capa="",
    )
    values.update(changes)
    return DeviationFacts(**values)  # type: ignore[arg-type]


def test_number_format() -> None:
    assert number(2026, 7) == "DEV-2026-0007"


def test_capa_needed_for_major_and_critical_only() -> None:
    check_investigation(Classification.MINOR, "the alarm worked as designed", "")
    for level in (Classification.MAJOR, Classification.CRITICAL):
        with pytest.raises(InputError) as err:
            check_investigation(level, "the alarm worked as designed", "n/a")
        assert err.value.field == "capa"
        check_investigation(level, "the alarm worked as designed", "second bottle on standby")
    with pytest.raises(InputError) as err:
        check_investigation(Classification.MINOR, "unknown", "")
    assert err.value.field == "root_cause"


def test_closing() -> None:
    check_closable(facts())
    with pytest.raises(RuleViolation, match="classify it before closing"):
        check_closable(facts(classification=None))
    with pytest.raises(RuleViolation, match="cannot be closed yet"):
        check_closable(facts(classification=Classification.MAJOR))  # no CAPA
    with pytest.raises(RecordLocked, match="closed"):
        check_closable(facts(status=Status.CLOSED))
    with pytest.raises(RecordLocked):
        check_editable(facts(status=Status.CLOSED))


def test_classification_words() -> None:
    assert parse_classification(" Major ") is Classification.MAJOR
    with pytest.raises(InputError) as err:
        parse_classification("severe")
    assert err.value.field == "classification"
