"""Password hashing (Argon2id via argon2-cffi) and the password policy.

Policy (21 CFR 11.300, EU GMP Annex 11 §12): at least ``min_length`` *visible* characters, no
control characters, not containing the user name, at least 4 distinct characters, not one of the
last ``history`` passwords.

Passwords are NFKC-normalised (Unicode Standard Annex #15) before they are hashed and before they
are checked, so that the same password typed on two keyboards (a precomposed "é" or "e" with a
combining accent, a full-width "Ａ") is the same password; NIST SP 800-63B §5.1.1.2 recommends it.
Hashes made before normalisation was introduced still verify (:func:`verify_password`).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHERS = {
    # argon2-cffi's defaults follow RFC 9106's second recommended option.
    "standard": PasswordHasher(),
    # Cheap parameters so that test suites can create many users; never used outside tests.
    "fast-tests": PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
}

#: refused in a new password: controls (NUL, tab, line breaks, DEL...), lone surrogates,
#: unassigned code points (their normalisation may change when they are assigned) and the
#: line and paragraph separators
REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Cn", "Zl", "Zp"})
#: not counted as visible: format characters (zero-width space and joiners, bidi marks, soft
#: hyphen...) and combining marks on their own
INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me"})
#: letters and symbols that render as blank although they are not format characters
#: (Hangul fillers, the braille blank, the combining grapheme joiner)
BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f")


def normalise(password: str) -> str:
    """The form a password is hashed and checked in: NFKC."""
    return unicodedata.normalize("NFKC", password)


def visible(password: str) -> str:
    """The characters of a (normalised) password that show: what the length rule counts."""
    return "".join(
        c
        for c in normalise(password)
        if unicodedata.category(c) not in INVISIBLE_CATEGORIES | REFUSED_CATEGORIES
        and c not in BLANK_CHARACTERS
    )


def hash_password(password: str, profile: str = "standard") -> str:
    return _HASHERS[profile].hash(normalise(password))


#: successful checks remembered inside :func:`remembering_verifications` (SHA-256 keys)
_remembered: ContextVar[set[str] | None] = ContextVar("v2v_remembered_passwords", default=None)


@contextmanager
def remembering_verifications() -> Iterator[None]:
    """Inside the block, a password that matched a hash once is not put through Argon2 again.

    For one loader in one process that signs many records as the same few people (the demo: a
    few hundred step sign-offs by three users, each check ~0.2 s with the standard profile).
    The password is still checked at every signature; only successes are remembered, keyed by
    the SHA-256 of hash and password (never the password), and forgotten when the block ends.
    """
    token = _remembered.set(set())
    try:
        yield
    finally:
        _remembered.reset(token)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` (normalised) is the one of ``password_hash``.

    A hash made before passwords were normalised was made of the password as typed: when the
    typed form is not already normal it is tried as typed too. The second try depends only on
    what was typed, never on the account, so it tells nothing about which accounts exist.
    """
    remembered = _remembered.get()
    if remembered is None:
        return _check(password_hash, password)
    key = hashlib.sha256(
        f"{password_hash}\0{password}".encode("utf-8", "surrogatepass")
    ).hexdigest()
    if key in remembered:
        return True
    ok = _check(password_hash, password)
    if ok:
        remembered.add(key)
    return ok


def _check(password_hash: str, password: str) -> bool:
    normal = normalise(password)
    if _verify(password_hash, normal):
        return True
    return normal != password and _verify(password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHERS["standard"].verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    except UnicodeEncodeError:  # a lone surrogate cannot be any stored password
        return False


def policy_problems(password: str, username: str, min_length: int) -> list[str]:
    """What is wrong with a proposed password (empty list: acceptable)."""
    normal = normalise(password)
    problems = []
    if any(unicodedata.category(c) in REFUSED_CATEGORIES for c in normal):
        problems.append("must not contain control characters (such as NUL, tab or a line break)")
    shown = visible(normal)
    if len(normal) < min_length:
        problems.append(f"must be at least {min_length} characters long")
    elif len(shown) < min_length:
        problems.append(
            f"must be at least {min_length} characters long, not counting invisible characters"
        )
    if username and username.lower() in normal.lower():
        problems.append("must not contain the user name")
    if normal.strip() != normal:
        problems.append("must not start or end with white space")
    if len(set(shown)) < 4:
        problems.append("must not be made of fewer than 4 distinct characters")
    return problems
