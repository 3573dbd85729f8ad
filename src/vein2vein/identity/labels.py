"""ISBT 128 bag, cassette and shipper labels, as PDF and PNG.

A label is first laid out as a :class:`Layout` (text, bars and matrix modules placed in
millimetres), then drawn by one of two small renderers: reportlab for PDF, Pillow for PNG. Both
draw the same module patterns, so what scans on the PNG is what is printed from the PDF.

Encoders: Code 128 patterns come from ``python-barcode``; Data Matrix (ECC 200, square) from
``zxing-cpp``'s writer (zint inside). reportlab's own ``ECC200DataMatrix`` is not used: in
reportlab 5.1 its C40 encoder gives wrong values for ``: ; < = > ? @``, so symbols holding ISBT
128 data identifiers (``=``, ``<``, ``>``) do not decode.

Released product (issue 13): a bag or cassette label given a :class:`ReleasedProduct` is the label
of one final-product bag. It prints and encodes the product code with that bag's own division
(bag 1 = ``A0``, 2 = ``B0``, ... as :func:`bag_division`), "Bag n of N", the dose in that bag, the
collection date, the batch, the manufacturing site and the collection centre, and the expiry
computed by :func:`product_expiry` from the freeze time and the shelf life. The apheresis bag label
names the collection centre ("Collected at ..."), never the CDMO.

Personal data: bag and cassette labels carry the sponsor subject id and the CoI identifier, and
the date of birth only when the caller passes it (the second patient identifier some sites check
at the bedside); no name. Shipper labels carry no patient data at all. No barcode carries
personal data.
"""

from __future__ import annotations

import datetime as dt
import enum
import io
import math
import string
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


# --------------------------------------------------------------------------------------------
# Released product: bag division, expiry, dose
# --------------------------------------------------------------------------------------------

#: One first-level division letter per final-product bag, A to Z (as ``orders.register_product``).
MAX_BAGS: Final = len(string.ascii_uppercase)
#: Local time at which a product expires on its last day: ISBT 128 (ICCBBA ST-001) expiration
#: date and time, data structure 005, writes the end of a day as 2359.
EXPIRY_TIME: Final = dt.time(23, 59)


def bag_division(bag_number: int) -> str:
    """Division code ``ds`` of the product code of final-product bag ``bag_number``.

    ICCBBA ST-001 data structure 003 ``αooootds``: ``d`` is the first-level division (a capital
    letter), ``s`` the second level (``0``: not divided further). vein2vein gives the bags of one
    product the letters in order, as ``orders.register_product`` registers them: bag 1 = ``A0``,
    bag 2 = ``B0``, ... bag 26 = ``Z0``.
    """
    if isinstance(bag_number, bool) or not 1 <= bag_number <= MAX_BAGS:
        raise InputError(f"a bag number is 1 to {MAX_BAGS}", field="bag_number")
    return f"{string.ascii_uppercase[bag_number - 1]}0"


def product_expiry(frozen_at: dt.datetime, shelf_life_days: int) -> dt.datetime:
    """When a cryopreserved product frozen at ``frozen_at`` expires: 23:59 on the day that is
    ``shelf_life_days`` calendar days after the day of freezing.

    Convention (the one blood-component dating uses, e.g. AABB Standards and the Council of
    Europe Guide: the day of processing is day 0 and the product expires at the end of its last
    day): the day of freezing is day 0, the last day of use is day ``shelf_life_days``, and the
    product may be used until the end of that day. The end of a day is written 23:59, as ICCBBA
    ST-001 encodes it in the expiration date and time (data structure 005, ``&>cyyjjjhhmm``;
    data structure 004, the date alone, means the same end of day). The time of freezing does not
    move the expiry: two bags frozen on the same day expire together.

    Worked examples (tests): frozen 2026-01-31 14:05, 30 days → 2026-03-02 23:59; frozen
    2027-12-31 09:00, 60 days → 2028-02-29 23:59 (leap year). ``frozen_at`` keeps its time zone
    (label times are local and naive). Raises :class:`InputError` for a shelf life under a day.
    """
    if isinstance(shelf_life_days, bool) or not isinstance(shelf_life_days, int):
        raise InputError("the shelf life is a whole number of days", field="shelf_life_days")
    if shelf_life_days < 1:
        raise InputError("the shelf life is at least one day", field="shelf_life_days")
    last_day = frozen_at.date() + dt.timedelta(days=shelf_life_days)
    return dt.datetime.combine(last_day, EXPIRY_TIME, tzinfo=frozen_at.tzinfo)


def _tens(value: float, exponent: int) -> str:
    return f"{value / 10**exponent:.3g} × 10^{exponent}"


def dose_text(cells: float, cells_per_kg: float | None = None) -> str:
    """The dose in one bag as printed: ``0.7 × 10^8 CAR+ viable T cells (1 × 10^6 /kg)``.

    Flat doses in units of 10^8 cells and per-kg doses in 10^6 cells/kg, as the prescribing
    information of approved CAR-T products state them (e.g. YESCARTA: 2 × 10^6 /kg, at most
    2 × 10^8); three significant digits. ``^`` because the standard PDF fonts have no ⁸.
    """
    text = f"{_tens(cells, 8)} CAR+ viable T cells"
    return text if cells_per_kg is None else f"{text} ({_tens(cells_per_kg, 6)} /kg)"


@dataclass(frozen=True, slots=True)
class ReleasedProduct:
    """What the label of one bag of a released final product adds (issue 13).

    ``cells`` are the CAR-positive viable T cells in this bag (``cells_per_kg`` at the patient's
    weight, when the dose is per kg); ``frozen_at`` and ``shelf_life_days`` give the expiry
    (:func:`product_expiry`); ``frozen_at`` is local time, naive, like every time on a label.
    """

    bag_number: int
    bag_count: int
    cells: float
    collection_date: dt.date
    frozen_at: dt.datetime
    shelf_life_days: int
    batch: str
    manufacturing_site: str
    cells_per_kg: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.bag_count, bool) or not 1 <= self.bag_count <= MAX_BAGS:
            raise InputError(f"a product has 1 to {MAX_BAGS} bags", field="bag_count")
        bag_division(self.bag_number)
        if self.bag_number > self.bag_count:
            raise InputError(
                f"bag {self.bag_number} of {self.bag_count}: the bag number is at most the "
                "number of bags",
                field="bag_number",
            )
        for name in ("cells", "cells_per_kg"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise InputError("a dose is a positive number of cells", field=name)
        _require(self, "batch", "manufacturing_site")
        if self.frozen_at.tzinfo is not None:
            raise InputError(
                "the freeze time is the site's local time, without a time zone", field="frozen_at"
            )
        if self.frozen_at.date() < self.collection_date:
            raise InputError("the product was frozen before it was collected", field="frozen_at")
        product_expiry(self.frozen_at, self.shelf_life_days)  # refuses a shelf life under a day

    @property
    def division(self) -> str:
        return bag_division(self.bag_number)

    @property
    def expires(self) -> dt.datetime:
        return product_expiry(self.frozen_at, self.shelf_life_days)

    @property
    def bag_text(self) -> str:
        return f"Bag {self.bag_number} of {self.bag_count}"

    @property
    def dose_text(self) -> str:
        return dose_text(self.cells, self.cells_per_kg)


@dataclass(frozen=True, slots=True)
class ProductLabel:
    """What a bag or cassette label shows.

    ``facility`` is the facility that issued the DIN (holder of the FIN); it is printed only when
    neither ``collection_centre`` nor ``released`` is given ("Labelled by ..."). The apheresis
    bag label gives ``collection_centre`` ("Collected at ..."). A final-product label gives
    ``released`` and ``collection_centre``: then the product code's division must be the bag's,
    and ``expires`` is the computed expiry (given: it must equal it; left out: it is filled in).
    """

    din: Din
    coi: str
    product: ProductCodeStructure
    product_name: str  # the site's name for its product description code
    facility: str  # the facility that issued the DIN (see the class docstring)
    subject_id: str
    expires: dt.datetime | None = None  # local time, naive, as printed
    date_of_birth: dt.date | None = None  # printed only when given; never in a barcode
    blood_group: BloodGroupStructure | None = None
    storage: str = "Store at or below -150 °C"
    flags: str | None = None  # default: the check character as flags
    coi_format: coi_module.CoiFormat = field(default_factory=coi_module.get_format)
    collection_centre: str | None = None  # where the apheresis was collected
    released: ReleasedProduct | None = None  # set: the label of one released bag

    def __post_init__(self) -> None:
        _require(self, "product_name", "facility", "subject_id")
        if self.collection_centre is not None:
            _require(self, "collection_centre")
        released = self.released
        if released is None:
            return
        if self.collection_centre is None:
            raise InputError(
                "a released product's label needs the collection centre", field="collection_centre"
            )
        if self.product.division != released.division:
            raise InputError(
                f"bag {released.bag_number} carries division {released.division}; the product "
                f"code has {self.product.division}",
                field="division",
            )
        if self.expires is None:
            object.__setattr__(self, "expires", released.expires)
        elif self.expires.date() <= released.collection_date:
            raise InputError("the expiry is not after the collection date", field="expires")
        elif self.expires != released.expires:
            raise InputError(
                f"the expiry {self.expires:%Y-%m-%d %H:%M} is not the one computed from the "
                f"freeze time and shelf life ({released.expires:%Y-%m-%d %H:%M})",
                field="expires",
            )

    def structures(self) -> list[DataStructure]:
        out: list[DataStructure] = [DinStructure(self.din, self.flags or self.din.check_flags)]
        out.append(self.product)
        if self.expires is not None:
            out.append(DateStructure(DateKind.EXPIRATION, self.expires))
        if self.released is not None:
            out.append(DateStructure(DateKind.COLLECTION, self.released.collection_date))
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


def _origin_lines(label: ProductLabel) -> list[str]:
    """Who made it and where it was collected, in words that cannot be mixed up."""
    if label.released is not None:
        return [
            f"Manufactured by {label.released.manufacturing_site}",
            f"Collected at {label.collection_centre}",
        ]
    if label.collection_centre is not None:
        return [f"Collected at {label.collection_centre}"]
    return [f"Labelled by {label.facility}"]


def _product_block(label: ProductLabel) -> list[Item]:
    """Top right of a bag: product code barcode and its eye-readable text.

    On a released bag the division is printed large next to the product description code, with
    "Bag n of N", so that two bags of one product are told apart by eye.
    """
    product = label.product
    items: list[Item] = [_bars(50, 3, 12, product.encode())]
    released = label.released
    if released is None:
        items.append(Text(52.5, 16.5, 9, product.description_code, bold=True))
    else:
        items += [
            Text(52.5, 17.5, 9, f"{product.description_code} {product.collection_type}", bold=True),
            Text(68, 16, 16, product.division, bold=True),
            Text(79, 17.5, 9, released.bag_text, bold=True, max_width=19),
        ]
    name_y = 21 if released is None else 22
    items += [
        Text(52.5, name_y, 7, label.product_name, max_width=44),
        Text(
            52.5,
            name_y + 4,
            7,
            (product.collection_type_text or "").upper(),
            bold=True,
            max_width=44,
        ),
    ]
    return items


def bag_layout(label: ProductLabel) -> Layout:
    """100 × 100 mm bag label in four quadrants: DIN, product, expiry, identity.

    A released bag adds, across the foot of the label, the dose in the bag and the collection
    date and batch; the identity column moves up to make room.
    """
    fmt = label.coi_format
    flags = label.flags or label.din.check_flags
    released = label.released
    items: list[Item] = _din_block(2, 3, label.din, flags)
    origin = _origin_lines(label)
    origin_y = 23 if len(origin) == 1 else 21.5
    for i, line in enumerate(origin):
        items.append(Text(4.5, origin_y + 3.5 * i, 6, line, max_width=44))
    items += _product_block(label)
    items += [Rule(0, 30, 100, 0.3), Rule(49, 0, 0.3, 30)]
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
    ys: dict[str, float]
    if released is None:
        ys = {"coi_head": 56, "coi": 60, "subject_head": 67, "subject": 71, "dob": 78, "store": 86}
    else:
        ys = {"coi_head": 55, "coi": 58.5, "subject_head": 65, "subject": 68.5, "dob": 75}
        ys["store"] = 80.5
    identity: list[Item] = [
        Text(40, ys["coi_head"], 7, "Chain of identity"),
        Text(40, ys["coi"], 10, fmt.display(label.coi), bold=True, max_width=58),
        Text(40, ys["subject_head"], 7, "Subject"),
        Text(40, ys["subject"], 10, label.subject_id, bold=True, max_width=58),
    ]
    if label.date_of_birth is not None:
        identity.append(Text(40, ys["dob"], 7, f"Date of birth {label.date_of_birth.isoformat()}"))
    identity.append(Text(40, ys["store"], 8, label.storage, bold=True, max_width=58))
    if released is not None:
        identity += [
            Rule(0, 86, 100, 0.3),
            Text(3, 88, 9, f"Dose {released.dose_text}", bold=True, max_width=94),
            Text(
                3,
                93,
                7,
                f"Collected {released.collection_date.isoformat()}    Batch {released.batch}",
                bold=True,
                max_width=94,
            ),
        ]
    return Layout(100, 100, tuple(items + identity))


def cassette_layout(label: ProductLabel) -> Layout:
    """90 × 40 mm cassette label: DIN, Data Matrix and the identity lines.

    A released bag's cassette prints the division large and "Bag n of N" under the Data Matrix,
    with the expiry, and six short lines of identity, product, dose, collection and origin.
    """
    if label.released is not None:
        return _released_cassette_layout(label, label.released)
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


def _released_cassette_layout(label: ProductLabel, released: ReleasedProduct) -> Layout:
    fmt = label.coi_format
    flags = label.flags or label.din.check_flags
    product = label.product
    matrix_data = compound_message(label.structures())
    matrix = Matrix(62, 1, datamatrix_modules(matrix_data), data=matrix_data)
    right = matrix.y + matrix.size + 0.5  # top of the column under the Data Matrix
    items: list[Item] = _din_block(1, 2, label.din, flags)
    items += [
        matrix,
        Text(62.5, right, 14, product.division, bold=True),
        Text(71, right + 1, 8, released.bag_text, bold=True, max_width=18),
        Text(62.5, right + 6, 6, _expiry_text(label.expires), bold=True, max_width=27),
    ]
    if label.date_of_birth is not None:
        items.append(Text(62.5, right + 9, 6, f"DOB {label.date_of_birth.isoformat()}"))
    items.append(Text(62.5, right + 12, 6, label.storage, max_width=27))
    lines = [
        (7, True, f"CoI {fmt.display(label.coi)}"),
        (7, True, f"Subject {label.subject_id}"),
        (
            6,
            True,
            f"{product.description_code} {product.collection_type} {product.division}  "
            f"{label.product_name}",
        ),
        (6, True, f"Dose {released.dose_text}"),
        (
            6,
            False,
            f"Collected {released.collection_date.isoformat()} at {label.collection_centre}",
        ),
        (6, False, f"Manufactured by {released.manufacturing_site}   Batch {released.batch}"),
    ]
    for i, (size, bold, text) in enumerate(lines):
        items.append(Text(3.5, 21 + 3 * i, size, text, bold=bold, max_width=57))
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


#: Characters Pillow's built-in font has no glyph for, and what the PNG prints instead (the PDF's
#: Helvetica has them).
_PNG_GLYPHS: Final = str.maketrans({"×": "x"})


def render_png(layout: Layout, dpi: int = 300) -> bytes:
    """The label as a 1-bit-clean greyscale PNG at ``dpi``; symbol modules are whole pixels."""
    from PIL import Image, ImageDraw, ImageFont

    def px(mm_value: float) -> int:
        return round(mm_value * dpi / MM_PER_INCH)

    image = Image.new("L", (px(layout.width), px(layout.height)), 255)
    draw = ImageDraw.Draw(image)
    for item in layout.items:
        if isinstance(item, Text):
            text = item.text.translate(_PNG_GLYPHS)
            size = item.size * dpi / 72
            font = ImageFont.load_default(size=size)
            stroke = max(1, round(size / 28)) if item.bold else 0
            if item.max_width is not None:
                while size > 6 and draw.textlength(text, font=font) > px(item.max_width):
                    size *= 0.95
                    font = ImageFont.load_default(size=size)
            xy = (px(item.x), px(item.y))
            draw.text(xy, text, fill=0, font=font, anchor="lt", stroke_width=stroke, stroke_fill=0)
            if item.boxed:
                left, top, right, bottom = draw.textbbox(xy, text, font=font, anchor="lt")
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
