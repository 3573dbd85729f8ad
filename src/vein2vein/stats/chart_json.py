"""The JSON of a control chart, written without a Python object per point (issue 15).

:func:`chart_json` returns exactly the text of ``json.dumps(result.to_dict(), indent=2,
allow_nan=False)``, which ``v2v stats chart --json`` has printed since issue 4, for a fraction of
the time on long CPV series: ``to_dict`` builds a dictionary per point and ``json`` writes
indented text in pure Python (about 2 µs a point).

How: the chart's small fields (limits, signals' labels, provenance...) go through ``json`` as a
skeleton in which each per-point array stands as a placeholder; the arrays are written by orjson
straight from numpy and spliced in at the placeholder's indentation. orjson and ``repr`` give the
same shortest round-trip digits but not always the same notation: orjson writes
1e-9 <= |x| < 1e-4 without an exponent (``0.00001`` for ``1e-05``) and non-finite numbers as
``null`` where ``to_dict`` has strings; those few numbers are written by ``json`` instead. The
points (index, value, rules, phase and the EWMA / CUSUM series) are joined from per-point byte
strings: the same two or three constant pieces for every unflagged point, built text only for
the flagged ones. The tests compare both writers on every chart type.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import numpy as np
import orjson

from vein2vein.core.canonical import to_jsonable
from vein2vein.core.provenance import Provenance
from vein2vein.core.results import Result

_TOKEN = "@@v2v-array-{}@@"
_TOKEN_RE = re.compile(r'"@@v2v-array-(\d+)@@"')
# ChartPoint.to_dict writes these series, in this order, after index, value, rules and phase.
_POINT_SERIES = ("observation", "lcl", "ucl", "cusum_upper", "cusum_lower")
_ARRAY_FIELDS = ("values", "flags", "series")


def chart_json(result: Any) -> bytes:
    """``json.dumps(result.to_dict(), indent=2, allow_nan=False)`` of a
    :class:`~vein2vein.stats.charts.ControlChartResult`, as ASCII bytes."""
    return b"".join(chart_json_parts(result))


def chart_json_parts(result: Any) -> list[bytes]:
    """:func:`chart_json` in pieces, to be written one after the other (joining them would copy
    the whole text once more)."""
    if not set(result.series) <= set(_POINT_SERIES):
        return [_reference(result)]
    arrays: list[Any] = []
    text = json.dumps(_skeleton(result, arrays), indent=2, allow_nan=False)
    pieces = _TOKEN_RE.split(text)
    if sorted(map(int, pieces[1::2])) != list(range(len(arrays))):
        return [_reference(result)]  # a string of the result looks like a placeholder
    out = [pieces[0].encode("ascii")]
    done: dict[tuple[int, int], bytes] = {}  # the MR chart is written twice (secondary, mr)
    for k in range(1, len(pieces), 2):
        before = pieces[k - 1][pieces[k - 1].rfind("\n") + 1 :]
        indent = len(before) - len(before.lstrip(" "))
        array = arrays[int(pieces[k])]
        if array is None:
            out += _points(result, indent)
        else:
            if (id(array), indent) not in done:
                done[id(array), indent] = _numbers(array, indent)
            out.append(done[id(array), indent])
        out.append(pieces[k + 1].encode("ascii"))
    return out


def _reference(result: Any) -> bytes:
    return json.dumps(result.to_dict(), indent=2, allow_nan=False).encode("ascii")


def _placeholder(arrays: list[Any], array: Any) -> str:
    arrays.append(array)
    return _TOKEN.format(len(arrays) - 1)


def _skeleton(result: Any, arrays: list[Any]) -> dict[str, Any]:
    """``result.to_dict()`` with placeholders for the points and every long number array."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(result):
        if f.name in _ARRAY_FIELDS:
            continue
        value = getattr(result, f.name)
        if f.name == "secondary" and value is not None:
            out[f.name] = _secondary(value, arrays)
        elif f.name == "signals":
            out[f.name] = {label: _placeholder(arrays, idx) for label, idx in value.items()}
        elif isinstance(value, Provenance | Result):
            out[f.name] = value.to_dict()
        else:
            out[f.name] = to_jsonable(value)
    out["points"] = _placeholder(arrays, None)
    if result.secondary is not None:
        out[result.secondary.name.lower()] = _secondary(result.secondary, arrays)
    return out


def _secondary(chart: Any, arrays: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(chart):
        value = getattr(chart, f.name)
        if f.name in ("values", "beyond"):
            out[f.name] = _placeholder(arrays, value)
        else:
            out[f.name] = to_jsonable(value)
    return out


def _number_list(array: np.ndarray) -> bytes:
    """The numbers of a 1-D array as ``json`` writes them, comma-separated without spaces."""
    array = np.ascontiguousarray(array)
    if array.dtype.kind == "f":
        array = array.astype(np.float64, copy=False)
        text = orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
        odd = ~np.isfinite(array) | ((array != 0) & (np.abs(array) < 1e-4))
        if odd.any():
            items = text.split(b",")
            for i in np.flatnonzero(odd).tolist():
                items[i] = json.dumps(to_jsonable(float(array[i]))).encode("ascii")
            text = b",".join(items)
        return text
    if array.dtype.kind in "iub":
        return orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
    return json.dumps(to_jsonable(array.tolist()), separators=(",", ":")).encode("ascii")[1:-1]


def _numbers(numbers: Any, indent: int) -> bytes:
    """An indented JSON list of numbers whose key line is indented by ``indent`` spaces."""
    array = np.asarray(numbers)
    if array.size == 0:
        return b"[]"
    inner = b"\n" + b" " * (indent + 2)
    body = _number_list(array).replace(b",", b"," + inner)
    return b"[" + inner + body + b"\n" + b" " * indent + b"]"


_HEADS: dict[int, list[bytes]] = {}
_KEEP_HEADS = 200_000  # points whose heads are kept between charts (about 16 MB)


def _heads(n: int, indent: int) -> list[bytes]:
    """Per point, what comes before its value: the end of the previous point, the opening brace,
    the index and the ``"value":`` key (kept for the next chart of a run, up to a size)."""
    cached = _HEADS.get(indent, [])
    if len(cached) >= n:
        return cached[:n]
    item, key = " " * (indent + 2), " " * (indent + 4)
    opening = f'\n{item}{{\n{key}"index": '.encode("ascii")
    closing = f"\n{item}}},".encode("ascii")
    value_key = f',\n{key}"value": '.encode("ascii")
    heads = [opening + b"1" + value_key]
    heads += [closing + opening + b"%d" % i + value_key for i in range(2, n + 1)]
    if n <= _KEEP_HEADS:
        _HEADS[indent] = heads
    return heads


def _points(result: Any, indent: int) -> list[bytes]:
    """The ``points`` list of ``ControlChartResult.to_dict`` (see ``ChartPoint.to_dict``), in
    three pieces."""
    values = np.asarray(result.values)
    n = values.size
    if n == 0:
        return [b"[]"]
    item, key = " " * (indent + 2), " " * (indent + 4)
    phase1 = min(result.phase1, n)
    tails: dict[tuple[tuple[str, ...], str], bytes] = {}

    def tail(rules: tuple[str, ...], phase: str) -> bytes:
        if (rules, phase) not in tails:
            listed = ",".join(f"\n{key}  {json.dumps(r)}" for r in rules)
            shown = f"[{listed}\n{key}]" if rules else "[]"
            text = f',\n{key}"rules": {shown},\n{key}"phase": "{phase}"'
            tails[rules, phase] = text.encode("ascii")
        return tails[rules, phase]

    ends = [tail((), "II")] * n
    ends[:phase1] = [tail((), "I")] * phase1
    broken: dict[int, tuple[str, ...]] = {}
    for label, flags in result.flags.items():  # in rule order, as ChartPoint.rules
        for i in np.flatnonzero(flags).tolist():
            broken[i] = (*broken.get(i, ()), label)
    for i, rules in broken.items():
        ends[i] = tail(rules, "I" if i < phase1 else "II")
    columns: list[list[bytes]] = [_heads(n, indent), _number_list(values).split(b","), ends]
    for name in _POINT_SERIES:
        if name in result.series:
            columns.append([f',\n{key}"{name}": '.encode("ascii")] * n)
            columns.append(_number_list(np.asarray(result.series[name])).split(b","))
    parts: list[bytes] = [b""] * (len(columns) * n)
    for j, column in enumerate(columns):
        parts[j :: len(columns)] = column
    return [b"[", b"".join(parts), f"\n{item}}}\n{' ' * indent}]".encode("ascii")]
