"""What user names and passwords may be made of (issue 10, findings 2 and 3), without a database.

The probe created "аdmin" with a Cyrillic "а" beside the real "admin", and set passwords made of
zero-width characters or containing NUL. User names are now ASCII (after NFKC); passwords refuse
control characters, count only visible characters towards the minimum, and are NFKC-normalised
before hashing and before checking.
"""

from __future__ import annotations

import pytest

from vein2vein.auth import passwords, usernames
from vein2vein.core.errors import InputError
from vein2vein.demo.generator import DEMO_PASSWORD, DEMO_USERS

MIN = 12


@pytest.mark.parametrize(
    "typed",
    [
        "\u0430dmin",  # Cyrillic а
        "adm\u0456n",  # Cyrillic і
        "\u03b1lpha",  # Greek α
        "bob\u200b",  # zero-width space
        "ad min",
        "-rf",
        ".hidden",
        "_x",
        "a" * 65,
        "name\x00",
        "café",
    ],
)
def test_look_alike_and_unsafe_user_names_are_refused(typed: str) -> None:
    with pytest.raises(InputError, match="ASCII letters") as err:
        usernames.check_new(typed)
    assert err.value.field == "username"


def test_a_blank_user_name_is_refused_by_name() -> None:
    with pytest.raises(InputError, match="needs a user name") as err:
        usernames.check_new("   ")
    assert err.value.field == "username"


@pytest.mark.parametrize("name", [u.username for u in DEMO_USERS] + ["jdoe", "x1", "A.b-c_9"])
def test_demo_and_ordinary_names_stay_valid(name: str) -> None:
    assert usernames.check_new(name) == name


def test_full_width_letters_normalise_to_ascii() -> None:
    assert usernames.check_new("\uff41\uff44\uff4d\uff49\uff4e") == "admin"
    assert usernames.lookup_key(" \uff21dmin ") == "admin"
    assert usernames.lookup_key("bad\nname") is None and usernames.lookup_key("") is None


def _problems(password: str, username: str = "jdoe") -> list[str]:
    return passwords.policy_problems(password, username, MIN)


@pytest.mark.parametrize(
    "password",
    [
        "\u200b" * 20,  # zero-width spaces only
        "ab\u200bcd\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u202a",  # 4 visible
        "abcd" + "\u0301" * 12,  # combining accents on their own
        "ab\u3164\u3164\u3164\u3164cd\u2800\u2800\u2800\u2800",  # Hangul fillers, braille blank
    ],
)
def test_invisible_characters_do_not_count_towards_the_length(password: str) -> None:
    assert len(password) >= MIN
    assert any("at least 12 characters" in p for p in _problems(password))


@pytest.mark.parametrize(
    "password",
    [
        "Correct-horse\x00battery",
        "Correct-horse\tbattery",
        "Correct-horse\nbattery",
        "Correct-horse\x7fbattery",
        "Correct-horse\u2028battery",
        "Correct-horse\ud800battery",  # a lone surrogate
        "Correct-horse\U000e0080battery",  # unassigned
    ],
)
def test_control_characters_are_refused(password: str) -> None:
    assert any("control characters" in p for p in _problems(password))


@pytest.mark.parametrize(
    "password",
    [
        DEMO_PASSWORD,
        "Correct-horse-battery-9",
        "mot-de-passe-été-2026",
        "Пароль-надёжный-1",
        "family-\U0001f468\u200d\U0001f469\u200d\U0001f467-ok",  # joiners inside an emoji
    ],
)
def test_ordinary_passwords_are_accepted(password: str) -> None:
    assert _problems(password) == []


def test_passwords_are_normalised_at_set_and_at_check() -> None:
    composed, decomposed = "Mot-de-passe-\u00e9t\u00e9", "Mot-de-passe-e\u0301te\u0301"
    stored = passwords.hash_password(decomposed, "fast-tests")
    assert passwords.verify_password(stored, composed)
    assert passwords.verify_password(stored, decomposed)
    wide = passwords.hash_password("\uff30assword-12345", "fast-tests")  # full-width P
    assert passwords.verify_password(wide, "Password-12345")
    assert not passwords.verify_password(stored, "Mot-de-passe-ete")


def test_hashes_made_before_normalisation_still_verify() -> None:
    from argon2 import PasswordHasher

    legacy = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("\ufb01le-cabinet-9")
    assert passwords.verify_password(legacy, "\ufb01le-cabinet-9")  # typed as it was set
    ascii_legacy = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(DEMO_PASSWORD)
    assert passwords.verify_password(ascii_legacy, DEMO_PASSWORD)


def test_a_lone_surrogate_at_log_in_is_a_wrong_password_not_an_error() -> None:
    stored = passwords.hash_password("Correct-horse-battery-9", "fast-tests")
    assert passwords.verify_password(stored, "\ud800") is False
