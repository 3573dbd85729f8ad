"""Process capability (Cp, Cpl, Cpu, Cpk, Cpm; within σ) and performance (Pp, Ppl, Ppu, Ppk, Ppm;
overall σ).

* Within σ from subgroups: R̄/d₂(n) by default (as R ``qcc``), ``sbar`` S̄/c₄(n), or ``pooled``
  s_p/c₄(d + 1) with d = Σ(nᵢ − 1) (Minitab's default); from individual values MR̄/d₂(2)
  (``mr``), ``median_mr`` or ``sd`` (s/c₄(N)).
* Overall σ is the sample SD (ddof = 1) of all values, **without** c₄ (Minitab, qcc).
* μ̂ is the mean of all values. Cp = (USL − LSL)/6σ_w, Cpu = (USL − μ̂)/3σ_w,
  Cpl = (μ̂ − LSL)/3σ_w, Cpk = min(Cpl, Cpu); with a one-sided specification Cp is undefined and
  Cpk is the available side. Cpm = (USL − LSL)/(6√(σ_w² + (μ̂ − T)²)), T = target (the mid-point of
  the specification when not given).
* Confidence intervals: Cp and Pp by the χ² interval with ν = N − 1; Cpk, Cpl, Cpu (and the P
  forms) by Bissell (1990): Ĉ ± z√(1/(9N) + Ĉ²/(2(N − 1))) — as qcc ``processCapability``.

References: Montgomery, Introduction to SQC, ch. 8; Bissell A.F. (1990) Appl Stat 39:331–340;
Kotz & Johnson (1993) Process Capability Indices; luca-scr/qcc ``processCapability``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from vein2vein.core.provenance import Provenance
from vein2vein.stats.charts import IMR_SIGMA_METHODS, individuals_sigma
from vein2vein.stats.constants import c4, chart_constants
from vein2vein.stats.errors import DegenerateDataError, SmallSampleWarning, emit
from vein2vein.stats.inputs import as_groups, as_values, check_bounds, check_probability
from vein2vein.stats.results import StatResult, fmt, provenance

SUBGROUP_SIGMA_METHODS = ("rbar", "sbar", "pooled")
FEW_LOTS = 30
_DESCRIPTION = {
    "mr": "MR-bar/d2(2) of individual values",
    "median_mr": "median MR/0.954 of individual values",
    "sd": "s/c4(N) of individual values",
    "rbar": "R-bar/d2(n) of subgroups",
    "sbar": "S-bar/c4(n) of subgroups",
    "pooled": "pooled SD/c4(sum(n_i - 1) + 1) of subgroups",
}


@dataclass(frozen=True)
class CapabilityResult(StatResult):
    cp: float | None
    cpl: float | None
    cpu: float | None
    cpk: float
    cpm: float | None
    pp: float | None
    ppl: float | None
    ppu: float | None
    ppk: float
    ppm: float | None
    n: int
    subgroups: int | None
    mean: float
    sigma_within: float
    sigma_within_method: str
    sigma_overall: float
    sigma_overall_method: str
    lsl: float | None
    usl: float | None
    target: float | None
    confidence: float
    intervals: dict[str, tuple[float, float]]
    warnings: tuple[str, ...]
    provenance: Provenance

    def _summary_lines(self) -> list[str]:
        pct = f"{100 * self.confidence:g}%"

        def line(name: str) -> str:
            value = getattr(self, name)
            ci = self.intervals.get(name)
            extra = f"  {pct} CI ({fmt(ci[0], 4)}, {fmt(ci[1], 4)})" if ci else ""
            return f"  {name.capitalize():4s} = {fmt(value, 5)}{extra}"

        return [
            f"Capability: LSL = {fmt(self.lsl)}, USL = {fmt(self.usl)}, "
            f"target = {fmt(self.target)}",
            f"N = {self.n}"
            + (f" in {self.subgroups} subgroups" if self.subgroups else "")
            + f", mean = {fmt(self.mean)}",
            f"sigma within = {fmt(self.sigma_within)} ({self.sigma_within_method})",
            f"sigma overall = {fmt(self.sigma_overall)} ({self.sigma_overall_method})",
            *[
                line(n)
                for n in ("cp", "cpl", "cpu", "cpk", "cpm", "pp", "ppl", "ppu", "ppk", "ppm")
            ],
        ]


def _within_subgroups(g: np.ndarray, method: str, tabled: bool) -> float:
    n = g.shape[1]
    cc = chart_constants(n, tabled)
    if method == "rbar":
        return float(np.ptp(g, axis=1).mean() / cc.d2)
    if method == "sbar":
        return float(np.std(g, axis=1, ddof=1).mean() / cc.c4)
    if method == "pooled":
        d = g.shape[0] * (n - 1)
        sp = math.sqrt(float(np.sum(np.var(g, axis=1, ddof=1) * (n - 1))) / d)
        return sp / (round(c4(d + 1), 3) if tabled else c4(d + 1))
    raise DegenerateDataError(
        f"sigma_within for subgroups must be one of {SUBGROUP_SIGMA_METHODS}, got {method!r}",
        field="sigma_within",
    )


def _indices(
    mean: float, sigma: float, lsl: float | None, usl: float | None, target: float | None
) -> dict[str, float | None]:
    lower = (mean - lsl) / (3 * sigma) if lsl is not None else None
    upper = (usl - mean) / (3 * sigma) if usl is not None else None
    both = lsl is not None and usl is not None
    spread = (usl - lsl) / (6 * sigma) if both else None  # type: ignore[operator]
    tau = (
        (usl - lsl) / (6 * math.sqrt(sigma**2 + (mean - target) ** 2))  # type: ignore[operator]
        if both and target is not None
        else None
    )
    k = min(v for v in (lower, upper) if v is not None)
    return {"p": spread, "l": lower, "u": upper, "k": k, "m": tau}


def _intervals(
    values: dict[str, float | None], n: int, confidence: float
) -> dict[str, tuple[float, float]]:
    alpha = 1 - confidence
    z = stats.norm.ppf(1 - alpha / 2)
    nu = n - 1
    out: dict[str, tuple[float, float]] = {}
    for name, v in values.items():
        if v is None:
            continue
        if name in ("cp", "pp"):
            out[name] = (
                float(v * math.sqrt(stats.chi2.ppf(alpha / 2, nu) / nu)),
                float(v * math.sqrt(stats.chi2.ppf(1 - alpha / 2, nu) / nu)),
            )
        else:
            half = float(z * math.sqrt(1 / (9 * n) + v * v / (2 * nu)))
            out[name] = (v - half, v + half)
    return out


def capability(
    data: Any,
    *,
    lsl: float | None = None,
    usl: float | None = None,
    target: float | None = None,
    subgroup_size: int | None = None,
    sigma_within: str | None = None,
    confidence: float = 0.95,
    tabled: bool = False,
) -> CapabilityResult:
    """Capability and performance indices of individual values or of rational subgroups.

    ``data`` is 1-D (individual lots) or 2-D (rows = subgroups); ``subgroup_size`` splits 1-D data
    into consecutive subgroups of that size.
    """
    if lsl is None and usl is None:
        raise DegenerateDataError("give at least one specification limit (lsl or usl)", field="lsl")
    check_bounds(lsl, usl, "lsl", "usl")
    confidence = check_probability(confidence, "confidence")
    arr = np.asarray(data, dtype=object)
    if subgroup_size is not None and subgroup_size > 1:
        x = as_values(data, "data", min_n=2)
        if x.size % subgroup_size:
            raise DegenerateDataError(
                f"{x.size} values do not split into subgroups of {subgroup_size}",
                field="subgroup_size",
            )
        groups: np.ndarray | None = as_groups(x.reshape(-1, subgroup_size), "data")
    elif arr.ndim == 2:
        groups = as_groups(data, "data")
    else:
        groups = None
    if groups is not None:
        method = sigma_within or "rbar"
        values = groups.ravel()
        s_w = _within_subgroups(groups, method, tabled)
    else:
        method = sigma_within or "mr"
        if method not in IMR_SIGMA_METHODS:
            raise DegenerateDataError(
                f"sigma_within for individual values must be one of {IMR_SIGMA_METHODS}, "
                f"got {method!r}",
                field="sigma_within",
            )
        values = as_values(data, "data", min_n=2)
        s_w = individuals_sigma(values, method, tabled)
    n = int(values.size)
    s_o = float(np.std(values, ddof=1))
    if not (s_w > 0 and s_o > 0):
        raise DegenerateDataError("zero variation: capability indices are undefined", field="data")
    mean = float(values.mean())
    if target is None and lsl is not None and usl is not None:
        target = (lsl + usl) / 2
    within = _indices(mean, s_w, lsl, usl, target)
    overall = _indices(mean, s_o, lsl, usl, target)
    warnings = []
    if n < FEW_LOTS:
        warnings.append(
            emit(
                f"capability from {n} values (< {FEW_LOTS}): the indices have wide confidence "
                f"intervals; read the intervals, not the point estimates",
                SmallSampleWarning,
            )
        )
    options = {
        "lsl": lsl,
        "usl": usl,
        "target": target,
        "sigma_within": method,
        "confidence": confidence,
        "tabled": tabled,
        "subgroup_size": subgroup_size,
    }
    return CapabilityResult(
        cp=within["p"],
        cpl=within["l"],
        cpu=within["u"],
        cpk=float(within["k"] or 0.0),
        cpm=within["m"],
        pp=overall["p"],
        ppl=overall["l"],
        ppu=overall["u"],
        ppk=float(overall["k"] or 0.0),
        ppm=overall["m"],
        n=n,
        subgroups=int(groups.shape[0]) if groups is not None else None,
        mean=mean,
        sigma_within=s_w,
        sigma_within_method=_DESCRIPTION[method],
        sigma_overall=s_o,
        sigma_overall_method="sample SD of all values (ddof = 1, no c4)",
        lsl=lsl,
        usl=usl,
        target=target,
        confidence=confidence,
        intervals=_intervals(
            {
                "cp": within["p"],
                "cpl": within["l"],
                "cpu": within["u"],
                "cpk": within["k"],
                "pp": overall["p"],
                "ppl": overall["l"],
                "ppu": overall["u"],
                "ppk": overall["k"],
            },
            n,
            confidence,
        ),
        warnings=tuple(warnings),
        provenance=provenance("process capability", options, {"data": values}),
    )
