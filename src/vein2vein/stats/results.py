"""Common behaviour of result objects: ``to_dict`` (JSON-ready) and ``summary`` (plain text).

Result classes are frozen dataclasses that inherit :class:`StatResult`; each carries the numbers,
the method, the options, the warnings raised while computing it and a
:class:`~vein2vein.core.provenance.Provenance`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from functools import lru_cache
from typing import Any

import numpy as np

from vein2vein.core.canonical import to_jsonable
from vein2vein.core.provenance import Provenance, library_versions, make_provenance


class StatResult:
    """Mixin for frozen result dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, Provenance | StatResult):
                out[f.name] = value.to_dict()
            else:
                out[f.name] = to_jsonable(value)
        return out

    def _summary_lines(self) -> list[str]:
        raise NotImplementedError

    def summary(self) -> str:
        lines = self._summary_lines()
        warnings = getattr(self, "warnings", ())
        if warnings:
            lines.append("Warnings:")
            lines.extend(f"  - {w}" for w in warnings)
        provenance = getattr(self, "provenance", None)
        if isinstance(provenance, Provenance):
            lines.append(provenance.summary())
        return "\n".join(lines)


def digest_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Inputs for a provenance hash: numpy arrays are replaced by the SHA-256 of their float64
    little-endian bytes (with shape), so hashing stays O(n) and cheap for 10^5-point series."""
    out: dict[str, Any] = {}
    for name, value in inputs.items():
        if isinstance(value, np.ndarray):
            arr = np.ascontiguousarray(value, dtype="<f8")
            out[name] = {
                "sha256_float64": hashlib.sha256(arr.tobytes()).hexdigest(),
                "shape": list(arr.shape),
            }
        else:
            out[name] = value
    return out


def provenance(
    method: str,
    options: dict[str, Any],
    inputs: dict[str, Any],
    libraries: tuple[str, ...] = ("numpy", "scipy"),
) -> Provenance:
    """:func:`~vein2vein.core.provenance.make_provenance` with arrays digested by their bytes.

    Library versions are looked up once per process (reading package metadata costs about a
    millisecond per library, which dominated charts over long CPV series).
    """
    base = make_provenance(method, options, digest_inputs(inputs), libraries=())
    versions = dict(base.library_versions) | _versions(tuple(sorted(libraries)))
    return dataclasses.replace(base, library_versions=versions)


@lru_cache(maxsize=32)
def _versions(libraries: tuple[str, ...]) -> dict[str, str]:
    return library_versions(libraries)


def frozen_array(values: Any, dtype: Any = float) -> np.ndarray:
    """A read-only copy, so that results holding arrays stay immutable."""
    arr = np.array(values, dtype=dtype)
    arr.flags.writeable = False
    return arr


def fmt(value: float | None, digits: int = 6) -> str:
    """Number for a summary line: ``g`` format, ``n/a`` for an undefined quantity."""
    return "n/a" if value is None else f"{value:.{digits}g}"
