"""The form kit (web/forms.py): numbers typed into forms, the errors a form shows, one change."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import Response

from vein2vein.core.errors import InputError, NotFound, PermissionDenied, RuleViolation
from vein2vein.web.forms import FormError, apply_change, choice_id, parse_decimal, parse_int


@pytest.mark.parametrize("text", ["²", "١٢", "１２", "1_000", "1e3", "0x10", " 12a", "--1", "1.0"])
def test_parse_int_refuses_what_is_not_ascii_digits(text: str) -> None:
    # "²".isdigit() is True and int("١٢") == 12: both used to pass str.isdigit() checks
    with pytest.raises(InputError) as err:
        parse_int(text, "n", "Number")
    assert err.value.field == "n"
    assert text.strip() not in err.value.message or text.strip() == ""


def test_parse_int_bounds_required_and_optional() -> None:
    assert parse_int(" 42 ", "n", "Number") == 42
    assert parse_int("", "n", "Number", required=False) is None
    with pytest.raises(InputError, match="Number: required"):
        parse_int("  ", "n", "Number")
    with pytest.raises(InputError, match="between 1 and 9"):
        parse_int("10", "n", "Number", minimum=1, maximum=9)
    with pytest.raises(InputError, match="between"):
        parse_int("-1", "n", "Number")
    assert parse_int("-5", "n", "Number", minimum=-10) == -5
    with pytest.raises(InputError):
        parse_int("9" * 400, "n", "Number")  # no 400-digit int() conversion


@given(st.text(max_size=30))
def test_parse_int_never_fails_otherwise(text: str) -> None:
    try:
        value = parse_int(text, "n", "Number", required=False)
    except InputError:
        return
    assert value is None or (text.strip().isascii() and 0 <= value <= 2_000_000_000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("71.4", Decimal("71.4")), ("0.5", Decimal("0.5")), (".5", Decimal("0.5")), ("3", 3)],
)
def test_parse_decimal_accepts_plain_decimals(text: str, expected: Decimal) -> None:
    assert parse_decimal(text, "w", "Weight (kg)") == Decimal(expected)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "1e17", "7,5", "٧", "1.2.3", "²", "+"])
def test_parse_decimal_refuses_other_notations(text: str) -> None:
    with pytest.raises(InputError) as err:
        parse_decimal(text, "w", "Weight (kg)")
    assert err.value.field == "w"


def test_parse_decimal_bounds_and_places() -> None:
    with pytest.raises(InputError, match="at most 500"):
        parse_decimal("500.1", "w", "Weight (kg)", maximum=500)
    with pytest.raises(InputError, match="at least 1"):
        parse_decimal("0.9", "w", "Weight (kg)", minimum=1)
    with pytest.raises(InputError, match="2 decimal places"):
        parse_decimal("1.234", "w", "Weight (kg)", places=2)
    assert parse_decimal("", "w", "Weight (kg)", required=False) is None


def test_choice_id() -> None:
    assert choice_id("7", "program_id", "a program") == 7
    for bad in ("", "x", "²", "-1"):
        with pytest.raises(InputError, match="choose a program"):
            choice_id(bad, "program_id", "a program")


def test_form_error_status() -> None:
    assert FormError.of(PermissionDenied("no")).status == 403
    assert FormError.of(InputError("bad", field="f")).context() == {
        "error": "field 'f': bad",
        "error_field": "f",
    }
    assert FormError.of(RuleViolation("no")).status == 422


class _Uow:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def __enter__(self) -> _Uow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.log.append("exit")

    def commit(self) -> None:
        self.log.append("commit")


class _Db:
    def __init__(self) -> None:
        self.log: list[str] = []

    def uow(self, actor: object) -> _Uow:
        return _Uow(self.log)


class _Auth:
    actor = "someone"


def test_apply_change_commits_once_and_answers_done() -> None:
    db = _Db()
    response = apply_change(
        db,  # type: ignore[arg-type]
        _Auth(),
        lambda uow: 5,
        done=lambda n: Response(str(n), status_code=303),
        failed=lambda e: Response(e.message, status_code=e.status),
    )
    assert (response.status_code, response.body) == (303, b"5")
    assert db.log == ["commit", "exit"]


def test_apply_change_shows_a_refusal_without_committing() -> None:
    db = _Db()

    def change(uow: object) -> None:
        raise RuleViolation("the order is on hold")

    response = apply_change(
        db,  # type: ignore[arg-type]
        _Auth(),
        change,
        done=lambda _: Response("ok"),
        failed=lambda e: Response(e.message, status_code=e.status),
    )
    assert (response.status_code, response.body) == (422, b"the order is on hold")
    assert db.log == ["exit"]


def test_apply_change_lets_not_found_through() -> None:
    """Another client's record must reach the error handler (404), never a form message."""

    def change(uow: object) -> None:
        raise NotFound("order 9 not found")

    with pytest.raises(NotFound):
        apply_change(
            _Db(),  # type: ignore[arg-type]
            _Auth(),
            change,
            done=lambda _: Response("ok"),
            failed=lambda e: Response(e.message),
        )


def test_form_error_keeps_the_status_of_a_refusal() -> None:
    """A failed re-authentication (signature, current password) answers 401 and a signed record
    409 on a form, as on the API; other refusals are 422."""
    from vein2vein.core.errors import AuthenticationFailed, Conflict, RecordLocked

    assert FormError.of(AuthenticationFailed("nothing was signed")).status == 401
    assert FormError.of(RecordLocked("signed")).status == 409
    assert FormError.of(Conflict("taken")).status == 422
