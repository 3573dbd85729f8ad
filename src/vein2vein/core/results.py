"""The one result type of every computation whose numbers a person signs under.

A result is a frozen dataclass that inherits :class:`Result`: it holds the numbers, the method,
the options, the warnings raised while computing it and a
:class:`~vein2vein.core.provenance.Provenance` (method, options, input hash, library versions).
``to_dict`` gives the JSON-ready form (what ``--json`` prints and reports store); ``summary``
the plain text. Statistical results (``stats``), clinical readouts and scheduling plans all use
it (issue 9), so every such number carries how it was produced.

Values held by a result must not change after it is made: arrays are read-only
(:func:`frozen_array`), tables are read-only copies (:func:`frozen_frame`), collections are
tuples or read-only mappings (:func:`frozen_mapping`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from vein2vein.core.canonical import to_jsonable
from vein2vein.core.provenance import Provenance, library_versions, make_provenance


class Result:
    """Mixin for frozen result dataclasses: ``to_dict`` and ``summary``."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, Provenance | Result):
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


def digest_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs for a provenance hash: numpy arrays are replaced by the SHA-256 of their float64
    little-endian bytes (with shape), so hashing stays O(n) and cheap for 10^5-point series."""
    out: dict[str, Any] = {}
    for name, value in inputs.items():
        if type(value).__module__ == "numpy" and type(value).__name__ == "ndarray":
            import numpy as np

            arr = np.ascontiguousarray(value, dtype="<f8")
            out[name] = {
                "sha256_float64": hashlib.sha256(arr.tobytes()).hexdigest(),
                "shape": list(arr.shape),
            }
        else:
            out[name] = value
    return out


@lru_cache(maxsize=32)
def _versions(libraries: tuple[str, ...]) -> dict[str, str]:
    return library_versions(libraries)


def provenance(
    method: str,
    options: Mapping[str, Any],
    inputs: Mapping[str, Any],
    libraries: tuple[str, ...] = ("numpy", "scipy"),
) -> Provenance:
    """:func:`~vein2vein.core.provenance.make_provenance` with arrays digested by their bytes.

    Library versions are looked up once per process (reading package metadata costs about a
    millisecond per library, which dominated charts over long CPV series).
    """
    base = make_provenance(method, options, digest_inputs(inputs), libraries=())
    versions = dict(base.library_versions) | _versions(tuple(sorted(libraries)))
    return dataclasses.replace(base, library_versions=versions)


def frozen_array(values: Any, dtype: Any = float) -> Any:
    """A read-only numpy copy, so that results holding arrays stay immutable."""
    import numpy as np

    arr = np.array(values, dtype=dtype)
    arr.flags.writeable = False
    return arr


def frozen_mapping(values: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only view of a copy of ``values``."""
    return MappingProxyType(dict(values))


def frozen_frame(frame: Any) -> Any:
    """A read-only copy of a pandas DataFrame: every write into it (``.loc``, ``.iloc``,
    ``.at``, ``.iat``, ``frame[name] = ...``, in-place methods, a write through
    ``.to_numpy()``) raises ``ValueError``, with pandas' copy-on-write mode off, on or "warn".
    What is derived from it (selections, ``copy()``, ``drop``...) is an ordinary DataFrame.

    How, and why both layers are needed: :mod:`vein2vein.core.frames`. A holder that hands one
    frozen frame to several callers may give each a shallow copy (``frame.copy(deep=False)``:
    a new, writable frame object over the same read-only data, without copying it).
    """
    from vein2vein.core.frames import freeze

    return freeze(frame)
