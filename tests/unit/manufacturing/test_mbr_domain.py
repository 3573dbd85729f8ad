"""The MBR model: limit checks at the boundaries, units, calculations with worked examples from
their sources, edits and the differences between versions."""

from __future__ import annotations

import math

import pytest
from tests.mbr_world import V1, V2

from vein2vein.manufacturing import domain, mbr_yaml, units
from vein2vein.manufacturing.domain import Control, Limits, Parameter, Quantity, Verdict
from vein2vein.manufacturing.units import UnitError

MOI = Parameter("moi", "MOI", "TU/cell", 3.0, Limits(2.5, 3.5), Limits(2.0, 5.0))
VIABILITY = Control("viability", "Viability", "%", limits=Limits(70, None), alert=Limits(80, None))


@pytest.mark.parametrize(
    ("value", "verdict"),
    [
        (3.0, Verdict.OK),
        (2.5, Verdict.OK),  # on the NOR's low limit: inside (limits are inclusive)
        (3.5, Verdict.OK),
        (2.4999, Verdict.FLAG),
        (3.5001, Verdict.FLAG),
        (2.0, Verdict.FLAG),  # on the PAR's limit: still acceptable
        (5.0, Verdict.FLAG),
        (1.9999, Verdict.DEVIATION),
        (5.0001, Verdict.DEVIATION),
    ],
)
def test_a_value_is_ok_flagged_or_a_deviation_at_the_limits(value: float, verdict: Verdict) -> None:
    assert domain.check_value(MOI, value, "TU/cell").verdict == verdict


def test_units_are_converted_before_the_check_and_other_dimensions_refused() -> None:
    # 0.8 as a fraction is 80 %: on the alert limit, so ok (no rounding flips it)
    assert domain.check_value(VIABILITY, 0.8, "1").verdict == Verdict.OK
    assert domain.check_value(VIABILITY, 0.79, "fraction").verdict == Verdict.FLAG
    check = domain.check_value(VIABILITY, 0.69, "1")
    assert check.verdict == Verdict.DEVIATION and math.isclose(check.value, 69.0)
    assert "deviation" in check.message and check.unit == "%"
    with pytest.raises(UnitError, match="cannot convert mL"):
        domain.check_value(MOI, 3.0, "mL")
    with pytest.raises(UnitError, match="unknown unit 'furlongs'"):
        domain.check_value(MOI, 3.0, "furlongs")


def test_conversions() -> None:
    assert units.convert(1.5, "10^9 cells", "10^8 cells") == pytest.approx(15.0)
    assert units.convert(250, "uL", "mL") == pytest.approx(0.25)
    assert units.convert(77.15, "K", "degC") == pytest.approx(-196.0)  # liquid nitrogen
    assert units.convert(-1, "K/min", "°C/min") == -1  # a rate: no offset
    assert units.normalise("E6 cells/mL") == "10^6 cells/mL"


def test_vector_volume_for_a_target_moi() -> None:
    """V = MOI × viable cells / titer (Kutner et al. 2009): 1.0e8 cells at MOI 3 with a titer of
    1.0e8 TU/mL need 3.0 mL; in the MBR's units (10^8 cells, 10^8 TU/mL) the same."""
    assert domain.vector_volume_ml(3, 1.0e8, 1.0e8) == pytest.approx(3.0)
    result = domain.calculate(
        domain.Formula.VECTOR_VOLUME,
        {
            "moi": Quantity(2.5, "TU/cell"),
            "viable_cells": Quantity(1.2, "10^8 cells"),
            "titer": Quantity(4.0, "10^8 TU/mL"),
        },
    )
    assert result == Quantity(pytest.approx(0.75), "mL")  # 2.5 × 1.2e8 / 4e8
    with pytest.raises(domain.CalculationError, match="titer"):
        domain.vector_volume_ml(3, 1e8, 0)


def test_cells_for_a_dose_and_feed_volume() -> None:
    """Axicabtagene ciloleucel's dose, 2 × 10^6 CAR+ viable T cells/kg (YESCARTA PI §2.2), for a
    70 kg patient at 90 % viability and 50 % CAR+: 1.4e8 / 0.45 = 3.111e8 cells."""
    result = domain.calculate(
        domain.Formula.CELLS_FOR_DOSE,
        {
            "dose_per_kg": Quantity(2, "10^6 cells/kg"),
            "weight": Quantity(70, "kg"),
            "viability": Quantity(90, "%"),
            "car_fraction": Quantity(50, "%"),
        },
    )
    assert result.unit == "cells" and result.value == pytest.approx(3.1111e8, rel=1e-4)
    with pytest.raises(domain.CalculationError, match="100 %"):
        domain.cells_for_dose(2e6, 70, 1.2, 0.5)
    # 6.0e8 cells in 300 mL fed to 1.0e6/mL: 600 mL in all, 300 mL to add; never negative
    assert domain.feed_volume_ml(6.0e8, 1.0e6, 300) == pytest.approx(300)
    assert domain.feed_volume_ml(1.0e8, 1.0e6, 300) == 0.0


def _v1() -> domain.Mbr:
    return mbr_yaml.parse(V1.read_text(encoding="utf-8"), V1.name)


def test_the_demo_mbr_is_complete() -> None:
    mbr = _v1()
    assert [o.code for o in mbr.operations][:2] == ["RECEIPT", "SELECT"]
    vector = mbr.material("LV-EPCAM")
    assert vector is not None and domain.LotField.FUNCTIONAL_TITER in vector.lot_data
    assert set(mbr.calculated()) == {
        "TRANSDUCE.vector_volume",
        "EXPAND.feed_volume",
        "FORMULATE.cells_required",
    }
    assert [o.code for o in mbr.operations if o.hold] == ["RECEIPT", "FREEZE"]
    rate = mbr.operation("FREEZE").entry("cooling_rate")
    assert rate is not None and rate.target == 1.0 and rate.unit == "°C/min"


def test_a_lentiviral_vector_must_ask_for_its_titer() -> None:
    data = domain.to_data(_v1())
    data["materials"][3]["lot_data"] = ["lot_number", "expiry"]
    with pytest.raises(domain.MbrError, match="functional titer") as info:
        domain.from_data(data)
    assert info.value.path == "materials[3].lot_data"


def test_edits_keep_the_rules() -> None:
    mbr = _v1()
    edited = domain.set_parameter_limits(
        mbr, "TRANSDUCE", "moi", target=2.5, nor=Limits(2.0, 3.0), par=Limits(2.0, 5.0)
    )
    assert edited.operation("TRANSDUCE").entry("moi").nor == Limits(2.0, 3.0)  # type: ignore[union-attr]
    with pytest.raises(domain.MbrError, match=r"must be ≥ nor\.high"):
        domain.set_parameter_limits(
            mbr, "TRANSDUCE", "moi", target=3, nor=Limits(2.5, 3.5), par=Limits(2, 3.4)
        )
    with pytest.raises(domain.MbrError, match="inside the NOR"):
        domain.set_parameter_limits(
            mbr, "TRANSDUCE", "moi", target=4, nor=Limits(2.5, 3.5), par=Limits(2, 5)
        )
    with pytest.raises(domain.MbrError, match="reads the lot"):
        domain.remove_material(mbr, "LV-EPCAM")
    no_bag = domain.remove_material(mbr, "BAG")
    assert "BAG" not in no_bag.operation("FORMULATE").materials


def test_the_differences_between_v1_and_v2() -> None:
    """The six changes stated in epcam_v2.yaml's header, found by the diff."""
    v2 = mbr_yaml.parse(V2.read_text(encoding="utf-8"), V2.name)
    changes = {(c.kind.value, c.path): c for c in domain.diff(_v1(), v2)}
    assert changes["changed", "site"].after == "Site A — Leiden"
    assert ("changed", "materials[MEDIUM].name") in changes
    assert changes["changed", "equipment[COUNTER].name"].after == "Cellaca MX"
    moi = "operations[TRANSDUCE].parameters[moi]"
    assert (
        changes["changed", f"{moi}.target"].before,
        changes["changed", f"{moi}.target"].after,
    ) == (3.0, 2.5)
    assert changes["changed", f"{moi}.nor.high"].after == 3.0
    assert changes["added", "operations[HARVEST].controls[vcn]"].after["limits"] == {"high": 5.0}
    ttf = "operations[FORMULATE].parameters[time_to_freeze].par.high"
    assert (changes["changed", ttf].before, changes["changed", ttf].after) == (60.0, 45.0)
    assert domain.diff(v2, v2) == []


def test_a_reordered_operation_is_reported_as_moved() -> None:
    mbr = _v1()
    ops = list(mbr.operations)
    ops[1], ops[2] = ops[2], ops[1]
    moved = domain.diff(mbr, domain.Mbr(**{**mbr.__dict__, "operations": tuple(ops)}))
    assert [c.kind for c in moved] == [domain.ChangeKind.MOVED]
    assert moved[0].after[:3] == ["RECEIPT", "ACTIVATE", "SELECT"]
