"""The MBR YAML format: a round trip keeps the content, and every problem names the file, line
and field."""

from __future__ import annotations

import pytest
from tests.mbr_world import V1, V2

from vein2vein.core.canonical import sha256_hex
from vein2vein.manufacturing import domain, mbr_yaml
from vein2vein.manufacturing.mbr_yaml import YamlError


@pytest.mark.parametrize("path", [V1, V2], ids=lambda p: p.name)
def test_round_trip_keeps_the_content(path) -> None:  # type: ignore[no-untyped-def]
    mbr = mbr_yaml.parse(path.read_text(encoding="utf-8"), path.name)
    again = mbr_yaml.parse(mbr_yaml.dump(mbr, "exported\nheader"), "exported.yaml")
    assert again == mbr
    assert sha256_hex(domain.to_data(again)) == sha256_hex(domain.to_data(mbr))


def _line(text: str, needle: str, nth: int = 1) -> int:
    """1-based line number of the nth line containing ``needle``."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth - 1]


def _error(text: str) -> YamlError:
    with pytest.raises(YamlError) as info:
        mbr_yaml.parse(text, "epcam.yaml")
    return info.value


def test_a_par_inside_the_nor_names_its_line_and_field() -> None:
    text = V1.read_text(encoding="utf-8")
    bad = text.replace("        par: {low: 2, high: 5}\n", "        par: {low: 2, high: 3.2}\n", 1)
    err = _error(bad)
    line = _line(bad, "par: {low: 2, high: 3.2}")
    assert err.message == (
        f"epcam.yaml line {line}, operations[3].parameters[1].par.high: must be ≥ nor.high"
    )
    assert (err.file, err.row, err.field) == (
        "epcam.yaml",
        line,
        "operations[3].parameters[1].par.high",
    )


def test_unknown_unit_field_and_reference() -> None:
    text = V1.read_text(encoding="utf-8")
    bad = text.replace(
        "unit: beads/cell\n        target: 3", "unit: beads per cell\n        target: 3"
    )
    err = _error(bad)
    assert err.path == "operations[2].parameters[2].unit"
    assert err.line == _line(bad, "unit: beads per cell")
    assert "unknown unit 'beads per cell'" in err.message
    typo = text.replace("        target: 37\n", "        targt: 37\n", 1)
    err = _error(typo)
    assert err.path == "operations[2].parameters[4].targt" and "unknown field" in err.message
    assert err.line == _line(typo, "targt: 37")
    ref = text.replace(
        "titer: lot:LV-EPCAM.functional_titer", "titer: lot:LV-OTHER.functional_titer"
    )
    err = _error(ref)
    assert err.path == "calculations[0].inputs.titer" and "no material 'LV-OTHER'" in err.message
    assert err.line == _line(ref, "titer: lot:LV-OTHER")


def test_yaml_that_is_not_an_mbr() -> None:
    assert _error("").message == "epcam.yaml: the file is empty"
    err = _error("product: [unclosed\n")
    assert err.message.startswith("epcam.yaml line 2: not valid YAML")
    err = _error("product: A\nproduct: B\n")
    assert (err.line, err.path) == (2, "product") and "twice" in err.message
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    assert "aliases are not allowed" in _error(bomb).message
    err = _error("product: HLX\nsite: S\ntitle: T\noperations: []\n")
    assert err.message == "epcam.yaml line 4, operations: an MBR needs at least one operation"
