"""When a subject may be linked to an order (insights/outcome_rules.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from vein2vein.core.errors import Conflict, RuleViolation
from vein2vein.insights.outcome_rules import LinkFacts, check_link

OK = LinkFacts(
    study_code="S",
    study_organisation_id=2,
    study_program_id=5,
    subject_id="IIT-G01",
    subject_known=True,
    coi_entered="coi-1",
    dataset_coi=None,
    year_of_birth_entered=1961,
    dataset_year_of_birth=None,
    order_number="HLX-1",
    order_organisation_id=2,
    order_program_id=5,
    order_coi="COI-1",
    patient_year_of_birth=1961,
    subject_current_order=None,
    order_current_subject=None,
    has_batch=True,
    infused=True,
    ordered_dose_per_kg=1e6,
    dataset_dose_per_kg=1e6,
)


def test_a_link_that_holds_has_no_warnings() -> None:
    assert check_link(OK) == []


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"subject_known": False}, RuleViolation, "not in the newest dataset version"),
        ({"order_organisation_id": 3}, RuleViolation, "another sponsor"),
        ({"order_program_id": 6}, RuleViolation, "another program"),
        ({"coi_entered": "COI-2"}, RuleViolation, "is not order HLX-1's"),
        ({"dataset_coi": "COI-9"}, RuleViolation, "not the same patient: the dataset records"),
        ({"year_of_birth_entered": 1962}, RuleViolation, "year of birth entered"),
        ({"dataset_year_of_birth": 1970}, RuleViolation, "year of birth in the dataset"),
        ({"subject_current_order": "HLX-9"}, Conflict, "already linked to order HLX-9"),
        ({"order_current_subject": "IIT-G02"}, Conflict, "already linked to subject IIT-G02"),
    ],
)
def test_refusals_name_what_differs(change: dict, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        check_link(replace(OK, **change))


def test_warnings_do_not_refuse() -> None:
    got = check_link(
        replace(OK, has_batch=False, infused=False, ordered_dose_per_kg=2e6,
                year_of_birth_entered=None)
    )  # fmt: skip
    assert len(got) == 4
    assert any("dose level ordered" in w for w in got)
    assert any("year of birth not compared" in w for w in got)
