"""Canonical JSON: one byte string per value, used for hashes (audit chain, signatures, results).

Keys are sorted, no insignificant white space, UTF-8. Floats use ``repr`` (shortest round-trip),
decimals and dates their ISO/str forms, so the same logical value always hashes the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
import math
import uuid
from decimal import Decimal
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Convert ``value`` into plain JSON types, deterministically."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_jsonable(v) for v in value]
        if isinstance(value, set | frozenset):
            items.sort(key=lambda x: json.dumps(x, sort_keys=True))
        return items
    if isinstance(value, bytes):
        return value.hex()
    # numpy / pandas without importing them eagerly
    mod = type(value).__module__
    if mod.startswith("numpy") and hasattr(value, "tolist"):
        return to_jsonable(value.tolist())
    if mod.startswith("pandas"):
        if hasattr(value, "to_dict") and hasattr(value, "columns"):
            return {
                "columns": [str(c) for c in value.columns],
                "data": to_jsonable(value.to_numpy().tolist()),
                "index": to_jsonable(list(value.index)),
            }
        if hasattr(value, "tolist"):
            return to_jsonable(value.tolist())
        if hasattr(value, "isoformat"):
            return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__} canonically")


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        to_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def sha256_hex(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value`` (bytes are hashed as they are)."""
    data = value if isinstance(value, bytes) else canonical_json(value)
    return hashlib.sha256(data).hexdigest()
