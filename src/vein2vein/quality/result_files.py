"""Reading QC result files into plain rows: the results CSV, a flow cytometer's CAR+ export and a
qPCR vector copy number (VCN) table.

The readers check **shape only**: columns, empty cells, dates, numbers, duplicates. Which batch
and which specification test a row names, and whether its value conforms, is the store's work
(it looks both up and calls :func:`vein2vein.quality.domain.judge`). Every problem of a file is
collected (up to :data:`MAX_PROBLEMS`) and raised together as one :class:`ResultFileError`, so a
file is imported whole or not at all.

Conventions shared by the three formats (docs/quality.md, "Result files"):

* text is UTF-8, with or without a byte-order mark; line ends LF or CRLF;
* the delimiter is a comma; the flow export may use a semicolon instead (European instrument
  software writes it), detected on the header line, and then a decimal comma is read too;
* ``row`` is the row a spreadsheet shows: the first line of the file is row 1 (the header, in
  the results CSV and the flow export), one row per CSV record;
* numbers follow :func:`vein2vein.quality.domain.to_decimal` (a decimal point, no thousands
  separators, no ``nan``); dates are ISO 8601 calendar dates, ``YYYY-MM-DD``.

Sections: the row and the error · reading a table · the results CSV · the flow export · the qPCR
VCN table.

Pure: no database, web or template code (tests/unit/architecture/test_import_rules.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, localcontext

from vein2vein.core.dates import bounded_date
from vein2vein.core.errors import InputError
from vein2vein.core.text import clean_text
from vein2vein.quality.domain import to_decimal

MAX_PROBLEMS = 50  # problems listed in one error; more are counted, not listed
MAX_ROWS = 20_000
MAX_BYTES = 10 * 1024 * 1024
LENGTHS = {
    "batch": 64,
    "test": 64,
    "value": 400,  # the longest words a report-only test keeps (domain.judge)
    "unit": 32,
    "analyst": 150,
    "instrument": 100,
    "method_ref": 100,
    "sample": 200,
    "population": 400,
    "statistic": 64,
    "replicate": 32,
    "well": 16,
    "target": 64,
}

# --- the row and the error ----------------------------------------------------------------


@dataclass(frozen=True)
class ResultRow:
    """One result as a file gives it, before the store looks up its batch and test.

    ``row`` is the file's row (spreadsheet numbering, first line = 1) the result comes from: for
    a mean over replicates or wells, the first of them. ``value`` is the text of the value (a
    number, or words for a qualitative test); ``replicates`` is how many wells or tubes were
    averaged into it. ``source`` is ``csv``, ``flow`` or ``qpcr``."""

    file: str
    row: int
    batch: str
    test: str
    value: str
    unit: str | None
    analyst: str | None
    tested_on: dt.date | None
    instrument: str | None
    method_ref: str | None
    source: str
    replicates: int = 1


class ResultFileError(InputError):
    """Every problem of one file, each an :class:`InputError` naming the file, the row and the
    field (``problems``); the message lists them one a line. ``file``, ``row`` and ``field``
    are those of the first problem."""

    def __init__(self, file: str, problems: Sequence[InputError], more: int = 0) -> None:
        first = problems[0]
        super().__init__(first.detail, file=file, row=first.row, field=first.field)
        self.problems = tuple(problems)
        self.more = more
        lines = [str(p) for p in problems]
        if more:
            lines.append(f"{file}: {more} more problem(s) not listed")
        self.message = "\n".join(lines)
        self.args = (self.message,)


class _Problems:
    """Collects a file's problems; :meth:`check` raises them together."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[InputError] = []
        self.more = 0

    def add(self, row: int | None, field: str | None, message: str) -> None:
        if len(self.items) >= MAX_PROBLEMS:
            self.more += 1
        else:
            self.items.append(InputError(message, file=self.file, row=row, field=field))

    def check(self) -> None:
        if self.items:
            raise ResultFileError(self.file, self.items, self.more)

    def fatal(self, row: int | None, field: str | None, message: str) -> ResultFileError:
        self.add(row, field, message)
        return ResultFileError(self.file, self.items, self.more)


def decode(data: bytes, file: str) -> str:
    """The text of an uploaded file: UTF-8, a byte-order mark allowed, at most 10 MB."""
    if len(data) > MAX_BYTES:
        raise InputError(f"larger than {MAX_BYTES // 2**20} MB: split the file", file=file)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", file=file) from None


# --- reading a table ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Format:
    name: str
    columns: Mapping[str, str]  # header as normalised -> column key
    required: tuple[str, ...]  # keys that must be present
    refuse_unknown: bool
    semicolon: bool = False  # a ';' header is accepted (and then a decimal comma)
    preamble: bool = False  # lines starting with '*', '#' or '[' before the header are skipped


@dataclass(frozen=True)
class _Record:
    row: int
    cells: dict[str, str]  # column key -> text as written (stripped)


@dataclass(frozen=True)
class _Table:
    header: dict[str, str]  # column key -> header as written
    records: list[_Record]
    delimiter: str


def _normalise(header: str) -> str:
    """A header as matched: case and spacing ignored, a trailing colon dropped (``Sample:``)."""
    return " ".join(header.strip().lower().split()).rstrip(":").strip()


def _read_table(text: str, file: str, fmt: _Format, problems: _Problems) -> _Table:
    """The records of ``text``, cells by column key; header problems are raised at once."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))  # to find the header line
        start = 0
        while start < len(lines) and _skippable(lines[start], fmt):
            start += 1
        if start >= len(lines):
            raise problems.fatal(1, None, f"empty file: a {fmt.name} starts with its header line")
        header_row = start + 1
        delimiter = _delimiter(",".join(lines[start]), fmt, header_row, problems)
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise problems.fatal(None, None, f"not a readable CSV file: {exc}") from None
    index, header = _columns(records[start], fmt, header_row, problems)
    problems.check()
    out: list[_Record] = []
    for number, values in enumerate(records[start + 1 :], start=header_row + 1):
        if fmt.preamble and values and values[0].lstrip().startswith("["):
            break  # the next section of an instrument export
        if not any(v.strip() for v in values):
            continue
        if len(out) >= MAX_ROWS:
            raise problems.fatal(number, None, f"more than {MAX_ROWS} rows: split the file")
        cells = {k: (values[i].strip() if i < len(values) else "") for k, i in index.items()}
        out.append(_Record(number, cells))
    return _Table(header, out, delimiter)


def _skippable(values: list[str], fmt: _Format) -> bool:
    if not any(v.strip() for v in values):
        return True
    return fmt.preamble and values[0].lstrip()[:1] in ("*", "#", "[")


def _delimiter(line: str, fmt: _Format, row: int, problems: _Problems) -> str:
    commas, semicolons = line.count(","), line.count(";")
    if semicolons > commas:
        if fmt.semicolon:
            return ";"
        raise problems.fatal(
            row, None, f"the columns are separated by ';': a {fmt.name} is comma-separated"
        )
    return ","


def _columns(
    values: list[str], fmt: _Format, row: int, problems: _Problems
) -> tuple[dict[str, int], dict[str, str]]:
    index: dict[str, int] = {}
    header: dict[str, str] = {}
    known = ", ".join(dict.fromkeys(fmt.columns.values()))
    for i, raw in enumerate(values):
        name = _normalise(raw)
        if not name:
            continue
        key = fmt.columns.get(name)
        if key is None:
            if fmt.refuse_unknown:
                problems.add(row, raw.strip(), f"unknown column (the columns are: {known})")
            continue
        if key in index:
            problems.add(row, raw.strip(), f"column '{key}' appears twice")
            continue
        index[key] = i
        header[key] = raw.strip()
    for key in fmt.required:
        if key not in index:
            problems.add(row, key, f"missing column '{key}' (the {fmt.name} needs: {known})")
    return index, header


def _text(
    record: _Record, key: str, field: str, problems: _Problems, *, required: bool
) -> str | None:
    """The cell, trimmed and checked (length, control characters: core.text.clean_text)."""
    try:
        text = clean_text(record.cells.get(key, ""), field, LENGTHS[key], required=required)
    except InputError as exc:
        message = "empty: every row needs it" if exc.detail == "a value is required" else exc.detail
        problems.add(record.row, field, message)
        return None
    return text or None


def _date(record: _Record, key: str, field: str, problems: _Problems) -> dt.date | None:
    text = record.cells.get(key, "")
    if not text:
        problems.add(record.row, field, "empty: every row needs the date of the test")
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        problems.add(record.row, field, f"'{text}' is not a date as YYYY-MM-DD (ISO 8601)")
        return None
    try:
        return bounded_date(text, field)  # the house's plausible window (core.dates)
    except InputError as exc:
        problems.add(record.row, field, exc.detail)
        return None


def _number(
    text: str, row: int, field: str, problems: _Problems, *, decimal_comma: bool = False
) -> Decimal | None:
    """A decimal by :func:`domain.to_decimal`; ``85,3`` is read as 85.3 only where the file's
    delimiter is a semicolon."""
    if decimal_comma and re.fullmatch(r"[+-]?\d+,\d+", text):
        text = text.replace(",", ".")
    try:
        return to_decimal(text)
    except ValueError as exc:
        hint = ": write it with a decimal point, no commas" if "," in text else ""
        problems.add(row, field, f"{exc}{hint}")
        return None


def _decimal_text(value: Decimal) -> str:
    """Plain notation, trailing zeros dropped (``85.20`` → ``85.2``, ``1.5E+1`` → ``15``)."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def _mean(values: Sequence[Decimal]) -> Decimal:
    """The arithmetic mean, exact to 28 significant figures (decimal arithmetic: never rounded
    to the reportable precision here; domain.judge rounds once, USP General Notices 7.20)."""
    with localcontext() as ctx:
        ctx.prec = 28
        return sum(values, Decimal(0)) / len(values)


# --- the results CSV ----------------------------------------------------------------------

_CSV_COLUMNS = (
    "batch",
    "test",
    "value",
    "unit",
    "analyst",
    "tested_on",
    "instrument",
    "method_ref",
)
RESULTS_CSV = _Format(
    name="results CSV",
    columns={c: c for c in _CSV_COLUMNS} | {c.replace("_", " "): c for c in _CSV_COLUMNS},
    required=("batch", "test", "value", "tested_on"),
    refuse_unknown=True,
)


def read_results_csv(text: str, file: str) -> list[ResultRow]:
    """Rows of a results CSV: ``batch,test,value,unit,analyst,tested_on,instrument,method_ref``.

    ``batch``, ``test``, ``value`` and ``tested_on`` are needed in every row; the columns
    ``unit``, ``analyst``, ``instrument`` and ``method_ref`` may be left out. A value with a
    unit must be a number; without one it may be words (``negative``, ``conforms``). One
    result per batch and test: a second is refused naming both rows. Unknown columns are
    refused (a misspelt ``unit`` column would otherwise be lost)."""
    problems = _Problems(file)
    table = _read_table(text, file, RESULTS_CSV, problems)
    rows: list[ResultRow] = []
    seen: dict[tuple[str, str], int] = {}
    for record in table.records:
        row = _csv_row(file, record, table, problems)
        if row is None:
            continue
        first = seen.setdefault((row.batch, row.test), row.row)
        if first != row.row:
            problems.add(
                row.row,
                table.header["test"],
                f"batch {row.batch}, test {row.test} is already given in row {first}: "
                "one result per batch and test in a file",
            )
        rows.append(row)
    if not table.records:
        problems.add(None, None, "the file has a header but no results")
    problems.check()
    return rows


def _csv_row(file: str, record: _Record, table: _Table, problems: _Problems) -> ResultRow | None:
    """One checked row (None when any cell is bad: its problems are collected)."""
    text: dict[str, str | None] = {}
    for key in _CSV_COLUMNS:
        if key != "tested_on":
            required = key in RESULTS_CSV.required
            field = table.header.get(key, key)
            text[key] = _text(record, key, field, problems, required=required)
    tested_on = _date(record, "tested_on", table.header["tested_on"], problems)
    batch, test, value, unit = text["batch"], text["test"], text["value"], text["unit"]
    numeric = value is not None and unit is not None  # a value with a unit is a number
    if numeric and _number(str(value), record.row, table.header["value"], problems) is None:
        return None
    if batch is None or test is None or value is None or tested_on is None:
        return None
    return ResultRow(
        file,
        record.row,
        batch,
        test,
        value,
        unit,
        text["analyst"],
        tested_on,
        text["instrument"],
        text["method_ref"],
        "csv",
    )


# --- the flow cytometer export ------------------------------------------------------------

#: gate path (its last gates, case-insensitive) → specification test code, for the statistic
#: "Freq. of Parent" (FlowJo) or "%Parent" (BD FACSDiva); the gating follows Front Immunol
#: 2024;15:1328368 (viability among CD45+, CD3+ among viable CD45+, CAR+ among viable CD3+)
GATES: Mapping[str, str] = {
    "CD45+/Live": "viability",
    "CD45+/Live/CD3+": "cd3",
    "CD45+/Live/CD3+/CAR+": "car_positive",
}
FREQ_OF_PARENT = ("freq. of parent", "%parent", "% parent")
#: rows that table exports append under the samples (first column), skipped
SUMMARY_ROWS = ("mean", "sd", "median", "cv", "min", "max")

FLOW_EXPORT = _Format(
    name="flow export",
    columns={
        "sample": "sample",
        "batch": "batch",
        "replicate": "replicate",
        "population": "population",
        "statistic": "statistic",
        "value": "value",
    },
    required=("sample", "batch", "population", "statistic", "value"),
    refuse_unknown=False,
    semicolon=True,
)


def read_flow_export(
    text: str,
    file: str,
    *,
    gates: Mapping[str, str] | None = None,
    analyst: str | None = None,
    tested_on: dt.date | None = None,
    instrument: str | None = None,
    method_ref: str | None = None,
) -> list[ResultRow]:
    """CAR-T release results (viability, CD3+, CAR+) from a flow cytometry table export.

    One row per sample and gated population: ``Sample:,Batch,Replicate,Population,Statistic,
    Value`` (modelled on FlowJo's Table Editor and BD FACSDiva's statistics export; other
    columns are ignored). Rows whose population ends with a gate path of ``gates`` (default
    :data:`GATES`) and whose statistic is the frequency of parent give a result in % (0-100);
    other populations and statistics are skipped, as are the ``Mean``/``SD`` rows tables
    append. Two rows for the same batch and test are refused naming both rows, unless a
    ``Replicate`` column labels them as distinct replicates: their mean is returned with the
    count in ``replicates``. ``analyst``, ``tested_on``, ``instrument`` and ``method_ref``
    (not in the export) are copied to every row."""
    problems = _Problems(file)
    table = _read_table(text, file, FLOW_EXPORT, problems)
    comma = table.delimiter == ";"
    tails = {_gate_key(path): code for path, code in (gates or GATES).items()}
    groups: dict[tuple[str, str], list[tuple[_Record, Decimal, str | None]]] = {}
    skipped_all = True
    for record in table.records:
        if record.cells["sample"].lower() in SUMMARY_ROWS:
            continue
        header = table.header
        cells = {
            key: _text(record, key, header[key], problems, required=True)
            for key in ("sample", "batch", "population", "statistic")
        }
        replicate = None
        if "replicate" in header:
            replicate = _text(record, "replicate", header["replicate"], problems, required=False)
        population, statistic = cells["population"], cells["statistic"]
        if population is None or statistic is None:
            continue
        test = _gate_test(population, tails)
        if test is None or statistic.lower() not in FREQ_OF_PARENT:
            continue
        skipped_all = False
        value = _percent(record, header["value"], problems, comma)
        batch = cells["batch"]
        if batch is None or value is None:
            continue
        groups.setdefault((batch, test), []).append((record, value, replicate))
    if table.records and skipped_all and not problems.items:
        known = ", ".join(gates or GATES)
        problems.add(
            None,
            "Population",
            f"no population of the gate table ({known}) with "
            f"statistic Freq. of Parent: nothing to import",
        )
    rows = [
        row
        for (batch, test), group in groups.items()
        if (row := _flow_row(file, batch, test, group, table, problems)) is not None
    ]
    if not table.records:
        problems.add(None, None, "the file has a header but no results")
    problems.check()
    return [
        replace(
            r, analyst=analyst, tested_on=tested_on, instrument=instrument, method_ref=method_ref
        )
        for r in sorted(rows, key=lambda r: r.row)
    ]


def _gate_key(path: str) -> tuple[str, ...]:
    return tuple(g.strip().lower() for g in path.strip().strip("/").split("/") if g.strip())


def _gate_test(population: str, tails: Mapping[tuple[str, ...], str]) -> str | None:
    gates = _gate_key(population)
    for tail, code in sorted(tails.items(), key=lambda t: -len(t[0])):
        if gates[-len(tail) :] == tail:
            return code
    return None


def _percent(record: _Record, field: str, problems: _Problems, comma: bool) -> Decimal | None:
    text = record.cells["value"]
    if not text:
        problems.add(record.row, field, "empty: every population row needs its frequency")
        return None
    value = _number(text, record.row, field, problems, decimal_comma=comma)
    if value is not None and not 0 <= value <= 100:
        problems.add(record.row, field, f"{text} is not a frequency of parent in % (0-100)")
        return None
    return value


def _flow_row(
    file: str,
    batch: str,
    test: str,
    group: list[tuple[_Record, Decimal, str | None]],
    table: _Table,
    problems: _Problems,
) -> ResultRow | None:
    """One result per batch and test: a single row, or the mean of labelled replicates."""
    first = group[0][0]
    if len(group) > 1 and "replicate" not in table.header:
        for record, _, _ in group[1:]:
            problems.add(
                record.row,
                table.header["population"],
                f"batch {batch}, {test} is already given in row {first.row}: label replicate "
                "tubes in a Replicate column, or remove one of the rows",
            )
        return None
    labels: dict[str, int] = {}
    ok = True
    for record, _, replicate in group if len(group) > 1 else ():
        field = table.header["replicate"]
        if replicate is None:
            problems.add(
                record.row,
                field,
                f"empty: batch {batch}, {test} has {len(group)} "
                "rows, so each needs its replicate label",
            )
            ok = False
            continue
        earlier = labels.setdefault(replicate.lower(), record.row)
        if earlier != record.row:
            problems.add(
                record.row,
                field,
                f"replicate {replicate} of batch {batch}, {test} is already given in row {earlier}",
            )
            ok = False
    if not ok:
        return None
    mean = _mean([value for _, value, _ in group])
    return ResultRow(
        file,
        first.row,
        batch,
        test,
        _decimal_text(mean),
        "%",
        None,
        None,
        None,
        None,
        "flow",
        len(group),
    )


# --- the qPCR VCN table -------------------------------------------------------------------

VECTOR_TARGET = "WPRE"
#: single-copy autosomal reference genes: two copies per diploid cell
REFERENCE_TARGETS = ("RPP30", "ALB", "Albumin")
REFERENCE_COPIES_PER_CELL = 2
NO_CQ = ("undetermined", "")
TASKS = ("UNKNOWN", "STANDARD", "NTC")

QPCR_TABLE = _Format(
    name="qPCR results table",
    columns={
        "well": "well",
        "sample name": "sample",
        "target name": "target",
        "task": "task",
        "cq": "cq",
        "ct": "cq",
        "cт": "cq",
        "quantity": "quantity",
    },
    required=("well", "sample", "target", "task", "cq", "quantity"),
    refuse_unknown=False,
    preamble=True,
)


def read_qpcr_vcn(
    text: str,
    file: str,
    *,
    car_fraction: Mapping[str, Decimal] | None = None,
    test: str = "vcn",
    vector_target: str = VECTOR_TARGET,
    reference_targets: Collection[str] = REFERENCE_TARGETS,
    analyst: str | None = None,
    tested_on: dt.date | None = None,
    instrument: str | None = None,
    method_ref: str | None = None,
) -> list[ResultRow]:
    """Vector copy number of each sample of a qPCR results export (QuantStudio/LightCycler
    style: ``Well,Sample Name,Target Name,Task,Cq,Quantity``; ``CT`` is read as ``Cq``; lines
    before the header starting with ``*``, ``#`` or ``[`` are skipped; other columns ignored).

    For the ``UNKNOWN`` wells of each sample (Sample Name = the batch, as the system numbers
    it), with quantities from the run's standard curve::

        copies/cell = 2 × mean(quantity of the vector target) / mean(quantity of the reference)

    the reference being a single-copy gene, two copies per diploid genome (Kunz A et al.,
    *Optimized assessment of qPCR-based vector copy numbers as a safety parameter for GMP-grade
    CAR T cells*, Mol Ther Methods Clin Dev 2020;17:448-454, absolute standard-curve method).
    Where ``car_fraction`` gives the batch's CAR+ fraction f (0 < f ≤ 1), the result is
    copies/transduced cell = copies/cell ÷ f, otherwise copies/cell, which the store converts.

    ``STANDARD`` wells are not used for the result. An ``NTC`` well with a Cq (amplification)
    makes the run invalid and is refused naming the well; ``Undetermined`` is fine."""
    fractions = _fractions(car_fraction)
    problems = _Problems(file)
    table = _read_table(text, file, QPCR_TABLE, problems)
    vector = vector_target.lower()
    references = {t.lower(): t for t in reference_targets}
    seen: dict[tuple[str, str], int] = {}
    samples: dict[str, list[tuple[_Record, str, Decimal]]] = {}
    for record in table.records:
        well = _text(record, "well", table.header["well"], problems, required=True)
        if well is not None:  # a duplex well has one row per target
            key = (well.upper(), record.cells["target"].lower())
            first = seen.setdefault(key, record.row)
            if first != record.row:
                problems.add(
                    record.row,
                    table.header["well"],
                    f"well {well}, target {record.cells['target']} is already given in row {first}",
                )
        well_data = _well(record, table, problems, vector, references)
        if well_data is not None:
            sample, target, quantity = well_data
            samples.setdefault(sample, []).append((record, target, quantity))
    if table.records and not samples and not problems.items:
        problems.add(None, "Task", "no UNKNOWN wells: nothing to import")
    if not table.records:
        problems.add(None, None, "the file has a header but no wells")
    results = [
        (wells[0][0].row, sample, vcn, n)
        for sample, wells in samples.items()
        if (got := _vcn(sample, wells, table, problems, vector)) is not None
        for vcn, n in [got]
    ]
    problems.check()
    rows = []
    for row, batch, vcn, n in results:
        unit = "copies/cell"
        if batch in fractions:
            with localcontext() as ctx:
                ctx.prec = 28
                vcn = vcn / fractions[batch]
            unit = "copies/transduced cell"
        rows.append(
            ResultRow(
                file,
                row,
                batch,
                test,
                _decimal_text(vcn),
                unit,
                analyst,
                tested_on,
                instrument,
                method_ref,
                "qpcr",
                n,
            )
        )
    return rows


def _fractions(car_fraction: Mapping[str, Decimal] | None) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for batch, raw in (car_fraction or {}).items():
        try:
            value = to_decimal(raw)
        except ValueError as exc:
            raise InputError(f"batch {batch}: {exc}", field="car_fraction") from None
        if not 0 < value <= 1:
            raise InputError(
                f"batch {batch}: a CAR+ fraction is above 0 and at most 1 ({raw} given)",
                field="car_fraction",
            )
        out[str(batch)] = value
    return out


def _well(
    record: _Record,
    table: _Table,
    problems: _Problems,
    vector: str,
    references: Mapping[str, str],
) -> tuple[str, str, Decimal] | None:
    """(sample, target, quantity) of an UNKNOWN well; None for standards, NTCs and bad rows."""
    h = table.header
    task = (record.cells["task"] or "").upper()
    if task not in TASKS:
        problems.add(
            record.row,
            h["task"],
            f"'{record.cells['task']}' is not a task (one of {', '.join(TASKS)})",
        )
        return None
    cq_text = record.cells["cq"]
    cq = None
    if cq_text.lower() not in NO_CQ:
        cq = _number(cq_text, record.row, h["cq"], problems)
        if cq is None:
            return None
    if task == "NTC":
        if cq is not None:
            ntc_target = record.cells["target"] or "?"
            problems.add(
                record.row,
                h["cq"],
                f"no-template control well {record.cells['well']} "
                f"({ntc_target}) amplified at Cq {cq_text}: the run is invalid",
            )
        return None
    if task == "STANDARD":
        return None
    sample = _text(record, "sample", h["sample"], problems, required=True)
    target = _text(record, "target", h["target"], problems, required=True)
    if target is not None and target.lower() != vector and target.lower() not in references:
        problems.add(
            record.row,
            h["target"],
            f"'{target}' is neither the vector target "
            f"({vector.upper()}) nor a reference gene ({', '.join(references.values())})",
        )
        target = None
    quantity_text = record.cells["quantity"]
    if not quantity_text:
        problems.add(
            record.row,
            h["quantity"],
            f"empty: an UNKNOWN well needs its quantity (Cq {cq_text or 'empty'})",
        )
        return None
    quantity = _number(quantity_text, record.row, h["quantity"], problems)
    if quantity is not None and quantity < 0:
        problems.add(
            record.row, h["quantity"], f"a quantity of copies cannot be negative ({quantity_text})"
        )
        quantity = None
    if sample is None or target is None or quantity is None:
        return None
    return sample, target.lower(), quantity


def _vcn(
    sample: str,
    wells: list[tuple[_Record, str, Decimal]],
    table: _Table,
    problems: _Problems,
    vector: str,
) -> tuple[Decimal, int] | None:
    """2 × mean(vector) / mean(reference) and the number of vector wells."""
    first = wells[0][0].row
    field = table.header["target"]
    vector_q = [q for _, t, q in wells if t == vector]
    reference = sorted({t for _, t, _ in wells if t != vector})
    if not vector_q:
        problems.add(first, field, f"sample {sample} has no {vector.upper()} (vector) wells")
        return None
    if not reference:
        problems.add(first, field, f"sample {sample} has no reference gene wells")
        return None
    if len(reference) > 1:
        problems.add(
            first,
            field,
            f"sample {sample} has two reference genes ({', '.join(reference)}): use one per sample",
        )
        return None
    reference_mean = _mean([q for _, t, q in wells if t == reference[0]])
    if reference_mean == 0:
        problems.add(
            first,
            table.header["quantity"],
            f"sample {sample}: the reference gene quantity is 0, no cells to count",
        )
        return None
    with localcontext() as ctx:
        ctx.prec = 28
        vcn = REFERENCE_COPIES_PER_CELL * _mean(vector_q) / reference_mean
    return vcn, len(vector_q)
