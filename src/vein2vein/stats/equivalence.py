"""Equivalence of means by two one-sided tests (TOST; Schuirmann 1987).

Conventions (chosen where tools disagree; see docs/stats.md):

* The difference is **test − reference**; on the ratio scale the estimate is test / reference,
  computed on natural logs and back-transformed (as R ``equivalence::tost`` on ln values and
  statsmodels ``ttost_ind(..., transform=np.log)``).
* Welch's unequal-variance test is the default (as TOSTER and Minitab); ``variance="pooled"``
  reproduces statsmodels, pingouin and JMP. Welch degrees of freedom are not rounded.
* The lower-bound test has H0: Δ ≤ θ_L and an upper-tail p; the upper-bound test has H0: Δ ≥ θ_U
  and a lower-tail p. The TOST p-value is the **maximum** of the two, and equivalence is concluded
  when it is below α, which is the same as the central (1 − 2α) confidence interval lying strictly
  inside (θ_L, θ_U).

References: Schuirmann D.J. (1987) J Pharmacokinet Biopharm 15:657–680; FDA (2023, draft)
Manufacturing Changes and Comparability for Human Cellular and Gene Therapy Products;
Burdick et al. (2017) Statistical Applications for CMC, Springer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import optimize, stats

from vein2vein.core.provenance import Provenance
from vein2vein.stats.errors import (
    DegenerateDataError,
    DesignWarning,
    SmallSampleWarning,
    emit,
)
from vein2vein.stats.inputs import (
    as_positive,
    as_sample,
    as_values,
    check_positive,
    check_probability,
)
from vein2vein.stats.margins import Margin, Scale, check_scale, resolve_margin
from vein2vein.stats.results import StatResult, fmt, provenance

Variance = Literal["welch", "pooled"]
VARIANCES = ("welch", "pooled")
LOWER_TEST = "H0: difference <= lower bound vs H1: difference > lower bound (upper-tail p)"
UPPER_TEST = "H0: difference >= upper bound vs H1: difference < upper bound (lower-tail p)"
FEW_REFERENCE_LOTS = 6


@dataclass(frozen=True)
class TostResult(StatResult):
    """Outcome of a TOST. ``difference``, ``ci_low``, ``ci_high``, ``lower``, ``upper`` are on the
    reported scale (ratios when ``scale == 'ratio'``); ``se`` and the t statistics on the analysis
    scale (ln values for ratios)."""

    design: str  # "two-sample" | "paired" | "summary"
    scale: str
    variance: str  # "welch" | "pooled" | "paired"
    alpha: float
    confidence_level: float
    difference: float
    se: float
    df: float
    t_lower: float
    p_lower: float
    t_upper: float
    p_upper: float
    p_value: float
    ci_low: float
    ci_high: float
    equivalent: bool
    lower: float
    upper: float
    margin: Margin
    n_test: int
    n_reference: int
    mean_test: float
    mean_reference: float
    sd_test: float | None
    sd_reference: float | None
    sd_difference: float | None
    log_difference: float | None
    log_ci_low: float | None
    log_ci_high: float | None
    lower_test: str
    upper_test: str
    warnings: tuple[str, ...]
    provenance: Provenance

    def _summary_lines(self) -> list[str]:
        what = "ratio test/reference" if self.scale == "ratio" else "difference test - reference"
        pct = f"{100 * self.confidence_level:g}%"
        return [
            f"TOST equivalence ({self.design}, {self.variance} variance, {self.scale} scale)",
            f"n test = {self.n_test}, n reference = {self.n_reference}",
            f"Estimate ({what}): {fmt(self.difference)}; SE = {fmt(self.se)}, df = {fmt(self.df)}",
            f"Bounds: ({fmt(self.lower)}, {fmt(self.upper)})",
            f"Lower-bound test [{self.lower_test}]: "
            f"t = {fmt(self.t_lower)}, p = {fmt(self.p_lower)}",
            f"Upper-bound test [{self.upper_test}]: "
            f"t = {fmt(self.t_upper)}, p = {fmt(self.p_upper)}",
            f"TOST p = max = {fmt(self.p_value)}; "
            f"{pct} CI ({fmt(self.ci_low)}, {fmt(self.ci_high)})",
            f"Decision at alpha = {self.alpha:g}: "
            + ("EQUIVALENT" if self.equivalent else "equivalence NOT shown"),
        ]


def _check_variance(variance: str) -> str:
    if variance not in VARIANCES:
        raise DegenerateDataError(
            f"variance must be one of {VARIANCES}, got {variance!r}", field="variance"
        )
    return variance


def welch_df(var_t: float, n_t: int, var_r: float, n_r: int) -> float:
    """Welch–Satterthwaite degrees of freedom (not rounded)."""
    a, b = var_t / n_t, var_r / n_r
    return (a + b) ** 2 / (a * a / (n_t - 1) + b * b / (n_r - 1))


def _se_df(sd_t: float, n_t: int, sd_r: float, n_r: int, variance: str) -> tuple[float, float]:
    if variance == "welch":
        se = math.sqrt(sd_t**2 / n_t + sd_r**2 / n_r)
        if se == 0:
            raise DegenerateDataError("both arms have zero variance", field="test")
        return se, welch_df(sd_t**2, n_t, sd_r**2, n_r)
    df = n_t + n_r - 2
    sp2 = ((n_t - 1) * sd_t**2 + (n_r - 1) * sd_r**2) / df
    if sp2 == 0:
        raise DegenerateDataError("both arms have zero variance", field="test")
    return math.sqrt(sp2 * (1 / n_t + 1 / n_r)), float(df)


def min_half_width(n_test: int, n_reference: int, alpha: float, variance: str) -> float:
    """Smallest possible (1−2α) CI half-width in units of s_R, over every ratio s_T/s_R ≥ 0.

    With a margin of k·s_R estimated from the same reference lots, equivalence can never be
    concluded when this exceeds k (e.g. Welch, 3 vs 3 lots, k = 1.5).
    """
    n_t, n_r = n_test, n_reference
    if variance == "pooled":
        df = n_t + n_r - 2
        return float(
            stats.t.ppf(1 - alpha, df) * math.sqrt((n_r - 1) / df) * math.sqrt(1 / n_t + 1 / n_r)
        )

    def half(log_r: float) -> float:
        r2 = math.exp(2 * log_r)
        a, b = r2 / n_t, 1 / n_r
        df = (a + b) ** 2 / (a * a / (n_t - 1) + b * b / (n_r - 1))
        return float(stats.t.ppf(1 - alpha, df) * math.sqrt(a + b))

    grid = np.linspace(-8, 4, 241)
    values = [half(g) for g in grid]
    i = int(np.argmin(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best = optimize.minimize_scalar(half, bounds=(lo, hi), method="bounded")
    return float(min(best.fun, min(values), stats.t.ppf(1 - alpha, n_r - 1) / math.sqrt(n_r)))


def _design_warnings(margin: Margin, n_t: int, n_r: int, alpha: float, variance: str) -> list[str]:
    out: list[str] = []
    if not margin.estimated or margin.k is None:
        return out
    if variance in VARIANCES:
        smallest = min_half_width(n_t, n_r, alpha, variance)
        if smallest >= margin.k:
            out.append(
                emit(
                    f"this design can never conclude equivalence: with {variance} variance, "
                    f"{n_t} test and {n_r} reference lots the {100 * (1 - 2 * alpha):g}% CI "
                    f"half-width is at least {smallest:.4f} s_R, wider than the margin "
                    f"{margin.k:g} s_R; add reference lots (historical), use pooled variance if "
                    f"justified, or a paired split-source design",
                    DesignWarning,
                )
            )
    if n_r < FEW_REFERENCE_LOTS:
        out.append(
            emit(
                f"the margin {margin.k:g} x s_R rests on {n_r} reference lots "
                f"({n_r - 1} df): s_R is very uncertain and an estimated margin can push the "
                f"type I error above alpha; consider a fixed, justified margin or more lots",
                SmallSampleWarning,
            )
        )
    return out


def _tost_numbers(
    d: float, se: float, df: float, lo: float, hi: float, alpha: float
) -> dict[str, float | bool]:
    t_lower = (d - lo) / se
    t_upper = (d - hi) / se
    p_lower = float(stats.t.sf(t_lower, df))
    p_upper = float(stats.t.cdf(t_upper, df))
    q = float(stats.t.ppf(1 - alpha, df))
    p = max(p_lower, p_upper)
    return {
        "t_lower": float(t_lower),
        "p_lower": p_lower,
        "t_upper": float(t_upper),
        "p_upper": p_upper,
        "p_value": p,
        "ci_low": d - q * se,
        "ci_high": d + q * se,
        "equivalent": bool(p < alpha),
    }


def _finish(
    *,
    design: str,
    scale: str,
    variance: str,
    alpha: float,
    d: float,
    se: float,
    df: float,
    margin: Margin,
    counts: tuple[int, int],
    means: tuple[float, float],
    sds: tuple[float | None, float | None, float | None],
    warnings: list[str],
    method: str,
    options: dict[str, Any],
    inputs: Any,
) -> TostResult:
    lo, hi = margin.analysis_bounds
    nums = _tost_numbers(d, se, df, lo, hi, alpha)
    ratio = scale == "ratio"
    back = math.exp if ratio else (lambda v: v)
    return TostResult(
        design=design,
        scale=scale,
        variance=variance,
        alpha=alpha,
        confidence_level=1 - 2 * alpha,
        difference=back(d),
        se=se,
        df=float(df),
        t_lower=float(nums["t_lower"]),
        p_lower=float(nums["p_lower"]),
        t_upper=float(nums["t_upper"]),
        p_upper=float(nums["p_upper"]),
        p_value=float(nums["p_value"]),
        ci_low=back(float(nums["ci_low"])),
        ci_high=back(float(nums["ci_high"])),
        equivalent=bool(nums["equivalent"]),
        lower=margin.lower,
        upper=margin.upper,
        margin=margin,
        n_test=counts[0],
        n_reference=counts[1],
        mean_test=means[0],
        mean_reference=means[1],
        sd_test=sds[0],
        sd_reference=sds[1],
        sd_difference=sds[2],
        log_difference=d if ratio else None,
        log_ci_low=float(nums["ci_low"]) if ratio else None,
        log_ci_high=float(nums["ci_high"]) if ratio else None,
        lower_test=LOWER_TEST,
        upper_test=UPPER_TEST,
        warnings=tuple(warnings),
        provenance=provenance(method, options, inputs),
    )


def _analysis_values(x: Any, name: str, scale: str, *, need_spread: bool = False) -> np.ndarray:
    if scale == "ratio":
        return as_sample(np.log(as_positive(x, name, min_n=2)), name, need_spread=need_spread)
    return as_sample(x, name, need_spread=need_spread)


def tost(
    test: Any,
    reference: Any,
    *,
    margin: float | Margin | None = None,
    lower: float | None = None,
    upper: float | None = None,
    margin_sd: float | None = None,
    variance: Variance = "welch",
    paired: bool = False,
    scale: Scale = "difference",
    alpha: float = 0.05,
) -> TostResult:
    """Two one-sided tests of equivalence of test and reference means.

    Parameters
    ----------
    test, reference
        Lot values of the post-change (test) and pre-change (reference) arms. With ``paired=True``
        they are matched element by element (split-apheresis: the same donor in both arms).
    margin, lower/upper, margin_sd
        Exactly one: a symmetric margin (±M; on the ratio scale 1/M..M), explicit bounds, or the
        multiplier k of an estimated margin k·s_R from the reference values.
    variance
        ``"welch"`` (default) or ``"pooled"``; ignored when paired.
    scale
        ``"difference"`` (test − reference) or ``"ratio"`` (test / reference, on ln values).
    alpha
        Level of each one-sided test; the interval reported is the (1 − 2α) CI.
    """
    check_scale(scale)
    alpha = check_probability(alpha, "alpha")
    if alpha >= 0.5:
        raise DegenerateDataError(f"alpha must be below 0.5, got {alpha:g}", field="alpha")
    if paired:
        return _tost_paired(test, reference, margin, lower, upper, margin_sd, scale, alpha)
    _check_variance(variance)
    x_t = _analysis_values(test, "test", scale)
    x_r = _analysis_values(reference, "reference", scale)
    m = resolve_margin(
        margin=margin,
        lower=lower,
        upper=upper,
        margin_sd=margin_sd,
        scale=scale,
        reference=reference if margin_sd is not None else None,
    )
    n_t, n_r = int(x_t.size), int(x_r.size)
    sd_t, sd_r = float(np.std(x_t, ddof=1)), float(np.std(x_r, ddof=1))
    se, df = _se_df(sd_t, n_t, sd_r, n_r, variance)
    d = float(x_t.mean() - x_r.mean())
    warnings = _design_warnings(m, n_t, n_r, alpha, variance)
    return _finish(
        design="two-sample",
        scale=scale,
        variance=variance,
        alpha=alpha,
        d=d,
        se=se,
        df=df,
        margin=m,
        counts=(n_t, n_r),
        means=(float(x_t.mean()), float(x_r.mean())),
        sds=(sd_t, sd_r, None),
        warnings=warnings,
        method=f"TOST two independent samples ({variance}; Schuirmann 1987)",
        options={
            "scale": scale,
            "variance": variance,
            "alpha": alpha,
            "margin": m.describe(),
        },
        inputs={"test": x_t, "reference": x_r},
    )


def _tost_paired(
    test: Any,
    reference: Any,
    margin: float | Margin | None,
    lower: float | None,
    upper: float | None,
    margin_sd: float | None,
    scale: str,
    alpha: float,
) -> TostResult:
    x_t = _analysis_values(test, "test", scale)
    x_r = _analysis_values(reference, "reference", scale)
    if x_t.size != x_r.size:
        raise DegenerateDataError(
            f"paired samples need equal lengths, got {x_t.size} test and {x_r.size} reference",
            field="test",
        )
    diffs = as_sample(x_t - x_r, "paired differences")
    m = resolve_margin(
        margin=margin,
        lower=lower,
        upper=upper,
        margin_sd=margin_sd,
        scale=scale,  # type: ignore[arg-type]
        reference=reference if margin_sd is not None else None,
    )
    n = int(diffs.size)
    sd_d = float(np.std(diffs, ddof=1))
    se = sd_d / math.sqrt(n)
    warnings = _design_warnings(m, n, n, alpha, "paired")
    return _finish(
        design="paired",
        scale=scale,
        variance="paired",
        alpha=alpha,
        d=float(diffs.mean()),
        se=se,
        df=float(n - 1),
        margin=m,
        counts=(n, n),
        means=(float(x_t.mean()), float(x_r.mean())),
        sds=(float(np.std(x_t, ddof=1)), float(np.std(x_r, ddof=1)), sd_d),
        warnings=warnings,
        method="TOST paired samples (split-source; Schuirmann 1987)",
        options={"scale": scale, "alpha": alpha, "margin": m.describe()},
        inputs={"test": x_t, "reference": x_r},
    )


def tost_from_summary(
    mean_test: float,
    sd_test: float,
    n_test: int,
    mean_reference: float,
    sd_reference: float,
    n_reference: int,
    *,
    margin: float | Margin | None = None,
    lower: float | None = None,
    upper: float | None = None,
    margin_sd: float | None = None,
    variance: Variance = "welch",
    scale: Scale = "difference",
    alpha: float = 0.05,
) -> TostResult:
    """TOST from summary statistics (as CDMO clients often supply them; TOSTER ``tsum_TOST``).

    On the ratio scale give the mean and SD of the **natural-log** values of each arm.
    """
    check_scale(scale)
    alpha = check_probability(alpha, "alpha")
    _check_variance(variance)
    for value, name in ((mean_test, "mean_test"), (mean_reference, "mean_reference")):
        as_values([value], name)
    for value, name in ((sd_test, "sd_test"), (sd_reference, "sd_reference")):
        if not (math.isfinite(value) and value >= 0):
            raise DegenerateDataError(
                f"{name} must be a finite number >= 0, got {value!r}", field=name
            )
    for value, name in ((n_test, "n_test"), (n_reference, "n_reference")):
        if int(value) != value or value < 2:
            raise DegenerateDataError(f"{name} must be an integer >= 2, got {value!r}", field=name)
    n_t, n_r = int(n_test), int(n_reference)
    m = resolve_margin(
        margin=margin,
        lower=lower,
        upper=upper,
        margin_sd=margin_sd,
        scale=scale,
        sd_reference=sd_reference if margin_sd is not None else None,
        n_reference=n_r,
    )
    if margin_sd is not None:
        check_positive(sd_reference, "sd_reference")
    se, df = _se_df(sd_test, n_t, sd_reference, n_r, variance)
    warnings = _design_warnings(m, n_t, n_r, alpha, variance)
    summary = {
        "mean_test": mean_test,
        "sd_test": sd_test,
        "n_test": n_t,
        "mean_reference": mean_reference,
        "sd_reference": sd_reference,
        "n_reference": n_r,
    }
    return _finish(
        design="summary",
        scale=scale,
        variance=variance,
        alpha=alpha,
        d=float(mean_test - mean_reference),
        se=se,
        df=df,
        margin=m,
        counts=(n_t, n_r),
        means=(float(mean_test), float(mean_reference)),
        sds=(float(sd_test), float(sd_reference), None),
        warnings=warnings,
        method=f"TOST from summary statistics ({variance}; Schuirmann 1987)",
        options={
            "scale": scale,
            "variance": variance,
            "alpha": alpha,
            "margin": m.describe(),
        },
        inputs=summary,
    )
