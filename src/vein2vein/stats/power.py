"""Power and sample size of the TOST.

* **Fixed margin** — exact power. With the pooled (or paired) test the statistic d is normal and
  s² is σ²χ²_ν/ν independent of d, so
  P(pass) = E_s[ Φ((θ_U − δ − t·s·c)/(σ c)) − Φ((θ_L − δ + t·s·c)/(σ c)) ]₊,
  the bivariate noncentral-t (Owen's Q) form of Phillips (1990), evaluated by Gauss–Legendre
  quadrature over the χ² probability scale. With Welch the degrees of freedom depend on both
  sample variances, so the same conditional probability is integrated over the two independent χ²
  variables (2-D quadrature). Both are deterministic; quadrature error < 1e-6 for the sizes
  here.
* **Margin estimated as k·s_R** — the margin is random and correlated with the test statistic, so
  power is obtained by seeded Monte Carlo simulation of the sufficient statistics (x̄ and s² of
  each arm drawn from their exact normal and χ² distributions). The seed and the Monte Carlo
  standard error are reported.

References: Phillips K.F. (1990) J Pharmacokinet Biopharm 18:137–144 (power of TOST);
Burdick et al. (2017) Statistical Applications for CMC, ch. 5; Schuirmann (1987).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from vein2vein.core.provenance import Provenance
from vein2vein.stats.errors import DegenerateDataError, InsufficientDataError
from vein2vein.stats.inputs import check_bounds, check_positive, check_probability
from vein2vein.stats.results import StatResult, fmt, provenance

DESIGNS = ("welch", "pooled", "paired")
_NODES = 96


@dataclass(frozen=True)
class PowerResult(StatResult):
    power: float
    n_test: int
    n_reference: int
    sigma_test: float
    sigma_reference: float
    true_difference: float
    lower: float | None
    upper: float | None
    margin_k: float | None
    alpha: float
    variance: str
    method: str  # "exact" | "simulation"
    n_sim: int | None
    seed: int | None
    mc_se: float | None
    warnings: tuple[str, ...]
    provenance: Provenance

    def _summary_lines(self) -> list[str]:
        margin = (
            f"estimated {fmt(self.margin_k)} x s_R"
            if self.margin_k is not None
            else f"({fmt(self.lower)}, {fmt(self.upper)})"
        )
        lines = [
            f"TOST power ({self.method}, {self.variance}): {self.power:.4f}",
            f"n test = {self.n_test}, n reference = {self.n_reference}, margin {margin}",
            f"sigma test = {fmt(self.sigma_test)}, sigma reference = {fmt(self.sigma_reference)}, "
            f"true difference = {fmt(self.true_difference)}, alpha = {self.alpha:g}",
        ]
        if self.method == "simulation":
            lines.append(f"{self.n_sim} simulations, seed {self.seed}, MC SE {self.mc_se:.4f}")
        return lines


@dataclass(frozen=True)
class SampleSizeResult(StatResult):
    n_test: int
    n_reference: int
    power: float
    target_power: float
    power_curve: tuple[tuple[int, int, float], ...]
    warnings: tuple[str, ...]
    provenance: Provenance

    def _summary_lines(self) -> list[str]:
        return [
            f"Smallest design reaching power {self.target_power:g}: n test = {self.n_test}, "
            f"n reference = {self.n_reference} (power {self.power:.4f})",
        ]


def _chi2_nodes(df: float) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes u (χ²_df/df values) and weights summing to 1."""
    x, w = special.roots_legendre(_NODES)
    p = (x + 1) / 2
    return stats.chi2.ppf(p, df) / df, w / 2


def _conditional_pass(
    delta: float,
    sd_d: float,
    se_scale: np.ndarray,
    df: np.ndarray | float,
    lo: float,
    hi: float,
    alpha: float,
) -> np.ndarray:
    """P(pass | sample variances): se_scale is the realised SE; d ~ N(delta, sd_d²)."""
    q = stats.t.ppf(1 - alpha, df)
    upper = (hi - q * se_scale - delta) / sd_d
    lower = (lo + q * se_scale - delta) / sd_d
    return np.asarray(np.clip(stats.norm.cdf(upper) - stats.norm.cdf(lower), 0.0, 1.0))


def _exact_power(
    n_t: int,
    n_r: int,
    s_t: float,
    s_r: float,
    delta: float,
    lo: float,
    hi: float,
    alpha: float,
    variance: str,
) -> float:
    if variance == "paired":
        # s_t is then the SD of the paired differences
        sd_d = s_t / math.sqrt(n_t)
        u, w = _chi2_nodes(n_t - 1)
        se = sd_d * np.sqrt(u)
        return float(np.sum(w * _conditional_pass(delta, sd_d, se, n_t - 1, lo, hi, alpha)))
    sd_d = math.sqrt(s_t**2 / n_t + s_r**2 / n_r)
    if variance == "pooled":
        df = n_t + n_r - 2
        u_t, w_t = _chi2_nodes(n_t - 1)
        u_r, w_r = _chi2_nodes(n_r - 1)
        vt = s_t**2 * u_t[:, None]
        vr = s_r**2 * u_r[None, :]
        sp2 = ((n_t - 1) * vt + (n_r - 1) * vr) / df
        se = np.sqrt(sp2 * (1 / n_t + 1 / n_r))
        cond = _conditional_pass(delta, sd_d, se, df, lo, hi, alpha)
        return float(np.sum(w_t[:, None] * w_r[None, :] * cond))
    u_t, w_t = _chi2_nodes(n_t - 1)
    u_r, w_r = _chi2_nodes(n_r - 1)
    a = s_t**2 * u_t[:, None] / n_t
    b = s_r**2 * u_r[None, :] / n_r
    se = np.sqrt(a + b)
    df_w = (a + b) ** 2 / (a * a / (n_t - 1) + b * b / (n_r - 1))
    cond = _conditional_pass(delta, sd_d, se, df_w, lo, hi, alpha)
    return float(np.sum(w_t[:, None] * w_r[None, :] * cond))


def _simulated_power(
    n_t: int,
    n_r: int,
    s_t: float,
    s_r: float,
    delta: float,
    k: float,
    alpha: float,
    variance: str,
    n_sim: int,
    seed: int,
) -> float:
    rng = np.random.default_rng(seed)
    mean_t = rng.normal(delta, s_t / math.sqrt(n_t), n_sim)
    mean_r = rng.normal(0.0, s_r / math.sqrt(n_r), n_sim)
    var_t = s_t**2 * rng.chisquare(n_t - 1, n_sim) / (n_t - 1)
    var_r = s_r**2 * rng.chisquare(n_r - 1, n_sim) / (n_r - 1)
    if variance == "pooled":
        df: np.ndarray | float = float(n_t + n_r - 2)
        sp2 = ((n_t - 1) * var_t + (n_r - 1) * var_r) / (n_t + n_r - 2)
        se = np.sqrt(sp2 * (1 / n_t + 1 / n_r))
    else:
        a, b = var_t / n_t, var_r / n_r
        se = np.sqrt(a + b)
        df = (a + b) ** 2 / (a * a / (n_t - 1) + b * b / (n_r - 1))
    half = stats.t.ppf(1 - alpha, df) * se
    d = mean_t - mean_r
    theta = k * np.sqrt(var_r)
    return float(np.mean((d - half > -theta) & (d + half < theta)))


def tost_power(
    n_test: int,
    n_reference: int | None = None,
    *,
    sigma: float,
    sigma_reference: float | None = None,
    margin: float | None = None,
    lower: float | None = None,
    upper: float | None = None,
    margin_sd: float | None = None,
    true_difference: float = 0.0,
    alpha: float = 0.05,
    variance: str = "welch",
    n_sim: int = 100_000,
    seed: int = 20240601,
) -> PowerResult:
    """Probability that the TOST concludes equivalence.

    ``sigma`` is the SD of the test arm (of the paired differences when ``variance='paired'``);
    ``sigma_reference`` defaults to ``sigma``. Give a fixed margin (``margin`` or ``lower`` and
    ``upper``) for the exact power, or ``margin_sd`` = k for a margin k·s_R estimated from the
    reference lots (seeded simulation; not available for paired designs).
    """
    if variance not in DESIGNS:
        raise DegenerateDataError(
            f"variance must be one of {DESIGNS}, got {variance!r}", field="variance"
        )
    alpha = check_probability(alpha, "alpha")
    n_r = n_test if n_reference is None else n_reference
    for value, name in ((n_test, "n_test"), (n_r, "n_reference")):
        if int(value) != value or value < 2:
            raise InsufficientDataError(
                f"{name} must be an integer >= 2, got {value!r}", field=name
            )
    if variance == "paired" and n_r != n_test:
        raise DegenerateDataError("a paired design has equal n in both arms", field="n_reference")
    s_t = check_positive(sigma, "sigma")
    s_r = check_positive(sigma if sigma_reference is None else sigma_reference, "sigma_reference")
    fixed = margin is not None or lower is not None or upper is not None
    if fixed == (margin_sd is not None):
        raise DegenerateDataError("give either a fixed margin or margin_sd", field="margin")
    options = {
        "n_test": n_test,
        "n_reference": n_r,
        "sigma": s_t,
        "sigma_reference": s_r,
        "true_difference": true_difference,
        "alpha": alpha,
        "variance": variance,
    }
    if fixed:
        if margin is not None:
            lo, hi = -check_positive(margin, "margin"), float(margin)
        else:
            if lower is None or upper is None:
                raise DegenerateDataError("give both lower and upper", field="lower")
            check_bounds(lower, upper, "lower", "upper")
            lo, hi = float(lower), float(upper)
        power = _exact_power(
            int(n_test), int(n_r), s_t, s_r, true_difference, lo, hi, alpha, variance
        )
        return PowerResult(
            power=power,
            n_test=int(n_test),
            n_reference=int(n_r),
            sigma_test=s_t,
            sigma_reference=s_r,
            true_difference=true_difference,
            lower=lo,
            upper=hi,
            margin_k=None,
            alpha=alpha,
            variance=variance,
            method="exact",
            n_sim=None,
            seed=None,
            mc_se=None,
            warnings=(),
            provenance=provenance(
                "TOST power, exact (Phillips 1990; quadrature over the chi-square distribution)",
                options | {"lower": lo, "upper": hi},
                options | {"lower": lo, "upper": hi},
            ),
        )
    if variance == "paired":
        raise DegenerateDataError(
            "simulated power with an estimated margin is for independent arms", field="variance"
        )
    k = check_positive(margin_sd, "margin_sd")  # type: ignore[arg-type]
    if n_sim < 1000:
        raise DegenerateDataError("n_sim must be at least 1000", field="n_sim")
    power = _simulated_power(
        int(n_test), int(n_r), s_t, s_r, true_difference, k, alpha, variance, int(n_sim), int(seed)
    )
    return PowerResult(
        power=power,
        n_test=int(n_test),
        n_reference=int(n_r),
        sigma_test=s_t,
        sigma_reference=s_r,
        true_difference=true_difference,
        lower=None,
        upper=None,
        margin_k=k,
        alpha=alpha,
        variance=variance,
        method="simulation",
        n_sim=int(n_sim),
        seed=int(seed),
        mc_se=math.sqrt(max(power * (1 - power), 1e-12) / n_sim),
        warnings=(),
        provenance=provenance(
            "TOST power with margin k*s_R, seeded Monte Carlo of sufficient statistics",
            options | {"margin_sd": k, "n_sim": n_sim, "seed": seed},
            options | {"margin_sd": k, "n_sim": n_sim, "seed": seed},
        ),
    )


def tost_sample_size(
    *,
    target_power: float = 0.8,
    reference_ratio: float = 1.0,
    n_reference: int | None = None,
    max_n: int = 500,
    **power_kwargs: object,
) -> SampleSizeResult:
    """Smallest n_test (n_reference = ceil(ratio · n_test), or fixed ``n_reference``) with power ≥
    target. ``power_kwargs`` are passed to :func:`tost_power` (sigma, margin, …)."""
    target = check_probability(target_power, "target_power")
    check_positive(reference_ratio, "reference_ratio")
    curve: list[tuple[int, int, float]] = []
    for n_t in range(2, max_n + 1):
        n_r = n_reference if n_reference is not None else max(2, math.ceil(reference_ratio * n_t))
        if power_kwargs.get("variance") == "paired":
            n_r = n_t
        res = tost_power(n_t, n_r, **power_kwargs)  # type: ignore[arg-type]
        curve.append((n_t, n_r, res.power))
        if res.power >= target:
            return SampleSizeResult(
                n_test=n_t,
                n_reference=n_r,
                power=res.power,
                target_power=target,
                power_curve=tuple(curve),
                warnings=res.warnings,
                provenance=provenance(
                    "TOST sample size by search over n",
                    {
                        "target_power": target,
                        "reference_ratio": reference_ratio,
                        "n_reference": n_reference,
                    }
                    | dict(res.provenance.options),
                    {"curve": curve},
                ),
            )
    raise InsufficientDataError(
        f"power {target:g} is not reached with up to {max_n} test lots (last power "
        f"{curve[-1][2]:.4f}); the margin may be too narrow for the true difference",
        field="target_power",
    )
