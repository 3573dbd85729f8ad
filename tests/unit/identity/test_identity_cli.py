"""``v2v coi`` through the root command line."""

from __future__ import annotations

import io
import json
import random

import pytest
import zxingcpp
from PIL import Image
from typer.testing import CliRunner

from vein2vein.features import create_cli
from vein2vein.identity import coi
from vein2vein.identity.isbt128 import Din

app = create_cli()

runner = CliRunner()
COI = coi.get_format().new("A9999", rng=random.Random(9))


@pytest.mark.parametrize(
    ("din", "valid", "code"),
    [("G123 498 654 321", None, 0), ("G123 498 654 321 H", True, 0), ("G123498654321Y", False, 1)],
)
def test_din_check_json(din, valid, code):
    result = runner.invoke(app, ["coi", "din", "check", din, "--json"])
    assert result.exit_code == code
    assert json.loads(result.stdout) == {
        "din": "G123498654321",
        "check_character": "H",
        "valid": valid,
    }


def test_din_check_text_and_bad_input():
    ok = runner.invoke(app, ["coi", "din", "check", "G123 498 654 321 H"])
    assert ok.exit_code == 0 and ok.stdout.strip() == "G123 498 654 321 [H]  valid"
    bad = runner.invoke(app, ["coi", "din", "check", "G1234"])
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: field 'din': a DIN has 13 characters")
    assert "Traceback" not in bad.output


def test_din_parse_json():
    result = runner.invoke(app, ["coi", "din", "parse", "=G12349865432177=<S1234100", "--json"])
    assert result.exit_code == 0
    din, product = json.loads(result.stdout)
    assert din["flags_valid"] is True and din["check_character"] == "H"
    assert product["product_description_code"] == "S1234"


def test_label_png_written_and_scannable(tmp_path):
    out = tmp_path / "bag.png"
    result = runner.invoke(
        app,
        [
            "coi",
            "label",
            "bag",
            "--out",
            str(out),
            "--din",
            "A9999 260 000 42",
            "--coi",
            COI,
            "--product-code",
            "S1234100",
            "--product-name",
            "CAR-T demo",
            "--facility",
            "Demo CDMO",
            "--subject",
            "SP1-001-0007",
            "--expires",
            "2026-12-31T23:59",
        ],
    )
    assert result.exit_code == 0, result.output
    found = {b.text for b in zxingcpp.read_barcodes(Image.open(io.BytesIO(out.read_bytes())))}
    assert Din("A9999", 26, 42).barcode_data() in found
    assert "=<S1234100" in found and "&>0263652359" in found


def test_shipper_label_pdf(tmp_path):
    out = tmp_path / "shipper.pdf"
    result = runner.invoke(
        app,
        [
            "coi",
            "label",
            "shipper",
            "-o",
            str(out),
            "--din",
            "A999926000042",
            "--coi",
            COI,
            "--shipper-id",
            "DS-1",
            "--logger-id",
            "TL-1",
            "--ship-from",
            "CDMO",
            "--ship-to",
            "Site",
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF-")


def test_label_refuses_missing_fields_and_wrong_suffix(tmp_path):
    missing = runner.invoke(
        app,
        [
            "coi",
            "label",
            "shipper",
            "-o",
            str(tmp_path / "s.pdf"),
            "--din",
            "A999926000042",
            "--coi",
            COI,
        ],
    )
    assert missing.exit_code == 2 and "shipper id" in missing.stderr
    suffix = runner.invoke(
        app,
        [
            "coi",
            "label",
            "bag",
            "-o",
            str(tmp_path / "s.svg"),
            "--din",
            "A999926000042",
            "--coi",
            COI,
        ],
    )
    assert suffix.exit_code == 2 and ".pdf or .png" in suffix.output


def test_a_bad_date_of_birth_is_never_echoed(tmp_path):
    from typer.testing import CliRunner

    from vein2vein.features import create_cli

    app = create_cli()
    from vein2vein.identity import coi

    result = CliRunner().invoke(
        app,
        [
            "coi",
            "label",
            "bag",
            "--out",
            str(tmp_path / "l.pdf"),
            "--din",
            "G123498654321",
            "--coi",
            coi.get_format().new("A9999"),
            "--product-code",
            "S1234100",
            "--date-of-birth",
            "1961-13-45",
        ],
    )
    assert result.exit_code != 0
    assert "1961-13-45" not in result.output and "--date-of-birth" in result.output
