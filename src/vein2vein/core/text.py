"""Cleaning of free text at the service boundary: trimmed, bounded, no control characters.

Column lengths are enforced here, with the field named, so that a long value is a clear input
error on every engine (SQLite does not enforce VARCHAR lengths; PostgreSQL fails the statement).
"""

from __future__ import annotations

from vein2vein.core.errors import InputError

_ALLOWED_CONTROL = {"\n", "\r", "\t"}


def clean_text(
    value: str | None,
    field: str,
    max_length: int,
    *,
    required: bool = False,
    multiline: bool = False,
) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InputError("a value is required", field=field)
    if len(text) > max_length:
        raise InputError(f"at most {max_length} characters ({len(text)} given)", field=field)
    for ch in text:
        if ord(ch) < 32 or ord(ch) == 127:
            if multiline and ch in _ALLOWED_CONTROL:
                continue
            raise InputError("control characters are not allowed", field=field)
    return text


MAX_ID = 2**31 - 1


def parse_id(value: object) -> int | None:
    """A database identifier from a path or form value, or None when it cannot be one."""
    try:
        key = int(str(value))
    except (TypeError, ValueError):
        return None
    return key if 1 <= key <= MAX_ID else None


def printable(text: str, limit: int = 1000) -> str:
    """``text`` made safe to show or log: control and other non-printable characters (terminal
    escape codes, NUL, bytes of a binary file decoded as text) escaped as ``\\xNN``/``\\uNNNN``,
    and at most ``limit`` characters (an ellipsis marks the cut)."""
    out = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)
    return out if len(out) <= limit else out[: limit - 1] + "…"
