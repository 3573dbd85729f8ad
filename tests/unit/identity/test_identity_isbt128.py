"""ISBT 128 DIN check characters, flags and data structures.

Reference values:
* ``G123 498 654 321`` → checksum 17, check character ``H``, flag value 77: UK Blood Services
  "Red Book" (Guidelines for the Blood Transfusion Services), Annex 2 worked example.
* ISO/IEC 7064 MOD 37-2 examples: ``G123489654321`` → ``Y`` (the example in python-stdnum's
  module documentation and in jacoelho/go-iso7064's tests), ``A999915000001`` → ``M``, and two
  long strings whose check characters are ``*`` and ``P`` (jacoelho/go-iso7064,
  iso7064/modulo37radix2_test.go, taken from konfirm/node-iso7064).
* The weighted-sum procedure re-implemented below as written in the ISBT 128 technical
  specification's appendix (weights 2^n from the right, ``(38 - sum mod 37) mod 37``), as an
  independent check on the library.
"""

from __future__ import annotations

import datetime as dt
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vein2vein.core.errors import InputError
from vein2vein.identity import isbt128 as I

ALPHA = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"


def spec_procedure(din13: str) -> int:
    """ISBT 128 appendix procedure, written out independently of python-stdnum."""
    total = sum(ALPHA.index(c) * 2 ** (len(din13) - i) for i, c in enumerate(din13))
    return (38 - total % 37) % 37


fins = st.builds(
    lambda a, d: a + d,
    st.sampled_from([c for c in string.ascii_uppercase + "123456789" if c != "O"]),
    st.text("0123456789", min_size=4, max_size=4),
)
dins = st.builds(I.Din, fins, st.integers(0, 99), st.integers(1, 999_999))


def test_red_book_worked_example():
    din = I.Din.from_code("G123498654321")
    assert I.check_value("G123498654321") == 17
    assert din.check_character == "H"
    assert din.check_flags == "77"
    assert din.grouped() == "G123 498 654 321"
    assert din.eye_readable() == "G123 498 654 321 H"
    assert din.barcode_data() == "=G12349865432177"


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("G123489654321", "Y"),
        ("A999915000001", "M"),
        ("LMOSBYFCTRSSJCB3X6U9DUBLKNIH03FO6X963TGXYAHG", "*"),
        ("G7N286AL39FFQNU6BH8SMJB5VGMBCB6WPGMWJK800VU7K", "P"),
    ],
)
def test_iso_7064_mod_37_2_examples(body, check):
    from stdnum.iso7064 import mod_37_2

    assert mod_37_2.calc_check_digit(body) == check
    assert ALPHA[spec_procedure(body)] == check


def test_examples_through_our_api():
    assert I.check_character("G123489654321") == "Y"
    assert I.check_character("A999915000001") == "M"


@given(dins)
def test_library_agrees_with_the_written_procedure(din):
    assert din.check_character == ALPHA[spec_procedure(din.code)]
    assert int(din.check_flags) == spec_procedure(din.code) + 60


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("G123 498 654 321", None),
        ("G123498654321", None),
        ("G123 498 654 321 H", True),
        ("g123 498 654 321 h", True),
        ("  G123498654321H\n", True),
        ("G123 498 654 321 Y", False),
        ("=G12349865432177", True),
        ("=G12349865432176", False),
        ("=G12349865432100", None),
        ("]C0=G12349865432177", True),
    ],
)
def test_check_din_forms(text, valid):
    result = I.check_din(text)
    assert result.to_dict() == {"din": "G123498654321", "check_character": "H", "valid": valid}


@pytest.mark.parametrize(
    "text",
    [
        "G12349865432",
        "G123498654321HH",
        "O123498654321",
        "0123498654321",
        "G12A498654321",
        "G123498654321!",
        "=G1234986543217",
        "",
    ],
)
def test_check_din_refuses_non_dins(text):
    with pytest.raises(InputError):
        I.check_din(text)


@given(dins, st.data())
def test_every_substitution_and_adjacent_transposition_is_rejected(din, data):
    """ISO/IEC 7064 MOD 37-2 detects all single substitutions and adjacent transpositions."""
    valid = din.code + din.check_character
    assert I.is_valid_din(valid)
    for pos in range(len(valid)):
        for ch in ALPHA:
            if ch != valid[pos]:
                mutated = valid[:pos] + ch + valid[pos + 1 :]
                assert not I.is_valid_din(mutated), mutated
    for pos in range(len(valid) - 1):
        a, b = valid[pos], valid[pos + 1]
        if a != b:
            swapped = valid[:pos] + b + a + valid[pos + 2 :]
            assert not I.is_valid_din(swapped), swapped


@given(dins)
def test_scanned_flags_detect_substitutions_too(din):
    scanned = din.barcode_data()
    assert I.is_valid_din(scanned)
    for pos in range(1, 14):
        for ch in "0123456789":
            if ch != scanned[pos]:
                assert not I.is_valid_din(scanned[:pos] + ch + scanned[pos + 1 :])


def test_the_red_book_and_iso_examples_differ_by_one_transposition():
    assert I.is_valid_din("G123498654321H")
    assert not I.is_valid_din("G123489654321H")
    assert I.is_valid_din("G123489654321Y")


@pytest.mark.parametrize(
    ("flags", "kind"),
    [
        ("00", I.FlagType.NOT_USED),
        ("01", I.FlagType.ICCBBA),
        ("19", I.FlagType.ICCBBA),
        ("20", I.FlagType.LOCAL),
        ("59", I.FlagType.LOCAL),
        ("60", I.FlagType.CHECK),
        ("96", I.FlagType.CHECK),
        ("97", I.FlagType.RESERVED),
        ("A1", I.FlagType.RESERVED),
    ],
)
def test_flag_types(flags, kind):
    assert I.flag_type(flags) is kind


def test_process_control_flags_carry_no_check():
    s = I.parse_din_structure("=G12349865432101")
    assert s.flag_type is I.FlagType.ICCBBA and s.flags_valid is None


def test_next_din_counts_up_and_refuses_to_wrap():
    assert I.next_din("A9999", 2026, None) == I.Din("A9999", 26, 1)
    assert I.next_din("A9999", 26, 41).code == "A999926000042"
    assert I.next_din("A9999", 26, 998_999).sequence == 999_000
    with pytest.raises(InputError, match="used up"):
        I.next_din("A9999", 26, 999_999)
    with pytest.raises(InputError):
        I.next_din("O9999", 26, 1)


def test_parse_din_refuses_a_wrong_check():
    assert I.parse_din("G123 498 654 321 H") == I.Din("G1234", 98, 654321)
    with pytest.raises(InputError, match="check character does not match"):
        I.parse_din("G123 498 654 321 Y")


# ---- data structures -------------------------------------------------------------------------


def test_bag_label_string_parses_into_its_structures():
    text = "=G12349865432177=<S1234100&>0263652359=%5300"
    din, product, expiry, group = I.parse_structures(text)
    assert isinstance(din, I.DinStructure) and din.flags_valid is True
    assert isinstance(product, I.ProductCodeStructure)
    assert product.description_code == "S1234" and product.autologous
    assert product.collection_type_text == "for autologous use only"
    assert expiry == I.DateStructure(I.DateKind.EXPIRATION, dt.datetime(2026, 12, 31, 23, 59))
    assert isinstance(group, I.BloodGroupStructure)
    assert group.abo_rhd is I.AboRhD.O_POS and group.intended_use is I.IntendedUse.AUTOLOGOUS


@pytest.mark.parametrize(
    ("code", "group", "use"),
    [
        ("51", I.AboRhD.O_POS, I.IntendedUse.DEFAULT),
        ("95", I.AboRhD.O_NEG, I.IntendedUse.DEFAULT),
        ("06", I.AboRhD.A_NEG, I.IntendedUse.DEFAULT),
        ("62", I.AboRhD.A_POS, I.IntendedUse.DEFAULT),
        ("17", I.AboRhD.B_NEG, I.IntendedUse.DEFAULT),
        ("73", I.AboRhD.B_POS, I.IntendedUse.DEFAULT),
        ("28", I.AboRhD.AB_NEG, I.IntendedUse.DEFAULT),
        ("84", I.AboRhD.AB_POS, I.IntendedUse.DEFAULT),
        ("53", I.AboRhD.O_POS, I.IntendedUse.AUTOLOGOUS),
        ("97", I.AboRhD.O_NEG, I.IntendedUse.AUTOLOGOUS),
    ],
)
def test_blood_group_codes(code, group, use):
    """Default codes as printed on UK/US red cell labels (O pos 51, O neg 95, A pos 62, ...)."""
    s = I.BloodGroupStructure(code)
    assert (s.abo_rhd, s.intended_use) == (group, use)
    assert I.BloodGroupStructure.for_group(group, use).code == code


def test_special_blood_group_messages_are_kept_raw():
    s = I.parse_structures("=%Ma00")[0]
    assert isinstance(s, I.BloodGroupStructure) and s.abo_rhd is None and s.code == "Ma"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("=>026001", dt.date(2026, 1, 1)),
        ("=>024366", dt.date(2024, 12, 31)),
        ("=*026032", dt.date(2026, 2, 1)),
        ("&}0260600830", dt.datetime(2026, 3, 1, 8, 30)),
    ],
)
def test_ordinal_dates(text, value):
    (s,) = I.parse_structures(text)
    assert isinstance(s, I.DateStructure) and s.value == value and s.encode() == text


@pytest.mark.parametrize("text", ["=>025366", "=>026000", "&>0260012460", "=>02600"])
def test_impossible_dates_are_refused(text):
    with pytest.raises(InputError):
        I.parse_structures(text)


def test_label_times_are_local_and_to_the_minute():
    with pytest.raises(InputError, match="local time"):
        I.DateStructure(I.DateKind.EXPIRATION, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(InputError, match="minute"):
        I.DateStructure(I.DateKind.EXPIRATION, dt.datetime(2026, 1, 1, 8, 30, 15))


def test_compound_message_count_is_checked():
    assert len(I.parse_structures("=+02000=G12349865432177=<S1234100")) == 3
    with pytest.raises(InputError, match="announces 3"):
        I.parse_structures("=+03000=G12349865432177=<S1234100")
    with pytest.raises(InputError, match="first"):
        I.parse_structures("=G12349865432177=+01000=<S1234100")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("=#011970010100", "Patient Date of Birth"),
        ("=~123", "unknown"),
        ("=<S12", "malformed"),
        ("   ", "nothing"),
        ("=", "unknown"),
        ("&", "unknown"),
        ("=G12349865432177=", "unknown"),
    ],
)
def test_unsupported_and_broken_codes_name_the_problem(text, message):
    with pytest.raises(InputError, match=message):
        I.parse_structures(text)


def test_local_structure_runs_to_the_next_identifier():
    structures = I.parse_structures("&cA999984G7ZWYRD6V=G12349865432177")
    assert structures[0] == I.LocalStructure("&c", "A999984G7ZWYRD6V")
    assert isinstance(structures[1], I.DinStructure)


structures = st.one_of(
    st.builds(I.DinStructure, dins, st.sampled_from(["00", "01", "25", "77", "A1"])),
    st.builds(
        I.ProductCodeStructure,
        st.from_regex(r"[A-Z][A-Z0-9]{4}", fullmatch=True),
        st.sampled_from(list("01AXV8")),
        st.from_regex(r"[0-9A-Za-z]{2}", fullmatch=True),
    ),
    st.builds(
        I.DateStructure,
        st.sampled_from(list(I.DateKind)),
        st.one_of(
            st.dates(dt.date(2000, 1, 1), dt.date(2999, 12, 31)),
            st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2999, 12, 31)).map(
                lambda d: d.replace(second=0, microsecond=0)
            ),
        ),
    ),
    st.builds(I.BloodGroupStructure, st.from_regex(r"[0-9]{2}", fullmatch=True)),
    st.builds(I.LocalStructure, st.just("&c"), st.from_regex(r"[A-Z0-9]{1,20}", fullmatch=True)),
)


@given(st.lists(structures, min_size=1, max_size=6))
def test_encode_parse_round_trip(items):
    assert I.parse_structures(I.compound_message(items))[1:] == items
    # Local structures end at the next identifier, so plain concatenation also round-trips.
    assert I.parse_structures("".join(s.encode() for s in items)) == items


def test_structure_to_dict_is_json_ready():
    import json

    rows = [I.structure_to_dict(s) for s in I.parse_structures("=G12349865432177=%5100")]
    assert json.loads(json.dumps(rows))[0]["flags_valid"] is True
    assert rows[1]["abo_rhd"] == "O RhD positive"


# --- the product code of an autologous order (ST-001 data structure 003) ----------------------


@pytest.mark.parametrize(
    ("typed", "collection", "division"),
    [
        ("S1234100", "1", "00"),  # for autologous use only
        ("S1234 A 00", "A", "00"),  # spaces as printed; eligible for crossover
        ("S1234XB0", "X", "B0"),  # biohazardous, second bag's division
        ("S12348A0", "8", "A0"),  # autologous containing allogeneic material
    ],
)
def test_autologous_product_code_reads_the_collection_type(typed, collection, division):
    product = I.autologous_product_code(typed)
    assert (product.description_code, product.collection_type, product.division) == (
        "S1234",
        collection,
        division,
    )
    assert product.autologous and product.encode() == "=<" + typed.replace(" ", "")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("S12341000", "8 characters"),
        ("S123410", "8 characters"),
        ("S1234V00", "autologous collection type"),  # volunteer allogeneic
        ("S1234000", "autologous collection type"),  # not specified
        ("s1234100", "malformed"),
        ("S12=4100", "malformed"),
    ],
)
def test_autologous_product_code_refuses_other_codes(typed, message):
    with pytest.raises(InputError, match=message):
        I.autologous_product_code(typed)
