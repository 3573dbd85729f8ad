"""Dose, volume and bags of a batch, and the exceptional-release decision (issue 13, "Dose").

Sources of the conventions: doses in "CAR-positive viable T cells" per kg or flat, with a cap
in cells (YESCARTA PI §2.2: 2 × 10^6 /kg, at most 2 × 10^8, i.e. per-kg dosing up to 100 kg;
CARVYKTI PI §2.2: 0.5-1.0 × 10^6 /kg, at most 1 × 10^8; KYMRIAH PI §2.1: B-ALL 0.2-5.0 × 10^6
/kg; its EU SmPC §2: bags of 10-30 or 30-50 mL; BREYANZI PI §2.2: a flat 50-110 × 10^6);
"cohort dose ± 20 %" (Front Immunol 2024;15:1328368); the OOS release path (EudraLex Vol. 4
Part IV, 2017). Every number below is worked by hand in its comment.
"""

from __future__ import annotations

import datetime as dt

import pytest

from vein2vein.core.errors import InputError, RuleViolation
from vein2vein.quality.dose import (
    BatchParties,
    DoseBasis,
    DoseLevel,
    ExceptionalRelease,
    Flag,
    ProductDoseLimits,
    SignOff,
    SignOffRole,
    _bag_count,
    check_exceptional_release,
    missing_sign_offs,
    plan_dose,
    required_dose,
)

ONE_PER_KG = DoseLevel(1, "10^6 cells/kg", "middle")
BAGS_10_70 = ProductDoseLimits(min_fill_ml=10, max_fill_ml=70, max_total_ml=130)


# --- required cells ---------------------------------------------------------------------------


def test_one_million_per_kg_at_72_5_kg() -> None:
    # 1 × 10^6 /kg × 72.5 kg = 7.25 × 10^7 cells
    req = required_dose(ONE_PER_KG, 72.5, BAGS_10_70)
    assert req.target_cells == pytest.approx(7.25e7)
    assert req.dosing_weight_kg == 72.5
    assert req.capped_by == ()


@pytest.mark.parametrize(
    ("value", "unit", "basis", "base"),
    [
        (0.3, "10^6 cells/kg", DoseBasis.PER_KG, 3e5),
        (3, "e6 cells/kg", DoseBasis.PER_KG, 3e6),
        (1, "10^8 cells", DoseBasis.FLAT, 1e8),
        (110, "10^6 cells", DoseBasis.FLAT, 1.1e8),
    ],
)
def test_dose_levels_per_kg_and_flat(
    value: float, unit: str, basis: DoseBasis, base: float
) -> None:
    level = DoseLevel(value, unit)
    assert level.basis is basis
    assert level.base_value == pytest.approx(base)


@pytest.mark.parametrize(
    ("value", "unit", "field"), [(1, "mL", "dose_unit"), (0, "cells", "dose_level")]
)
def test_a_dose_level_in_the_wrong_unit_or_of_zero_is_refused(
    value: float, unit: str, field: str
) -> None:
    with pytest.raises(InputError) as err:
        DoseLevel(value, unit)
    assert err.value.field == field


def test_weight_above_the_cap_uses_the_cap() -> None:
    # YESCARTA-like: 2 × 10^6 /kg, per-kg dosing up to 100 kg; a 120 kg patient gets
    # 2 × 10^6 × 100 = 2 × 10^8 cells, i.e. 1.667 × 10^6 /kg of his actual weight
    limits = ProductDoseLimits(max_fill_ml=70, weight_cap_kg=100)
    req = required_dose(DoseLevel(2, "10^6 cells/kg"), 120, limits)
    assert req.dosing_weight_kg == 100
    assert req.target_cells == pytest.approx(2e8)
    assert req.capped_by == ("weight cap 100 kg",)
    plan = plan_dose(DoseLevel(2, "10^6 cells/kg"), 120, 4e6, 68, limits)
    assert plan.cells_per_kg == pytest.approx(2e8 / 120)  # 1.6667e6
    assert plan.volume_ml == pytest.approx(50.0)  # 2e8 / 4e6


def test_the_cap_in_cells_applies_when_there_is_no_weight_cap() -> None:
    # 2 × 10^6 /kg × 110 kg = 2.2 × 10^8, capped at 2 × 10^8 (YESCARTA's maximum)
    req = required_dose(DoseLevel(2, "10^6 cells/kg"), 110, ProductDoseLimits(max_cells=2e8))
    assert req.target_cells == pytest.approx(2e8)
    assert req.capped_by == ("maximum 2e+08 cells",)


def test_a_level_above_the_products_maximum_per_kg_is_refused() -> None:
    # KYMRIAH B-ALL allows at most 5.0 × 10^6 /kg
    with pytest.raises(RuleViolation, match="above the product's maximum"):
        required_dose(DoseLevel(6, "10^6 cells/kg"), 30, ProductDoseLimits(max_cells_per_kg=5e6))


def test_a_flat_dose_ignores_the_weight_but_reports_per_kg() -> None:
    # a flat 1 × 10^8 cells (BREYANZI-like) for 60 kg: 1.667 × 10^6 /kg; at 2.5e6/mL 40 mL
    plan = plan_dose(DoseLevel(1, "10^8 cells"), 60, 2.5e6, 50, BAGS_10_70)
    assert plan.required.target_cells == pytest.approx(1e8)
    assert plan.cells_per_kg == pytest.approx(1e8 / 60)
    assert plan.volume_ml == pytest.approx(40.0)
    assert not plan.flagged


# --- volume and bags ----------------------------------------------------------------------------


def test_29_ml_in_one_bag() -> None:
    # 7.25e7 cells at 2.5e6 CAR+ viable cells/mL → 29.0 mL → one bag (10-70 mL)
    plan = plan_dose(ONE_PER_KG, 72.5, 2.5e6, 50, BAGS_10_70)
    assert plan.volume_ml == pytest.approx(29.0)
    assert len(plan.bags) == 1
    (bag,) = plan.bags
    assert bag.volume_ml == pytest.approx(29.0)
    assert bag.cells == pytest.approx(7.25e7)
    assert bag.cells_per_kg == pytest.approx(1e6)
    assert plan.reaches_dose and plan.fillable and not plan.flagged
    assert plan.findings == ()
    assert plan.available_cells == pytest.approx(1.25e8)  # 50 mL × 2.5e6


def test_a_dose_over_one_bag_is_split_evenly() -> None:
    # 3 × 10^6 /kg × 80 kg = 2.4e8 at 2e6/mL = 120 mL → 2 bags of 60 mL, 1.2e8 cells each,
    # 1.5 × 10^6 /kg per bag
    plan = plan_dose(DoseLevel(3, "10^6 cells/kg"), 80, 2e6, 150, BAGS_10_70)
    assert [b.number for b in plan.bags] == [1, 2]
    assert all(b.volume_ml == pytest.approx(60.0) for b in plan.bags)
    assert all(b.cells == pytest.approx(1.2e8) for b in plan.bags)
    assert all(b.cells_per_kg == pytest.approx(1.5e6) for b in plan.bags)
    assert plan.cells_per_kg == pytest.approx(3e6)


def test_exactly_two_full_bags_is_two_bags() -> None:
    # 140 mL (1.4e8 at 1e6/mL) with 70 mL bags: 2 bags of 70 mL, not a third empty one
    plan = plan_dose(DoseLevel(1.4, "10^8 cells"), 70, 1e6, 200, ProductDoseLimits(max_fill_ml=70))
    assert [b.volume_ml for b in plan.bags] == pytest.approx([70.0, 70.0])
    # a volume a rounding error above 140 mL still fits two bags; 140.1 mL needs three
    assert _bag_count(140 * (1 + 4e-16), 70) == 2
    assert _bag_count(140.1, 70) == 3


def test_a_dose_needing_180_ml_when_130_ml_is_the_maximum_is_flagged() -> None:
    # 3 × 10^6 /kg × 75 kg = 2.25e8 at 1.25e6/mL = 180 mL > 130 mL. Achievable:
    # 130 mL × 1.25e6 = 1.625e8 cells = 2.1667 × 10^6 /kg, in 2 bags of 65 mL
    plan = plan_dose(DoseLevel(3, "10^6 cells/kg"), 75, 1.25e6, 200, BAGS_10_70)
    assert plan.flagged and not plan.reaches_dose
    assert [f.flag for f in plan.findings] == [Flag.VOLUME_OVER_MAXIMUM]
    assert "180.0 mL" in plan.findings[0].message
    assert "130 mL" in plan.findings[0].message
    assert plan.achievable_cells == pytest.approx(1.625e8)
    assert plan.achievable_cells_per_kg == pytest.approx(1.625e8 / 75)
    assert plan.volume_ml == pytest.approx(130.0)
    assert [b.volume_ml for b in plan.bags] == pytest.approx([65.0, 65.0])
    assert "achievable dose 1.625e+08 cells" in plan.summary()


def test_a_batch_without_enough_cells_is_flagged_with_the_achievable_dose() -> None:
    # needs 7.25e7; the batch holds 20 mL × 2.5e6 = 5e7 → achievable 5e7 = 6.897 × 10^5 /kg
    plan = plan_dose(ONE_PER_KG, 72.5, 2.5e6, 20, BAGS_10_70)
    assert plan.flagged
    assert [f.flag for f in plan.findings] == [Flag.NOT_ENOUGH_CELLS]
    assert "5e+07" in plan.findings[0].message and "7.25e+07" in plan.findings[0].message
    assert plan.achievable_cells == pytest.approx(5e7)
    assert plan.achievable_cells_per_kg == pytest.approx(689655.17, rel=1e-7)
    assert plan.volume_ml == pytest.approx(20.0)


def test_too_many_bags_is_flagged() -> None:
    # 2.4e8 at 2e6/mL = 120 mL; bags of at most 50 mL (KYMRIAH-like) and 2 bags at most:
    # 3 bags needed → flagged; achievable 100 mL = 2e8 cells
    limits = ProductDoseLimits(min_fill_ml=10, max_fill_ml=50, max_bags=2)
    plan = plan_dose(DoseLevel(3, "10^6 cells/kg"), 80, 2e6, 150, limits)
    assert [f.flag for f in plan.findings] == [Flag.TOO_MANY_BAGS]
    assert plan.achievable_cells == pytest.approx(2e8)
    assert len(plan.bags) == 2


def test_within_the_lower_tolerance_the_dose_is_met_but_the_shortfall_is_stated() -> None:
    # cohort dose ± 20 %: target 7.25e7, minimum 5.8e7; the batch holds 24 mL × 2.5e6 = 6e7
    limits = ProductDoseLimits(max_total_ml=130, lower_tolerance=0.2)
    plan = plan_dose(ONE_PER_KG, 72.5, 2.5e6, 24, limits)
    assert plan.required.minimum_cells == pytest.approx(5.8e7)
    assert plan.reaches_dose and plan.within_tolerance and not plan.flagged
    assert [f.flag for f in plan.findings] == [Flag.NOT_ENOUGH_CELLS]
    # 22 mL (5.5e7) is below 5.8e7: flagged
    assert plan_dose(ONE_PER_KG, 72.5, 2.5e6, 22, limits).flagged


def test_a_bag_below_the_minimum_fill_is_flagged() -> None:
    # 0.3 × 10^6 /kg × 40 kg = 1.2e7 at 2.5e6/mL = 4.8 mL < 10 mL: the dose is there, the bag is not
    plan = plan_dose(DoseLevel(0.3, "10^6 cells/kg"), 40, 2.5e6, 50, BAGS_10_70)
    assert plan.reaches_dose and not plan.fillable and plan.flagged
    assert [f.flag for f in plan.findings] == [Flag.BELOW_MINIMUM_FILL]
    assert "4.8 mL" in plan.findings[0].message


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min_fill_ml": 80, "max_fill_ml": 70}, "min_fill_ml"),
        ({"max_total_ml": 5}, "max_total_ml"),
        ({"max_cells": 0}, "max_cells"),
        ({"lower_tolerance": 1}, "lower_tolerance"),
    ],
)
def test_inconsistent_product_limits_are_refused(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(InputError) as err:
        ProductDoseLimits(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((0, 2.5e6, 50), "weight_kg"),
        ((72.5, 0, 50), "concentration"),
        ((72.5, 2.5e6, 0), "available_volume_ml"),
    ],
)
def test_bad_plan_inputs_name_the_field(args: tuple[float, float, float], field: str) -> None:
    with pytest.raises(InputError) as err:
        plan_dose(ONE_PER_KG, *args, BAGS_10_70)
    assert err.value.field == field


def test_the_plan_is_a_result_with_a_json_form() -> None:
    data = plan_dose(ONE_PER_KG, 72.5, 2.5e6, 50, BAGS_10_70).to_dict()
    assert data["volume_ml"] == pytest.approx(29.0)
    assert data["bags"][0]["cells"] == pytest.approx(7.25e7)


# --- exceptional release ------------------------------------------------------------------------

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
PARTIES = BatchParties(
    batch="B-0007",
    coi="COI-7F3K-20260114",
    operators=frozenset({"olga.operator", "oscar.operator"}),
    analysts=frozenset({"ana.analyst"}),
)


def _sign(role: SignOffRole, who: str, minutes: int) -> SignOff:
    return SignOff(role, who, T0 + dt.timedelta(minutes=minutes), "approved")


def _record(*sign_offs: SignOff, trial: bool = True, **changes: object) -> ExceptionalRelease:
    fields: dict[str, object] = {
        "batch": "B-0007",
        "coi": "COI-7F3K-20260114",
        "nonconformities": ("dose: achievable 5.0e7 of 7.25e7 CAR+ viable T cells",),
        "physician_request": "letter DR-2026-031 of 2 March 2026",
        "no_alternative": "no apheresis material left; disease progressing",
        "risk_assessment": "RA-0007 v1 sent to the physician 1 March 2026",
        "authority_notification": "reported to the competent authority 2 March 2026",
        "in_clinical_trial": trial,
        "sign_offs": sign_offs,
    }
    fields.update(changes)
    return ExceptionalRelease(**fields)  # type: ignore[arg-type]


FULL = (
    _sign(SignOffRole.TREATING_PHYSICIAN, "dr.house", 0),
    _sign(SignOffRole.QA, "quinn.qa", 30),
    _sign(SignOffRole.SPONSOR, "sam.sponsor", 45),
)


def test_a_complete_exceptional_release_passes() -> None:
    check_exceptional_release(_record(*FULL), PARTIES)
    assert missing_sign_offs(_record(*FULL)) == ()


def test_outside_a_trial_physician_and_qa_suffice_and_a_sponsor_is_refused() -> None:
    check_exceptional_release(_record(*FULL[:2], trial=False), PARTIES)
    with pytest.raises(RuleViolation, match="no sponsor"):
        check_exceptional_release(_record(*FULL, trial=False), PARTIES)


def test_missing_sign_offs_are_named_and_partial_records_pass_only_when_asked() -> None:
    partial = _record(FULL[0])
    assert missing_sign_offs(partial) == (SignOffRole.QA, SignOffRole.SPONSOR)
    check_exceptional_release(partial, PARTIES, complete=False)
    with pytest.raises(RuleViolation, match="quality assurance, sponsor"):
        check_exceptional_release(partial, PARTIES)


@pytest.mark.parametrize("who", ["olga.operator", "Ana.Analyst "])
def test_an_operator_or_analyst_of_the_batch_may_not_sign(who: str) -> None:
    record = _record(FULL[0], _sign(SignOffRole.QA, who, 30), FULL[2])
    with pytest.raises(RuleViolation, match="B-0007"):
        check_exceptional_release(record, PARTIES)


def test_one_person_cannot_sign_in_two_roles_or_twice() -> None:
    two_roles = _record(FULL[0], FULL[1], _sign(SignOffRole.SPONSOR, "quinn.qa", 50))
    with pytest.raises(RuleViolation, match="already signed as quality assurance"):
        check_exceptional_release(two_roles, PARTIES)
    twice = _record(*FULL, _sign(SignOffRole.QA, "quentin.qa", 60))
    with pytest.raises(RuleViolation, match="already signed"):
        check_exceptional_release(twice, PARTIES)


def test_qa_and_sponsor_sign_after_the_physicians_request() -> None:
    early = _record(FULL[0], _sign(SignOffRole.QA, "quinn.qa", -5), FULL[2])
    with pytest.raises(RuleViolation, match="before the treating physician's request"):
        check_exceptional_release(early, PARTIES)
    without_request = _record(FULL[1])
    with pytest.raises(RuleViolation, match="only after the treating physician's request"):
        check_exceptional_release(without_request, PARTIES, complete=False)


def test_the_decision_is_patient_and_batch_specific() -> None:
    with pytest.raises(RuleViolation, match="for patient COI-OTHER"):
        check_exceptional_release(_record(*FULL, coi="COI-OTHER"), PARTIES)
    with pytest.raises(RuleViolation, match="for batch B-0008"):
        check_exceptional_release(_record(*FULL, batch="B-0008"), PARTIES)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"risk_assessment": " "}, "risk_assessment"),
        ({"physician_request": ""}, "physician_request"),
        ({"nonconformities": ()}, "nonconformities"),
    ],
)
def test_required_fields_are_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as err:
        check_exceptional_release(_record(*FULL, **changes), PARTIES)
    assert err.value.field == field


def test_a_sign_off_without_a_time_zone_is_refused() -> None:
    naive = SignOff(SignOffRole.QA, "quinn.qa", dt.datetime(2026, 3, 2, 9, 30), "approved")
    with pytest.raises(InputError) as err:
        check_exceptional_release(_record(FULL[0], naive, FULL[2]), PARTIES)
    assert err.value.field == "sign_offs[quality assurance]"
