"""Release specification of a cell-therapy product: the model, its rules, and the judgement of
one result against one test.

A specification is "a list of tests, references to analytical procedures, and appropriate
acceptance criteria" (ICH Q6B §2.4; for cell therapies FDA, *Chemistry, Manufacturing, and Control
(CMC) Information for Human Gene Therapy INDs*, 2020, §V.F): here one product (the program's
code), one stage (in-process or drug product) and one clinical phase. The store numbers its
versions; the content below carries no version.

Each test names its method, its unit, its acceptance criterion and its **reportable precision**
(decimal places or significant figures) with a **rounding rule**. A result is judged as USP
General Notices 7.20 ("Rounding Rules") say: the observed value, converted to the
specification's unit, is rounded to the stated precision *then* compared with the limit, and
intermediate values are never rounded:

========================= ============================= ============================
criterion (kind)           result at whole %             judgement
========================= ============================= ============================
≥ 70 % (``at_least``)      69.5 % → 70 %                 conforms
≥ 70 % (``at_least``)      69.4 % → 69 %                 does not conform
≥ 70.0 % (``at_least``)    69.95 % → 70.0 % (0.1 %)      conforms
≥ 70.0 % (``at_least``)    69.94 % → 69.9 % (0.1 %)      does not conform
========================= ============================= ============================

Rounding is done on the decimal value, never on a binary float (which holds 2.675 as
2.67499999999999982..., so that Python's ``round(2.675, 2)`` is 2.67), and by default half away
from zero (``half_up``: USP 7.20 looks at the one digit after the last place of the limit and
raises the last digit when it is 5 or more). ``half_even`` (round half to even, the convention of
ISO 80000-1 Annex B and of IEEE 754) is offered for a specification that states it.

Criteria: ``range`` (low ≤ x ≤ high), ``at_least`` (≥), ``more_than`` (>), ``at_most`` (≤),
``less_than`` (<), ``negative`` (negative / not detected / no growth), ``conforms`` (a described
outcome, e.g. identity) and ``report_only`` (recorded, never judged). Qualitative results are
read case-insensitively from a small vocabulary; anything else is refused, never guessed.

Sections: the model · rounding · reading and validating (:func:`from_data`, paths such as
``tests[3].criterion.limit``, 0-based) · judging a result (:func:`judge`) · plain data.

Pure: no database, web or template code (tests/unit/architecture/test_import_rules.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from enum import StrEnum
from typing import Any

from vein2vein.core.errors import InputError
from vein2vein.manufacturing import units
from vein2vein.manufacturing.units import UnitError
from vein2vein.quality.dose import DoseLevel, ProductDoseLimits

FORMAT = 1  # the specification data format (``spec_format`` in YAML)
#: days from freezing until the result of a test that may follow release is due when its
#: specification names none: the compendial sterility culture (Ph. Eur. 2.6.27, USP <71>)
COMPENDIAL_CULTURE_DAYS = 14

# --- the model ----------------------------------------------------------------------------


class Stage(StrEnum):
    IN_PROCESS = "in_process"
    DRUG_PRODUCT = "drug_product"


class Phase(StrEnum):
    """Clinical phase the specification is for (acceptance criteria tighten as a product
    advances: FDA CMC guidance for gene therapy INDs, 2020, §V.F)."""

    IIT = "iit"  # investigator-initiated trial
    PHASE_1 = "phase_1"
    PHASE_2 = "phase_2"
    PHASE_3 = "phase_3"
    COMMERCIAL = "commercial"


class Category(StrEnum):
    """Release test categories of a CAR-T product (review table: Acta Pharm Sin B
    2021;11:1129-1147, table 4)."""

    SAFETY = "safety"
    PURITY = "purity"
    IDENTITY = "identity"
    POTENCY = "potency"
    STRENGTH = "strength"
    GENERAL = "general"


class Kind(StrEnum):
    RANGE = "range"
    AT_LEAST = "at_least"
    MORE_THAN = "more_than"
    AT_MOST = "at_most"
    LESS_THAN = "less_than"
    NEGATIVE = "negative"
    CONFORMS = "conforms"
    REPORT_ONLY = "report_only"


NUMERIC_KINDS = frozenset({Kind.RANGE, Kind.AT_LEAST, Kind.MORE_THAN, Kind.AT_MOST, Kind.LESS_THAN})
QUALITATIVE_KINDS = frozenset({Kind.NEGATIVE, Kind.CONFORMS})


class Rounding(StrEnum):
    HALF_UP = "half_up"  # half away from zero (USP General Notices 7.20)
    HALF_EVEN = "half_even"  # half to even (ISO 80000-1 Annex B)


_DECIMAL_MODE = {Rounding.HALF_UP: ROUND_HALF_UP, Rounding.HALF_EVEN: ROUND_HALF_EVEN}


class SpecError(ValueError):
    """A rule of the specification broken at ``path`` (``tests[2].criterion.limit``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


class ResultError(InputError):
    """A result that cannot be judged against its test, naming the test and the field
    (``value`` or ``unit``)."""

    def __init__(self, test: Test, field: str, message: str) -> None:
        super().__init__(f"test {test.code} ({test.name}): {message}", field=field)
        self.test_code = test.code


@dataclass(frozen=True)
class Precision:
    """Reportable precision: ``decimals`` places (0 = whole numbers) or ``significant`` figures,
    exactly one of them."""

    decimals: int | None = None
    significant: int | None = None

    def describe(self) -> str:
        if self.decimals is not None:
            if self.decimals == 0:
                return "whole numbers"
            return f"{self.decimals} decimal place" + ("s" if self.decimals != 1 else "")
        return f"{self.significant} significant figure" + ("s" if self.significant != 1 else "")


@dataclass(frozen=True)
class Criterion:
    """An acceptance criterion. ``low``/``high`` are set for ``range``; ``limit`` for the one-sided
    kinds; ``text`` describes a ``conforms`` outcome (what the analyst checks for)."""

    kind: Kind
    low: Decimal | None = None
    high: Decimal | None = None
    limit: Decimal | None = None
    text: str = ""


@dataclass(frozen=True)
class Test:
    __test__ = False  # not a pytest test class

    code: str
    name: str
    method: str
    criterion: Criterion
    unit: str | None = None
    precision: Precision | None = None
    rounding: Rounding = Rounding.HALF_UP
    category: Category = Category.GENERAL
    #: the result may arrive after release (14-day sterility culture): release is conditional
    after_release: bool = False
    note: str = ""
    #: for a test whose result may follow release: the days from freezing until its result is
    #: expected (the worklist's due date, the CoA's "result expected"); None: the compendial
    #: culture's :data:`COMPENDIAL_CULTURE_DAYS`
    result_days: int | None = None

    @property
    def days_to_result(self) -> int:
        """Days from freezing until the result of a test that may follow release is due."""
        return self.result_days if self.result_days is not None else COMPENDIAL_CULTURE_DAYS


@dataclass(frozen=True)
class DoseDefinition:
    """The product's dose levels and filling limits (``dose.DoseLevel``,
    ``dose.ProductDoseLimits``) and its shelf life from freezing, as the drug-product
    specification states them (``dose:`` in YAML)."""

    levels: tuple[tuple[str, DoseLevel], ...]
    limits: ProductDoseLimits
    shelf_life_days: int | None = None

    def level(self, label: str) -> DoseLevel:
        for name, level in self.levels:
            if name.casefold() == label.strip().casefold():
                return level
        known = ", ".join(name for name, _ in self.levels)
        raise KeyError(f"dose level '{label}' is not one of the product's ({known})")


@dataclass(frozen=True)
class Specification:
    product: str  # the program's code
    stage: Stage
    phase: Phase
    title: str
    tests: tuple[Test, ...]
    description: str = ""
    dose: DoseDefinition | None = None

    def test(self, code: str) -> Test:
        for t in self.tests:
            if t.code == code:
                return t
        raise KeyError(code)


# --- rounding -----------------------------------------------------------------------------


def round_to(value: Decimal, precision: Precision, rule: Rounding = Rounding.HALF_UP) -> Decimal:
    """``value`` rounded to ``precision`` by ``rule``, on the decimal value itself.

    ``half_up`` is half away from zero: 0.5 → 1, 1.5 → 2, 2.5 → 3, -0.5 → -1; 69.45 at one
    decimal place → 69.5. Significant figures count from the first non-zero digit, and a
    carry that adds a digit (9.996 at 3 figures) gives 10.0, still three figures.
    """
    mode = _DECIMAL_MODE[rule]
    with localcontext() as ctx:
        ctx.prec = 80  # enough digits for any result quantized to at most 6 decimal places
        if precision.decimals is not None:
            return value.quantize(Decimal(1).scaleb(-precision.decimals), rounding=mode)
        assert precision.significant is not None
        if value.is_zero():
            return Decimal(0).quantize(Decimal(1).scaleb(1 - precision.significant))
        exponent = value.adjusted() - precision.significant + 1
        rounded = value.quantize(Decimal(1).scaleb(exponent), rounding=mode)
        if rounded.adjusted() > value.adjusted():  # 9.996 → 10.00: one figure too many
            rounded = rounded.quantize(Decimal(1).scaleb(exponent + 1), rounding=mode)
        return rounded


def decimal_text(value: Decimal) -> str:
    """Positional notation keeping the precision's trailing zeros (70.0, 250000000)."""
    return format(value, "f")


def _fits(value: Decimal, precision: Precision) -> bool:
    """Whether a limit is written within the reportable precision (70.05 is not, at 0.1)."""
    return round_to(value, precision) == value


# --- reading and validating ---------------------------------------------------------------

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PRODUCT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


def from_data(data: Any) -> Specification:
    """A specification from plain data (parsed YAML, or stored JSON), validated; ``SpecError``
    names the first problem's path."""
    d = _mapping(data, "")
    _known(
        d, "", {"spec_format", "product", "stage", "phase", "title", "description", "tests", "dose"}
    )
    fmt = d.get("spec_format", FORMAT)
    if fmt != FORMAT:
        raise SpecError("spec_format", f"this version reads format {FORMAT}, not {fmt!r}")
    product = _text(d.get("product"), "product", 32, required=True)
    if not _PRODUCT.match(product):
        raise SpecError("product", "a program code: letters, digits, '.', '-' or '_'")
    raw_tests = d.get("tests")
    if not isinstance(raw_tests, list) or not raw_tests:
        raise SpecError("tests", "a specification needs at least one test (a list of '-' items)")
    tests = tuple(_test(t, f"tests[{i}]") for i, t in enumerate(raw_tests))
    seen: set[str] = set()
    for i, t in enumerate(tests):
        if t.code in seen:
            raise SpecError(f"tests[{i}].code", f"'{t.code}' is used by an earlier test")
        seen.add(t.code)
    return Specification(
        product=product,
        stage=_enum(Stage, d.get("stage"), "stage"),
        phase=_enum(Phase, d.get("phase"), "phase"),
        title=_text(d.get("title"), "title", 200, required=True),
        description=_text(d.get("description"), "description", 4000),
        tests=tests,
        dose=_dose(d["dose"], "dose") if d.get("dose") is not None else None,
    )


_LIMIT_FIELDS = {
    "min_fill_ml",
    "max_fill_ml",
    "max_total_ml",
    "max_bags",
    "max_cells",
    "max_cells_per_kg",
    "weight_cap_kg",
    "lower_tolerance",
}


def _dose(data: Any, path: str) -> DoseDefinition:
    d = _mapping(data, path)
    _known(d, path, {"levels", "limits", "shelf_life_days"})
    raw_levels = _mapping(d.get("levels"), f"{path}.levels")
    if not raw_levels:
        raise SpecError(f"{path}.levels", "name at least one dose level (DL1: {value, unit})")
    levels: list[tuple[str, DoseLevel]] = []
    for name, raw in raw_levels.items():
        where = f"{path}.levels.{name}"
        level = _mapping(raw, where)
        _known(level, where, {"value", "unit"})
        value = _decimal(level.get("value"), f"{where}.value", required=True)
        try:
            levels.append(
                (str(name), DoseLevel(float(value or 0), str(level.get("unit") or ""), str(name)))
            )
        except InputError as exc:
            raise SpecError(where, str(exc)) from None
    limits = _mapping(d.get("limits") or {}, f"{path}.limits")
    _known(limits, f"{path}.limits", _LIMIT_FIELDS)
    numbers: dict[str, Any] = {}
    for key, raw_value in limits.items():
        number = _decimal(raw_value, f"{path}.limits.{key}", required=True)
        numbers[key] = int(number) if key == "max_bags" and number is not None else float(number)
    try:
        product_limits = ProductDoseLimits(**numbers)
    except InputError as exc:
        raise SpecError(f"{path}.limits", str(exc)) from None
    shelf = d.get("shelf_life_days")
    if shelf is not None and (isinstance(shelf, bool) or not isinstance(shelf, int) or shelf < 1):
        raise SpecError(f"{path}.shelf_life_days", "a whole number of days, at least 1")
    return DoseDefinition(tuple(levels), product_limits, shelf)


def parse_test(data: Any) -> Test:
    """One test from plain data (a form, an API body), checked like a file's."""
    return _test(data, "test")


def _test(data: Any, path: str) -> Test:
    d = _mapping(data, path)
    _known(
        d,
        path,
        {"code", "name", "method", "unit", "criterion", "precision", "rounding", "category"}
        | {"after_release", "result_days", "note"},
    )
    code = _text(d.get("code"), f"{path}.code", 40, required=True)
    if not _CODE.match(code):
        raise SpecError(
            f"{path}.code", "lower-case letters, digits and '_', starting with a letter"
        )
    criterion = _criterion(d.get("criterion"), f"{path}.criterion")
    unit = _unit(d.get("unit"), f"{path}.unit")
    precision = _precision(d.get("precision"), f"{path}.precision")
    after_release = d.get("after_release", False)
    if not isinstance(after_release, bool):
        raise SpecError(f"{path}.after_release", "true or false")
    result_days = d.get("result_days")
    if result_days is not None:
        if not after_release:
            raise SpecError(
                f"{path}.result_days", "only for a test whose result may follow release"
            )
        if isinstance(result_days, bool) or not isinstance(result_days, int):
            raise SpecError(f"{path}.result_days", "a whole number of days")
        if not 1 <= result_days <= 365:
            raise SpecError(f"{path}.result_days", "from 1 to 365 days")
    test = Test(
        code=code,
        name=_text(d.get("name"), f"{path}.name", 200, required=True),
        method=_text(d.get("method"), f"{path}.method", 400, required=True),
        criterion=criterion,
        unit=unit,
        precision=precision,
        rounding=_enum(Rounding, d.get("rounding", Rounding.HALF_UP.value), f"{path}.rounding"),
        category=_enum(Category, d.get("category", Category.GENERAL.value), f"{path}.category"),
        after_release=after_release,
        note=_text(d.get("note"), f"{path}.note", 1000),
        result_days=result_days,
    )
    _check_consistent(test, path)
    return test


def _check_consistent(test: Test, path: str) -> None:
    """Criterion, unit and precision agree: a number needs a unit and a precision, a limit is
    written within that precision and lies where the unit's quantity can be."""
    kind = test.criterion.kind
    numeric = kind in NUMERIC_KINDS or (kind is Kind.REPORT_ONLY and test.unit is not None)
    if kind in QUALITATIVE_KINDS:
        for key, value in (("unit", test.unit), ("precision", test.precision)):
            if value is not None:
                raise SpecError(f"{path}.{key}", f"a '{kind.value}' test takes no {key}")
        if test.rounding is not Rounding.HALF_UP:
            raise SpecError(f"{path}.rounding", f"a '{kind.value}' test is not rounded")
        return
    if kind in NUMERIC_KINDS and test.unit is None:
        raise SpecError(f"{path}.unit", f"a '{kind.value}' criterion needs the result's unit")
    if numeric and test.precision is None:
        raise SpecError(
            f"{path}.precision",
            "a numeric result needs its reportable precision ({decimals: N} or {significant: N})",
        )
    if not numeric and test.precision is not None:
        raise SpecError(f"{path}.precision", "a text result (no unit) takes no precision")
    assert test.unit is not None or not numeric
    for key in ("low", "high", "limit"):
        value = getattr(test.criterion, key)
        if value is None:
            continue
        where = f"{path}.criterion.{key}"
        assert test.precision is not None and test.unit is not None
        if not _fits(value, test.precision):
            raise SpecError(
                where,
                f"{value} is written more finely than the reportable precision "
                f"({test.precision.describe()}): results are rounded before comparing",
            )
        problem = _outside_domain(value, test.unit)
        if problem:
            raise SpecError(where, problem)


def _outside_domain(value: Decimal, unit: str) -> str:
    """Why ``value`` cannot be a value of ``unit``'s quantity ('' when it can)."""
    dim = units.dimension(unit)
    if dim == "temperature":
        return ""
    if value < 0:
        return f"a {dim} in {unit} cannot be negative"
    if dim == "fraction" and units.convert_exact(value, unit, "1") > 1:
        return f"a fraction cannot exceed 100 % ({value} {unit} given)"
    if dim == "pH" and value > 14:
        return "a pH lies between 0 and 14"
    return ""


def _criterion(data: Any, path: str) -> Criterion:
    d = _mapping(data, path)
    kind = _enum(Kind, d.get("kind"), f"{path}.kind")
    fields = {"kind", "text"}
    if kind is Kind.RANGE:
        fields |= {"low", "high"}
    elif kind in NUMERIC_KINDS:
        fields |= {"limit"}
    _known(d, path, fields)
    text = _text(d.get("text"), f"{path}.text", 400)
    if kind is Kind.CONFORMS and not text:
        raise SpecError(f"{path}.text", "say what a conforming result shows")
    if kind is Kind.RANGE:
        low = _decimal(d.get("low"), f"{path}.low", required=True)
        high = _decimal(d.get("high"), f"{path}.high", required=True)
        assert low is not None and high is not None
        if not low < high:
            raise SpecError(f"{path}.high", f"must be above low ({low})")
        return Criterion(kind, low=low, high=high, text=text)
    if kind in NUMERIC_KINDS:
        return Criterion(kind, limit=_decimal(d.get("limit"), f"{path}.limit", required=True))
    return Criterion(kind, text=text)


def _precision(data: Any, path: str) -> Precision | None:
    if data is None:
        return None
    d = _mapping(data, path)
    _known(d, path, {"decimals", "significant"})
    if len(d) != 1:
        raise SpecError(path, "give either decimals or significant, not both")
    ((key, value),) = d.items()
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{path}.{key}", "a whole number")
    if key == "decimals":
        if not 0 <= value <= 6:
            raise SpecError(f"{path}.decimals", "from 0 to 6 decimal places")
        return Precision(decimals=value)
    if not 1 <= value <= 6:
        raise SpecError(f"{path}.significant", "from 1 to 6 significant figures")
    return Precision(significant=value)


def _unit(value: Any, path: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SpecError(path, "a unit is text (quote '%')")
    try:
        return units.normalise(value)
    except UnitError as exc:
        raise SpecError(path, str(exc)) from None


def to_decimal(value: Any) -> Decimal:
    """A finite decimal from a number or numeric text (a float is read by its shortest repr, so
    69.45 stays 69.45); ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError("true/false is not a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip().replace("\u2212", "-")
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            raise ValueError(f"'{value}' is not a number")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"'{value}' is not a number") from None
    else:
        raise ValueError(f"expected a number, not {type(value).__name__}")
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value}")
    if not number.is_zero() and abs(number.adjusted()) > 30:
        raise ValueError(f"{value} is out of range (at most 30 orders of magnitude)")
    return number


def _decimal(value: Any, path: str, *, required: bool = False) -> Decimal | None:
    if value is None:
        if required:
            raise SpecError(path, "required")
        return None
    try:
        return to_decimal(value)
    except ValueError as exc:
        raise SpecError(path, str(exc)) from None


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(path, "expected a mapping of fields (key: value)")
    return value


def _known(d: Mapping[str, Any], path: str, allowed: set[str]) -> None:
    for key in d:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise SpecError(where, f"unknown field (known: {', '.join(sorted(allowed))})")


def _text(value: Any, path: str, max_length: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SpecError(path, "expected text")
    text = str(value).strip()
    if required and not text:
        raise SpecError(path, "required")
    if len(text) > max_length:
        raise SpecError(path, f"at most {max_length} characters ({len(text)} given)")
    if any((ord(ch) < 32 and ch not in "\n\t") or ord(ch) == 127 for ch in text):
        raise SpecError(path, "control characters are not allowed")
    return text


def _enum(kind: type[StrEnum], value: Any, path: str) -> Any:
    try:
        return kind(str(value).strip().lower())
    except ValueError:
        raise SpecError(path, f"one of {', '.join(k.value for k in kind)}") from None


# --- judging a result ---------------------------------------------------------------------


class Outcome(StrEnum):
    """A qualitative result, as read from the analyst's words."""

    NEGATIVE = "negative"
    POSITIVE = "positive"
    CONFORMS = "conforms"
    DOES_NOT_CONFORM = "does not conform"


#: accepted spellings (case and spacing ignored) of each outcome, by criterion kind
VOCABULARY: dict[Kind, dict[str, Outcome]] = {
    Kind.NEGATIVE: {
        "negative": Outcome.NEGATIVE,
        "not detected": Outcome.NEGATIVE,
        "no growth": Outcome.NEGATIVE,
        "absent": Outcome.NEGATIVE,
        "positive": Outcome.POSITIVE,
        "detected": Outcome.POSITIVE,
        "growth": Outcome.POSITIVE,
        "present": Outcome.POSITIVE,
    },
    Kind.CONFORMS: {
        "conforms": Outcome.CONFORMS,
        "does not conform": Outcome.DOES_NOT_CONFORM,
        "not conforming": Outcome.DOES_NOT_CONFORM,
    },
}


@dataclass(frozen=True)
class Judgement:
    """One result judged against one test.

    ``raw`` is the value as entered (a decimal, or the words of a qualitative result) in
    ``raw_unit``; ``value`` is it in the test's unit, unrounded; ``rounded`` is that value at the
    reportable precision and ``rounded_text`` how it is reported (with the unit). ``conforms`` is
    ``None`` for a report-only test."""

    test: str
    raw: Decimal | str
    raw_unit: str | None
    value: Decimal | None
    rounded: Decimal | None
    rounded_text: str
    conforms: bool | None
    message: str


def criterion_text(test: Test) -> str:
    """The criterion as printed on a Certificate of Analysis: ``≥ 70 %``, ``6.8 – 7.6``."""
    c = test.criterion
    unit = "" if test.unit in (None, "1") else f" {test.unit}"
    if c.kind is Kind.RANGE:
        assert c.low is not None and c.high is not None
        return f"{_limit_text(c.low, test)} – {_limit_text(c.high, test)}{unit}"
    sign = {Kind.AT_LEAST: "≥", Kind.MORE_THAN: ">", Kind.AT_MOST: "≤", Kind.LESS_THAN: "<"}
    if c.kind in sign:
        assert c.limit is not None
        return f"{sign[c.kind]} {_limit_text(c.limit, test)}{unit}"
    if c.kind is Kind.NEGATIVE:
        return c.text or "Negative (not detected)"
    if c.kind is Kind.CONFORMS:
        return f"Conforms: {c.text}"
    return c.text or "Report result"


def _limit_text(limit: Decimal, test: Test) -> str:
    """A limit shown at the reportable precision (70 at 0.1 → 70.0), as USP 7.20 reads it."""
    assert test.precision is not None
    return decimal_text(round_to(limit, test.precision))


def judge(test: Test, raw_value: Any, unit: str | None = None) -> Judgement:
    """Judge one result: convert it to the test's unit, round it to the reportable precision,
    then compare (USP General Notices 7.20). ``ResultError`` names the test and the field."""
    kind = test.criterion.kind
    if kind in QUALITATIVE_KINDS or (kind is Kind.REPORT_ONLY and test.unit is None):
        return _judge_words(test, raw_value, unit)
    assert test.unit is not None and test.precision is not None
    try:
        raw = to_decimal(raw_value)
    except ValueError as exc:
        raise ResultError(test, "value", str(exc)) from None
    if unit is None or not str(unit).strip():
        raise ResultError(
            test, "unit", f"give the result's unit ({test.unit} or a unit of its kind)"
        )
    try:
        raw_unit = units.normalise(unit)
        value = units.convert_exact(raw, raw_unit, test.unit)
    except UnitError as exc:
        raise ResultError(test, "unit", str(exc)) from None
    rounded = round_to(value, test.precision, test.rounding)
    shown = _with_unit(decimal_text(rounded), test.unit)
    entered = _with_unit(decimal_text(raw), raw_unit)
    if raw_unit != test.unit:
        entered += f" = {_with_unit(decimal_text(value), test.unit)}"
    conforms = _compare(rounded, test.criterion)
    rule = f"{test.precision.describe()}, {test.rounding.value.replace('_', ' ')}"
    if conforms is None:
        verdict = "reported"
    else:
        verdict = ("meets " if conforms else "does not meet ") + criterion_text(test)
    return Judgement(
        test=test.code,
        raw=raw,
        raw_unit=raw_unit,
        value=value,
        rounded=rounded,
        rounded_text=shown,
        conforms=conforms,
        message=f"{entered} → {shown} ({rule}): {verdict}",
    )


def _compare(rounded: Decimal, c: Criterion) -> bool | None:
    if c.kind is Kind.RANGE:
        assert c.low is not None and c.high is not None
        return c.low <= rounded <= c.high
    if c.kind is Kind.REPORT_ONLY:
        return None
    assert c.limit is not None
    return {
        Kind.AT_LEAST: rounded >= c.limit,
        Kind.MORE_THAN: rounded > c.limit,
        Kind.AT_MOST: rounded <= c.limit,
        Kind.LESS_THAN: rounded < c.limit,
    }[c.kind]


def _judge_words(test: Test, raw_value: Any, unit: str | None) -> Judgement:
    kind = test.criterion.kind
    if unit is not None and str(unit).strip():
        raise ResultError(test, "unit", f"a '{kind.value}' result takes no unit ('{unit}' given)")
    if not isinstance(raw_value, str) or not raw_value.strip():
        raise ResultError(test, "value", "expected the result in words")
    words = " ".join(raw_value.split())
    if kind is Kind.REPORT_ONLY:
        if len(words) > 400:
            raise ResultError(test, "value", "at most 400 characters")
        return Judgement(test.code, words, None, None, None, words, None, f"{words}: reported")
    vocabulary = VOCABULARY[kind]
    outcome = vocabulary.get(words.lower())
    if outcome is None:
        known = ", ".join(f"'{w}'" for w in vocabulary)
        raise ResultError(
            test, "value", f"'{raw_value}' is not a result of this test (one of {known})"
        )
    conforms = outcome in (Outcome.NEGATIVE, Outcome.CONFORMS)
    verdict = ("meets " if conforms else "does not meet ") + criterion_text(test)
    return Judgement(
        test=test.code,
        raw=raw_value,
        raw_unit=None,
        value=None,
        rounded=None,
        rounded_text=outcome.value,
        conforms=conforms,
        message=f"{words} → {outcome.value}: {verdict}",
    )


def _with_unit(number: str, unit: str) -> str:
    """``70 %``, ``0.85`` (a fraction), ``3.11 × 10^8 cells``."""
    if unit == "1":
        return number
    return f"{number} × {unit}" if unit.startswith("10^") else f"{number} {unit}"


# --- plain data ---------------------------------------------------------------------------


def to_data(spec: Specification) -> dict[str, Any]:
    """The plain data of a specification (stored as canonical JSON, exported as YAML):
    ``from_data(to_data(s)) == s``. Numbers are written as text-exact ints or floats; optional
    fields at their default are left out."""
    return {
        "spec_format": FORMAT,
        "product": spec.product,
        "stage": spec.stage.value,
        "phase": spec.phase.value,
        "title": spec.title,
        **_opt("description", spec.description),
        "tests": [_test_data(t) for t in spec.tests],
        **({"dose": _dose_data(spec.dose)} if spec.dose is not None else {}),
    }


def _dose_data(dose: DoseDefinition) -> dict[str, Any]:
    defaults = ProductDoseLimits()
    limits = {
        key: getattr(dose.limits, key)
        for key in sorted(_LIMIT_FIELDS)
        if getattr(dose.limits, key) != getattr(defaults, key)
    }
    return {
        "levels": {name: {"value": lv.value, "unit": lv.unit} for name, lv in dose.levels},
        **({"limits": limits} if limits else {}),
        **_opt("shelf_life_days", dose.shelf_life_days),
    }


def _test_data(t: Test) -> dict[str, Any]:
    c = t.criterion
    criterion: dict[str, Any] = {"kind": c.kind.value}
    for key in ("low", "high", "limit"):
        value = getattr(c, key)
        if value is not None:
            criterion[key] = plain_number(value)
    criterion.update(_opt("text", c.text))
    precision = None
    if t.precision is not None:
        precision = (
            {"decimals": t.precision.decimals}
            if t.precision.decimals is not None
            else {"significant": t.precision.significant}
        )
    return {
        "code": t.code,
        "name": t.name,
        **({"category": t.category.value} if t.category is not Category.GENERAL else {}),
        "method": t.method,
        **_opt("unit", t.unit),
        "criterion": criterion,
        **_opt("precision", precision),
        **({"rounding": t.rounding.value} if t.rounding is not Rounding.HALF_UP else {}),
        **({"after_release": True} if t.after_release else {}),
        **_opt("result_days", t.result_days),
        **_opt("note", t.note),
    }


def plain_number(value: Decimal) -> int | float:
    """An int when whole, else the float whose shortest repr is the decimal's digits (0.5 →
    0.5), so that JSON and YAML keep the exact value."""
    if value == value.to_integral_value():
        return int(value)
    number = float(value)
    if Decimal(repr(number)) != value:
        raise ValueError(f"{value} has more digits than a JSON number keeps")
    return number


def _opt(key: str, value: Any) -> dict[str, Any]:
    return {key: value} if value not in (None, "", (), []) else {}
