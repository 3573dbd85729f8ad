"""Results the system calculates from measured ones, never typed by hand (issue 13, "Results").

Each function takes quantities with their units (``manufacturing.domain.Quantity``), converts
them through :mod:`vein2vein.manufacturing.units` (the one place for conversions, DESIGN
"Units") and returns a :class:`Calculated`: the value, its unit, the formula written out and the
inputs it used, so the Certificate of Analysis and the audit trail can show how a number came
about.

Convention for viable CAR-positive T cells
------------------------------------------
    viable CAR+ T cells = TNC × viability × CD3+ fraction × CAR+ fraction

* TNC: total nucleated cells counted in the harvest or the formulated product.
* viability: viable fraction of the nucleated cells (trypan blue, AO/PI or 7-AAD).
* CD3+ fraction: CD3+ among *viable* (CD45+) cells, and
* CAR+ fraction: CAR+ among *viable CD3+* cells,

as the CD20 CAR-T specification in Front Immunol 2024;15:1328368 states its gates ("CD3+ ≥ 80 %
among viable CD45+", "CAR+ ≥ 10 % of viable CD3+"; shared/references/quality.md §1). Each
fraction is therefore applied to the population the previous factor left, and the product is
the dose unit of the approved labels, "CAR-positive viable T cells" (YESCARTA, KYMRIAH,
BREYANZI prescribing information, section 2). All nucleated cells of the product are taken to
be leukocytes (CD45+); a product with residual tumour cells must be gated on CD45 first.

A laboratory whose CAR+ % is of *all viable* cells (some flow panels report it that way) would
count CD3 twice with this formula: such a result is entered with ``cd3_fraction`` = 1 and the
convention stated on the specification.

``manufacturing.domain.cells_for_dose`` is the inverse used while planning a harvest (cells to
harvest for a dose at an expected viability and CAR+ fraction).

Pure: no database, web or template code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from vein2vein.core.errors import InputError
from vein2vein.core.results import Result
from vein2vein.manufacturing import units
from vein2vein.manufacturing.domain import Quantity
from vein2vein.manufacturing.units import UnitError

__all__ = [
    "Calculated",
    "concentration",
    "total_in_bags",
    "viable_car_t_cells",
]


@dataclass(frozen=True)
class Calculated(Result):
    """A calculated result: value and unit, the formula, and the inputs (as entered)."""

    name: str
    value: float
    unit: str
    formula: str
    inputs: Mapping[str, str]

    def _summary_lines(self) -> list[str]:
        used = ", ".join(f"{k} = {v}" for k, v in self.inputs.items())
        return [f"{self.name} = {self.value:.6g} {self.unit}", f"  {self.formula}; {used}"]


def _in(field: str, quantity: Quantity, unit: str) -> float:
    """``quantity`` in ``unit``; a wrong or unknown unit is an input error naming the field."""
    try:
        value = units.convert(quantity.value, quantity.unit, unit)
    except UnitError as exc:
        raise InputError(str(exc), field=field) from None
    return value


def _fraction(field: str, quantity: Quantity) -> float:
    value = _in(field, quantity, "1")
    if not 0 <= value <= 1:
        raise InputError(
            f"must be between 0 and 100 %, not {quantity.value} {quantity.unit}", field=field
        )
    return value


def _count(field: str, quantity: Quantity) -> float:
    value = _in(field, quantity, "cells")
    if value < 0:
        raise InputError("a cell count cannot be negative", field=field)
    return value


def _entered(quantities: Mapping[str, Quantity]) -> Mapping[str, str]:
    return MappingProxyType({k: f"{q.value:g} {q.unit}" for k, q in quantities.items()})


def viable_car_t_cells(
    total_nucleated: Quantity,
    viability: Quantity,
    cd3_fraction: Quantity,
    car_fraction: Quantity,
) -> Calculated:
    """Viable CAR-positive T cells = TNC × viability × CD3+ × CAR+ (module docstring: gates).

    Fractions may be given in % or as fractions of 1; counts in cells, 10^6 cells, 10^9 cells.
    Worked example (tests): 1.2 × 10^9 TNC × 95 % × 90 % × 30 % → 3.078 × 10^8 cells.
    """
    tnc = _count("total_nucleated", total_nucleated)
    value = (
        tnc
        * _fraction("viability", viability)
        * _fraction("cd3_fraction", cd3_fraction)
        * _fraction("car_fraction", car_fraction)
    )
    return Calculated(
        name="viable CAR+ T cells",
        value=value,
        unit="cells",
        formula="TNC × viability × CD3+ (of viable CD45+) × CAR+ (of viable CD3+)",
        inputs=_entered(
            {
                "total_nucleated": total_nucleated,
                "viability": viability,
                "cd3_fraction": cd3_fraction,
                "car_fraction": car_fraction,
            }
        ),
    )


def concentration(count: Quantity, volume: Quantity, *, name: str = "concentration") -> Calculated:
    """Cells per mL = count ÷ volume (e.g. 7.25 × 10^7 cells in 29 mL → 2.5 × 10^6 cells/mL)."""
    cells = _count("count", count)
    ml = _in("volume", volume, "mL")
    if not ml > 0:
        raise InputError("the volume must be more than 0 mL", field="volume")
    return Calculated(
        name=name,
        value=cells / ml,
        unit="cells/mL",
        formula="count ÷ volume",
        inputs=_entered({"count": count, "volume": volume}),
    )


def total_in_bags(bag_volumes: Sequence[Quantity], concentration: Quantity) -> Calculated:
    """Cells in the filled bags = concentration × Σ bag volumes (the dose actually filled).

    Every bag of one formulated product holds the same suspension, so one concentration applies
    to all. Worked example: 2 bags of 60 mL at 2 × 10^6 cells/mL → 2.4 × 10^8 cells.
    """
    if not bag_volumes:
        raise InputError("at least one bag is needed", field="bag_volumes")
    per_ml = _in("concentration", concentration, "cells/mL")
    if per_ml < 0:
        raise InputError("a concentration cannot be negative", field="concentration")
    total_ml = 0.0
    for i, volume in enumerate(bag_volumes, start=1):
        ml = _in(f"bag_volumes[{i}]", volume, "mL")
        if not ml > 0 or not math.isfinite(ml):
            raise InputError("a bag's volume must be more than 0 mL", field=f"bag_volumes[{i}]")
        total_ml += ml
    entered = {f"bag {i}": v for i, v in enumerate(bag_volumes, start=1)}
    entered["concentration"] = concentration
    return Calculated(
        name="total dose in the bags",
        value=per_ml * total_ml,
        unit="cells",
        formula="concentration × Σ bag volumes",
        inputs=_entered(entered),
    )
