"""``web.forms.parse_date``: dates typed into forms (YYYY-MM-DD), refused with a field error
that does not echo what was typed."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vein2vein.core.errors import InputError
from vein2vein.web.forms import parse_date


def test_parse_date_reads_an_iso_date_and_an_optional_blank() -> None:
    assert parse_date(" 2025-03-01 ", "cutoff", "Data cut-off") == dt.date(2025, 3, 1)
    assert parse_date("", "cutoff", "Data cut-off", required=False) is None
    assert parse_date(None, "cutoff", "Data cut-off", required=False) is None
    with pytest.raises(InputError, match="Data cut-off: required") as err:
        parse_date("  ", "cutoff", "Data cut-off")
    assert err.value.field == "cutoff"


@pytest.mark.parametrize(
    "text",
    [
        "2025-3-1",
        "01/03/2025",
        "2025-03-01T00:00",
        "20250301",
        "２０２５-０３-０１",
        "2025-0３-01",
        "+2025-03-01",
        "2025–03–01",
        "1e400",
        "NaN",
        "²",
    ],
)
def test_parse_date_refuses_what_is_not_yyyy_mm_dd(text: str) -> None:
    with pytest.raises(InputError, match="enter a date as YYYY-MM-DD") as err:
        parse_date(text, "cutoff", "Data cut-off")
    assert err.value.field == "cutoff" and text not in err.value.message


@pytest.mark.parametrize("text", ["2025-02-30", "2025-13-01", "0000-01-01", "2023-02-29"])
def test_parse_date_refuses_a_day_that_is_not_in_the_calendar(text: str) -> None:
    with pytest.raises(InputError, match="not a day of the calendar") as err:
        parse_date(text, "cutoff", "Data cut-off")
    assert text not in err.value.message


@given(st.text(max_size=40))
def test_parse_date_gives_a_date_or_an_input_error(text: str) -> None:
    try:
        value = parse_date(text, "d", "Date", required=False)
    except InputError as exc:
        assert exc.field == "d"
    else:
        assert value is None or isinstance(value, dt.date)
