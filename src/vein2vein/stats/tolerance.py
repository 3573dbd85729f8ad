"""Normal, lognormal and nonparametric tolerance intervals (specification setting).

A (P, γ) tolerance interval contains at least a proportion P (coverage) of the population with
confidence γ. Normal intervals are x̄ ± k·s with ν = n − 1 degrees of freedom (or a pooled ν).

Two-sided factors:

* ``exact`` (default) — Odeh (1978); Krishnamoorthy & Mathew (2009) eq. 2.3.5; Witkovský (2014):
  k solves √(2n/π) ∫₀^∞ P(χ²_ν > ν·χ²_{1,P}(z²)/k²) e^{−nz²/2} dz = γ, where χ²_{1,P}(λ) is the
  P-quantile of a noncentral χ² with 1 df and noncentrality λ. Gauss–Legendre quadrature and a
  bracketing root search.
* ``howe`` — Howe (1969), as printed by NIST/SEMATECH e-Handbook 7.2.6.3 (R ``tolerance``
  method ``"HE2"``): k = z_{(1+P)/2} √(ν(1 + 1/n)/χ²_{1−γ;ν}).
* ``guenther`` — Howe's factor times Guenther's (1977) correction
  w = √(1 + (n − 3 − χ²_{1−γ;ν})/(2(n+1)²)).

One-sided factor: exact, k₁ = t'_{γ;ν,δ}/√n with δ = z_P√n (noncentral t quantile). Natrella's
approximation is not offered: it fails for n ≲ 10 at high confidence.

Nonparametric (distribution-free) limits use the sample extremes and need a minimum n:
one-sided 1 − P^n ≥ γ; two-sided 1 − nP^{n−1} + (n−1)P^n ≥ γ (Wilks 1941).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import optimize, special, stats

from vein2vein.core.provenance import Provenance
from vein2vein.stats.errors import (
    ApproximationWarning,
    ConvergenceError,
    DegenerateDataError,
    InsufficientDataError,
    SmallSampleWarning,
    emit,
)
from vein2vein.stats.inputs import as_positive, as_sample, check_positive, check_probability
from vein2vein.stats.results import StatResult, fmt, provenance

Sides = Literal["two", "lower", "upper"]
SIDES = ("two", "lower", "upper")
TWO_SIDED_METHODS = ("exact", "howe", "guenther")
FEW_LOTS = 6
APPROXIMATION_TOLERANCE = 0.01  # warn when Howe/Guenther is more than 1% away from exact
_NODES = 128


@dataclass(frozen=True)
class ToleranceResult(StatResult):
    """``lower``/``upper`` are None for the side a one-sided interval does not bound. With
    ``log=True`` ``mean`` and ``sd`` are of the ln values and the limits are back-transformed."""

    k: float
    lower: float | None
    upper: float | None
    n: int
    mean: float
    sd: float
    df: float
    coverage: float
    confidence: float
    sides: str
    method: str
    log: bool
    warnings: tuple[str, ...]
    provenance: Provenance

    def _summary_lines(self) -> list[str]:
        kind = "lognormal" if self.log else "normal"
        return [
            f"{self.sides}-sided {kind} tolerance interval, coverage {self.coverage:g}, "
            f"confidence {self.confidence:g} ({self.method} factor)",
            f"n = {self.n}, mean = {fmt(self.mean)}, SD = {fmt(self.sd)}, df = {fmt(self.df)}, "
            f"k = {fmt(self.k)}",
            f"Interval: ({fmt(self.lower)}, {fmt(self.upper)})",
        ]


@dataclass(frozen=True)
class NonparametricToleranceResult(StatResult):
    lower: float | None
    upper: float | None
    n: int
    min_n: int
    coverage: float
    confidence: float
    achieved_confidence: float
    sides: str
    warnings: tuple[str, ...]
    provenance: Provenance

    def _summary_lines(self) -> list[str]:
        return [
            f"{self.sides}-sided nonparametric tolerance interval (sample extremes), coverage "
            f"{self.coverage:g}: ({fmt(self.lower)}, {fmt(self.upper)})",
            f"n = {self.n} (minimum {self.min_n}); "
            f"achieved confidence {self.achieved_confidence:.4f}",
        ]


def _check_n_nu(n: int, nu: float | None) -> float:
    if int(n) != n or n < 2:
        raise InsufficientDataError(f"n must be an integer >= 2, got {n!r}", field="n")
    df = float(n - 1 if nu is None else nu)
    return check_positive(df, "nu")


def _exact_two_sided(n: int, nu: float, coverage: float, confidence: float) -> float:
    x, w = special.roots_legendre(_NODES)
    z_max = 10.0 / math.sqrt(n)
    z = (x + 1) * z_max / 2
    weights = w * z_max / 2 * math.sqrt(2 * n / math.pi) * np.exp(-n * z * z / 2)
    q = stats.ncx2.ppf(coverage, 1, z * z)

    def gap(k: float) -> float:
        return float(np.sum(weights * stats.chi2.sf(nu * q / (k * k), nu))) - confidence

    lo = stats.norm.ppf((1 + coverage) / 2) * 0.5
    hi = howe_factor(n, coverage, confidence, nu) * 3
    if gap(lo) > 0 or gap(hi) < 0:
        raise ConvergenceError(f"exact tolerance factor not bracketed for n={n}")
    return float(optimize.brentq(gap, lo, hi, xtol=1e-12, rtol=1e-12))


def howe_factor(n: int, coverage: float, confidence: float, nu: float) -> float:
    z = stats.norm.ppf((1 + coverage) / 2)
    chi = stats.chi2.ppf(1 - confidence, nu)
    return float(z * math.sqrt(nu * (1 + 1 / n) / chi))


def k_two_sided(
    n: int,
    coverage: float = 0.99,
    confidence: float = 0.95,
    *,
    method: str = "exact",
    nu: float | None = None,
) -> float:
    """Two-sided normal tolerance factor k (central interval x̄ ± k·s)."""
    coverage = check_probability(coverage, "coverage")
    confidence = check_probability(confidence, "confidence")
    df = _check_n_nu(n, nu)
    if method == "exact":
        return _exact_two_sided(int(n), df, coverage, confidence)
    if method == "howe":
        return howe_factor(int(n), coverage, confidence, df)
    if method == "guenther":
        chi = stats.chi2.ppf(1 - confidence, df)
        w = math.sqrt(1 + (n - 3 - chi) / (2 * (n + 1) ** 2))
        return howe_factor(int(n), coverage, confidence, df) * w
    raise DegenerateDataError(
        f"method must be one of {TWO_SIDED_METHODS}, got {method!r}", field="method"
    )


def k_one_sided(
    n: int, coverage: float = 0.99, confidence: float = 0.95, *, nu: float | None = None
) -> float:
    """One-sided normal tolerance factor, exact: noncentral-t quantile t'_{γ;ν,z_P√n}/√n."""
    coverage = check_probability(coverage, "coverage")
    confidence = check_probability(confidence, "confidence")
    df = _check_n_nu(n, nu)
    delta = stats.norm.ppf(coverage) * math.sqrt(n)
    return float(stats.nct.ppf(confidence, df, delta) / math.sqrt(n))


def tolerance_from_summary(
    n: int,
    mean: float,
    sd: float,
    *,
    coverage: float = 0.99,
    confidence: float = 0.95,
    sides: Sides = "two",
    method: str = "exact",
    nu: float | None = None,
    log: bool = False,
    _inputs: Any = None,
) -> ToleranceResult:
    """Normal tolerance interval from n, mean and SD (of ln values when ``log``)."""
    if sides not in SIDES:
        raise DegenerateDataError(f"sides must be one of {SIDES}, got {sides!r}", field="sides")
    if not math.isfinite(mean):
        raise DegenerateDataError(f"mean must be finite, got {mean!r}", field="mean")
    check_positive(sd, "sd")
    df = _check_n_nu(n, nu)
    if sides == "two":
        k = k_two_sided(n, coverage, confidence, method=method, nu=nu)
    else:
        if method != "exact":
            raise DegenerateDataError(
                "one-sided factors are exact (noncentral t) only", field="method"
            )
        k = k_one_sided(n, coverage, confidence, nu=nu)
    back = math.exp if log else float
    lower = back(mean - k * sd) if sides in ("two", "lower") else None
    upper = back(mean + k * sd) if sides in ("two", "upper") else None
    warnings = []
    if sides == "two" and method != "exact":
        exact = k_two_sided(n, coverage, confidence, method="exact", nu=nu)
        gap = k / exact - 1
        if abs(gap) > APPROXIMATION_TOLERANCE:
            warnings.append(
                emit(
                    f"the {method} factor differs from the exact factor by {100 * gap:+.1f}% at "
                    f"n = {n} (exact k = {exact:.4f}); prefer method='exact'",
                    ApproximationWarning,
                )
            )
    if n < FEW_LOTS:
        warnings.append(
            emit(
                f"tolerance interval from {n} values: k = {k:.3f}, the interval is very wide "
                f"and a specification set from it is uninformative; consider pooled historical "
                f"variance (nu) or clinical experience",
                SmallSampleWarning,
            )
        )
    options = {
        "coverage": coverage,
        "confidence": confidence,
        "sides": sides,
        "method": method,
        "nu": df,
        "log": log,
    }
    return ToleranceResult(
        k=k,
        lower=lower,
        upper=upper,
        n=int(n),
        mean=float(mean),
        sd=float(sd),
        df=df,
        coverage=coverage,
        confidence=confidence,
        sides=sides,
        method=method,
        log=log,
        warnings=tuple(warnings),
        provenance=provenance(
            f"{'lognormal' if log else 'normal'} tolerance interval, {method} factor",
            options,
            _inputs if _inputs is not None else {"n": n, "mean": mean, "sd": sd},
        ),
    )


def tolerance_interval(
    data: Any,
    *,
    coverage: float = 0.99,
    confidence: float = 0.95,
    sides: Sides = "two",
    method: str = "exact",
    nu: float | None = None,
    log: bool = False,
) -> ToleranceResult:
    """Normal (or, with ``log=True``, lognormal) tolerance interval of ``data``."""
    x = np.log(as_positive(data, "data", min_n=2)) if log else as_sample(data, "data")
    x = as_sample(x, "data")
    return tolerance_from_summary(
        int(x.size),
        float(x.mean()),
        float(np.std(x, ddof=1)),
        coverage=coverage,
        confidence=confidence,
        sides=sides,
        method=method,
        nu=nu,
        log=log,
        _inputs={"data": x},
    )


def nonparametric_confidence(n: int, coverage: float, sides: str) -> float:
    """Confidence that the sample extremes cover ≥ ``coverage`` (Wilks 1941)."""
    if sides == "two":
        return float(1 - n * coverage ** (n - 1) + (n - 1) * coverage**n)
    return float(1 - coverage**n)


def nonparametric_min_n(
    coverage: float = 0.95, confidence: float = 0.95, sides: Sides = "two"
) -> int:
    """Smallest n for which the sample min/max (two-sided) or one extreme is a (P, γ) limit."""
    coverage = check_probability(coverage, "coverage")
    confidence = check_probability(confidence, "confidence")
    if sides not in SIDES:
        raise DegenerateDataError(f"sides must be one of {SIDES}, got {sides!r}", field="sides")
    if sides != "two":
        return math.ceil(math.log(1 - confidence) / math.log(coverage) - 1e-12)
    n = 2
    while nonparametric_confidence(n, coverage, "two") < confidence:
        n += 1
    return n


def nonparametric_tolerance_interval(
    data: Any, *, coverage: float = 0.95, confidence: float = 0.95, sides: Sides = "two"
) -> NonparametricToleranceResult:
    """Distribution-free tolerance limits from the sample extremes; raises below the minimum n."""
    needed = nonparametric_min_n(coverage, confidence, sides)
    x = as_sample(data, "data", min_n=1, need_spread=False)
    if x.size < needed:
        raise InsufficientDataError(
            f"a {sides}-sided nonparametric tolerance interval with coverage {coverage:g} and "
            f"confidence {confidence:g} needs at least {needed} values, got {x.size}",
            field="data",
        )
    return NonparametricToleranceResult(
        lower=float(x.min()) if sides in ("two", "lower") else None,
        upper=float(x.max()) if sides in ("two", "upper") else None,
        n=int(x.size),
        min_n=needed,
        coverage=coverage,
        confidence=confidence,
        achieved_confidence=nonparametric_confidence(int(x.size), coverage, sides),
        sides=sides,
        warnings=(),
        provenance=provenance(
            "nonparametric tolerance interval (extreme order statistics; Wilks 1941)",
            {"coverage": coverage, "confidence": confidence, "sides": sides},
            {"data": x},
        ),
    )
