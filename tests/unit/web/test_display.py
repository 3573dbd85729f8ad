"""The display kit: one zone for pages, UTC in the markup, codes as words, units on numbers.

Reference instants: the EU summer-time change of 2026 (last Sunday of March, 01:00 UTC; Directive
2000/84/EC, art. 2), so the zone's abbreviation and offset are checked on both sides of it.
"""

import datetime as dt

import pytest
from jinja2 import Environment
from pydantic import ValidationError

from vein2vein.core.settings import Settings
from vein2vein.web import display

BRUSSELS = display.zone("Europe/Brussels")


def test_when_shows_the_display_zone_and_keeps_utc_in_the_markup():
    before = dt.datetime(2026, 3, 29, 0, 59, tzinfo=dt.UTC)
    after = dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC)
    assert display.when(before, BRUSSELS) == (
        '<time datetime="2026-03-29T00:59:00Z" title="2026-03-29 00:59:00 UTC">'
        "29\u00a0Mar\u00a02026 01:59\u00a0CET</time>"
    )
    assert "29\u00a0Mar\u00a02026 03:00\u00a0CEST" in display.when(after, BRUSSELS)


def test_when_refuses_naive_times_and_shows_a_dash_for_none():
    with pytest.raises(ValueError, match="naive"):
        display.when(dt.datetime(2026, 1, 1), BRUSSELS)
    assert display.when(None, BRUSSELS) == display.DASH


def test_day_puts_a_datetime_in_the_zone_before_taking_its_date():
    late = dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.UTC)
    assert display.day(late, BRUSSELS) == "07\u00a0Dec\u00a02026"
    assert display.day(dt.date(2026, 12, 6)) == "06\u00a0Dec\u00a02026"


@pytest.mark.parametrize(
    ("code", "shown"),
    [("final_release", "Final release"), ("IN_TRANSIT", "In transit"), ("", "—"), (None, "—")],
)
def test_words(code, shown):
    assert display.words(code) == shown


def test_qty_fixes_the_decimals_and_names_the_unit():
    assert display.qty(71.4, "kg", 1) == "71.4 kg"
    assert display.qty(1234567, "cells", 0) == "1,234,567 cells"
    assert display.qty(None, "kg") == "—"


def test_register_escapes_nothing_twice_and_states_the_zone():
    env = Environment(autoescape=True)
    display.register(env, "Europe/Brussels")
    out = env.from_string("{{ t | when }} in {{ display_zone }}").render(
        t=dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)
    )
    assert out.startswith('<time datetime="2026-07-01T12:00:00Z"')
    assert "01\u00a0Jul\u00a02026 14:00\u00a0CEST</time> in Europe/Brussels" in out


def test_an_unknown_zone_is_refused_by_name():
    with pytest.raises(ValidationError, match="Mars/Olympus"):
        Settings(display_time_zone="Mars/Olympus")
