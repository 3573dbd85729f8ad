"""Equivalence acceptance criteria (margins) and where they came from.

A margin is either fixed (bounds agreed before the study) or estimated from the reference arm as
``k * s_R`` (the biosimilar tier-1 convention, k = 1.5; Yang, Novick & Burdick 2016). An estimated
margin is random: the result records s_R, n_R and its degrees of freedom so a reviewer can judge it.

On the ratio scale margins are ratios (test / reference); the analysis works on natural logs, so a
ratio bound ``b`` is ``ln b`` internally and ``k * s_R`` is computed from the SD of ln values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from vein2vein.core.provenance import Provenance
from vein2vein.stats.errors import DegenerateDataError
from vein2vein.stats.inputs import as_positive, as_sample, check_bounds, check_positive
from vein2vein.stats.results import StatResult, fmt, provenance

Scale = Literal["difference", "ratio"]
SCALES = ("difference", "ratio")
DEFAULT_K = 1.5


@dataclass(frozen=True)
class Margin(StatResult):
    """Equivalence bounds on the reported scale (differences, or ratios on the ratio scale)."""

    lower: float
    upper: float
    scale: str
    source: str  # "bounds" | "symmetric" | "k_sd_reference"
    k: float | None = None
    sd_reference: float | None = None  # on the analysis scale (ln values on the ratio scale)
    n_reference: int | None = None
    df_reference: int | None = None
    provenance: Provenance | None = None

    @property
    def analysis_bounds(self) -> tuple[float, float]:
        """Bounds on the analysis scale (ln of the ratio bounds on the ratio scale)."""
        if self.scale == "ratio":
            return math.log(self.lower), math.log(self.upper)
        return self.lower, self.upper

    def describe(self) -> dict[str, Any]:
        """The margin's numbers and source without its provenance (for options records)."""
        return {k: v for k, v in self.to_dict().items() if k != "provenance"}

    @property
    def estimated(self) -> bool:
        return self.source == "k_sd_reference"

    def _summary_lines(self) -> list[str]:
        line = f"Margin ({self.scale}): ({fmt(self.lower)}, {fmt(self.upper)}) from {self.source}"
        if self.estimated:
            line += (
                f"; k = {fmt(self.k)} x s_R = {fmt(self.sd_reference)} "
                f"(n_R = {self.n_reference}, df = {self.df_reference})"
            )
        return [line]


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise DegenerateDataError(f"scale must be one of {SCALES}, got {scale!r}", field="scale")
    return scale


def margin_from_bounds(lower: float, upper: float, scale: Scale = "difference") -> Margin:
    """Fixed bounds (θ_L, θ_U); on the ratio scale both must be > 0 and are ratios."""
    check_scale(scale)
    check_bounds(lower, upper, "lower", "upper")
    if scale == "ratio":
        check_positive(lower, "lower")
        if not lower < 1.0 < upper:
            raise DegenerateDataError(
                f"ratio bounds must enclose 1, got ({lower:g}, {upper:g})", field="lower"
            )
    elif not lower < 0.0 < upper:
        raise DegenerateDataError(
            f"difference bounds must enclose 0, got ({lower:g}, {upper:g})", field="lower"
        )
    return Margin(lower=float(lower), upper=float(upper), scale=scale, source="bounds")


def symmetric_margin(margin: float, scale: Scale = "difference") -> Margin:
    """±margin on the difference scale; (1/margin, margin) on the ratio scale (margin > 1)."""
    check_scale(scale)
    check_positive(margin, "margin")
    if scale == "ratio":
        if margin <= 1.0:
            raise DegenerateDataError(
                f"a ratio margin must be > 1 (it gives 1/margin .. margin), got {margin:g}",
                field="margin",
            )
        return Margin(lower=1.0 / margin, upper=float(margin), scale=scale, source="symmetric")
    return Margin(lower=-float(margin), upper=float(margin), scale=scale, source="symmetric")


def margin_from_reference(
    reference: Any, k: float = DEFAULT_K, scale: Scale = "difference"
) -> Margin:
    """Margin ±k·s_R estimated from the reference lots (biosimilar tier-1 EAC, k = 1.5 default).

    s_R is the sample SD (ddof = 1) of the reference values, of their natural logs on the ratio
    scale. The margin is a random quantity; its type I error can exceed α (Burdick et al. 2017).
    """
    check_scale(scale)
    check_positive(k, "k")
    ref = as_positive(reference, "reference", min_n=2) if scale == "ratio" else None
    values = np.log(ref) if ref is not None else as_sample(reference, "reference")
    if scale == "ratio":
        values = as_sample(values, "reference (ln values)")
    s_r = float(np.std(values, ddof=1))
    half = k * s_r
    lower, upper = (math.exp(-half), math.exp(half)) if scale == "ratio" else (-half, half)
    n = int(values.size)
    return Margin(
        lower=lower,
        upper=upper,
        scale=scale,
        source="k_sd_reference",
        k=float(k),
        sd_reference=s_r,
        n_reference=n,
        df_reference=n - 1,
        provenance=provenance(
            "equivalence margin k * s_R (biosimilar tier-1 EAC)",
            {"k": k, "scale": scale},
            {"reference": values},
        ),
    )


def margin_from_sd(
    sd_reference: float, n_reference: int, k: float = DEFAULT_K, scale: Scale = "difference"
) -> Margin:
    """Margin ±k·s_R from a reference SD given as a summary statistic (ln-scale SD for ratios)."""
    check_scale(scale)
    check_positive(sd_reference, "sd_reference")
    check_positive(k, "k")
    half = k * sd_reference
    lower, upper = (math.exp(-half), math.exp(half)) if scale == "ratio" else (-half, half)
    return Margin(
        lower=lower,
        upper=upper,
        scale=scale,
        source="k_sd_reference",
        k=float(k),
        sd_reference=float(sd_reference),
        n_reference=int(n_reference),
        df_reference=int(n_reference) - 1,
        provenance=provenance(
            "equivalence margin k * s_R (biosimilar tier-1 EAC) from summary statistics",
            {"k": k, "scale": scale},
            {"sd_reference": sd_reference, "n_reference": n_reference},
        ),
    )


def resolve_margin(
    *,
    margin: float | Margin | None,
    lower: float | None,
    upper: float | None,
    margin_sd: float | None,
    scale: Scale,
    reference: Any = None,
    sd_reference: float | None = None,
    n_reference: int | None = None,
) -> Margin:
    """Exactly one of ``margin``, ``lower``+``upper`` or ``margin_sd`` (k of k·s_R)."""
    given = sum(x is not None for x in (margin, margin_sd)) + (
        lower is not None or upper is not None
    )
    if given != 1:
        raise DegenerateDataError(
            "give exactly one margin: margin=M, lower=L and upper=U, or margin_sd=K", field="margin"
        )
    if isinstance(margin, Margin):
        if margin.scale != scale:
            raise DegenerateDataError(
                f"margin is on the {margin.scale} scale but the test is on the {scale} scale",
                field="margin",
            )
        return margin
    if margin is not None:
        return symmetric_margin(margin, scale)
    if margin_sd is not None:
        if reference is not None:
            return margin_from_reference(reference, margin_sd, scale)
        if sd_reference is None or n_reference is None:
            raise DegenerateDataError("margin_sd needs the reference SD and n", field="margin_sd")
        return margin_from_sd(sd_reference, n_reference, margin_sd, scale)
    if lower is None or upper is None:
        raise DegenerateDataError(
            "give both lower and upper bounds", field="lower" if lower is None else "upper"
        )
    return margin_from_bounds(lower, upper, scale)
