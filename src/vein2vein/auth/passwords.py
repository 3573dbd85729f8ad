"""Password hashing (Argon2id via argon2-cffi) and the password policy.

Policy (21 CFR 11.300, EU GMP Annex 11 §12): at least ``min_length`` characters, not containing
the user name, not one of the last ``history`` passwords.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHERS = {
    # argon2-cffi's defaults follow RFC 9106's second recommended option.
    "standard": PasswordHasher(),
    # Cheap parameters so that test suites can create many users; never used outside tests.
    "fast-tests": PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
}


def hash_password(password: str, profile: str = "standard") -> str:
    return _HASHERS[profile].hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHERS["standard"].verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def policy_problems(password: str, username: str, min_length: int) -> list[str]:
    """What is wrong with a proposed password (empty list: acceptable)."""
    problems = []
    if len(password) < min_length:
        problems.append(f"must be at least {min_length} characters long")
    if username and username.lower() in password.lower():
        problems.append("must not contain the user name")
    if password.strip() != password:
        problems.append("must not start or end with white space")
    if len(set(password)) < 4:
        problems.append("must not be made of fewer than 4 distinct characters")
    return problems
