"""Reading numeric columns from CSV files for the CLI and the comparability study.

Every bad cell is reported with the file, the 1-based spreadsheet row (header = row 1) and the
column, as :class:`~vein2vein.core.errors.InputError`.
"""

from __future__ import annotations

import csv
import math
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


def read_column(path: str | Path, column: str | None = None) -> FloatArray:
    """Values of ``column`` (default: the first numeric column) as a float array."""
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
