"""Growth kinetics of a cell expansion (process development).

* Fold expansion FE = N_t/N₀; over a culture with splits the cumulative FE is Π N_harvest,i /
  N_seeded,i (each step's cells harvested over the cells put back at the previous split).
* Population doublings PD = log₂(N_t/N₀), computed as ``log2`` exactly, not 3.32·log₁₀
  (ATCC's 3.32 is a rounding of 1/log₁₀2 = 3.3219…).
* Cumulative population doubling level PDL = PDL₀ + Σ log₂(N_harvest,i/N_seeded,i).
* Doubling time DT = Δt/PD = ln 2/μ with specific growth rate μ = ln(N_t/N₀)/Δt.
* Log-linear fit over the exponential window: ln N = a + μt by ordinary least squares; the
  standard error of μ̂ is the OLS one, and DT = ln 2/μ̂ (with a delta-method SE). With splits the
  fit uses the cumulative (virtual) population N₀·Π FE.

References: ATCC Animal Cell Culture Guide (PDL); Roth V. (2006) Doubling Time Computing,
http://www.doubling-time.com; Sherley, Stadler & Stadler (1995) Cell Prolif 28:137–144.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from vein2vein.core.provenance import Provenance
from vein2vein.stats.errors import (
    DegenerateDataError,
    InsufficientDataError,
    SmallSampleWarning,
    emit,
)
from vein2vein.stats.inputs import as_positive, as_values, check_positive
from vein2vein.stats.results import StatResult, fmt, provenance


def fold_expansion(n0: float, nt: float) -> float:
    """N_t/N₀."""
    return check_positive(nt, "nt") / check_positive(n0, "n0")


def population_doublings(n0: float, nt: float) -> float:
    """log₂(N_t/N₀) (negative when the population shrank)."""
    return math.log2(fold_expansion(n0, nt))


def doubling_time(n0: float, nt: float, elapsed: float) -> float:
    """Δt/log₂(N_t/N₀), in the unit of ``elapsed``; raises when the population did not grow."""
    check_positive(elapsed, "elapsed")
    pd = population_doublings(n0, nt)
    if pd <= 0:
        raise DegenerateDataError(
            f"the population did not grow (N_t/N_0 = {nt / n0:g}); doubling time is undefined",
            field="nt",
        )
    return elapsed / pd


def cumulative_doublings(seeded: Any, harvested: Any, pdl0: float = 0.0) -> float:
    """PDL₀ + Σ log₂(harvested_i/seeded_i) over the culture steps."""
    s = as_positive(seeded, "seeded")
    h = as_positive(harvested, "harvested")
    if s.size != h.size:
        raise DegenerateDataError(
            "seeded and harvested need one value per step each", field="seeded"
        )
    return float(pdl0 + np.sum(np.log2(h / s)))


@dataclass(frozen=True)
class GrowthFit(StatResult):
    rate: float  # μ per time unit
    rate_se: float
    rate_ci: tuple[float, float]
    doubling_time: float | None
    doubling_time_se: float | None
    intercept: float
    r_squared: float | None
    n: int
    window: tuple[float, float]
    warnings: tuple[str, ...]
    provenance: Provenance

    def _summary_lines(self) -> list[str]:
        return [
            f"Log-linear growth fit over t in [{fmt(self.window[0])}, {fmt(self.window[1])}] "
            f"({self.n} points): mu = {fmt(self.rate)} (SE {fmt(self.rate_se)}) per time unit",
            f"Doubling time = {fmt(self.doubling_time)} (SE {fmt(self.doubling_time_se)})",
        ]


def growth_rate_fit(
    time: Any, cells: Any, *, window: tuple[float, float] | None = None, confidence: float = 0.95
) -> GrowthFit:
    """OLS of ln(cells) on time within ``window`` (inclusive; all points by default)."""
    t = as_values(time, "time", min_n=2)
    n = as_positive(cells, "cells", min_n=2)
    if t.size != n.size:
        raise DegenerateDataError("time and cells need the same length", field="time")
    lo, hi = (float(t.min()), float(t.max())) if window is None else window
    if not lo < hi:
        raise DegenerateDataError(
            f"window start {lo:g} must be before its end {hi:g}", field="window"
        )
    keep = (t >= lo) & (t <= hi)
    tw, yw = t[keep], np.log(n[keep])
    if tw.size < 2 or np.ptp(tw) == 0:
        raise InsufficientDataError(
            f"the window [{lo:g}, {hi:g}] holds {tw.size} distinct time points; need at least 2",
            field="window",
        )
    fit = stats.linregress(tw, yw)
    df = tw.size - 2
    warnings: list[str] = []
    if df == 0:
        se, ci = 0.0, (float(fit.slope), float(fit.slope))
        warnings.append(emit("two points: the rate has no standard error", SmallSampleWarning))
    else:
        se = float(fit.stderr)
        q = float(stats.t.ppf(1 - (1 - confidence) / 2, df))
        ci = (float(fit.slope - q * se), float(fit.slope + q * se))
    mu = float(fit.slope)
    dt = math.log(2) / mu if mu > 0 else None
    dt_se = math.log(2) * se / mu**2 if mu > 0 else None
    return GrowthFit(
        rate=mu,
        rate_se=se,
        rate_ci=ci,
        doubling_time=dt,
        doubling_time_se=dt_se,
        intercept=float(fit.intercept),
        r_squared=float(fit.rvalue**2) if df > 0 else None,
        n=int(tw.size),
        window=(lo, hi),
        warnings=tuple(warnings),
        provenance=provenance(
            "log-linear OLS growth-rate fit",
            {"window": (lo, hi), "confidence": confidence},
            {"time": tw, "ln_cells": yw},
        ),
    )


@dataclass(frozen=True)
class KineticsResult(StatResult):
    time: tuple[float, ...]
    viable_cells: tuple[float, ...]
    seeded_cells: tuple[float, ...] | None
    step_fold_expansion: tuple[float, ...]
    step_doublings: tuple[float, ...]
    step_doubling_time: tuple[float | None, ...]
    fold_expansion: float
    doublings: float
    cumulative_doublings: tuple[float, ...]
    elapsed: float
    doubling_time: float | None
    fit: GrowthFit
    warnings: tuple[str, ...]
    provenance: Provenance

    def _summary_lines(self) -> list[str]:
        return [
            f"Cumulative fold expansion = {fmt(self.fold_expansion)}; population doublings = "
            f"{fmt(self.doublings)} over {fmt(self.elapsed)} time units",
            f"Overall doubling time = {fmt(self.doubling_time)}",
            *self.fit._summary_lines(),
        ]


def expansion_kinetics(
    time: Any,
    viable_cells: Any,
    seeded_cells: Any = None,
    *,
    window: tuple[float, float] | None = None,
) -> KineticsResult:
    """Kinetics of serial counts. ``viable_cells[i]`` is the count at ``time[i]``;
    ``seeded_cells[i]`` (optional) the cells put back into culture after that count (full
    re-seed when omitted), so step i's fold expansion is viable[i]/seeded[i−1]."""
    t = as_values(time, "time_h", min_n=2)
    v = as_positive(viable_cells, "viable_cells", min_n=2)
    if t.size != v.size:
        raise DegenerateDataError("time and viable_cells need the same length", field="time_h")
    if np.any(np.diff(t) <= 0):
        i = int(np.flatnonzero(np.diff(t) <= 0)[0]) + 2
        raise DegenerateDataError(f"time must increase strictly (position {i})", field="time_h")
    if seeded_cells is None:
        s = v.copy()
    else:
        s = as_positive(seeded_cells, "seeded_cells", min_n=2)
        if s.size != v.size:
            raise DegenerateDataError("seeded_cells needs one value per row", field="seeded_cells")
    step_fe = v[1:] / s[:-1]
    step_pd = np.log2(step_fe)
    dts = np.diff(t)
    step_dt = tuple(float(d / p) if p > 0 else None for d, p in zip(dts, step_pd, strict=True))
    cum_pd = np.concatenate(([0.0], np.cumsum(step_pd)))
    total_pd = float(cum_pd[-1])
    virtual = v[0] * np.exp2(cum_pd)
    fit = growth_rate_fit(t, virtual, window=window)
    elapsed = float(t[-1] - t[0])
    return KineticsResult(
        time=tuple(map(float, t)),
        viable_cells=tuple(map(float, v)),
        seeded_cells=None if seeded_cells is None else tuple(map(float, s)),
        step_fold_expansion=tuple(map(float, step_fe)),
        step_doublings=tuple(map(float, step_pd)),
        step_doubling_time=step_dt,
        fold_expansion=float(np.prod(step_fe)),
        doublings=total_pd,
        cumulative_doublings=tuple(map(float, cum_pd)),
        elapsed=elapsed,
        doubling_time=elapsed / total_pd if total_pd > 0 else None,
        fit=fit,
        warnings=fit.warnings,
        provenance=provenance(
            "expansion kinetics (log2 doublings, log-linear fit)",
            {"window": window},
            {"time": t, "viable": v, "seeded": s},
        ),
    )
