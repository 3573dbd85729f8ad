"""Kaplan-Meier estimate, Greenwood variance, pointwise bands and the median with its
Brookmeyer-Crowley interval, following R ``survival`` (``survfitKM``, ``survfit_confint``,
``quantile.survfit``) rather than lifelines where the two differ.

* Greenwood: Var(log S(t)) = sum d_i / (n_i (n_i - d_i)).
* Pointwise bands (``conf_type``): ``"log-log"`` (default; SAS LIFETEST, lifelines)
  S^exp(+-z se / log S); ``"log"`` (R's default) S exp(+-z se); ``"plain"`` S +- z se S, clipped to
  [0, 1]. Where S = 0 the band is undefined (NaN), as in R.
* Median (R ``quantile.survfit``, SAS): the first time S(t) <= 0.5; when S is exactly 0.5 on a
  flat step, the midpoint of that step; when that step runs to the end of follow-up, the
  midpoint of its start and the last follow-up time. Not reached -> NaN ("NR", JSON null).
* Median interval (Brookmeyer & Crowley, Biometrics 1982;38:29-41, as R and SAS compute it):
  the same rule applied to the lower and the upper band. So the interval depends on the band,
  and an upper band that never reaches 0.5 gives an open upper limit (NaN).

Differences from lifelines 0.30.3 (documented in docs/clinical.md): lifelines offers only the
log-log band, takes the first time with S <= 0.5 (no midpoint), and reports a finite upper limit
when the curve drops to 0 (its band collapses to 0 there). On data without those edge cases the
log-log results are identical, which the tests check.

References: Kaplan & Meier, JASA 1958;53:457-481; Greenwood 1926; Brookmeyer & Crowley 1982;
R survival ``R/quantile.survfit.R`` and ``R/survfit.R`` (``survfit_confint``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.special import ndtri  # = scipy.stats.norm.ppf, without importing scipy.stats

ConfType = Literal["log-log", "log", "plain"]
CONF_TYPES: tuple[str, ...] = ("log-log", "log", "plain")
_TOL = math.sqrt(np.finfo(float).eps)


class SurvivalInputError(ValueError):
    """Durations or event flags that a Kaplan-Meier estimate cannot use."""


@dataclass(frozen=True)
class KaplanMeier:
    """A fitted Kaplan-Meier curve (one row per distinct time, events or censorings)."""

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    survival: np.ndarray
    std_log: np.ndarray  # standard error of log S (Greenwood)
    lower: np.ndarray
    upper: np.ndarray
    conf_type: str
    level: float
    n: int
    events: int
    median: float  # NaN = not reached
    median_lower: float
    median_upper: float

    def at_risk(self, times: np.ndarray | list[float]) -> np.ndarray:
        """Numbers at risk at ``times`` (subjects whose time is >= t), for risk tables."""
        t = np.asarray(times, dtype=float)
        # n at risk at time t = n minus everyone whose time is < t
        gone = np.concatenate([[0], np.cumsum(self.n_event + self.n_censor)])
        idx = np.searchsorted(self.time, t, side="left")
        return (self.n - gone[idx]).astype(int)

    def survival_at(self, times: np.ndarray | list[float]) -> np.ndarray:
        t = np.asarray(times, dtype=float)
        idx = np.searchsorted(self.time, t, side="right") - 1
        s = np.concatenate([[1.0], self.survival])
        return s[idx + 1]

    def summary_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if math.isnan(x) else float(x)

        return {
            "n": self.n,
            "events": self.events,
            "median_days": num(self.median),
            "ci_low": num(self.median_lower),
            "ci_high": num(self.median_upper),
        }

    def curve_dict(self) -> dict[str, Any]:
        """Step-function data for plotting (starts at time 0, S = 1); NaN bands as None."""

        def lst(a: np.ndarray) -> list[float | None]:
            return [None if math.isnan(v) else float(v) for v in a]

        return {
            "time": [0.0, *map(float, self.time)],
            "survival": [1.0, *map(float, self.survival)],
            "lower": [1.0, *lst(self.lower)],
            "upper": [1.0, *lst(self.upper)],
            "censored_time": [float(t) for t, c in zip(self.time, self.n_censor, strict=True) if c],
            "censored_survival": [
                float(s) for s, c in zip(self.survival, self.n_censor, strict=True) if c
            ],
            "conf_type": self.conf_type,
            "level": self.level,
        }


def confidence_band(
    surv: np.ndarray, std_log: np.ndarray, conf_type: str, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise band as R ``survfit_confint`` (logse = TRUE)."""
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {', '.join(CONF_TYPES)}")
    z = float(ndtri(1 - (1 - level) / 2))
    p, se = surv, std_log
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            se2 = se * p * z
            lower = np.maximum(p - se2, 0.0)
            upper = np.minimum(p + se2, 1.0)
            bad = np.isnan(se2)
            lower[bad] = np.nan
            upper[bad] = np.nan
        elif conf_type == "log":
            xx = np.where(p == 0, np.nan, p)
            lower = np.where(se == 0, p, np.exp(np.log(xx) - z * se))
            upper = np.minimum(np.where(se == 0, p, np.exp(np.log(xx) + z * se)), 1.0)
        else:
            xx = np.where((p == 0) | (p == 1), np.nan, p)
            se2 = z * se / np.log(xx)
            lower = np.where(se == 0, p, np.exp(-np.exp(np.log(-np.log(xx)) - se2)))
            upper = np.where(se == 0, p, np.exp(-np.exp(np.log(-np.log(xx)) + se2)))
    return lower, upper


def _findq(x: np.ndarray, y: np.ndarray, p: float) -> float:
    """R ``findq``: where the CDF ``y`` (starting at 0 at ``x[0]``) crosses ``p``, with the
    midpoint rule for a flat exactly at ``p``."""
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return math.nan
    xmax = x[-1]
    # R duplicated(): drop every repeat of an earlier value (NaN repeats NaN)
    keep = np.ones(len(y), bool)
    nan_idx = np.flatnonzero(np.isnan(y))
    keep[nan_idx[1:]] = False
    finite = np.flatnonzero(~np.isnan(y))
    _, first_idx = np.unique(y[finite], return_index=True)
    dup = np.ones(len(finite), bool)
    dup[first_idx] = False
    keep[finite[dup]] = False
    x, y = x[keep], y[keep]
    valid = ~np.isnan(y)

    def first_at_least(th: float) -> int | None:
        idx = np.flatnonzero(valid & (y >= th))
        return int(idx[0]) if len(idx) else None

    i1, i2 = first_at_least(p - _TOL), first_at_least(p + _TOL)
    q = math.nan
    if i1 is not None and i2 is not None:
        q = (x[i1] + x[i2]) / 2
    if i1 is not None and not np.isnan(y[-1]) and abs(p - y[-1]) < _TOL:
        q = (x[i1] + xmax) / 2
    return float(q)


def kaplan_meier(
    durations: np.ndarray | list[float],
    events: np.ndarray | list[int],
    *,
    conf_type: str = "log-log",
    level: float = 0.95,
) -> KaplanMeier:
    """Fit a Kaplan-Meier curve. ``events``: 1 = event, 0 = censored. Ties: events happen
    before censorings at the same time (a subject censored at t is still at risk at t)."""
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events)
    if t.shape != e.shape or t.ndim != 1:
        raise SurvivalInputError("durations and events must be one-dimensional and equal length")
    if np.isnan(t).any() or (t < 0).any():
        raise SurvivalInputError("durations must be non-negative numbers")
    if not np.isin(e, (0, 1)).all():
        raise SurvivalInputError("event flags must be 0 or 1")
    if not 0 < level < 1:
        raise SurvivalInputError("level must be between 0 and 1")
    e = e.astype(int)
    n = len(t)
    times, inv = np.unique(t, return_inverse=True)
    d = np.bincount(inv, weights=e, minlength=len(times)).astype(int)
    c = np.bincount(inv, weights=1 - e, minlength=len(times)).astype(int)
    gone_before = np.concatenate([[0], np.cumsum(d + c)[:-1]])
    n_risk = n - gone_before
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(d > 0, (n_risk - d) / n_risk, 1.0))
        term = np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0)
    std_log = np.sqrt(np.cumsum(term))
    lower, upper = confidence_band(surv, std_log, conf_type, level)
    x = np.concatenate([[0.0], times])
    med = _findq(x, np.concatenate([[0.0], 1 - surv]), 0.5) if n else math.nan
    lo = _findq(x, np.concatenate([[0.0], 1 - lower]), 0.5) if n else math.nan
    hi = _findq(x, np.concatenate([[0.0], 1 - upper]), 0.5) if n else math.nan
    for fitted in (times, n_risk, d, c, surv, std_log, lower, upper):
        fitted.flags.writeable = False  # a fitted curve is a result: its arrays stay as fitted
    return KaplanMeier(
        time=times,
        n_risk=n_risk,
        n_event=d,
        n_censor=c,
        survival=surv,
        std_log=std_log,
        lower=lower,
        upper=upper,
        conf_type=conf_type,
        level=level,
        n=n,
        events=int(e.sum()),
        median=med,
        median_lower=lo,
        median_upper=hi,
    )
