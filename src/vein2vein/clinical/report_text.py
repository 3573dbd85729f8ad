"""How the readout report writes durations and doses (pure).

**Durations** are kept in days (the plain date difference from infusion, no +1; ``readout``'s
options say so) and written in days, weeks and months together, so that a committee member
who thinks in months reads the same number as the statistician who computed it in days:
weeks = days / 7, months = days / 30.4375 (the mean Julian month, 365.25 / 12, as admiral and
most SAPs use; references/clinical.md section 2.3). A censored time carries ``+``.

**Doses** are written with their unit, CAR-positive T cells per kg of body weight, as a
mantissa times a power of ten (``0.3 × 10^6``: the convention of the dose-escalation
protocols, which name levels in units of 10^6 cells/kg).
"""

from __future__ import annotations

import math

DAYS_PER_WEEK = 7.0
DAYS_PER_MONTH = 365.25 / 12  # 30.4375
DOSE_UNIT = "CAR-positive T cells/kg"
DOSE_UNIT_LONG = "CAR-positive T cells per kg of body weight"


def weeks(days: float) -> float:
    return days / DAYS_PER_WEEK


def months(days: float) -> float:
    return days / DAYS_PER_MONTH


def duration(days: float | None, *, censored: bool = False, missing: str = "-") -> str:
    """``224 d (32.0 wk; 7.4 mo)``; ``+`` after the days when censored; ``missing`` for none."""
    if days is None or (isinstance(days, float) and math.isnan(days)):
        return missing
    mark = "+" if censored else ""
    return f"{days:g}{mark} d ({weeks(days):.1f} wk; {months(days):.1f} mo)"


def dose(per_kg: float | None, *, unit: bool = True) -> str:
    """``0.3 × 10^6 CAR-positive T cells/kg`` (``unit=False``: without the unit)."""
    if per_kg is None or (isinstance(per_kg, float) and math.isnan(per_kg)) or per_kg <= 0:
        return "-"
    exponent = 6 if 1e5 <= per_kg < 1e8 else math.floor(math.log10(per_kg))
    mantissa = per_kg / 10**exponent
    text = f"{mantissa:.3g} × 10^{exponent}"
    return f"{text} {DOSE_UNIT}" if unit else text


def dose_level(name: str, per_kg: float | None) -> str:
    """A dose level's name with its dose: ``Low 0.3e6/kg: 0.3 × 10^6 CAR-positive T cells/kg``
    (``ALL`` stays ``All subjects``)."""
    if name == "ALL":
        return "All subjects"
    return f"{name}: {dose(per_kg)}" if per_kg else name
