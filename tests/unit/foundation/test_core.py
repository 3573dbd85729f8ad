"""Pure pieces of the foundation: canonical JSON, hashing, provenance, policy, roles, settings."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from vein2vein.auth.passwords import hash_password, policy_problems, verify_password
from vein2vein.auth.roles import ROLE_KIND, ROLE_PERMISSIONS, OrgKind, Perm, Role, parse_role
from vein2vein.core.canonical import canonical_json, sha256_hex
from vein2vein.core.clock import iso_utc
from vein2vein.core.errors import InputError
from vein2vein.core.provenance import make_provenance
from vein2vein.core.settings import Settings


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": [1.5, None, True], "é": "ü"}) == (
        '{"a":[1.5,null,true],"b":1,"é":"ü"}'.encode()
    )


def test_sha256_matches_hashlib_on_the_canonical_bytes() -> None:
    # FIPS 180-4 example "abc" is the bytes case
    assert sha256_hex(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert sha256_hex({"x": 1}) == hashlib.sha256(b'{"x":1}').hexdigest()


def test_times_and_decimals_are_stable() -> None:
    t = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert canonical_json({"t": t, "d": Decimal("30.0")}) == (
        b'{"d":"30.0","t":"2026-03-01T11:00:00+00:00"}'
    )
    assert iso_utc(t) == "2026-03-01T11:00:00.000000Z"


@given(st.dictionaries(st.text(), st.one_of(st.integers(), st.text(), st.none(), st.booleans())))
def test_canonical_json_does_not_depend_on_insertion_order(d: dict) -> None:  # type: ignore[type-arg]
    assert canonical_json(d) == canonical_json(dict(reversed(list(d.items()))))


def test_provenance_carries_method_options_hash_versions() -> None:
    p = make_provenance("tost", {"alpha": 0.05}, [1, 2, 3], libraries=("numpy",))
    assert p.input_hash == sha256_hex([1, 2, 3])
    assert set(p.library_versions) >= {"python", "vein2vein", "numpy"}
    assert "alpha=0.05" in p.summary()


def test_password_policy_problems() -> None:
    assert policy_problems("Sufficiently-long-1", "jdoe", 12) == []
    assert "must be at least 12 characters long" in policy_problems("short", "jdoe", 12)
    assert "must not contain the user name" in policy_problems("xxJDOExx-long-pass", "jdoe", 12)


def test_argon2_round_trip() -> None:
    h = hash_password("Sufficiently-long-1", "fast-tests")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "Sufficiently-long-1")
    assert not verify_password(h, "sufficiently-long-1")
    assert not verify_password("not-a-hash", "x")


def test_every_role_has_a_kind_and_permissions() -> None:
    assert set(ROLE_KIND) == set(Role) == set(ROLE_PERMISSIONS)
    sponsor_perms = set().union(
        *(ROLE_PERMISSIONS[r] for r in Role if ROLE_KIND[r] == OrgKind.SPONSOR)
    )
    assert Perm.USER_MANAGE not in sponsor_perms and Perm.ORG_MANAGE not in sponsor_perms
    assert Perm.SIGN_RELEASED in ROLE_PERMISSIONS[Role.QA_APPROVER]
    assert Perm.SIGN_RELEASED not in ROLE_PERMISSIONS[Role.QA_REVIEWER]


def test_unknown_role_names_the_field_and_lists_roles() -> None:
    with pytest.raises(InputError) as err:
        parse_role("root")
    assert err.value.field == "role" and "sponsor_clinical" in err.value.message


def test_production_refuses_test_password_hashing() -> None:
    with pytest.raises(ValidationError, match="V2V_ARGON2_PROFILE"):
        Settings(environment="production", argon2_profile="fast-tests")
    assert Settings(environment="production").argon2_profile == "standard"


def test_clean_text_bounds_and_control_characters() -> None:
    from vein2vein.core.text import clean_text, parse_id

    assert clean_text("  a b ", "name", 10) == "a b"
    with pytest.raises(InputError, match="at most 3 characters") as err:
        clean_text("abcd", "code", 3)
    assert err.value.field == "code"
    with pytest.raises(InputError, match="control characters"):
        clean_text("a\x00b", "name", 10)
    assert clean_text("line 1\nline 2", "comment", 50, multiline=True) == "line 1\nline 2"
    assert parse_id("12") == 12
    assert parse_id("0") is None and parse_id(str(2**31)) is None and parse_id("x") is None


def test_input_error_names_file_row_field() -> None:
    e = InputError("not a date", file="subjects.csv", row=4, field="infusion_date")
    assert e.message == "subjects.csv, row 4, field 'infusion_date': not a date"


def test_the_command_line_starts_without_importing_scipy() -> None:
    """Feature packages export lazily (core/lazy.py): `v2v --help` must stay fast."""
    import subprocess
    import sys

    code = "import sys, vein2vein.features as f; f.create_cli(); print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
