"""The JSON of ``v2v clinical readout --json``, written as a stream (issue 15).

``json.dumps(result.to_dict(), indent=2, allow_nan=False)`` builds a dict per subject and per
time point (about 300,000 for 10,000 subjects) and encodes them with the standard library's
pure-Python indenting encoder: seven seconds and 900 MiB for a 75 MB document. This module
writes *the same bytes* column by column instead:

* each column of the subject and time-point tables is turned into JSON texts at once: a float
  is ``float.__repr__`` (what :mod:`json` writes) or ``null`` for NaN, an integer ``int.__repr__``,
  a boolean ``true``/``false``, a string :func:`json.dumps` of each distinct value (ASCII with
  ``\\uXXXX`` escapes, as ``ensure_ascii`` does), ``None`` ``null``; a column of booleans and
  ``None`` ``true``/``false``/``null``; any other value goes
  through :func:`json.dumps` itself, so it is written, or refused, exactly as before;
* rows are laid out with the indentation of ``indent=2`` by a fixed template per row;
* everything but the subjects (groups, disagreements, warnings, provenance: a few kB) is
  :func:`json.dumps` of the same dicts as :meth:`ReadoutResult.to_dict`;
* subjects are written a block at a time, so memory holds one block's text, not the document.

An infinite float is refused with the same ``ValueError`` as ``allow_nan=False``. The tests
compare the bytes with ``json.dumps(result.to_dict(), indent=2, allow_nan=False)`` on the demo
study and on generated ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

if TYPE_CHECKING:
    from .readout import ReadoutResult

#: Subjects per block of text (about 7 MB of JSON for 1,000 subjects of 28 scans).
BLOCK = 1000
_EVENTS = ("pfs_event", "os_event", "dor_event")  # negative: not applicable, written null


def _refuse_infinity() -> None:
    # the message of json's encoder for allow_nan=False
    raise ValueError("Out of range float values are not JSON compliant")


def _generic(values: list[Any]) -> list[str]:
    """One value at a time, by json itself (the rare columns that are not plain)."""
    return [json.dumps(v, allow_nan=False) for v in values]


def _reprs(values: list[Any]) -> list[str]:
    """``repr`` of each int or float of a list, by one ``repr`` of the list (C speed)."""
    return repr(values)[1:-1].split(", ") if values else []


def _float_texts(col: np.ndarray) -> list[str]:
    """``float.__repr__`` (what json writes) of each value, ``null`` for NaN.

    orjson formats the array at C speed. Its digits are the shortest that read back as the same
    float, as ``repr``'s are, and for 1e-4 <= |x| < 1e16 (and zero) its text is ``repr``'s text
    (checked on millions of values in the tests); outside that range it writes exponents
    differently (``0.00001`` for ``1e-05``), so those few values are written by ``repr``."""
    if not len(col):
        return []
    if np.isinf(col).any():
        _refuse_infinity()
    values = np.ascontiguousarray(col, dtype=np.float64)
    texts = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].decode().split(",")
    size = np.abs(values)
    for i in np.flatnonzero(((size < 1e-4) & (size > 0)) | (size >= 1e16)).tolist():
        texts[i] = float.__repr__(float(values[i]))
    return texts


def column_texts(col: np.ndarray) -> list[str]:
    """The JSON text of each value of a column, as ``json.dumps(indent=2, allow_nan=False)``
    writes the Python value that :func:`vein2vein.clinical.readout._columns` makes of it."""
    kind = col.dtype.kind
    if kind == "f":
        return _float_texts(col)
    if kind == "b":
        return np.where(col, "true", "false").tolist()
    if kind in "iu":
        return _reprs(col.tolist())
    if kind == "O":
        return _object_texts(col)
    return _generic(col.tolist())


def _object_texts(col: np.ndarray) -> list[str]:
    """Strings and None by their distinct values; anything else by json, value by value."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    # a flag with None (clinical_benefit); 1 and True factorize together, so every value is
    # checked, not only the distinct ones
    flags = all(type(u) is bool for u in uniques) and all(
        type(v) is bool for v in col[codes >= 0].tolist()
    )
    if not flags and not all(type(u) is str for u in uniques):
        return _generic(col.tolist())
    missing = codes < 0
    if missing.any() and not all(v is None for v in col[missing].tolist()):
        return _generic(col.tolist())  # NaN or NaT among the strings: json decides
    if flags:
        texts = ["true" if u else "false" for u in uniques]
    else:
        # encode_basestring_ascii is what json.dumps(str) calls (ensure_ascii=True)
        texts = list(map(encode_basestring_ascii, uniques))
    table = np.array([*texts, "null"], dtype=object)
    return table[codes].tolist()  # code -1 is the last entry: null


def _subject_texts(frame: pd.DataFrame, names: tuple[str, ...]) -> list[list[str]]:
    from .readout import _columns

    out = []
    for name in names:
        col = frame[name].to_numpy()
        if name in _EVENTS and col.dtype.kind in "iu":
            texts = np.array(column_texts(col), dtype=object)
            texts[col < 0] = "null"  # ReadoutResult: None if v is None or v < 0 else v
            out.append(texts.tolist())
        elif name in _EVENTS:
            values = _columns(frame, (name,))[name]
            out.append(_generic([None if v is None or v < 0 else v for v in values]))
        else:
            out.append(column_texts(col))
    return out


def _fields(names: tuple[str, ...], indent: int) -> list[str]:
    """The constant text before each value of an object, at ``indent`` (``indent=2`` layout)."""
    pad = " " * (indent + 2)
    return [f"{pad}{json.dumps(n)}: " for n in names]


def _block(
    result: ReadoutResult, starts: np.ndarray, first: int, last: int, texts: list[list[str]]
) -> str:
    """The JSON of subjects ``first`` to ``last - 1`` with their time points.

    The text is laid out as one flat list of pieces and joined once: for each subject its
    fields (and the opening of its time points), then for each of its time points the constant
    text before each value and the value. Positions are computed with numpy, so no Python loop
    runs per time point."""
    from .readout import TIMEPOINT_FIELDS

    lo, hi = int(starts[first]), int(starts[last])
    counts = np.diff(starts[first : last + 1])
    subject_head = "    {\n" + "".join(f"{f}%s,\n" for f in _fields(_subject_fields(), 4))
    subject_head += '      "timepoints": '
    prefixes = [
        (",\n" if i else "") + subject_head % values + ("[\n" if n else "[]\n    }")
        for i, values, n in zip(
            range(first, last), zip(*texts, strict=True), counts.tolist(), strict=True
        )
    ]

    k = len(TIMEPOINT_FIELDS)
    width = 2 * k + 1  # per time point: (constant, value) per field, then the closing
    m = hi - lo
    pieces = np.empty(len(prefixes) + width * m, dtype=object)
    pieces[np.arange(len(prefixes)) + width * (starts[first:last] - lo)] = prefixes
    row_subject = np.repeat(np.arange(len(prefixes)), counts)
    base = row_subject + 1 + width * np.arange(m)
    block = result.timepoints.iloc[lo:hi]
    fields = _fields(TIMEPOINT_FIELDS, 8)
    fields[0] = "        {\n" + fields[0]
    for j, name in enumerate(TIMEPOINT_FIELDS):
        pieces[base + 2 * j] = fields[j] if j == 0 else ",\n" + fields[j]
        pieces[base + 2 * j + 1] = column_texts(block[name].to_numpy())
    last_row = np.zeros(m, dtype=bool)
    last_row[(starts[first + 1 : last + 1] - 1 - lo)[counts > 0]] = True
    pieces[base + 2 * k] = np.where(last_row, "\n        }\n      ]\n    }", "\n        },\n")
    return "".join(pieces.tolist())


def _subject_fields() -> tuple[str, ...]:
    from .readout import SUBJECT_FIELDS

    return SUBJECT_FIELDS


def _block_without_timepoints(first: int, texts: list[list[str]]) -> str:
    head = "    {\n" + ",\n".join(f"{f}%s" for f in _fields(_subject_fields(), 4)) + "\n    }"
    rows = [head % values for values in zip(*texts, strict=True)]
    return (",\n" if first else "") + ",\n".join(rows)


def iter_subjects_json(
    result: ReadoutResult, block: int = BLOCK, *, timepoints: bool = True
) -> Iterator[str]:
    """The text of ``"subjects"``'s list (from ``[`` to ``]``) in pieces; without each
    subject's ``timepoints`` when ``timepoints`` is false."""
    s, tp = result.subjects, result.timepoints
    n = len(s)
    if n == 0:
        yield "[]"
        return
    starts = np.searchsorted(tp["subj"].to_numpy(), np.arange(n + 1))
    yield "[\n"
    for first in range(0, n, block):
        last = min(first + block, n)
        texts = _subject_texts(s.iloc[first:last], _subject_fields())
        if timepoints:
            yield _block(result, starts, first, last, texts)
        else:
            yield _block_without_timepoints(first, texts)
    yield "\n  ]"


def iter_readout_json(result: ReadoutResult, *, timepoints: bool = True) -> Iterator[str]:
    """``json.dumps(result.to_dict(), indent=2, allow_nan=False)``, in pieces. Without
    ``timepoints``, each subject's ``"timepoints"`` is left out (``--no-timepoints``)."""
    head = result.to_dict_without_subjects()
    criteria = head.pop("criteria")
    yield '{\n  "criteria": ' + json.dumps(criteria) + ',\n  "subjects": '
    yield from iter_subjects_json(result, timepoints=timepoints)
    rest = json.dumps(head, indent=2, allow_nan=False)
    yield ",\n" + rest[2:] if head else "\n}"


def write_readout_json(result: ReadoutResult, out: IO[bytes], *, timepoints: bool = True) -> None:
    """Write the JSON document (ASCII) and a final newline to a binary stream."""
    for piece in iter_readout_json(result, timepoints=timepoints):
        out.write(piece.encode("ascii"))
    out.write(b"\n")
