"""Labels of the released product (issue 13): each bag's own division, printed and encoded,
"Bag n of N", the dose in the bag, collection date, batch, sites, and the computed expiry.

Symbols are decoded from the rendered PNG with zxing-cpp; the printed text is read back from the
PDF with poppler's ``pdftotext``. Expected dates are counted by hand on the calendar (2026 is not
a leap year, 2028 is); ordinal days (ISBT 128 ``jjj``) likewise: 2 March 2026 = 31 + 28 + 2 = 061.
"""

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
from reportlab.pdfbase.pdfmetrics import stringWidth

from vein2vein.core.errors import InputError
from vein2vein.identity import coi, labels
from vein2vein.identity.isbt128 import (
    DateKind,
    DateStructure,
    Din,
    ProductCodeStructure,
    parse_structures,
)

FMT = coi.get_format()
COI = FMT.new("A9999", rng=random.Random(13))
DIN = Din("A9999", 26, 4321)
CDMO = "Demo CDMO Leiden"
CENTRE = "Demo Hospital Apheresis Unit"
FROZEN = dt.datetime(2026, 1, 31, 14, 5)
EXPIRY = dt.datetime(2026, 3, 2, 23, 59)  # 31 Jan + 30 days = 2 March (February 2026: 28 days)


def released(bag: int, count: int = 2, **changes: object) -> labels.ReleasedProduct:
    fields: dict[str, object] = {
        "bag_number": bag,
        "bag_count": count,
        "cells": 0.7e8,
        "cells_per_kg": 1.0e6,
        "collection_date": dt.date(2026, 1, 20),
        "frozen_at": FROZEN,
        "shelf_life_days": 30,
        "batch": "B-2026-0042",
        "manufacturing_site": CDMO,
    }
    return labels.ReleasedProduct(**(fields | changes))  # type: ignore[arg-type]


def product_label(bag: int, division: str | None = None, **changes: object) -> labels.ProductLabel:
    fields: dict[str, object] = {
        "din": DIN,
        "coi": COI,
        "product": ProductCodeStructure("S1234", "1", division or labels.bag_division(bag)),
        "product_name": "CAR-T cells, autologous (demo)",
        "facility": CDMO,
        "subject_id": "SP1-001-0007",
        "collection_centre": CENTRE,
        "released": released(bag),
    }
    return labels.ProductLabel(**(fields | changes))  # type: ignore[arg-type]


BAGS = {n: product_label(n) for n in (1, 2)}
LAYOUTS = {
    (kind, n): layout(BAGS[n])
    for n in (1, 2)
    for kind, layout in (("bag", labels.bag_layout), ("cassette", labels.cassette_layout))
}


def decode(layout: labels.Layout) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(Image.open(io.BytesIO(labels.render_png(layout))))


def texts(layout: labels.Layout) -> list[str]:
    return [i.text for i in layout.items if isinstance(i, labels.Text)]


# --------------------------------------------------------------------------------------------
# expiry, division, dose
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frozen", "days", "expected"),
    [
        (FROZEN, 30, EXPIRY),  # across the end of February, non-leap year
        (dt.datetime(2027, 12, 31, 9, 0), 60, dt.datetime(2028, 2, 29, 23, 59)),  # into 29 Feb
        (dt.datetime(2027, 3, 1, 0, 10), 365, dt.datetime(2028, 2, 29, 23, 59)),  # leap year
        (dt.datetime(2027, 2, 28, 23, 50), 1, dt.datetime(2027, 3, 1, 23, 59)),
        (dt.datetime(2028, 2, 28, 8, 0), 1, dt.datetime(2028, 2, 29, 23, 59)),
        (dt.datetime(2026, 12, 31, 23, 59), 1, dt.datetime(2027, 1, 1, 23, 59)),  # year end
    ],
)
def test_expiry_is_the_end_of_day_n_counting_the_freeze_day_as_day_0(frozen, days, expected):
    assert labels.product_expiry(frozen, days) == expected


def test_expiry_keeps_the_time_zone_and_refuses_a_shelf_life_under_a_day():
    zone = dt.timezone(dt.timedelta(hours=1))
    got = labels.product_expiry(FROZEN.replace(tzinfo=zone), 30)
    assert got == EXPIRY.replace(tzinfo=zone) and got.tzinfo is zone
    for bad in (0, -3, True, 1.5):
        with pytest.raises(InputError) as err:
            labels.product_expiry(FROZEN, bad)  # type: ignore[arg-type]
        assert err.value.field == "shelf_life_days"


def test_bag_division_follows_the_order_bag_registration():
    # orders.register_product: bag i (0-based) gets f"{chr(ord('A') + i)}0"
    assert [labels.bag_division(n) for n in (1, 2, 3, 26)] == ["A0", "B0", "C0", "Z0"]
    for bad in (0, 27):
        with pytest.raises(InputError) as err:
            labels.bag_division(bad)
        assert err.value.field == "bag_number"


def test_dose_text():
    assert labels.dose_text(0.7e8) == "0.7 × 10^8 CAR+ viable T cells"
    assert labels.dose_text(0.7e8, 1e6) == "0.7 × 10^8 CAR+ viable T cells (1 × 10^6 /kg)"
    assert labels.dose_text(1.2345e8, 2.5e6) == "1.23 × 10^8 CAR+ viable T cells (2.5 × 10^6 /kg)"


# --------------------------------------------------------------------------------------------
# what the symbols carry
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", LAYOUTS)
def test_symbols_carry_the_bags_division_and_the_computed_expiry(key):
    kind, bag = key
    division = "A0" if bag == 1 else "B0"
    found = decode(LAYOUTS[key])
    assert sorted(b.text for b in found) == sorted(LAYOUTS[key].barcode_data)
    (matrix,) = [b.text for b in found if b.format == zxingcpp.BarcodeFormat.DataMatrix]
    structures = parse_structures(matrix)
    (product,) = [s for s in structures if isinstance(s, ProductCodeStructure)]
    assert product.encode() == f"=<S12341{division}"
    dates = {s.kind: s for s in structures if isinstance(s, DateStructure)}
    assert dates[DateKind.EXPIRATION].value == EXPIRY
    assert dates[DateKind.EXPIRATION].encode() == "&>0260612359"  # 2026, day 061, 23:59
    assert dates[DateKind.COLLECTION].value == dt.date(2026, 1, 20)
    code128 = {b.text for b in found if b.format == zxingcpp.BarcodeFormat.Code128}
    assert DIN.barcode_data() in code128
    if kind == "bag":
        assert f"=<S12341{division}" in code128 and "&>0260612359" in code128


def test_the_two_bags_differ_in_code_and_by_eye():
    for kind in ("bag", "cassette"):
        one, two = LAYOUTS[(kind, 1)], LAYOUTS[(kind, 2)]
        assert set(one.barcode_data) != set(two.barcode_data)
        big = {
            n: [i for i in LAYOUTS[(kind, n)].items if isinstance(i, labels.Text)] for n in (1, 2)
        }
        # the division is printed on its own, bold and larger than anything near it
        (div1,) = [t for t in big[1] if t.text == "A0"]
        (div2,) = [t for t in big[2] if t.text == "B0"]
        assert div1.bold and div1.size >= 14 and (div2.x, div2.y) == (div1.x, div1.y)
        assert "Bag 1 of 2" in texts(one) and "Bag 2 of 2" in texts(two)
        assert "B0" not in texts(one) and "Bag 2 of 2" not in texts(one)


pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils missing")


def pdf_text(layout: labels.Layout, tmp_path: Path) -> str:
    pdf = tmp_path / "label.pdf"
    pdf.write_bytes(labels.render_pdf(layout))
    out = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True)
    return " ".join(out.stdout.split())


@pdftotext
@pytest.mark.parametrize("key", LAYOUTS)
def test_released_label_prints_everything(key, tmp_path: Path):
    kind, bag = key
    text = pdf_text(LAYOUTS[key], tmp_path)
    division, other = ("A0", "B0") if bag == 1 else ("B0", "A0")
    for expected in (
        DIN.grouped(),
        FMT.display(COI),
        "SP1-001-0007",
        f"Bag {bag} of 2",
        "Dose 0.7 × 10^8 CAR+ viable T cells (1 × 10^6 /kg)",
        "Collected 2026-01-20",
        "Batch B-2026-0042",
        f"Manufactured by {CDMO}",
        f"at {CENTRE}",
        "EXP 2026-03-02 23:59",
        "Store at or below -150 °C",
    ):
        assert expected in text, expected
    words = text.split()
    assert division in words and other not in words and f"Bag {3 - bag} of 2" not in text
    if kind == "bag":  # pdftotext's reading order joins neighbouring items differently
        assert f"Collected at {CENTRE}" in text and "S1234 1" in text


@pdftotext
def test_apheresis_label_names_the_collection_centre_not_the_cdmo(tmp_path: Path):
    apheresis = labels.ProductLabel(
        DIN,
        COI,
        ProductCodeStructure("S1234", "1", "00"),
        "Apheresis product",
        CDMO,
        "SP1-001-0007",
        collection_centre=CENTRE,
    )
    layout = labels.bag_layout(apheresis)
    text = pdf_text(layout, tmp_path)
    assert f"Collected at {CENTRE}" in text
    assert "CDMO" not in text and "anufactured" not in text and "Bag " not in text
    assert not any("CDMO" in data for data in layout.barcode_data)
    # without a collection centre the issuing facility is named for what it is
    legacy = labels.bag_layout(dataclasses.replace(apheresis, collection_centre=None))
    assert f"Labelled by {CDMO}" in texts(legacy)
    assert not any("Collected" in t or "anufactured" in t for t in texts(legacy))


# --------------------------------------------------------------------------------------------
# inconsistent input is refused, naming the field
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: released(3, 2), "bag_number"),
        (lambda: released(0, 2), "bag_number"),
        (lambda: released(1, 27), "bag_count"),
        (lambda: released(1, cells=0.0), "cells"),
        (lambda: released(1, cells=float("nan")), "cells"),
        (lambda: released(1, cells_per_kg=-1.0), "cells_per_kg"),
        (lambda: released(1, batch=" "), "batch"),
        (lambda: released(1, manufacturing_site=""), "manufacturing_site"),
        (lambda: released(1, frozen_at=dt.datetime(2026, 1, 19, 23, 0)), "frozen_at"),
        (lambda: released(1, frozen_at=FROZEN.replace(tzinfo=dt.UTC)), "frozen_at"),
        (lambda: released(1, shelf_life_days=0), "shelf_life_days"),
        (lambda: product_label(2, division="A0"), "division"),
        (lambda: product_label(1, division="00"), "division"),
        (lambda: product_label(1, collection_centre=None), "collection_centre"),
        (lambda: product_label(1, collection_centre="  "), "collection_centre"),
        (lambda: product_label(1, expires=dt.datetime(2026, 1, 19, 12, 0)), "expires"),
        (lambda: product_label(1, expires=dt.datetime(2026, 3, 3, 23, 59)), "expires"),
    ],
)
def test_inconsistent_input_is_refused_naming_the_field(build, field):
    with pytest.raises(InputError) as err:
        build()
    assert err.value.field == field


def test_expiry_is_filled_in_and_a_matching_one_is_accepted():
    assert BAGS[1].expires == EXPIRY
    assert product_label(1, expires=EXPIRY) == BAGS[1]


# --------------------------------------------------------------------------------------------
# layout: inside the label, nothing on top of anything else
# --------------------------------------------------------------------------------------------

PT_MM = 25.4 / 72


def _box(item: labels.Item) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) in mm, as the PDF renderer draws it (text shrunk to fit)."""
    if isinstance(item, labels.Text):
        font = "Helvetica-Bold" if item.bold else "Helvetica"
        size = item.size
        if item.max_width is not None:
            while size > 4 and stringWidth(item.text, font, size) * PT_MM > item.max_width:
                size -= 0.25
        width = stringWidth(item.text, font, size) * PT_MM
        # capitals' top at y; Helvetica's descenders reach 0.21 em below the baseline
        return item.x, item.y, item.x + width, item.y + (0.718 + 0.21) * size * PT_MM
    if isinstance(item, labels.Bars):
        return item.x, item.y, item.x + item.width, item.y + item.height
    if isinstance(item, labels.Matrix):
        return item.x, item.y, item.x + item.size, item.y + item.size
    return item.x, item.y, item.x + item.width, item.y + item.height


@pytest.mark.parametrize("key", LAYOUTS)
def test_nothing_overlaps_and_everything_fits(key):
    layout = LAYOUTS[key]
    expected_size = (100, 100) if key[0] == "bag" else (90, 40)
    assert (layout.width, layout.height) == expected_size
    solid = [(i, _box(i)) for i in layout.items if not isinstance(i, labels.Rule)]
    for item, (left, top, right, bottom) in solid:
        assert left >= 0.5 and top >= 0.5, item
        assert right <= layout.width - 0.5 and bottom <= layout.height - 0.5, item
    for n, (a, (al, at, ar, ab)) in enumerate(solid):
        for b, (bl, bt, br, bb) in solid[n + 1 :]:
            apart = ar <= bl or br <= al or ab <= bt or bb <= at
            assert apart, (a, b)
    for rule in (i for i in layout.items if isinstance(i, labels.Rule)):
        for item, (left, top, right, bottom) in solid:
            crosses = left < rule.x + rule.width and rule.x < right
            crosses &= top < rule.y + rule.height and rule.y < bottom
            assert not crosses, (rule, item)
