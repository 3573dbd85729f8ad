"""Quality range (x̄_R ± k·s_R) and min–max range of the reference lots (biosimilar tier 2).

The decision rule "at least ``min_fraction`` of the test lots inside the range" must be fixed in the
protocol. Operating characteristics are poor with few reference lots (EMA reflection paper
EMA/CHMP/138502/2017): even with identical processes, "all test lots inside" fails often when n_R is
small, so the result reports the standardised difference (x̄_T − x̄_R)/s_R alongside the count.

References: FDA (2019, draft) Development of Therapeutic Protein Biosimilars: Comparative
Analytical Assessment; Yang, Novick & Burdick (2016) PDA J Pharm Sci Technol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vein2vein.core.provenance import Provenance
from vein2vein.stats.errors import DegenerateDataError, SmallSampleWarning, emit
from vein2vein.stats.inputs import as_sample, as_values, check_positive
from vein2vein.stats.results import StatResult, fmt, provenance

FEW_REFERENCE_LOTS = 10


@dataclass(frozen=True)
class RangeResult(StatResult):
    method: str  # "quality_range" | "min_max"
    lower: float
    upper: float
    k: float | None
    n_test: int
    n_reference: int
    n_inside: int
    fraction_inside: float
    min_fraction: float
    passed: bool
    inside: tuple[bool, ...]
    mean_test: float
    mean_reference: float
    sd_reference: float
    standardized_difference: float
    warnings: tuple[str, ...]
    provenance: Provenance

    def _summary_lines(self) -> list[str]:
        name = f"Quality range mean ± {self.k:g} SD" if self.k is not None else "Min-max range"
        return [
            f"{name} of {self.n_reference} reference lots: ({fmt(self.lower)}, {fmt(self.upper)})",
            f"Test lots inside: {self.n_inside}/{self.n_test} ({100 * self.fraction_inside:.1f}%); "
            f"required >= {100 * self.min_fraction:g}% -> {'PASS' if self.passed else 'FAIL'}",
            f"Standardised difference (mean_T - mean_R)/s_R = {fmt(self.standardized_difference)}",
        ]


def _range_result(
    method: str,
    lower: float,
    upper: float,
    k: float | None,
    x_t: np.ndarray,
    x_r: np.ndarray,
    min_fraction: float,
) -> RangeResult:
    if not 0 < min_fraction <= 1:
        raise DegenerateDataError(
            f"min_fraction must be in (0, 1], got {min_fraction!r}", field="min_fraction"
        )
    inside = (x_t >= lower) & (x_t <= upper)
    n_inside = int(inside.sum())
    fraction = n_inside / x_t.size
    s_r = float(np.std(x_r, ddof=1))
    warnings = []
    if x_r.size < FEW_REFERENCE_LOTS:
        warnings.append(
            emit(
                f"range built from {x_r.size} reference lots: its coverage is uncertain and "
                f"'all test lots inside' fails often even when nothing changed",
                SmallSampleWarning,
            )
        )
    return RangeResult(
        method=method,
        lower=float(lower),
        upper=float(upper),
        k=k,
        n_test=int(x_t.size),
        n_reference=int(x_r.size),
        n_inside=n_inside,
        fraction_inside=fraction,
        min_fraction=float(min_fraction),
        passed=bool(fraction >= min_fraction - 1e-12),
        inside=tuple(bool(v) for v in inside),
        mean_test=float(x_t.mean()),
        mean_reference=float(x_r.mean()),
        sd_reference=s_r,
        standardized_difference=float((x_t.mean() - x_r.mean()) / s_r),
        warnings=tuple(warnings),
        provenance=provenance(
            "quality range x_R ± k s_R" if k is not None else "min-max range of reference",
            {"k": k, "min_fraction": min_fraction},
            {"test": x_t, "reference": x_r},
        ),
    )


def quality_range(
    test: Any, reference: Any, *, k: float = 3.0, min_fraction: float = 1.0
) -> RangeResult:
    """Quality range x̄_R ± k·s_R (k = 3 by default; s_R with ddof = 1) and test lots inside it.

    Inclusive limits: a test lot exactly on a limit is inside.
    """
    check_positive(k, "k")
    x_r = as_sample(reference, "reference")
    x_t = as_values(test, "test", min_n=1)
    m, s = float(x_r.mean()), float(np.std(x_r, ddof=1))
    return _range_result("quality_range", m - k * s, m + k * s, float(k), x_t, x_r, min_fraction)


def minmax_range(test: Any, reference: Any, *, min_fraction: float = 1.0) -> RangeResult:
    """Range [min R, max R] of the reference lots and the test lots inside it (inclusive)."""
    x_r = as_sample(reference, "reference")
    x_t = as_values(test, "test", min_n=1)
    return _range_result(
        "min_max", float(x_r.min()), float(x_r.max()), None, x_t, x_r, min_fraction
    )
