"""Form handling shared by every page module: typed fields, number parsing, the errors a form
shows, and one way to apply a change and answer.

Every ``web.py`` follows the same shape::

    @router.post("/things")
    def things_add(request: Request, auth: AuthDep, db: DbDep, name: Text = "") -> Response:
        def change(uow: UnitOfWork) -> int:
            return service.add_thing(uow, auth.scope, name=name).id

        return apply_change(
            db, auth, change,
            done=lambda new_id: RedirectResponse(f"/things/{new_id}", status_code=303),
            failed=lambda error: _things_page(request, auth, db, error),
        )

``failed`` receives a :class:`FormError` (message, field, HTTP status) and re-renders the form
with what was typed (minus personal data). ``NotFound`` is never shown on a form: it propagates
to the error handler so that another client's record stays indistinguishable from an absent one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, TypeVar

from fastapi import Form
from starlette.responses import Response

from vein2vein.core.errors import (
    AuthenticationFailed,
    Conflict,
    InputError,
    PermissionDenied,
    RecordLocked,
    RuleViolation,
    SignatureRequired,
    V2VError,
)
from vein2vein.store.database import Database
from vein2vein.store.uow import UnitOfWork

T = TypeVar("T")

#: a text field of a form (every form field arrives as text and is parsed here or in a service)
Text = Annotated[str, Form()]

#: the errors a form shows on itself; anything else (NotFound included) goes to the error handler
SHOWN: tuple[type[V2VError], ...] = (
    InputError,
    RuleViolation,
    Conflict,
    PermissionDenied,
    RecordLocked,
    SignatureRequired,
    AuthenticationFailed,
)

#: the largest whole number a form accepts unless a field says otherwise (fits a 32-bit column)
MAX_INT = 2_000_000_000
_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class FormError:
    """What a form shows when a change is refused."""

    message: str
    field: str | None
    status: int

    @classmethod
    def of(cls, exc: V2VError) -> FormError:
        # a refusal keeps its own status on a form as on the API: 403 for lack of permission,
        # 401 for a failed re-authentication (log-in, signature, current password), 409 for a
        # record locked by its signature; bad input and any other refusal is 422
        refusals = (PermissionDenied, AuthenticationFailed, RecordLocked)
        status = exc.status if isinstance(exc, refusals) else 422
        return cls(exc.message, getattr(exc, "field", None), status)

    def context(self) -> dict[str, object]:
        """Template variables: ``error`` (the message) and ``error_field`` (the field's name)."""
        return {"error": self.message, "error_field": self.field}


def parse_int(
    text: str | None,
    field: str,
    label: str,
    *,
    required: bool = True,
    minimum: int = 0,
    maximum: int = MAX_INT,
) -> int | None:
    """A whole number typed into a form: ASCII digits only (a superscript "²" or an Arabic-Indic
    digit is refused, not passed to ``int``), within ``minimum``..``maximum``.

    The value typed is not echoed in the message (a form may carry personal data).
    """
    value = (text or "").strip()
    if not value:
        if required:
            raise InputError(f"{label}: required", field=field)
        return None
    if len(value) > 20 or not value.isascii() or not _INT.fullmatch(value):
        raise InputError(f"{label}: enter a whole number (digits 0-9)", field=field)
    number = int(value)
    if not minimum <= number <= maximum:
        raise InputError(f"{label}: must be between {minimum} and {maximum}", field=field)
    return number


def parse_decimal(
    text: str | None,
    field: str,
    label: str,
    *,
    required: bool = True,
    minimum: Decimal | int | None = None,
    maximum: Decimal | int | None = None,
    places: int | None = None,
) -> Decimal | None:
    """A decimal number typed into a form: ASCII digits with an optional sign and one decimal
    point (no exponent, no thousands separator, no "NaN" or "Infinity"), within the bounds and
    with at most ``places`` decimals when given."""
    value = (text or "").strip()
    if not value:
        if required:
            raise InputError(f"{label}: required", field=field)
        return None
    if len(value) > 40 or not value.isascii() or not _DECIMAL.fullmatch(value):
        raise InputError(f"{label}: enter a number such as 12.5 (digits 0-9, a point)", field=field)
    try:
        number = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise InputError(f"{label}: enter a number", field=field) from None
    if minimum is not None and number < Decimal(minimum):
        raise InputError(f"{label}: must be at least {minimum}", field=field)
    if maximum is not None and number > Decimal(maximum):
        raise InputError(f"{label}: must be at most {maximum}", field=field)
    if places is not None and -number.as_tuple().exponent > places:  # type: ignore[operator]
        raise InputError(f"{label}: at most {places} decimal places", field=field)
    return number


def parse_date(
    text: str | None, field: str, label: str, *, required: bool = True
) -> dt.date | None:
    """A calendar date typed into a form as YYYY-MM-DD (what ``<input type="date">`` sends):
    ASCII digits only and a real day of the calendar (2025-02-30 is refused). The value typed
    is not echoed in the message. Plausibility windows are the service's (``core.dates``)."""
    value = (text or "").strip()
    if not value:
        if required:
            raise InputError(f"{label}: required", field=field)
        return None
    if len(value) != 10 or not value.isascii() or not _DATE.fullmatch(value):
        raise InputError(f"{label}: enter a date as YYYY-MM-DD", field=field)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{label}: not a day of the calendar (YYYY-MM-DD)", field=field) from None


def choice_id(text: str | None, field: str, what: str) -> int:
    """The id of a record chosen from a list on the form ("choose a program" when none)."""
    value = (text or "").strip()
    if not value or not value.isascii() or not value.isdigit() or len(value) > 12:
        raise InputError(f"choose {what}", field=field)
    return int(value)


def apply_change(
    db: Database,
    auth: object,
    change: Callable[[UnitOfWork], T],
    *,
    done: Callable[[T], Response],
    failed: Callable[[FormError], Response],
) -> Response:
    """Run ``change`` in one unit of work as the caller and commit once; answer with ``done``
    (usually a redirect, 303) or, when the change is refused with an error a form shows, with
    ``failed`` (the form again, with the error). Nothing is written when it fails."""
    try:
        with db.uow(auth.actor) as uow:  # type: ignore[attr-defined]
            result = change(uow)
            uow.commit()
    except SHOWN as exc:
        return failed(FormError.of(exc))
    return done(result)


def show(failed: Callable[[FormError], Response], action: Callable[[], Response]) -> Response:
    """Answer with ``action()``, or with ``failed`` when it raises an error a form shows (for
    forms whose work is not a single unit of work, such as a computation before a change)."""
    try:
        return action()
    except SHOWN as exc:
        return failed(FormError.of(exc))
