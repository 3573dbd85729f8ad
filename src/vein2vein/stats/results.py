"""Statistical results: the house result type (:mod:`vein2vein.core.results`) under the names the
``stats`` modules use, and the number format of their summaries."""

from __future__ import annotations

from vein2vein.core.results import Result as StatResult
from vein2vein.core.results import digest_inputs, frozen_array, provenance

__all__ = ["StatResult", "digest_inputs", "fmt", "frozen_array", "provenance"]


def fmt(value: float | None, digits: int = 6) -> str:
    """Number for a summary line: ``g`` format, ``n/a`` for an undefined quantity."""
    return "n/a" if value is None else f"{value:.{digits}g}"
