"""Chain-of-identity identifier format v2v-1 and the format switch."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vein2vein.core.errors import InputError
from vein2vein.identity import coi
from vein2vein.identity.isbt128 import LocalStructure, parse_structures

FMT = coi.get_format()


def test_new_identifier_shape_and_check():
    value = FMT.new("a9999", rng=random.Random(7))
    assert len(value) == 16 and value.startswith("A9999")
    assert FMT.normalize(value) == value
    display = FMT.display(value)
    assert display.count("-") == 3 and display.replace("-", "") == value
    assert FMT.normalize(display.lower()) == value


def test_documented_example_is_valid():
    assert FMT.normalize("A9999-7K3M9-QPRT2-J") == "A99997K3M9QPRT2J"
    assert FMT.display("a99997k3m9qprt2j") == "A9999-7K3M9-QPRT2-J"


def test_seeded_generation_is_reproducible_and_default_is_random():
    assert FMT.new("A9999", rng=random.Random(1)) == FMT.new("A9999", rng=random.Random(1))
    assert len({FMT.new("A9999") for _ in range(50)}) == 50


@given(st.randoms(use_true_random=False), st.data())
def test_single_substitutions_are_rejected(rng, data):
    value = FMT.new("A9999", rng=rng)
    pos = data.draw(st.integers(0, len(value) - 1))
    ch = data.draw(st.sampled_from([c for c in coi.CROCKFORD + "ILOU" if c != value[pos]]))
    with pytest.raises(InputError):
        FMT.normalize(value[:pos] + ch + value[pos + 1 :])


@pytest.mark.parametrize(
    "text", ["", "A9999", "A9999-84G7Z-WYRD6", "A999984G7ZWYRD6V0", "A9999UUUUUUUUUU0"]
)
def test_malformed_identifiers_are_refused(text):
    with pytest.raises(InputError):
        FMT.normalize(text)


def test_issuer_must_be_five_characters():
    with pytest.raises(InputError, match="issuer"):
        FMT.new("A99")


def test_barcode_structure_round_trip():
    value = FMT.new("A9999", rng=random.Random(3))
    structure = FMT.to_structure(value)
    assert structure == LocalStructure("&c", value)
    assert FMT.from_structures(parse_structures("=G12349865432177" + structure.encode())) == value
    assert FMT.from_structures(parse_structures("=G12349865432177")) is None


def test_unknown_format_is_named():
    with pytest.raises(InputError, match="unknown CoI format 'iccbba-st028'"):
        coi.get_format("iccbba-st028")


def test_a_site_can_register_another_format():
    @dataclass(frozen=True)
    class SiteFormat(coi.V2VCoiFormat):
        name: str = "site-test"
        data_identifier: str = "&z"
        serial_length: int = 6

    coi.register_format(SiteFormat())
    fmt = coi.get_format("site-test")
    value = fmt.new("B1234", rng=random.Random(0))
    assert len(value) == 12
    assert fmt.to_structure(value).encode().startswith("&z")
    with pytest.raises(InputError):
        FMT.normalize(value)
