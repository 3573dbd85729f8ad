"""Calculated results (issue 13, "Results"): viable CAR+ T cells, concentration, total in bags.

Gate convention (CD3+ of viable CD45+, CAR+ of viable CD3+) from the CD20 CAR-T specification,
Front Immunol 2024;15:1328368 (shared/references/quality.md §1); dose unit "CAR-positive viable
T cells" from the YESCARTA and KYMRIAH prescribing information. Numbers worked by hand.
"""

from __future__ import annotations

import pytest

from vein2vein.core.errors import InputError
from vein2vein.manufacturing.domain import Quantity, cells_for_dose
from vein2vein.quality.calculated import concentration, total_in_bags, viable_car_t_cells


def test_viable_car_t_cells_multiplies_the_gates_in_order() -> None:
    # 1.2e9 × 0.95 × 0.90 × 0.30 = 3.078e8
    result = viable_car_t_cells(
        Quantity(1.2, "10^9 cells"), Quantity(95, "%"), Quantity(90, "%"), Quantity(30, "%")
    )
    assert result.value == pytest.approx(3.078e8)
    assert result.unit == "cells"
    assert "CAR+ (of viable CD3+)" in result.formula
    assert result.inputs["total_nucleated"] == "1.2 10^9 cells"


def test_fractions_in_percent_and_in_fractions_of_one_agree() -> None:
    as_percent = viable_car_t_cells(
        Quantity(500, "10^6 cells"), Quantity(97.9, "%"), Quantity(98.6, "%"), Quantity(26, "%")
    )
    as_fraction = viable_car_t_cells(
        Quantity(5e8, "cells"), Quantity(0.979, "1"), Quantity(0.986, "1"), Quantity(0.26, "1")
    )
    # ARI-0001 batch 1 figures (viability 97.9 %, CD3+ 98.6 %, CAR+ 26.0 %) on 5 × 10^8 TNC:
    # 0.979 × 0.986 = 0.965294; × 0.26 = 0.25097644; × 5e8 = 1.2548822e8
    assert as_percent.value == pytest.approx(as_fraction.value)
    assert as_percent.value == pytest.approx(1.2548822e8)


def test_the_inverse_of_the_harvest_planning_formula() -> None:
    """cells_for_dose (manufacturing) divides by viability × CAR+; this multiplies back."""
    tnc = cells_for_dose(2e6, 70, 0.9, 0.5)  # 3.111e8, its own docstring's example
    back = viable_car_t_cells(
        Quantity(tnc, "cells"), Quantity(0.9, "1"), Quantity(1, "1"), Quantity(0.5, "1")
    )
    assert back.value == pytest.approx(2e6 * 70)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("viability", {"viability": Quantity(101, "%")}),
        ("car_fraction", {"car_fraction": Quantity(-1, "%")}),
        ("cd3_fraction", {"cd3_fraction": Quantity(50, "mL")}),
        ("total_nucleated", {"total_nucleated": Quantity(1e9, "cells/mL")}),
        ("total_nucleated", {"total_nucleated": Quantity(-5, "cells")}),
    ],
)
def test_bad_inputs_name_the_field(field: str, kwargs: dict[str, Quantity]) -> None:
    args = {
        "total_nucleated": Quantity(1e9, "cells"),
        "viability": Quantity(90, "%"),
        "cd3_fraction": Quantity(90, "%"),
        "car_fraction": Quantity(30, "%"),
    }
    args.update(kwargs)
    with pytest.raises(InputError) as err:
        viable_car_t_cells(**args)
    assert err.value.field == field


def test_concentration_from_count_and_volume_in_any_unit() -> None:
    # 7.25e7 cells in 29 mL = 2.5e6 cells/mL; the same in 0.029 L
    assert concentration(Quantity(72.5, "10^6 cells"), Quantity(29, "mL")).value == pytest.approx(
        2.5e6
    )
    assert concentration(Quantity(7.25e7, "cells"), Quantity(0.029, "L")).value == pytest.approx(
        2.5e6
    )
    with pytest.raises(InputError) as err:
        concentration(Quantity(1e6, "cells"), Quantity(0, "mL"))
    assert err.value.field == "volume"


def test_total_dose_in_the_bags() -> None:
    # two bags of 60 mL at 2 × 10^6 cells/mL: 2.4 × 10^8 cells
    total = total_in_bags([Quantity(60, "mL"), Quantity(60000, "µL")], Quantity(2, "10^6 cells/mL"))
    assert total.value == pytest.approx(2.4e8)
    assert total.inputs["bag 2"] == "60000 µL"
    assert "2.4e+08 cells" in total.summary()
    with pytest.raises(InputError) as err:
        total_in_bags([Quantity(60, "mL"), Quantity(0, "mL")], Quantity(2e6, "cells/mL"))
    assert err.value.field == "bag_volumes[2]"
    with pytest.raises(InputError):
        total_in_bags([], Quantity(2e6, "cells/mL"))
