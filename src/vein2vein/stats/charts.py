"""Shewhart (I-MR, X̄-R, X̄-S), EWMA and tabular CUSUM control charts with phase I / phase II.

* **I-MR** (one value per lot): CL = x̄; limits x̄ ± k·σ̂ with σ̂ = MR̄/d₂(2) by default
  (NIST e-Handbook 6.3.2.2; Minitab, JMP, qcc), median(MR)/0.954 (``median_mr``) or s/c₄(N)
  (``sd``). MR chart: CL = d₂σ̂, UCL = D₄·d₂σ̂, LCL = D₃·d₂σ̂ (so CL = MR̄ and UCL = D₄·MR̄ for the
  default).
* **X̄-R / X̄-S**: limits x̿ ± k·σ̂/√n with σ̂ = R̄/d₂(n) or S̄/c₄(n); R chart D₃R̄..D₄R̄, S chart
  B₃S̄..B₄S̄ (Montgomery, Introduction to SQC, ch. 6).
* **EWMA**: z_i = λx_i + (1−λ)z_{i−1}, z₀ = μ₀; limits μ₀ ± Lσ√(λ/(2−λ)·(1 − (1−λ)^{2i}))
  (NIST 6.3.2.4; Montgomery ch. 9).
* **Tabular CUSUM**: C⁺_i = max(0, x_i − μ₀ − K + C⁺_{i−1}), C⁻_i = max(0, μ₀ − K − x_i + C⁻_{i−1})
  with K = kσ, H = hσ; a signal is C > H (strict, like every other limit here) unless
  ``inclusive=True`` (C ≥ H). Computed in O(n) as a Lindley recursion: C_i = S_i − min_{j≤i} S_j.

Phase I: limits are estimated from the first ``phase1`` points (all points by default), frozen, and
applied to every point; run rules are evaluated against the frozen limits. ``center`` and ``sigma``
give known standards instead. Constants are exact unless ``tabled=True`` (3-decimal tables, as qcc
and Minitab).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from vein2vein.core.canonical import to_jsonable
from vein2vein.core.provenance import Provenance
from vein2vein.stats import rules as rr
from vein2vein.stats.constants import c4, chart_constants, median_mr_constant
from vein2vein.stats.errors import (
    DegenerateDataError,
    SmallSampleWarning,
    emit,
)
from vein2vein.stats.inputs import as_groups, as_values, check_positive
from vein2vein.stats.results import StatResult, fmt, frozen_array, provenance

IMR_SIGMA_METHODS = ("mr", "median_mr", "sd")
SIGMA_LABELS = {"mr": "MR-bar/d2", "median_mr": "median MR/0.954", "sd": "s/c4"}
FEW_PHASE1 = 20


@dataclass(frozen=True)
class ChartPoint:
    index: int  # 1-based
    value: float  # the plotted statistic
    rules: tuple[str, ...]
    phase: str  # "I" (used for the limits) or "II"
    observation: float | None = None  # EWMA / CUSUM: the raw value
    lcl: float | None = None  # per-point limits (EWMA)
    ucl: float | None = None
    cusum_upper: float | None = None
    cusum_lower: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "index": self.index,
            "value": self.value,
            "rules": list(self.rules),
            "phase": self.phase,
        }
        for name in ("observation", "lcl", "ucl", "cusum_upper", "cusum_lower"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


@dataclass(frozen=True, eq=False)
class SecondaryChart:
    """Dispersion chart (MR, R or S): values by point and points above the UCL / below the LCL."""

    name: str
    center: float
    lcl: float
    ucl: float
    values: np.ndarray  # read-only
    first_index: int  # 1-based index of the first value (2 for MR)
    beyond: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)  # type: ignore[no-any-return]


@dataclass(frozen=True, eq=False)
class ControlChartResult(StatResult):
    """A control chart. Per-point data are kept as read-only arrays (``values``, ``flags`` per
    rule, ``series`` for EWMA limits or CUSUM sums) so long CPV series stay cheap; ``points``
    builds the per-point view (1-based index, value, every rule broken) on first use."""

    chart: str  # "imr" | "xbar-r" | "xbar-s" | "ewma" | "cusum"
    center: float
    lcl: float
    ucl: float
    sigma: float  # process sigma (within)
    sigma_method: str
    k: float
    subgroup_size: int
    phase1: int  # number of points (subgroups) the limits were estimated from; 0 = given
    values: np.ndarray
    flags: dict[str, np.ndarray]
    series: dict[str, np.ndarray]
    secondary: SecondaryChart | None
    rule_set: str
    rule_descriptions: dict[str, str]
    signals: dict[str, tuple[int, ...]]
    parameters: dict[str, float]
    constants: dict[str, float]
    warnings: tuple[str, ...]
    provenance: Provenance

    @cached_property
    def points(self) -> tuple[ChartPoint, ...]:
        per_point = rr.flags_per_point(self.flags, self.values.size)
        extra = {name: arr.tolist() for name, arr in self.series.items()}
        return tuple(
            ChartPoint(
                index=i + 1,
                value=v,
                rules=tuple(per_point[i]),
                phase="I" if i < self.phase1 else "II",
                **{name: vals[i] for name, vals in extra.items()},
            )
            for i, v in enumerate(self.values.tolist())
        )

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        for name in ("values", "flags", "series"):
            out.pop(name)
        out["points"] = [p.to_dict() for p in self.points]
        if self.secondary is not None:
            out["secondary"] = self.secondary.to_dict()
            out[self.secondary.name.lower()] = out["secondary"]
        return out

    @property
    def flagged(self) -> tuple[int, ...]:
        """1-based indices of points that break at least one rule."""
        if not self.flags:
            return ()
        any_flag = np.logical_or.reduce(list(self.flags.values()))
        return tuple(int(i) + 1 for i in np.flatnonzero(any_flag))

    def _summary_lines(self) -> list[str]:
        lines = [
            f"{self.chart.upper()} chart: CL = {fmt(self.center)}, LCL = {fmt(self.lcl)}, "
            f"UCL = {fmt(self.ucl)}",
            f"sigma = {fmt(self.sigma)} ({self.sigma_method}); limits from "
            + (f"{self.phase1} phase I points" if self.phase1 else "given standards"),
        ]
        if self.secondary is not None:
            s = self.secondary
            lines.append(
                f"{s.name} chart: CL = {fmt(s.center)}, LCL = {fmt(s.lcl)}, UCL = {fmt(s.ucl)}"
            )
        if self.signals:
            for label, idx in self.signals.items():
                desc = self.rule_descriptions.get(label, label)
                lines.append(f"{label} ({desc}): points {', '.join(map(str, idx))}")
        else:
            lines.append(f"No signals ({self.rule_set} rules)")
        return lines


def _signals(flags: dict[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    return {lab: tuple((np.flatnonzero(f) + 1).tolist()) for lab, f in flags.items() if f.any()}


def _phase1_count(phase1: int | None, total: int, minimum: int) -> int:
    if phase1 is None:
        return total
    if int(phase1) != phase1 or not minimum <= phase1 <= total:
        raise DegenerateDataError(
            f"phase1 must be an integer between {minimum} and {total}, got {phase1!r}",
            field="phase1",
        )
    return int(phase1)


def _phase_warning(count: int, what: str) -> list[str]:
    if count < FEW_PHASE1:
        return [
            emit(
                f"limits estimated from {count} {what}; at least {FEW_PHASE1} are usually needed "
                f"for stable phase I limits",
                SmallSampleWarning,
            )
        ]
    return []


def _assemble(
    *,
    chart: str,
    stat: np.ndarray,
    center: float,
    sigma_stat: float,
    sigma: float,
    sigma_method: str,
    k: float,
    size: int,
    phase1: int,
    secondary: SecondaryChart | None,
    rules: str | rr.RuleSet | None,
    constants: dict[str, float],
    warnings: list[str],
    parameters: dict[str, float],
    options: dict[str, Any],
    inputs: Any,
) -> ControlChartResult:
    if not sigma_stat > 0:
        raise DegenerateDataError(
            "the estimated sigma is zero (no variation in phase I); give sigma explicitly",
            field="sigma",
        )
    rs = rr.rule_set(rules)
    z = (stat - center) / sigma_stat
    flags = rr.evaluate(z, rs, limit=k) if rs is not None else {}
    return ControlChartResult(
        chart=chart,
        center=float(center),
        lcl=float(center - k * sigma_stat),
        ucl=float(center + k * sigma_stat),
        sigma=float(sigma),
        sigma_method=sigma_method,
        k=k,
        subgroup_size=size,
        phase1=phase1 or 0,
        values=frozen_array(stat),
        flags={lab: frozen_array(f, bool) for lab, f in flags.items()},
        series={},
        secondary=secondary,
        rule_set=rs.name if rs is not None else "none",
        rule_descriptions={lab: rs.describe(lab) for lab in flags} if rs is not None else {},
        signals=_signals(flags),
        parameters=parameters,
        constants=constants,
        warnings=tuple(warnings),
        provenance=provenance(f"{chart} control chart", options, inputs),
    )


def _secondary(
    name: str, values: np.ndarray, first_index: int, center: float, lcl: float, ucl: float
) -> SecondaryChart:
    beyond = np.flatnonzero((values > ucl) | (values < lcl)) + first_index
    return SecondaryChart(
        name=name,
        center=float(center),
        lcl=float(lcl),
        ucl=float(ucl),
        values=frozen_array(values),
        first_index=first_index,
        beyond=tuple(beyond.tolist()),
    )


def individuals_sigma(x: np.ndarray, method: str = "mr", tabled: bool = False) -> float:
    """Within-process σ of individual values: MR̄/d₂, median(MR)/0.954 or s/c₄(N)."""
    if method not in IMR_SIGMA_METHODS:
        raise DegenerateDataError(
            f"sigma_method must be one of {IMR_SIGMA_METHODS}, got {method!r}", field="sigma_method"
        )
    if method == "sd":
        cn = round(c4(x.size), 3) if tabled else c4(x.size)
        return float(np.std(x, ddof=1) / cn)
    mr = np.abs(np.diff(x))
    if method == "median_mr":
        return float(np.median(mr) / median_mr_constant(tabled))
    return float(mr.mean() / chart_constants(2, tabled).d2)


def _standards(
    x: np.ndarray,
    phase1: int | None,
    center: float | None,
    sigma: float | None,
    sigma_method: str,
    tabled: bool,
) -> tuple[float, float, str, int, list[str]]:
    """Centre and σ of individual values: phase I estimates or given standards; returns the
    number of phase I points (0 when both standards are given) and any warnings."""
    m = _phase1_count(phase1, x.size, 2)
    estimated = center is None or sigma is None
    cl = float(x[:m].mean()) if center is None else float(center)
    if sigma is None:
        s, method = individuals_sigma(x[:m], sigma_method, tabled), SIGMA_LABELS[sigma_method]
    else:
        s, method = check_positive(sigma, "sigma"), "given"
    warnings = _phase_warning(m, "individual values") if estimated else []
    return cl, s, method, m if estimated else 0, warnings


def imr_chart(
    data: Any,
    *,
    sigma_method: str = "mr",
    phase1: int | None = None,
    center: float | None = None,
    sigma: float | None = None,
    k: float = 3.0,
    rules: str | rr.RuleSet | None = "nelson",
    tabled: bool = False,
) -> ControlChartResult:
    """Individuals and moving-range chart (the lot-level CPV chart for autologous products)."""
    x = as_values(data, "data", min_n=2)
    check_positive(k, "k")
    cl, s, method, m, warnings = _standards(x, phase1, center, sigma, sigma_method, tabled)
    cc = chart_constants(2, tabled)
    mr = np.abs(np.diff(x))
    secondary = _secondary("MR", mr, 2, cc.d2 * s, cc.D3 * cc.d2 * s, cc.D4 * cc.d2 * s)
    return _assemble(
        chart="imr",
        stat=x,
        center=cl,
        sigma_stat=s,
        sigma=s,
        sigma_method=method,
        k=k,
        size=1,
        phase1=m,
        secondary=secondary,
        rules=rules,
        constants={"d2": cc.d2, "d3": cc.d3, "D3": cc.D3, "D4": cc.D4},
        warnings=warnings,
        parameters={},
        options={
            "sigma_method": sigma_method,
            "phase1": m,
            "center": center,
            "sigma": sigma,
            "k": k,
            "rules": str(rules),
            "tabled": tabled,
        },
        inputs={"data": x},
    )


def _xbar_chart(
    groups: Any,
    dispersion: str,
    phase1: int | None,
    center: float | None,
    sigma: float | None,
    k: float,
    rules: str | rr.RuleSet | None,
    tabled: bool,
) -> ControlChartResult:
    g = as_groups(groups, "groups")
    check_positive(k, "k")
    n_groups, n = g.shape
    m = _phase1_count(phase1, n_groups, 2)
    cc = chart_constants(n, tabled)
    means = g.mean(axis=1)
    if dispersion == "R":
        disp = np.ptp(g, axis=1)
        to_sigma, center_c, lo_c, hi_c = cc.d2, cc.d2, cc.D3 * cc.d2, cc.D4 * cc.d2
    else:
        disp = np.std(g, axis=1, ddof=1)
        to_sigma, center_c, lo_c, hi_c = cc.c4, cc.c4, cc.B3 * cc.c4, cc.B4 * cc.c4
    warnings = _phase_warning(m, "subgroups") if center is None or sigma is None else []
    cl = float(means[:m].mean()) if center is None else float(center)
    if sigma is None:
        s = float(disp[:m].mean() / to_sigma)
        method = "R-bar/d2" if dispersion == "R" else "S-bar/c4"
    else:
        s, method = check_positive(sigma, "sigma"), "given"
    secondary = _secondary(dispersion, disp, 1, center_c * s, lo_c * s, hi_c * s)
    chart = "xbar-r" if dispersion == "R" else "xbar-s"
    consts = (
        {"d2": cc.d2, "d3": cc.d3, "D3": cc.D3, "D4": cc.D4}
        if dispersion == "R"
        else {"c4": cc.c4, "B3": cc.B3, "B4": cc.B4}
    )
    return _assemble(
        chart=chart,
        stat=means,
        center=cl,
        sigma_stat=s / math.sqrt(n),
        sigma=s,
        sigma_method=method,
        k=k,
        size=n,
        phase1=m,
        secondary=secondary,
        rules=rules,
        constants=consts,
        warnings=warnings,
        parameters={},
        options={
            "phase1": m,
            "center": center,
            "sigma": sigma,
            "k": k,
            "rules": str(rules),
            "tabled": tabled,
        },
        inputs={"groups": g},
    )


def xbar_r_chart(
    groups: Any,
    *,
    phase1: int | None = None,
    center: float | None = None,
    sigma: float | None = None,
    k: float = 3.0,
    rules: str | rr.RuleSet | None = "nelson",
    tabled: bool = False,
) -> ControlChartResult:
    """X̄ and R chart of equal-size subgroups (rows of ``groups``); σ̂ = R̄/d₂(n)."""
    return _xbar_chart(groups, "R", phase1, center, sigma, k, rules, tabled)


def xbar_s_chart(
    groups: Any,
    *,
    phase1: int | None = None,
    center: float | None = None,
    sigma: float | None = None,
    k: float = 3.0,
    rules: str | rr.RuleSet | None = "nelson",
    tabled: bool = False,
) -> ControlChartResult:
    """X̄ and S chart of equal-size subgroups; σ̂ = S̄/c₄(n)."""
    return _xbar_chart(groups, "S", phase1, center, sigma, k, rules, tabled)


def ewma_chart(
    data: Any,
    *,
    lam: float = 0.2,
    L: float = 3.0,
    center: float | None = None,
    sigma: float | None = None,
    phase1: int | None = None,
    sigma_method: str = "mr",
    tabled: bool = False,
) -> ControlChartResult:
    """EWMA chart of individual values with exact (time-varying) limits."""
    x = as_values(data, "data", min_n=2)
    if not 0 < lam <= 1:
        raise DegenerateDataError(f"lam must be in (0, 1], got {lam!r}", field="lam")
    check_positive(L, "L")
    cl, s, method, m, warnings = _standards(x, phase1, center, sigma, sigma_method, tabled)
    if not s > 0:
        raise DegenerateDataError(
            "the estimated sigma is zero; give sigma explicitly", field="sigma"
        )
    i = np.arange(1, x.size + 1)
    decay = 1 - lam
    from scipy import signal  # loaded here: I-MR charts need no scipy (issue 15)

    # z_i = λ x_i + (1 − λ) z_{i−1} as a first-order linear filter, started at z_0 = μ₀
    z = signal.lfilter([lam], [1.0, -decay], x, zi=[decay * cl])[0]
    width = L * s * np.sqrt(lam / (2 - lam) * (1 - decay ** (2 * i)))
    lcl, ucl = cl - width, cl + width
    beyond = (z > ucl) | (z < lcl)
    asym = L * s * math.sqrt(lam / (2 - lam))
    flags = {"EWMA": beyond}
    return ControlChartResult(
        chart="ewma",
        center=cl,
        lcl=cl - asym,
        ucl=cl + asym,
        sigma=s,
        sigma_method=method,
        k=L,
        subgroup_size=1,
        phase1=m,
        values=frozen_array(z),
        flags={"EWMA": frozen_array(beyond, bool)},
        series={"observation": frozen_array(x), "lcl": frozen_array(lcl), "ucl": frozen_array(ucl)},
        secondary=None,
        rule_set="ewma",
        rule_descriptions={"EWMA": "EWMA beyond its control limit"},
        signals=_signals(flags),
        parameters={"lambda": lam, "L": L},
        constants={},
        warnings=tuple(warnings),
        provenance=provenance(
            "EWMA control chart",
            {
                "lam": lam,
                "L": L,
                "center": center,
                "sigma": sigma,
                "phase1": m,
                "sigma_method": sigma_method,
            },
            {"data": x},
        ),
    )


def _lindley(y: np.ndarray) -> np.ndarray:
    """C_i = max(0, C_{i−1} + y_i), C_0 = 0, as S_i − min_{0≤j≤i} S_j."""
    s = np.concatenate(([0.0], np.cumsum(y)))
    return (s - np.minimum.accumulate(s))[1:]


def cusum_chart(
    data: Any,
    *,
    k: float = 0.5,
    h: float = 5.0,
    center: float | None = None,
    sigma: float | None = None,
    phase1: int | None = None,
    sigma_method: str = "mr",
    inclusive: bool = False,
    tabled: bool = False,
) -> ControlChartResult:
    """Tabular CUSUM (Montgomery ch. 9): reference value kσ, decision interval hσ."""
    x = as_values(data, "data", min_n=2)
    if not k >= 0:
        raise DegenerateDataError(f"k must be >= 0, got {k!r}", field="k")
    check_positive(h, "h")
    cl, s, method, m, warnings = _standards(x, phase1, center, sigma, sigma_method, tabled)
    if not s > 0:
        raise DegenerateDataError(
            "the estimated sigma is zero; give sigma explicitly", field="sigma"
        )
    big_k, big_h = k * s, h * s
    up = _lindley(x - cl - big_k)
    down = _lindley(cl - big_k - x)
    sig_up = up >= big_h if inclusive else up > big_h
    sig_down = down >= big_h if inclusive else down > big_h
    flags = {"CUSUM+": sig_up, "CUSUM-": sig_down}
    op = ">=" if inclusive else ">"
    return ControlChartResult(
        chart="cusum",
        center=cl,
        lcl=-big_h,
        ucl=big_h,
        sigma=s,
        sigma_method=method,
        k=k,
        subgroup_size=1,
        phase1=m,
        values=frozen_array(x),
        flags={lab: frozen_array(f, bool) for lab, f in flags.items()},
        series={"cusum_upper": frozen_array(up), "cusum_lower": frozen_array(down)},
        secondary=None,
        rule_set="cusum",
        rule_descriptions={"CUSUM+": f"upper CUSUM {op} H", "CUSUM-": f"lower CUSUM {op} H"},
        signals=_signals(flags),
        parameters={"k": k, "h": h, "K": big_k, "H": big_h},
        constants={},
        warnings=tuple(warnings),
        provenance=provenance(
            "tabular CUSUM",
            {
                "k": k,
                "h": h,
                "inclusive": inclusive,
                "center": center,
                "sigma": sigma,
                "phase1": m,
                "sigma_method": sigma_method,
            },
            {"data": x},
        ),
    )


__all__ = [
    "ChartPoint",
    "ControlChartResult",
    "SecondaryChart",
    "cusum_chart",
    "ewma_chart",
    "imr_chart",
    "individuals_sigma",
    "xbar_r_chart",
    "xbar_s_chart",
]
