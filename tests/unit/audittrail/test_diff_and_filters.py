"""The audit trail's field-by-field difference, its filters' dates and the digest a review is
signed over (issue 11)."""

from __future__ import annotations

import datetime as dt

import pytest

from vein2vein.audittrail.filters import parse_filter
from vein2vein.core.diff import Change, changes, summary
from vein2vein.core.errors import InputError
from vein2vein.store.audit import hashes_digest


def test_a_creation_lists_every_field_as_added() -> None:
    assert changes(None, {"name": "Leiden", "id": 1}) == [
        Change("name", "added", None, "Leiden"),
        Change("id", "added", None, "1"),
    ]


def test_an_update_lists_only_what_changed_with_nested_fields_dotted() -> None:
    before = {"step": "packed", "limits": {"upper": 5, "lower": 1}, "tags": [1, 2], "old": "x"}
    after = {"step": "shipped", "limits": {"upper": 6, "lower": 1}, "tags": [1, 2, 3], "new": ""}
    assert changes(before, after) == [
        Change("step", "changed", "packed", "shipped"),
        Change("limits.upper", "changed", "5", "6"),
        Change("tags", "changed", "[1,2]", "[1,2,3]"),
        Change("old", "removed", "x", None),
        Change("new", "added", None, ""),
    ]


def test_values_keep_their_type_apart() -> None:
    """1, 1.0, true, "1" and null are different values (canonical JSON keeps them apart)."""
    assert changes({"a": 1}, {"a": True}) == [Change("a", "changed", "1", "true")]
    assert changes({"a": None}, {"a": ""}) == [Change("a", "changed", "null", "")]
    assert changes({"a": 1}, {"a": 1}) == []


def test_a_bare_value_and_a_summary_line() -> None:
    items = changes("open", "cleared")
    assert items == [Change("value", "changed", "open", "cleared")]
    assert summary(changes({"a": 1, "b": 2}, {"a": 3, "c": 4})) == ("~ a: 1 -> 3\n- b: 2\n+ c: 4")


def test_the_review_digest_is_sha256_over_seq_hash_lines() -> None:
    """Reference: ``printf '1:%s\\n2:%s\\n' aaa…a bbb…b | sha256sum`` (GNU coreutils)."""
    pairs = [(1, "a" * 64), (2, "b" * 64)]
    assert hashes_digest(pairs) == (
        "be493d02a9591355daf9d0f63a232327bf52a565973f6b097c36aceb2cbb518e"
    )
    assert hashes_digest([(1, "a" * 64), (2, "c" * 64)]) != hashes_digest(pairs)
    assert hashes_digest(reversed(pairs)) != hashes_digest(pairs)


def test_dates_are_days_in_the_display_zone_converted_to_utc() -> None:
    """Europe/Brussels moves to CEST at 01:00 UTC on the last Sunday of March (2026-03-29, EU
    Directive 2000/84/EC): that day starts at 23:00 UTC the day before and ends at 22:00 UTC."""
    f = parse_filter(date_from="2026-03-29", date_to="2026-03-29", zone="Europe/Brussels")
    assert f.start == dt.datetime(2026, 3, 28, 23, 0, tzinfo=dt.UTC)
    assert f.end == dt.datetime(2026, 3, 29, 22, 0, tzinfo=dt.UTC)
    utc = parse_filter(date_from="2026-01-05", date_to="2026-01-05", zone="UTC")
    assert (utc.start, utc.end) == (
        dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 6, tzinfo=dt.UTC),
    )


@pytest.mark.parametrize(
    ("typed", "field"),
    [
        ({"date_from": "2026-02-30"}, "from"),
        ({"date_to": "06/12/2026"}, "to"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "to"),
        ({"organisation": "Helixa"}, "organisation"),
        ({"organisation": "0"}, "organisation"),
        ({"entity_id": "4"}, "entity_type"),
        ({"user": "x" * 151}, "user"),
        ({"action": "a\x00b"}, "action"),
    ],
)
def test_a_bad_filter_names_its_form_field(typed: dict[str, str], field: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_filter(**typed)
    assert caught.value.field == field
