"""The one clock: UTC, timezone-aware, replaceable in tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)  # noqa: E731


def utcnow() -> dt.datetime:
    return _now()


def set_clock(fn: Callable[[], dt.datetime] | None) -> None:
    """Replace the clock (tests); ``None`` restores the real one."""
    global _now
    _now = fn if fn is not None else (lambda: dt.datetime.now(dt.UTC))


@contextmanager
def clock_from(fn: Callable[[], dt.datetime]) -> Iterator[None]:
    """Run the block with ``fn`` as the clock, then put back the clock that was in force (the
    demo records its history at the times it happened through the ordinary services)."""
    global _now
    previous = _now
    _now = fn
    try:
        yield
    finally:
        _now = previous


def iso_utc(value: dt.datetime) -> str:
    """Fixed-width ISO 8601 in UTC with microseconds and a ``Z``: sortable as text."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def as_utc(value: dt.datetime) -> dt.datetime:
    """Attach UTC to a naive datetime read back from SQLite (which drops the zone)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
