"""Reading a process-development run file (CSV or XLSX) into checked rows, or an error that
names the file, the sheet (XLSX), the row and the column of the first bad cell.

One row per entry, a header row first (row 1; names case-insensitive, spaces read as ``_``):

============ ======== ==========================================================================
column       needed   what
============ ======== ==========================================================================
run_label    yes      the run (one record per label), e.g. ``PD-24-017``; at most 64 characters
step         yes      the MBR operation's code, e.g. ``EXPAND``
item         yes      the parameter's or in-process control's code, e.g. ``viable_cells_d5``
value        yes      a number with a decimal point (``12.5``; ``12,5`` is refused)
unit         yes      a unit the MBR's unit converts from (``10^8 cells``, ``%``, ``°C``)
entered_at   yes      ISO 8601 date and time (``2026-03-02T09:30:00+01:00``) or an XLSX date-time
                      cell; without a UTC offset the time is read as UTC
entered_by   yes      the name or initials of who measured it (need not be a user)
note         no       free text; a second value of the same item in a run corrects the first and
                      needs a note of at least 5 characters saying why
============ ======== ==========================================================================

CSV: UTF-8 (a byte-order mark is allowed), comma-separated. XLSX: the first worksheet, read
with openpyxl (values of formulas as last saved by the spreadsheet program). Empty rows are
skipped; unknown columns are refused (a misspelt ``note`` column would otherwise be lost).
Nothing here touches the database; the store is ``pd_runs``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from vein2vein.core.errors import InputError

COLUMNS = ("run_label", "step", "item", "value", "unit", "entered_at", "entered_by", "note")
REQUIRED = COLUMNS[:-1]
LENGTHS = {
    "run_label": 64,
    "step": 32,
    "item": 64,
    "unit": 32,
    "entered_by": 150,
    "note": 2000,
}
MAX_ROWS = 50_000
MAX_BYTES = 20 * 1024 * 1024


class PdFileError(InputError):
    """A bad import file, located: file, sheet (XLSX), row (header = 1) and column (letter and
    name), then what is wrong."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
        letter: str | None = None,
    ) -> None:
        super().__init__(message, file=file, row=row, field=column)
        self.sheet = sheet
        where = [f"file {file}"]
        if sheet is not None:
            where.append(f"sheet {sheet}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {letter} ({column})" if letter else f"column {column}")
        self.message = f"{', '.join(where)}: {message}"
        self.args = (self.message,)


@dataclass(frozen=True)
class PdRow:
    """One checked entry of the file; ``row`` is its row number as the spreadsheet shows it."""

    row: int
    run_label: str
    step: str
    item: str
    value: float
    unit: str
    entered_at: dt.datetime
    entered_by: str
    note: str


@dataclass(frozen=True)
class PdFile:
    name: str
    sheet: str | None  # the worksheet read (XLSX), None for CSV
    letters: dict[str, str]  # column name -> its letter in the file
    rows: tuple[PdRow, ...]

    def error(
        self, message: str, *, row: int | None = None, column: str | None = None
    ) -> PdFileError:
        """An error located in this file (the service's refusals use it too)."""
        letter = self.letters.get(column) if column is not None else None
        return PdFileError(
            self.name, message, sheet=self.sheet, row=row, column=column, letter=letter
        )


def letter(index: int) -> str:
    """Spreadsheet column letter of a 0-based index (0 -> A, 26 -> AA)."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out


def read_pd_file(name: str, data: bytes) -> PdFile:
    """The rows of a CSV or XLSX file (by its name's extension), each cell checked."""
    lowered = name.lower()
    if len(data) > MAX_BYTES:
        raise PdFileError(name, f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    if lowered.endswith(".csv"):
        return _rows(name, None, _csv_cells(name, data))
    if lowered.endswith(".xlsx"):
        sheet, cells = _xlsx_cells(name, data)
        return _rows(name, sheet, cells)
    raise PdFileError(name, "give a .csv or .xlsx file")


def _csv_cells(name: str, data: bytes) -> Iterator[Sequence[Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PdFileError(name, f"not UTF-8 text (byte {exc.start})") from None
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error as exc:
        raise PdFileError(name, f"not a readable CSV file: {exc}") from None


def _xlsx_cells(name: str, data: bytes) -> tuple[str, Iterator[Sequence[Any]]]:
    import zipfile

    from openpyxl import load_workbook  # loaded only when an XLSX file comes

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise PdFileError(name, f"not a readable XLSX workbook ({exc})") from None
    sheet = book.worksheets[0]
    return sheet.title, sheet.iter_rows(values_only=True)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _rows(name: str, sheet: str | None, cells: Iterator[Sequence[Any]]) -> PdFile:
    def fail(
        message: str, row: int | None = None, col: str | None = None, at: str | None = None
    ) -> PdFileError:
        return PdFileError(name, message, sheet=sheet, row=row, column=col, letter=at)

    header = next(cells, None)
    if header is None or all(_blank(v) for v in header):
        raise fail("the first row must name the columns: " + ", ".join(COLUMNS), row=1)
    index: dict[str, int] = {}
    for i, raw in enumerate(header):
        if _blank(raw):
            continue
        key = str(raw).strip().lower().replace(" ", "_")
        if key not in COLUMNS:
            raise fail(
                f"unknown column '{raw}' (the columns are: {', '.join(COLUMNS)})",
                row=1, at=letter(i), col=str(raw).strip(),
            )  # fmt: skip
        if key in index:
            raise fail(f"column '{key}' appears twice", row=1, at=letter(i), col=key)
        index[key] = i
    missing = [c for c in REQUIRED if c not in index]
    if missing:
        raise fail(f"missing column(s): {', '.join(missing)}", row=1)
    letters = {key: letter(i) for key, i in index.items()}
    rows: list[PdRow] = []
    for number, values in enumerate(cells, start=2):
        cell = {key: values[i] if i < len(values) else None for key, i in index.items()}
        if all(_blank(v) for v in cell.values()):
            continue
        if len(rows) >= MAX_ROWS:
            raise fail(f"more than {MAX_ROWS} entries: split the file", row=number)
        rows.append(_row(number, cell, lambda msg, col, n=number: fail(msg, n, col, letters[col])))
    if not rows:
        raise fail("the file has a header but no entries")
    return PdFile(name, sheet, letters, tuple(rows))


def _row(number: int, cell: dict[str, Any], fail: Any) -> PdRow:
    text: dict[str, str] = {}
    for key, limit in LENGTHS.items():
        raw = cell.get(key)
        value = "" if raw is None else str(raw).strip()
        if key in REQUIRED and not value:
            raise fail("empty: every entry needs it", key)
        if len(value) > limit:
            raise fail(f"longer than {limit} characters", key)
        if any(ord(ch) < 32 and ch not in "\t\n" for ch in value):
            raise fail("contains control characters", key)
        text[key] = value
    return PdRow(
        row=number,
        run_label=text["run_label"],
        step=text["step"].upper(),
        item=text["item"],
        value=_number(cell["value"], fail),
        unit=text["unit"],
        entered_at=_time(cell["entered_at"], fail),
        entered_by=text["entered_by"],
        note=text["note"],
    )


def _number(raw: Any, fail: Any) -> float:
    if isinstance(raw, bool):
        raise fail(f"{raw} is not a number", "value")
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        text = "" if raw is None else str(raw).strip()
        if not text:
            raise fail("empty: every entry needs a value", "value")
        if "," in text:
            raise fail(
                f"'{text}' is not a number: write it with a decimal point, no commas", "value"
            )
        try:
            value = float(text)
        except ValueError:
            raise fail(f"'{text}' is not a number", "value") from None
    if not math.isfinite(value):
        raise fail(f"'{raw}' is not a finite number", "value")
    return value


def _time(raw: Any, fail: Any) -> dt.datetime:
    if isinstance(raw, dt.datetime):
        when = raw
    elif isinstance(raw, dt.date):
        raise fail(f"{raw.isoformat()} has no time of day", "entered_at")
    else:
        text = "" if raw is None else str(raw).strip()
        if not text:
            raise fail("empty: every entry needs its date and time", "entered_at")
        try:
            when = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
        except ValueError:
            raise fail(
                f"'{text}' is not an ISO 8601 date and time (e.g. 2026-03-02T09:30:00+01:00)",
                "entered_at",
            ) from None
    if when.tzinfo is None or when.utcoffset() is None:
        when = when.replace(tzinfo=dt.UTC)  # documented: a time without offset is UTC
    return when.astimezone(dt.UTC)
