"""Reading numeric columns from CSV files for the CLI and the comparability study.

Every bad cell is reported with the file, the 1-based spreadsheet row (header = row 1) and the
column, as :class:`~vein2vein.core.errors.InputError`.

:func:`read_column` first tries a fast reader for plain files (printable ASCII, no quotes, the
same number of fields on every row: what instruments and spreadsheets write for a CPV series),
which splits the bytes at once instead of building a dictionary per row (issue 15: charts over
many files of 10^4 lots). Anything else, and any file with a bad cell, goes through the
``csv`` module reader, so results and error messages are the same whichever reader ran.
"""

from __future__ import annotations

import codecs
import csv
import math
from itertools import repeat
from pathlib import Path

import numpy as np

from vein2vein.core.errors import InputError

FloatArray = np.ndarray


def _parse(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value


def read_rows(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file (UTF-8, optional BOM); raises InputError when unreadable."""
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            rows = [
                {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
                for row in reader
            ]
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"not a readable UTF-8 CSV file ({exc})", file=str(path)) from None
    if not header:
        raise InputError("the file has no header row", file=str(path))
    if not rows:
        raise InputError("the file has no data rows", file=str(path))
    return header, rows


def numeric_cell(value: str, *, file: str, row: int, field: str) -> float:
    """A finite number from one cell, or an InputError naming the cell."""
    if value == "":
        raise InputError("missing value", file=file, row=row, field=field)
    number = _parse(value)
    if number is None:
        raise InputError(f"'{value}' is not a number", file=file, row=row, field=field)
    if not math.isfinite(number):
        raise InputError(f"'{value}' is not a finite number", file=file, row=row, field=field)
    return number


def first_numeric_column(header: list[str], rows: list[dict[str, str]], file: str) -> str:
    """The first column whose first non-empty cell is a number."""
    for name in header:
        first = next((r.get(name, "") for r in rows if r.get(name, "") != ""), "")
        if first and _parse(first) is not None:
            return name
    raise InputError("no numeric column found; name one with --column", file=file)


# Bytes a plain file may hold: printable ASCII but the quote, tab and newline ("\r\n" is made
# "\n" first). Quoting, other control characters and non-ASCII text go to the csv module.
_PLAIN = bytes(range(0x20, 0x7F)).replace(b'"', b"") + b"\t\n"
# From this much CSV on, parsing with pyarrow (about 20 ns a number) repays importing it (about
# 50 ms) over parsing with float() (about 400 ns a number).
ARROW_FROM = 1 << 20


def _plain(path: str | Path) -> tuple[list[bytes], bytes] | None:
    """Stripped header names and the data rows of a plain file, or ``None``."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    data = data.removeprefix(codecs.BOM_UTF8)
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    if data.translate(None, _PLAIN):
        return None
    end_of_header = data.find(b"\n")
    if end_of_header < 0:
        return None
    head = data[:end_of_header]
    body = data[end_of_header + 1 : len(data) - data.endswith(b"\n")]  # one copy of the rows
    header = [h.strip() for h in head.split(b",")]
    if not head or not body or len(set(header)) != len(header):
        return None
    if len(body) > csv.field_size_limit():  # the csv module refuses longer fields
        ends = np.flatnonzero(np.frombuffer(b"\n" + body + b"\n", np.uint8) == ord("\n"))
        if np.diff(ends).max() > csv.field_size_limit():
            return None
    return header, body


def _column_index(header: list[bytes], first_row: bytes, column: str | None) -> int | None:
    """The index of ``column``, or of the first numeric column judged on the first row (as
    :func:`first_numeric_column` does, when none of that row's cells before it is empty)."""
    if column is not None:
        name = column.encode() if column.isascii() else None
        return header.index(name) if name in header else None
    cells = [c.strip() for c in first_row.split(b",")]
    if len(cells) != len(header):
        return None
    for j, cell in enumerate(cells):
        if not cell:
            return None
        if _parse(cell.decode("ascii")) is not None:
            return j
    return None


def _parse_python(body: bytes, width: int, j: int) -> FloatArray | None:
    lines = body.split(b"\n")
    if width == 1:
        if b"," in body:
            return None
        cells = lines
    else:
        if set(map(bytes.count, lines, repeat(b","))) != {width - 1}:
            return None
        cells = body.replace(b"\n", b",").split(b",")[j::width]
    try:
        return np.array(list(map(float, cells)))  # what the csv path does, cell by cell
    except ValueError:
        return None


def _parse_arrow(body: bytes, width: int, j: int) -> FloatArray | None:
    # pyarrow's number parser (fast_float) rounds correctly, like float(), and accepts a subset
    # of what float() accepts; tests/unit/stats/test_csv_input.py checks both on odd cells.
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    names = [f"c{i}" for i in range(width)]
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(body),
            read_options=pa_csv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pa_csv.ParseOptions(
                quote_char=False, newlines_in_values=False, ignore_empty_lines=True
            ),
            convert_options=pa_csv.ConvertOptions(
                include_columns=[names[j]],
                column_types={names[j]: pa.float64()},
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (ValueError, pa.ArrowException):
        return None
    values = table.column(0).combine_chunks()
    if values.null_count:
        return None
    # from the data buffer: Array.to_numpy would import pandas (half a second)
    data = values.buffers()[1]
    return np.frombuffer(data, np.float64, count=len(values), offset=values.offset * 8).copy()


def _read_plain_column(
    path: str | Path, column: str | None, arrow: bool | None
) -> FloatArray | None:
    """The values :func:`read_column` returns, read fast from a plain file; ``None`` when the file
    is not plain or any cell is not a finite number (the caller then reads it with ``csv``, which
    names the bad cell)."""
    plain = _plain(path)
    if plain is None:
        return None
    header, body = plain
    first_row = body[: body.find(b"\n")] if b"\n" in body else body
    j = _column_index(header, first_row, column)
    if j is None:
        return None
    use_arrow = len(body) >= ARROW_FROM if arrow is None else arrow
    values = (_parse_arrow if use_arrow else _parse_python)(body, len(header), j)
    if values is None or values.size == 0 or not np.isfinite(values).all():
        return None
    return values


def read_column(
    path: str | Path, column: str | None = None, *, arrow: bool | None = None
) -> FloatArray:
    """Values of ``column`` (default: the first numeric column) as a float array.

    ``arrow``: parse a plain file with pyarrow (``True``), with ``float()`` (``False``) or by its
    size (``None``: pyarrow from :data:`ARROW_FROM` bytes on); the values are the same.
    """
    fast = _read_plain_column(path, column, arrow)
    return fast if fast is not None else read_column_csv(path, column)


def read_column_csv(path: str | Path, column: str | None = None) -> FloatArray:
    """:func:`read_column` through the ``csv`` module only: the reference the fast readers are
    tested against, and the reader that names a bad cell."""
    file = str(path)
    header, rows = read_rows(path)
    name = column or first_numeric_column(header, rows, file)
    if name not in header:
        raise InputError(f"column not found (columns: {', '.join(header)})", file=file, field=name)
    return np.array(
        [
            numeric_cell(r.get(name, ""), file=file, row=i + 2, field=name)
            for i, r in enumerate(rows)
        ]
    )


def read_columns(
    path: str | Path, required: list[str], optional: tuple[str, ...] = ()
) -> dict[str, FloatArray]:
    """Several named numeric columns; ``optional`` ones are returned only when present."""
    file = str(path)
    header, rows = read_rows(path)
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            f"required column(s) missing: {', '.join(missing)} (columns: {', '.join(header)})",
            file=file,
            field=missing[0],
        )
    out: dict[str, FloatArray] = {}
    for name in [*required, *[c for c in optional if c in header]]:
        out[name] = np.array(
            [
                numeric_cell(r.get(name, ""), file=file, row=i + 2, field=name)
                for i, r in enumerate(rows)
            ]
        )
    return out
