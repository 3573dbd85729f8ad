"""The specification's dose section (quality/domain.py ``dose:``): dose levels, filling limits
and shelf life read, written back unchanged, and refused with the path of the field."""

from __future__ import annotations

import pytest

from vein2vein.quality import domain, spec_yaml
from vein2vein.quality.domain import SpecError
from vein2vein.quality.dose import DoseBasis, required_dose


def _with(dose: object) -> dict[str, object]:
    data = domain.to_data(spec_yaml.load_demo())
    data["dose"] = dose
    return data


def test_the_demo_dose_levels_limits_and_shelf_life() -> None:
    spec = spec_yaml.load_demo()
    assert spec.dose is not None
    assert [(name, lv.value, lv.unit) for name, lv in spec.dose.levels] == [
        ("DL1", 1.0, "10^6 cells/kg"),
        ("DL2", 2.0, "10^6 cells/kg"),
        ("DL3", 3.0, "10^6 cells/kg"),
    ]
    assert spec.dose.shelf_life_days == 180
    dl2 = spec.dose.level("dl2")  # an order's label, case ignored
    assert dl2.basis is DoseBasis.PER_KG
    # 2 × 10^6 /kg × 71.4 kg = 1.428 × 10^8 cells; at 120 kg the weight cap (100 kg) applies
    assert required_dose(dl2, 71.4, spec.dose.limits).target_cells == pytest.approx(1.428e8)
    assert required_dose(dl2, 120, spec.dose.limits).target_cells == pytest.approx(2e8)
    with pytest.raises(KeyError, match="DL1, DL2, DL3"):
        spec.dose.level("DL4")
    assert domain.from_data(domain.to_data(spec)) == spec
    assert spec_yaml.parse(spec_yaml.dump(spec)) == spec


@pytest.mark.parametrize(
    ("dose", "path"),
    [
        ({"levels": {}}, "dose.levels"),
        ({"levels": {"DL1": {"value": 1, "unit": "mL"}}}, "dose.levels.DL1"),
        ({"levels": {"DL1": {"value": 0, "unit": "10^6 cells/kg"}}}, "dose.levels.DL1"),
        (
            {"levels": {"DL1": {"value": 1, "unit": "cells"}}, "shelf_life_days": 0},
            "dose.shelf_life_days",
        ),
        (
            {"levels": {"DL1": {"value": 1, "unit": "cells"}}, "limits": {"max_fill_ml": 5}},
            "dose.limits",
        ),
        ({"levels": {"DL1": {"value": 1, "unit": "cells"}}, "colour": "red"}, "dose.colour"),
    ],
)
def test_a_bad_dose_section_names_its_path(dose: object, path: str) -> None:
    with pytest.raises(SpecError) as refused:
        domain.from_data(_with(dose))
    assert refused.value.path == path, refused.value
