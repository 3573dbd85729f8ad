"""Units of the quantities a batch record holds, and every conversion between them, in one place.

A value is always stored with its unit (DESIGN, "Units"). A unit belongs to one *dimension*
(volume, cell count, cell concentration, ...) and converts to that dimension's base unit by
``base = value × factor + offset`` (the offset is non-zero only for temperatures). Two units
convert into each other only within one dimension: a volume typed where a cell count is expected
is refused, never guessed.

Spellings are normalised (``uL``/``ul`` → ``µL``, ``degC`` → ``°C``, ``percent`` → ``%``,
``E6 cells`` → ``10^6 cells``) so that the MBR, an operator's entry and a lot certificate may
spell a unit differently and still be compared.

Pure: no database, web or template code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction


class UnitError(ValueError):
    """An unknown unit, or two units of different dimensions."""


@dataclass(frozen=True)
class Unit:
    symbol: str
    dimension: str
    factor: float
    offset: float = 0.0


_TABLE: tuple[tuple[str, str, float, float], ...] = (
    # volume (base mL)
    ("L", "volume", 1000.0, 0.0),
    ("mL", "volume", 1.0, 0.0),
    ("µL", "volume", 1e-3, 0.0),
    # cell counts (base cells)
    ("cells", "cell count", 1.0, 0.0),
    ("10^6 cells", "cell count", 1e6, 0.0),
    ("10^8 cells", "cell count", 1e8, 0.0),
    ("10^9 cells", "cell count", 1e9, 0.0),
    # cell concentration (base cells/mL)
    ("cells/mL", "cell concentration", 1.0, 0.0),
    ("10^6 cells/mL", "cell concentration", 1e6, 0.0),
    ("cells/L", "cell concentration", 1e-3, 0.0),
    # transducing units and functional titer (base TU, TU/mL)
    ("TU", "transducing units", 1.0, 0.0),
    ("TU/mL", "functional titer", 1.0, 0.0),
    ("10^8 TU/mL", "functional titer", 1e8, 0.0),
    ("TU/L", "functional titer", 1e-3, 0.0),
    # multiplicity of infection: transducing units per cell
    ("TU/cell", "multiplicity of infection", 1.0, 0.0),
    # dose per body weight (base cells/kg)
    ("cells/kg", "dose per body weight", 1.0, 0.0),
    ("10^6 cells/kg", "dose per body weight", 1e6, 0.0),
    # dimensionless fraction (viability, CAR+ fraction, CO2): base 1
    ("1", "fraction", 1.0, 0.0),
    ("%", "fraction", 0.01, 0.0),
    # temperature (base °C) and rate of temperature change (base °C/min)
    ("°C", "temperature", 1.0, 0.0),
    ("K", "temperature", 1.0, -273.15),
    ("°C/min", "temperature rate", 1.0, 0.0),
    ("K/min", "temperature rate", 1.0, 0.0),
    # time (base min)
    ("s", "time", 1 / 60, 0.0),
    ("min", "time", 1.0, 0.0),
    ("h", "time", 60.0, 0.0),
    ("d", "time", 1440.0, 0.0),
    # mass (base g)
    ("kg", "mass", 1000.0, 0.0),
    ("g", "mass", 1.0, 0.0),
    ("mg", "mass", 1e-3, 0.0),
    # concentrations of additives (base per mL)
    ("IU/mL", "activity concentration", 1.0, 0.0),
    ("ng/mL", "mass concentration", 1.0, 0.0),
    ("µg/mL", "mass concentration", 1000.0, 0.0),
    # relative centrifugal force, pH, bead-to-cell ratio, osmolality
    ("×g", "relative centrifugal force", 1.0, 0.0),
    ("pH", "pH", 1.0, 0.0),
    ("beads/cell", "bead-to-cell ratio", 1.0, 0.0),
    ("mOsm/kg", "osmolality", 1.0, 0.0),
    ("copies/cell", "vector copy number", 1.0, 0.0),
    # release testing (quality/): vector copies per transduced (CAR+) cell are a different
    # quantity from the average over all cells, so they never convert into each other
    ("copies/transduced cell", "vector copy number per transduced cell", 1.0, 0.0),
    ("EU/mL", "endotoxin concentration", 1.0, 0.0),
    ("EU/kg", "endotoxin per body weight", 1.0, 0.0),
    ("pg/mL", "mass concentration", 1e-3, 0.0),
    ("beads/3×10^6 cells", "bead-to-cell ratio", 1 / 3e6, 0.0),
)

UNITS: dict[str, Unit] = {sym: Unit(sym, dim, f, o) for sym, dim, f, o in _TABLE}

#: other spellings (compared case-sensitively first, then in lower case)
ALIASES: dict[str, str] = {
    "l": "L",
    "ml": "mL",
    "ul": "µL",
    "μl": "µL",  # Greek mu
    "cell": "cells",
    "e6 cells": "10^6 cells",
    "1e6 cells": "10^6 cells",
    "x10^6 cells": "10^6 cells",
    "e8 cells": "10^8 cells",
    "e9 cells": "10^9 cells",
    "1e9 cells": "10^9 cells",
    "cells/ml": "cells/mL",
    "e6 cells/ml": "10^6 cells/mL",
    "1e6 cells/ml": "10^6 cells/mL",
    "tu/ml": "TU/mL",
    "e8 tu/ml": "10^8 TU/mL",
    "tu/cell": "TU/cell",
    "moi": "TU/cell",
    "cells/kg": "cells/kg",
    "e6 cells/kg": "10^6 cells/kg",
    "fraction": "1",
    "percent": "%",
    "degc": "°C",
    "deg c": "°C",
    "degc/min": "°C/min",
    "sec": "s",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "iu/ml": "IU/mL",
    "ng/ml": "ng/mL",
    "ug/ml": "µg/mL",
    "µg/ml": "µg/mL",
    "xg": "×g",
    "x g": "×g",
    "g-force": "×g",
    "mosm/kg": "mOsm/kg",
    "copies/transduced cell": "copies/transduced cell",
    "eu/ml": "EU/mL",
    "eu/kg": "EU/kg",
    "pg/ml": "pg/mL",
    "beads/3x10^6 cells": "beads/3×10^6 cells",
    "beads per 3x10^6 cells": "beads/3×10^6 cells",
    "beads/3e6 cells": "beads/3×10^6 cells",
}


def normalise(unit: str) -> str:
    """The canonical symbol of ``unit`` (``UnitError`` when it is not one we know)."""
    text = " ".join(str(unit).split())
    if text in UNITS:
        return text
    lowered = text.lower()
    if lowered in ALIASES:
        return ALIASES[lowered]
    for symbol in UNITS:
        if symbol.lower() == lowered:
            return symbol
    known = ", ".join(UNITS)
    raise UnitError(f"unknown unit '{unit}' (known: {known})")


def dimension(unit: str) -> str:
    return UNITS[normalise(unit)].dimension


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """``value`` in ``from_unit`` expressed in ``to_unit``; refused across dimensions."""
    src, dst = UNITS[normalise(from_unit)], UNITS[normalise(to_unit)]
    if src.dimension != dst.dimension:
        raise UnitError(
            f"cannot convert {src.symbol} ({src.dimension}) to {dst.symbol} ({dst.dimension})"
        )
    if not math.isfinite(value):
        raise UnitError(f"not a finite number: {value}")
    if src is dst:
        return float(value)
    base = value * src.factor + src.offset
    return (base - dst.offset) / dst.factor


def _ratio(number: float) -> Fraction:
    """The exact ratio a factor of the table stands for (0.01 → 1/100, 1/60 → 1/60, -273.15 →
    -27315/100), not the binary fraction the float holds."""
    return Fraction(number).limit_denominator(10**12)


def convert_exact(value: Decimal, from_unit: str, to_unit: str) -> Decimal:
    """``value`` in ``from_unit`` expressed in ``to_unit`` in decimal arithmetic (34 significant
    digits), for results that are rounded and compared afterwards: 0.575 (fraction) is 57.5 %
    exactly, where binary floating point gives 57.49999999999999 and would round it the wrong
    way. Refused across dimensions, like :func:`convert`."""
    src, dst = UNITS[normalise(from_unit)], UNITS[normalise(to_unit)]
    if src.dimension != dst.dimension:
        raise UnitError(
            f"cannot convert {src.symbol} ({src.dimension}) to {dst.symbol} ({dst.dimension})"
        )
    if not value.is_finite():
        raise UnitError(f"not a finite number: {value}")
    if src is dst:
        return value
    exact = (Fraction(value) * _ratio(src.factor) + _ratio(src.offset) - _ratio(dst.offset)) / (
        _ratio(dst.factor)
    )
    if exact.denominator == 1:
        return Decimal(exact.numerator)
    with localcontext() as ctx:
        ctx.prec = 34
        return (Decimal(exact.numerator) / Decimal(exact.denominator)).normalize()
