"""Plausible ranges of the quantities vein2vein accepts, stated in one place (issue 10).

A value outside its range is refused where it is read (file, row and field named), never
stored, so that an implausible number cannot overflow a later integer cast or flip a result: a
follow-up diameter of 10^17 mm once passed validation, wrapped round in the cast to hundredths of
a millimetre and turned a subject's progression into a partial response.

The bounds are wide on purpose: they catch typing and unit errors (a diameter in µm, a weight in
grams), not clinical rarities, which belong to medical review.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    """Inclusive bounds of a quantity, with its unit and what it is, for messages."""

    low: float
    high: float
    unit: str
    what: str

    def text(self) -> str:
        return f"{self.what} must be between {self.low:g} and {self.high:g} {self.unit}".strip()

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


#: RECIST longest diameter (short axis for nodes): no lesion is a metre long
LESION_DIAMETER_MM = Range(0, 1000, "mm", "a lesion diameter")
#: a CAR-T dose per kg of body weight: approved and trial doses are 10^5-10^8 cells/kg
DOSE_PER_KG = Range(0, 1e10, "cells/kg", "a dose per kg")
#: a dose as recorded in SDTM EX (cells, or cells/kg): at most 10^12
DOSE_ANY = Range(0, 1e12, "", "a dose")
#: body weight of a patient (neonates to the heaviest adults)
WEIGHT_KG = Range(0.5, 400, "kg", "the weight")
#: calendar dates a record may carry
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2199, 12, 31)
