"""How pages show times, names and quantities: one display zone, words for codes, units on numbers.

Every page states the display zone in its footer (``V2V_DISPLAY_TIME_ZONE``, by default the CDMO
site's zone); each shown time carries its UTC value in a ``<time datetime>`` attribute and in the
tooltip, so that a reviewer can read the exact instant; exports keep UTC. Templates use the
filters registered by :func:`register`:

``{{ t | when }}``            06 Dec 2026 17:05 (zone abbreviation), UTC in the tooltip
``{{ d | day }}``             06 Dec 2026
``{{ "final_release" | words }}``   Final release
``{{ 71.4 | qty("kg", 1) }}``        71.4 kg (decimal places fixed; None shows an em dash)
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from jinja2 import Environment
from markupsafe import Markup, escape

DASH = "—"
NBSP = "\u00a0"


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def when(value: dt.datetime | str | None, tz: ZoneInfo, *, seconds: bool = False) -> Markup | str:
    """A time in the display zone with its UTC instant in the markup (never a naive time).
    Views hand pages ISO text (the same dicts feed the API): it is read back here."""
    if value is None or value == "":
        return DASH
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: stored times are UTC-aware")
    utc = value.astimezone(dt.UTC)
    local = value.astimezone(tz)
    # the date and the time each stay on one line (no-break spaces inside them); a narrow
    # column breaks between the two, never inside "29 Nov 2026"
    clock = "%H:%M:%S" if seconds else "%H:%M"
    date = local.strftime("%d %b %Y").replace(" ", NBSP)
    shown = f"{date} {local.strftime(clock)}{NBSP}{local.tzname()}"
    iso = utc.isoformat(timespec="seconds").replace("+00:00", "Z")
    title = utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup(f'<time datetime="{iso}" title="{title}">{escape(shown)}</time>')


def day(value: dt.date | dt.datetime | str | None, tz: ZoneInfo | None = None) -> str:
    """A calendar date as ``06 Dec 2026`` (a datetime is first put in the display zone; ISO
    text of a date or a time is read first)."""
    if value is None or value == "":
        return DASH
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if tz is not None and value.tzinfo is not None:
            value = value.astimezone(tz)
        value = value.date()
    return value.strftime("%d %b %Y").replace(" ", NBSP)


def words(code: str | None) -> str:
    """``final_release`` / ``FINAL_RELEASE`` → ``Final release``: a code shown as words."""
    if not code:
        return DASH
    text = str(code).replace("_", " ").replace("-", " ").strip().lower()
    return text[:1].upper() + text[1:]


def qty(value: float | int | Decimal | None, unit: str, places: int | None = None) -> str:
    """A number with its unit; ``places`` fixes the decimals shown (no rounding of stored data)."""
    if value is None:
        return DASH
    number = f"{value:,.{places}f}" if places is not None else f"{value}"
    return f"{number} {unit}".strip()


def register(env: Environment, zone_name: str) -> None:
    """Add the filters and the ``display_zone`` global to a Jinja environment."""
    tz = zone(zone_name)
    now = dt.datetime.now(tz)
    env.globals["display_zone"] = zone_name
    env.globals["display_zone_abbr"] = now.tzname()
    env.filters["when"] = lambda v, seconds=False: when(v, tz, seconds=seconds)
    env.filters["day"] = lambda v: day(v, tz)
    env.filters["words"] = words
    env.filters["qty"] = qty
