"""Calendar dates at the service boundary: ISO 8601, and within a plausible window.

A date such as 9999-12-31 is valid ISO but breaks every calculation that adds days to it (and is
never meant): dates are refused outside today ± ``years`` with the field named.
"""

from __future__ import annotations

import datetime as dt

from vein2vein.core.clock import utcnow
from vein2vein.core.errors import InputError

PLAUSIBLE_YEARS = 20


def bounded_date(
    value: dt.date | str | None, field: str, *, years: int = PLAUSIBLE_YEARS
) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        try:
            value = dt.date.fromisoformat(str(value or "").strip())
        except ValueError:
            raise InputError(f"{value!r} is not a date (YYYY-MM-DD)", field=field) from None
    today = utcnow().date()
    low = today - dt.timedelta(days=round(365.25 * years))
    high = today + dt.timedelta(days=round(365.25 * years))
    if not low <= value <= high:
        raise InputError(
            f"{value.isoformat()} is outside the plausible range {low.year}-{high.year}",
            field=field,
        )
    return value
