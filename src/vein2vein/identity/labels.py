"""ISBT 128 bag, cassette and shipper labels, as PDF and PNG.

A label is first laid out as a :class:`Layout` (text, bars and matrix modules placed in
millimetres), then drawn by one of two small renderers: reportlab for PDF, Pillow for PNG. Both
draw the same module patterns, so what scans on the PNG is what is printed from the PDF.

Encoders: Code 128 patterns come from ``python-barcode``; Data Matrix (ECC 200, square) from
``zxing-cpp``'s writer (zint inside). reportlab's own ``ECC200DataMatrix`` is not used: in
reportlab 5.1 its C40 encoder gives wrong values for ``: ; < = > ? @``, so symbols holding ISBT
128 data identifiers (``=``, ``<``, ``>``) do not decode.

Personal data: bag and cassette labels carry the sponsor subject id and the CoI identifier, and
the date of birth only when the caller passes it (the second patient identifier some sites check
at the bedside); no name. Shipper labels carry no patient data at all. No barcode carries
personal data.
"""

from __future__ import annotations

import datetime as dt
import enum
import io
from dataclasses import dataclass, field
from typing import Final

from vein2vein.core.errors import InputError
from vein2vein.identity import coi as coi_module
from vein2vein.identity.isbt128 import (
    BloodGroupStructure,
    DataStructure,
    DateKind,
    DateStructure,
    Din,
    DinStructure,
    ProductCodeStructure,
    compound_message,
)

MM_PER_INCH: Final = 25.4
#: Code 128 narrow bar (X dimension): 3 pixels at 300 dpi.
CODE128_MODULE_MM: Final = 0.254
CODE128_QUIET_MODULES: Final = 10
DATAMATRIX_MODULE_MM: Final = 0.5
DATAMATRIX_QUIET_MODULES: Final = 2


# --------------------------------------------------------------------------------------------
# Symbols
# --------------------------------------------------------------------------------------------


def code128_modules(data: str) -> str:
    """Code 128 bars and spaces of ``data`` as a string of ``1`` (bar) and ``0`` (space)."""
    from barcode import Code128

    return str(Code128(data).build()[0])


def datamatrix_modules(data: str) -> tuple[str, ...]:
    """Square ECC 200 Data Matrix of ``data``: one string of ``1`` (dark) / ``0`` per row."""
    try:
        import zxingcpp
    except ImportError as exc:  # pragma: no cover - zxing-cpp is a declared dependency
        raise RuntimeError("Data Matrix labels need the zxing-cpp package") from exc
    import numpy as np

    symbol = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.DataMatrix, force_square=True)
    pixels = np.asarray(symbol.to_image(scale=1, add_quiet_zones=False))
    return tuple("".join("1" if v < 128 else "0" for v in row) for row in pixels)


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    x: float  # mm from the left edge
    y: float  # mm from the top edge to the top of the capitals
    size: float  # points
    text: str
    bold: bool = False
    boxed: bool = False  # ISBT prints the DIN check character in a box
    max_width: float | None = None  # mm; the text shrinks to fit


@dataclass(frozen=True, slots=True)
class Bars:
    """A linear symbol: ``modules`` of ``module`` mm each; ``x`` is where its quiet zone starts."""

    x: float
    y: float
    height: float
    modules: str
    module: float = CODE128_MODULE_MM
    data: str = ""

    @property
    def width(self) -> float:
        return (len(self.modules) + 2 * CODE128_QUIET_MODULES) * self.module


@dataclass(frozen=True, slots=True)
class Matrix:
    x: float
    y: float
    rows: tuple[str, ...]
    module: float = DATAMATRIX_MODULE_MM
    data: str = ""

    @property
    def size(self) -> float:
        return (len(self.rows) + 2 * DATAMATRIX_QUIET_MODULES) * self.module


@dataclass(frozen=True, slots=True)
class Rule:
    x: float
    y: float
    width: float
    height: float


Item = Text | Bars | Matrix | Rule


@dataclass(frozen=True, slots=True)
class Layout:
    width: float  # mm
    height: float  # mm
    items: tuple[Item, ...]

    @property
    def barcode_data(self) -> tuple[str, ...]:
        """What every symbol on the label encodes, top to bottom."""
        return tuple(i.data for i in self.items if isinstance(i, Bars | Matrix))


def _bars(x: float, y: float, height: float, data: str) -> Bars:
    return Bars(x, y, height, code128_modules(data), data=data)


# --------------------------------------------------------------------------------------------
# Label content
# --------------------------------------------------------------------------------------------


class LabelKind(enum.StrEnum):
    BAG = "bag"
    CASSETTE = "cassette"
    SHIPPER = "shipper"


def _require(label: object, *names: str) -> None:
    for name in names:
        if not str(getattr(label, name)).strip():
            raise InputError(f"the label needs {name.replace('_', ' ')}", field=name)


@dataclass(frozen=True, slots=True)
class ProductLabel:
    """What a bag or cassette label shows."""

    din: Din
    coi: str
    product: ProductCodeStructure
    product_name: str  # the site's name for its product description code
    facility: str  # who collected or manufactured it
    subject_id: str
    expires: dt.datetime | None = None  # local time, naive, as printed
    date_of_birth: dt.date | None = None  # printed only when given; never in a barcode
    blood_group: BloodGroupStructure | None = None
    storage: str = "Store at or below -150 °C"
    flags: str | None = None  # default: the check character as flags
    coi_format: coi_module.CoiFormat = field(default_factory=coi_module.get_format)

    def __post_init__(self) -> None:
        _require(self, "product_name", "facility", "subject_id")

    def structures(self) -> list[DataStructure]:
        out: list[DataStructure] = [DinStructure(self.din, self.flags or self.din.check_flags)]
        out.append(self.product)
        if self.expires is not None:
            out.append(DateStructure(DateKind.EXPIRATION, self.expires))
        if self.blood_group is not None:
            out.append(self.blood_group)
        out.append(self.coi_format.to_structure(self.coi))
        return out


@dataclass(frozen=True, slots=True)
class ShipperLabel:
    """What a shipper label shows: routing and identifiers, no patient data."""

    din: Din
    coi: str
    shipper_id: str
    logger_id: str
    ship_from: str
    ship_to: str
    temperature: str = "Keep at or below -150 °C (liquid nitrogen dry shipper)"
    contents: str = "HUMAN CELLS FOR AUTOLOGOUS USE ONLY"
    coi_format: coi_module.CoiFormat = field(default_factory=coi_module.get_format)

    def __post_init__(self) -> None:
        _require(self, "shipper_id", "logger_id", "ship_from", "ship_to")

    def structures(self) -> list[DataStructure]:
        return [
            DinStructure(self.din, self.din.check_flags),
            self.coi_format.to_structure(self.coi),
        ]


def _din_block(x: float, y: float, din: Din, flags: str) -> list[Item]:
    """DIN barcode with its eye-readable groups, flags and boxed check character below."""
    bars = _bars(x, y, 12, din.barcode_data(flags))
    ty = y + 13.5
    left = x + CODE128_QUIET_MODULES * CODE128_MODULE_MM
    return [
        bars,
        Text(left, ty, 11, din.grouped(), bold=True),
        Text(left + 34, ty + 0.8, 6, flags),
        Text(left + 39, ty, 11, din.check_character, bold=True, boxed=True),
    ]


def _expiry_text(expires: dt.datetime | None) -> str:
    return "EXP " + expires.strftime("%Y-%m-%d %H:%M") if expires else "EXP see documentation"


def bag_layout(label: ProductLabel) -> Layout:
    """100 × 100 mm bag label in four quadrants: DIN, product, expiry, identity."""
    fmt = label.coi_format
    flags = label.flags or label.din.check_flags
    items: list[Item] = _din_block(2, 3, label.din, flags)
    items.append(Text(4.5, 23, 6, f"Collected/manufactured by {label.facility}", max_width=44))
    items += [
        _bars(50, 3, 12, label.product.encode()),
        Text(52.5, 16.5, 9, label.product.description_code, bold=True),
        Text(52.5, 21, 7, label.product_name, max_width=44),
        Text(
            52.5, 25, 7, (label.product.collection_type_text or "").upper(), bold=True, max_width=44
        ),
        Rule(0, 30, 100, 0.3),
        Rule(49, 0, 0.3, 30),
    ]
    if label.expires is not None:
        exp = DateStructure(DateKind.EXPIRATION, label.expires).encode()
        items.append(_bars(2, 33, 10, exp))
    items.append(Text(4.5, 45, 9, _expiry_text(label.expires), bold=True))
    if label.blood_group is not None and label.blood_group.abo_rhd is not None:
        items.append(_bars(50, 33, 10, label.blood_group.encode()))
        items.append(Text(52.5, 45, 9, label.blood_group.abo_rhd.value, bold=True, max_width=44))
    items.append(Rule(0, 51, 100, 0.3))
    matrix_data = compound_message(label.structures())
    items.append(Matrix(3, 55, datamatrix_modules(matrix_data), 0.7, matrix_data))
    identity: list[Item] = [
        Text(40, 56, 7, "Chain of identity"),
        Text(40, 60, 10, fmt.display(label.coi), bold=True, max_width=58),
        Text(40, 67, 7, "Subject"),
        Text(40, 71, 10, label.subject_id, bold=True, max_width=58),
    ]
    if label.date_of_birth is not None:
        identity.append(Text(40, 78, 7, f"Date of birth {label.date_of_birth.isoformat()}"))
    identity.append(Text(40, 86, 8, label.storage, bold=True, max_width=58))
    return Layout(100, 100, tuple(items + identity))


def cassette_layout(label: ProductLabel) -> Layout:
    """90 × 40 mm cassette label: DIN, Data Matrix and the identity lines."""
    fmt = label.coi_format
    flags = label.flags or label.din.check_flags
    matrix_data = compound_message(label.structures())
    items: list[Item] = _din_block(1, 2, label.din, flags)
    items += [
        Matrix(62, 2, datamatrix_modules(matrix_data), data=matrix_data),
        Text(3.5, 22, 8, f"CoI {fmt.display(label.coi)}", bold=True, max_width=58),
        Text(3.5, 26.5, 8, f"Subject {label.subject_id}", bold=True, max_width=58),
        Text(3.5, 31, 6, f"{label.product.description_code} {label.product_name}", max_width=58),
        Text(3.5, 35, 6, f"{_expiry_text(label.expires)}   {label.storage}", max_width=84),
    ]
    if label.date_of_birth is not None:
        items.append(Text(62, 31, 6, f"DOB {label.date_of_birth.isoformat()}"))
    return Layout(90, 40, tuple(items))


def shipper_layout(label: ShipperLabel) -> Layout:
    """150 × 100 mm shipper label: routing, handling, DIN and CoI; no patient data."""
    fmt = label.coi_format
    matrix_data = compound_message(label.structures())
    items: list[Item] = [
        Text(4, 4, 13, label.contents, bold=True, max_width=142),
        Text(4, 11, 9, "DO NOT X-RAY - DO NOT IRRADIATE - KEEP UPRIGHT", bold=True),
        Text(4, 16, 8, label.temperature, max_width=142),
        Rule(0, 21, 150, 0.3),
        Text(4, 24, 7, "From"),
        Text(4, 28, 10, label.ship_from, bold=True, max_width=68),
        Text(78, 24, 7, "To"),
        Text(78, 28, 10, label.ship_to, bold=True, max_width=68),
        Text(4, 36, 8, f"Shipper {label.shipper_id}    Logger {label.logger_id}", max_width=142),
        Rule(0, 41, 150, 0.3),
        *_din_block(2, 45, label.din, label.din.check_flags),
        Text(4.5, 66, 7, "Chain of identity"),
        Text(4.5, 70, 11, fmt.display(label.coi), bold=True),
        Matrix(112, 45, datamatrix_modules(matrix_data), 1.0, matrix_data),
    ]
    return Layout(150, 100, tuple(items))


def layout_for(kind: LabelKind, label: ProductLabel | ShipperLabel) -> Layout:
    if kind is LabelKind.SHIPPER:
        if not isinstance(label, ShipperLabel):
            raise InputError("a shipper label needs shipper details", field="kind")
        return shipper_layout(label)
    if not isinstance(label, ProductLabel):
        raise InputError(f"a {kind.value} label needs product details", field="kind")
    return bag_layout(label) if kind is LabelKind.BAG else cassette_layout(label)


# --------------------------------------------------------------------------------------------
# Renderers
# --------------------------------------------------------------------------------------------


def _runs(modules: str) -> list[tuple[int, int]]:
    """(start, length) of each run of ``1`` in a module string."""
    runs, start = [], None
    for i, m in enumerate(modules + "0"):
        if m == "1" and start is None:
            start = i
        elif m != "1" and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


def render_pdf(layout: Layout) -> bytes:
    """The label as a one-page PDF of the label's own size."""
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    height = layout.height * mm
    pdf = canvas.Canvas(buf, pagesize=(layout.width * mm, height), invariant=True)
    pdf.setTitle("ISBT 128 label")
    for item in layout.items:
        if isinstance(item, Text):
            font = "Helvetica-Bold" if item.bold else "Helvetica"
            size = item.size
            if item.max_width is not None:
                while size > 4 and stringWidth(item.text, font, size) > item.max_width * mm:
                    size -= 0.25
            pdf.setFont(font, size)
            baseline = height - item.y * mm - 0.718 * size
            pdf.drawString(item.x * mm, baseline, item.text)
            if item.boxed:
                w = stringWidth(item.text, font, size)
                pdf.rect(item.x * mm - 1.5, baseline - 2.5, w + 3, size + 2.5, stroke=1, fill=0)
        elif isinstance(item, Bars):
            x0 = (item.x + CODE128_QUIET_MODULES * item.module) * mm
            top = height - item.y * mm
            for start, length in _runs(item.modules):
                pdf.rect(
                    x0 + start * item.module * mm,
                    top - item.height * mm,
                    length * item.module * mm,
                    item.height * mm,
                    stroke=0,
                    fill=1,
                )
        elif isinstance(item, Matrix):
            q = DATAMATRIX_QUIET_MODULES
            for r, row in enumerate(item.rows):
                y = height - (item.y + (q + r + 1) * item.module) * mm
                for start, length in _runs(row):
                    pdf.rect(
                        (item.x + (q + start) * item.module) * mm,
                        y,
                        length * item.module * mm,
                        item.module * mm,
                        stroke=0,
                        fill=1,
                    )
        else:
            pdf.rect(
                item.x * mm,
                height - (item.y + item.height) * mm,
                item.width * mm,
                item.height * mm,
                stroke=0,
                fill=1,
            )
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def render_png(layout: Layout, dpi: int = 300) -> bytes:
    """The label as a 1-bit-clean greyscale PNG at ``dpi``; symbol modules are whole pixels."""
    from PIL import Image, ImageDraw, ImageFont

    def px(mm_value: float) -> int:
        return round(mm_value * dpi / MM_PER_INCH)

    image = Image.new("L", (px(layout.width), px(layout.height)), 255)
    draw = ImageDraw.Draw(image)
    for item in layout.items:
        if isinstance(item, Text):
            size = item.size * dpi / 72
            font = ImageFont.load_default(size=size)
            stroke = max(1, round(size / 28)) if item.bold else 0
            if item.max_width is not None:
                while size > 6 and draw.textlength(item.text, font=font) > px(item.max_width):
                    size *= 0.95
                    font = ImageFont.load_default(size=size)
            xy = (px(item.x), px(item.y))
            draw.text(
                xy, item.text, fill=0, font=font, anchor="lt", stroke_width=stroke, stroke_fill=0
            )
            if item.boxed:
                left, top, right, bottom = draw.textbbox(xy, item.text, font=font, anchor="lt")
                pad = px(0.6)
                draw.rectangle(
                    (left - pad, top - pad, right + pad, bottom + pad),
                    outline=0,
                    width=max(1, px(0.15)),
                )
        elif isinstance(item, Bars):
            unit = max(1, px(item.module))
            x0, y0 = px(item.x) + CODE128_QUIET_MODULES * unit, px(item.y)
            for start, length in _runs(item.modules):
                draw.rectangle(
                    (
                        x0 + start * unit,
                        y0,
                        x0 + (start + length) * unit - 1,
                        y0 + px(item.height) - 1,
                    ),
                    fill=0,
                )
        elif isinstance(item, Matrix):
            unit = max(1, px(item.module))
            x0 = px(item.x) + DATAMATRIX_QUIET_MODULES * unit
            y0 = px(item.y) + DATAMATRIX_QUIET_MODULES * unit
            for r, row in enumerate(item.rows):
                for start, length in _runs(row):
                    draw.rectangle(
                        (
                            x0 + start * unit,
                            y0 + r * unit,
                            x0 + (start + length) * unit - 1,
                            y0 + (r + 1) * unit - 1,
                        ),
                        fill=0,
                    )
        else:
            draw.rectangle(
                (px(item.x), px(item.y), px(item.x + item.width) - 1, px(item.y + item.height)),
                fill=0,
            )
    buf = io.BytesIO()
    image.save(buf, format="PNG", dpi=(dpi, dpi))
    return buf.getvalue()


class OutputFormat(enum.StrEnum):
    PDF = "pdf"
    PNG = "png"


def render(layout: Layout, fmt: OutputFormat, dpi: int = 300) -> bytes:
    return render_pdf(layout) if fmt is OutputFormat.PDF else render_png(layout, dpi)
