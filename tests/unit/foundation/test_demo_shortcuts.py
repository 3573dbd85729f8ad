"""The two pieces the demo loader uses to record its history quickly and at the times it
happened: a password remembered once checked (auth/passwords.py) and the clock standing at a
given time for a block (core/clock.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from vein2vein.auth import passwords
from vein2vein.auth.passwords import hash_password, remembering_verifications, verify_password
from vein2vein.core.clock import clock_from, set_clock, utcnow


def test_a_remembered_password_is_still_checked_and_forgotten_after_the_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = hash_password("Sufficiently-long-1", "fast-tests")
    checks: list[str] = []
    real = passwords._check
    monkeypatch.setattr(passwords, "_check", lambda ph, pw: checks.append(pw) or real(ph, pw))
    with remembering_verifications():
        assert not verify_password(h, "Sufficiently-long-2")  # a failure is never remembered
        assert verify_password(h, "Sufficiently-long-1")
        assert verify_password(h, "Sufficiently-long-1")  # remembered: no second Argon2 run
        assert not verify_password(h, "Sufficiently-long-2")
        assert not verify_password(
            hash_password("Other-password-9", "fast-tests"), "Sufficiently-long-1"
        )
    assert checks == [
        "Sufficiently-long-2",
        "Sufficiently-long-1",
        "Sufficiently-long-2",
        "Sufficiently-long-1",
    ]
    assert verify_password(h, "Sufficiently-long-1")  # outside the block: checked again
    assert len(checks) == 5


def test_the_clock_stands_at_the_time_given_and_comes_back_after_an_error() -> None:
    fixed = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    outer = fixed + dt.timedelta(days=1)
    set_clock(lambda: outer)
    try:
        with pytest.raises(RuntimeError), clock_from(lambda: fixed):
            assert utcnow() == fixed
            raise RuntimeError("the block fails")
        assert utcnow() == outer  # the clock in force before, not the real one
    finally:
        set_clock(None)
    assert abs(utcnow() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)
