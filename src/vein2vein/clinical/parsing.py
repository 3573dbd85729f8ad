"""Column parsers shared by the CSV and SDTM readers: each one names file, row and field on
failure. They work on the distinct values of a column (dates, states and identifiers repeat a
lot), so a million-row file parses in a fraction of a second."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pandas as pd

from vein2vein.core import plausible
from vein2vein.core.errors import InputError

from .csv_arrow import CONTROL, Coded, Parsed, arrow_coded, has_control_characters
from .dataset import EPOCH


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def factorized(values: pd.Series | np.ndarray | Coded) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, uniques)`` of a column (-1 codes the missing)."""
    if isinstance(values, Coded):
        return values.codes, values.uniques
    return pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)


def _refuse_control_characters(path: Path, data: bytes | None = None) -> bytes:
    """A NUL or other control character in a cell is refused, with its row and column: what is
    stored must be exactly what the readout uses. Returns the file's bytes (``data``, when the
    caller has them already)."""
    if data is None:
        data = path.read_bytes()
    if not has_control_characters(data):
        return data
    hit = CONTROL.search(data)
    if hit is None:
        return data
    line_start = data.rfind(b"\n", 0, hit.start()) + 1
    row = data.count(b"\n", 0, hit.start()) + 1
    column = data[line_start : hit.start()].count(b",")
    header = data[: data.find(b"\n")].decode("utf-8", "replace").split(",")
    field = header[column].strip().lower() if column < len(header) else None
    raise InputError(
        "a control character (for example NUL) in a cell", file=path.name, row=row, field=field
    )


def _read_csv(path: Path, required: tuple[str, ...], dtype: str) -> pd.DataFrame:
    _refuse_control_characters(path)
    try:
        frame = pd.read_csv(path, dtype=dtype, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError as exc:
        raise InputError("the file is empty", file=path.name) from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV file ({exc})", file=path.name) from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    _require_columns(list(frame.columns), required, path.name)
    return frame


def read_csv_strings(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    """Every cell as a string (blank = ""), header names lower-cased and stripped."""
    return _read_csv(path, required, str)


def _require_columns(names: list[str], required: tuple[str, ...], file: str) -> None:
    missing = [c for c in required if c not in names]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}; expected {', '.join(required)}",
            file=file,
            row=1,
            field=missing[0],
        )


def _check_columns(names: list[str], required: tuple[str, ...], file: str) -> None:
    """Every required column present, and none twice (compared stripped, in lower case)."""
    _require_columns(names, required, file)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(
            f"the column {twice[0]} appears twice (names are compared without regard to case)",
            file=file,
            row=1,
            field=twice[0],
        )


def _ahead_result(ahead: Future[Parsed] | None) -> Parsed | None:
    """What :func:`~.csv_arrow.read_ahead` parsed, or ``None`` if it failed in any way: the
    file is then read here again, and any error raised from this thread, in its usual place."""
    if ahead is None:
        return None
    try:
        return ahead.result()
    except Exception:
        return None


def read_csv_coded(
    path: Path, required: tuple[str, ...], *, ahead: Future[Parsed] | None = None
) -> dict[str, Coded]:
    """The columns of :func:`read_csv_strings` (the same cells) as :class:`Coded` columns,
    each distinct value made a string once. A plain CSV file is parsed by pyarrow
    (:func:`~.csv_arrow.arrow_coded`; ``ahead``: the same, begun earlier in a thread by
    :func:`~.csv_arrow.read_ahead`); anything else by pandas' categorical conversion, whose
    messages name what is wrong (issue 15: a million-row file reads in about a third of
    pandas' time, and in a fraction of the memory). Both give the same values per row."""
    parsed = _ahead_result(ahead)
    if parsed is not None and parsed.arrow is not None:
        arrow = parsed.arrow  # the thread found no control character and parsed the file
    else:
        arrow = arrow_coded(_refuse_control_characters(path, parsed.data if parsed else None))
    if arrow is not None:
        raw, columns = arrow
        names = [str(c).strip().lower() for c in raw]
        _check_columns(names, required, path.name)
        return dict(zip(names, columns, strict=True))
    frame = _read_csv(path, required, "category")
    names = list(frame.columns)
    _check_columns(names, required, path.name)
    out = {}
    for i, name in enumerate(names):
        col = frame.iloc[:, i]
        out[name] = Coded(
            col.cat.codes.to_numpy(np.int64), col.cat.categories.to_numpy(dtype=object)
        )
    return out


def _first_row(codes: np.ndarray, bad_codes: np.ndarray) -> int:
    """0-based index of the first row whose code is in ``bad_codes``."""
    return int(np.flatnonzero(np.isin(codes, bad_codes))[0])


def spreadsheet_row(index: int) -> int:
    return index + 2  # header is row 1


def parse_dates(
    values: pd.Series | np.ndarray | Coded,
    *,
    file: str,
    field: str,
    required: bool = False,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """ISO 8601 dates (YYYY-MM-DD; a longer date-time keeps its date part) to day numbers as
    float, NaN for blank. ``rows`` maps positions to spreadsheet rows (default: position + 2)."""
    codes, uniques = factorized(values)
    days = np.full(len(uniques) + 1, np.nan)
    bad = []
    implausible = []
    for i, raw in enumerate(uniques):
        text = "" if raw is None else str(raw).strip()
        if not text:
            continue
        try:
            day = dt.date.fromisoformat(text[:10])
        except ValueError:
            bad.append(i)
            continue
        if not plausible.EARLIEST_DATE <= day <= plausible.LATEST_DATE:
            implausible.append(i)
            continue
        days[i] = (day - EPOCH).days
    if bad or implausible:
        i = _first_row(codes, np.array(bad + implausible))
        what = (
            "unparseable date"
            if codes[i] in bad
            else f"implausible date (before {plausible.EARLIEST_DATE} or after "
            f"{plausible.LATEST_DATE})"
        )
        raise InputError(
            f"{what} {str(uniques[codes[i]])[:40]!r} (expected YYYY-MM-DD)",
            file=file,
            row=int(rows[i]) if rows is not None else spreadsheet_row(i),
            field=field,
        )
    out = days[codes]
    if required and np.isnan(out).any():
        i = int(np.flatnonzero(np.isnan(out))[0])
        raise InputError(
            "a date is required here",
            file=file,
            row=int(rows[i]) if rows is not None else spreadsheet_row(i),
            field=field,
        )
    return out


def parse_numbers(
    values: pd.Series | np.ndarray | Coded,
    *,
    file: str,
    field: str,
    minimum: float | None = None,
    rows: np.ndarray | None = None,
    within: plausible.Range | None = None,
) -> np.ndarray:
    """Decimal numbers to float, NaN for blank; ``within`` (from :mod:`vein2vein.core.plausible`)
    bounds them on both sides, so that no implausible value reaches a later integer cast."""
    if within is not None:
        minimum = within.low if minimum is None else max(minimum, within.low)
    codes, uniques = factorized(values)
    nums = np.full(len(uniques) + 1, np.nan)
    bad: list[int] = []
    for i, raw in enumerate(uniques):
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            x = float(raw)
        else:
            text = str(raw).strip()
            if not text:
                continue
            # plain ASCII decimals (exponent allowed): float() would also take "nan", "1_0", "١٢"
            if not _DECIMAL.fullmatch(text):
                bad.append(i)
                continue
            x = float(text)
        if math.isnan(x):
            continue
        if math.isinf(x) or (minimum is not None and x < minimum):
            bad.append(i)
            continue
        if within is not None and x > within.high:
            bad.append(i)
            continue
        nums[i] = x
    if bad:
        i = _first_row(codes, np.array(bad))
        if within is not None:
            limit = f" from {minimum:g} to {within.high:g} {within.unit} ({within.what})"
        else:
            limit = f" of at least {minimum:g}" if minimum is not None else ""
        raise InputError(
            f"{str(uniques[codes[i]])[:40]!r} is not a number{limit}",
            file=file,
            row=int(rows[i]) if rows is not None else spreadsheet_row(i),
            field=field,
        )
    return nums[codes]


def parse_choice(
    values: pd.Series | np.ndarray | Coded,
    choices: dict[str, int],
    *,
    file: str,
    field: str,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Case-insensitive lookup of each value in ``choices``."""
    codes, uniques = factorized(values)
    mapped = np.full(len(uniques) + 1, -1, dtype=np.int64)
    mapped[-1] = choices.get("", -1)
    bad = []
    for i, raw in enumerate(uniques):
        key = str(raw).strip().upper()
        if key in choices:
            mapped[i] = choices[key]
        else:
            bad.append(i)
    if bad or (mapped[-1] < 0 and (codes < 0).any()):
        i = _first_row(codes, np.array(bad)) if bad else int(np.flatnonzero(codes < 0)[0])
        allowed = " | ".join(k for k in choices if k) + (" or blank" if "" in choices else "")
        raise InputError(
            f"{str(uniques[codes[i]]) if codes[i] >= 0 else ''!r} is not one of {allowed}",
            file=file,
            row=int(rows[i]) if rows is not None else spreadsheet_row(i),
            field=field,
        )
    return mapped[codes]


def lookup_ids(
    values: pd.Series | np.ndarray | Coded,
    index: dict[str, int],
    *,
    file: str,
    field: str,
    what: str,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Map identifiers to row numbers of the table that defines them; unknown ones fail."""
    codes, uniques = factorized(values)
    mapped = np.array([index.get(str(u).strip(), -1) for u in uniques] + [-1], dtype=np.int64)
    out = mapped[codes]
    if (out < 0).any():
        i = int(np.flatnonzero(out < 0)[0])
        raw = str(uniques[codes[i]]).strip() if codes[i] >= 0 else ""
        raise InputError(
            f"unknown {what} {raw!r}" if raw else f"{what} is required",
            file=file,
            row=int(rows[i]) if rows is not None else spreadsheet_row(i),
            field=field,
        )
    return out


def strip(values: pd.Series) -> np.ndarray:
    return values.str.strip().to_numpy(dtype=object)
