"""Labels: every barcode on the PNG (and, where poppler is installed, on the rasterised PDF)
is decoded by zxing-cpp and the decoded string round-trips through the ISBT 128 parser."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import random
import shutil
import subprocess
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from vein2vein.core.errors import InputError
from vein2vein.identity import coi, labels
from vein2vein.identity.domain import ExpectedIdentity, check_handoff, read_scans
from vein2vein.identity.isbt128 import (
    AboRhD,
    BloodGroupStructure,
    Din,
    DinStructure,
    ProductCodeStructure,
    parse_structures,
)

FMT = coi.get_format()
COI = FMT.new("A9999", rng=random.Random(5))
DIN = Din("A9999", 26, 123)
DOB = dt.date(1961, 4, 12)
PRODUCT_LABEL = labels.ProductLabel(
    din=DIN,
    coi=COI,
    product=ProductCodeStructure("S1234", "1", "00"),
    product_name="CAR-T cells, autologous (demo)",
    facility="Demo CDMO",
    subject_id="SP1-001-0007",
    expires=dt.datetime(2026, 12, 31, 23, 59),
    date_of_birth=DOB,
    blood_group=BloodGroupStructure.for_group(AboRhD.A_NEG),
)
SHIPPER_LABEL = labels.ShipperLabel(
    din=DIN,
    coi=COI,
    shipper_id="DS-0042",
    logger_id="TL-9912",
    ship_from="Demo CDMO",
    ship_to="Demo Hospital",
)
LAYOUTS = {
    "bag": labels.bag_layout(PRODUCT_LABEL),
    "cassette": labels.cassette_layout(PRODUCT_LABEL),
    "shipper": labels.shipper_layout(SHIPPER_LABEL),
}


def decode(png: bytes) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))


@pytest.mark.parametrize("name", LAYOUTS)
def test_png_barcodes_decode_to_what_the_label_encodes(name):
    layout = LAYOUTS[name]
    found = decode(labels.render_png(layout))
    assert sorted(b.text for b in found) == sorted(layout.barcode_data)
    formats = {b.format for b in found}
    assert formats == {zxingcpp.BarcodeFormat.Code128, zxingcpp.BarcodeFormat.DataMatrix}
    for barcode in found:
        parse_structures(barcode.text)


def test_bag_label_scans_pass_the_handoff_check():
    found = decode(labels.render_png(LAYOUTS["bag"]))
    (matrix,) = [b.text for b in found if b.format == zxingcpp.BarcodeFormat.DataMatrix]
    structures = parse_structures(matrix)
    assert structures[1] == DinStructure(DIN, DIN.check_flags)
    expected = ExpectedIdentity(din=DIN.code, coi=COI, product_code="S1234100")
    assert check_handoff(expected, read_scans([b.text for b in found])) == []


def test_din_code128_at_200_dpi_still_decodes():
    found = decode(labels.render_png(LAYOUTS["cassette"], dpi=200))
    assert DIN.barcode_data() in {b.text for b in found}


def test_data_matrix_is_square():
    (matrix,) = [i for i in LAYOUTS["bag"].items if isinstance(i, labels.Matrix)]
    assert len(matrix.rows) == len(matrix.rows[0])


def texts(layout: labels.Layout) -> str:
    return " ".join(i.text for i in layout.items if isinstance(i, labels.Text))


def test_personal_data_stays_off_barcodes_and_shipper_labels():
    for name, layout in LAYOUTS.items():
        for data in layout.barcode_data:
            assert "1961" not in data and "SP1-001-0007" not in data
        if name == "shipper":
            assert "SP1-001-0007" not in texts(layout) and "1961" not in texts(layout)
    assert "Date of birth 1961-04-12" in texts(LAYOUTS["bag"])
    no_dob = labels.bag_layout(dataclasses.replace(PRODUCT_LABEL, date_of_birth=None))
    assert "1961" not in texts(no_dob)


def test_eye_readable_din_and_coi_are_printed():
    bag = texts(LAYOUTS["bag"])
    assert DIN.grouped() in bag and DIN.check_character in bag and FMT.display(COI) in bag


def test_pdf_is_one_page_of_the_label_size():
    pdf = labels.render_pdf(LAYOUTS["bag"])
    assert pdf.startswith(b"%PDF-") and b"/Count 1" in pdf
    assert b"/MediaBox [ 0 0 283.4646 283.4646 ]" in pdf  # 100 mm square


@pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) not installed"
)
@pytest.mark.parametrize("name", LAYOUTS)
def test_pdf_barcodes_decode_when_rasterised(name, tmp_path: Path):
    pdf = tmp_path / "label.pdf"
    pdf.write_bytes(labels.render_pdf(LAYOUTS[name]))
    subprocess.run(
        ["pdftoppm", "-r", "300", "-png", "-singlefile", str(pdf), str(tmp_path / "p")], check=True
    )
    found = decode((tmp_path / "p.png").read_bytes())
    assert sorted(b.text for b in found) == sorted(LAYOUTS[name].barcode_data)


def test_required_fields_and_kind_mismatch():
    with pytest.raises(InputError, match="subject id"):
        labels.ProductLabel(DIN, COI, ProductCodeStructure("S1234"), "x", "y", " ")
    with pytest.raises(InputError, match="shipper details"):
        labels.layout_for(labels.LabelKind.SHIPPER, PRODUCT_LABEL)
