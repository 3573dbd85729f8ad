"""User names: what a new one may be made of, and how a typed one is compared.

A user name is printed on signatures and in the audit trail, and typed at the command line, so
it must not be confusable with another (a Cyrillic "а" in "аdmin" looks like "admin"; Unicode
Technical Report #36, "Unicode Security Considerations", §2.2 on mixed-script spoofing) nor be
taken for an option ("-rf"). New names are therefore ASCII only: letters, digits, dots, dashes
and underscores, beginning with a letter or a digit, at most 64 characters. What is typed is
NFKC-normalised first (a full-width "ａｄｍｉｎ" is "admin"), and names are unique whatever
their case ("Admin" is taken when "admin" exists).

Names made before this rule (none in the demo, whose names are ASCII) keep working: only new
names are checked; log-in compares the normalised, lower-cased forms.
"""

from __future__ import annotations

import re
import unicodedata

from vein2vein.core.errors import InputError

MAX_LENGTH = 64
_ALLOWED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def normalise(typed: str) -> str:
    """The form a typed user name is looked up in (before lower-casing): NFKC, trimmed."""
    return unicodedata.normalize("NFKC", typed).strip()


def check_new(typed: str) -> str:
    """A new user name in its stored form, or ``InputError`` on the field ``username``."""
    name = normalise(typed)
    if not name:
        raise InputError("a user needs a user name", field="username")
    if len(name) > MAX_LENGTH or not name.isascii() or not _ALLOWED.fullmatch(name):
        raise InputError(
            f"a user name is 1 to {MAX_LENGTH} ASCII letters (a-z, A-Z), digits, dots, dashes "
            "or underscores, beginning with a letter or a digit (letters of other alphabets "
            "that look alike are refused)",
            field="username",
        )
    return name


def lookup_key(typed: str) -> str | None:
    """What a typed user name is compared with (``lower(username)``); None when it cannot be
    any user's name (blank, too long, control characters), so that nothing is looked up."""
    name = normalise(typed)
    if not name or len(name) > MAX_LENGTH or not name.isprintable():
        return None
    return name.lower()
