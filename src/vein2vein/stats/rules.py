"""Run rules (tests for special causes) on standardised control-chart values, vectorised.

Values are z_i = (x_i − CL)/σ_stat, where σ_stat is the SD of the plotted statistic. Conventions
(as R ``qcc`` ``qccRules`` and Minitab's tests; Nelson 1984; Western Electric 1956):

* beyond a limit is strict: |z| > 3, z > 2, z > 1; "within 1σ" is |z| ≤ 1;
* a point exactly on the centre line breaks a "same side" run; a tie breaks a trend;
* trend rules count points: 6 points steadily increasing = 5 consecutive rises;
* a point is flagged when it completes a pattern, and every later point while the pattern holds;
* "k of m beyond a zone" rules (Nelson 5, 6; Western Electric 2, 3) need a full window of m points
  and flag a point only if it itself lies beyond the zone on the pattern's side;
* Nelson 8 flags a point while the 8 points ending at it are all beyond 1σ and include points on
  both sides.

Every rule runs in O(n) with numpy (cumulative maxima and window sums), no Python loop over points.

References: Nelson L.S. (1984) JQT 16:237–239; Western Electric (1956) Statistical Quality
Control Handbook; Champ & Woodall (1987) Technometrics 29:393–399; luca-scr/qcc ``R/rules.R``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vein2vein.stats.errors import DegenerateDataError
from vein2vein.stats.inputs import as_values

RULE_SETS = ("nelson", "western-electric", "none")
NELSON = {
    1: "beyond_limit",
    2: "same_side",
    3: "trend",
    4: "alternating",
    5: "beyond_2",
    6: "beyond_1",
    7: "within_1",
    8: "mixture",
}
WESTERN_ELECTRIC = {1: "beyond_limit", 2: "beyond_2", 3: "beyond_1", 4: "same_side"}

DESCRIPTIONS = {
    "N1": "1 point beyond 3 sigma",
    "N2": "{run} points in a row on the same side of the centre line",
    "N3": "{run} points in a row steadily increasing or decreasing",
    "N4": "{run} points in a row alternating up and down",
    "N5": "{k} of {m} points beyond 2 sigma on the same side",
    "N6": "{k} of {m} points beyond 1 sigma on the same side",
    "N7": "{run} points in a row within 1 sigma",
    "N8": "{run} points in a row beyond 1 sigma, on both sides",
    "WE1": "1 point beyond 3 sigma",
    "WE2": "{k} of {m} points beyond 2 sigma on the same side",
    "WE3": "{k} of {m} points beyond 1 sigma on the same side",
    "WE4": "{run} points in a row on the same side of the centre line",
}


@dataclass(frozen=True)
class RuleSet:
    """Which rules to run and their run lengths (Nelson / Minitab defaults)."""

    name: str = "nelson"
    enabled: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    same_side: int = 9  # Nelson 2 (Western Electric 4 uses 8)
    trend: int = 6  # Nelson 3, points
    alternating: int = 14  # Nelson 4, points
    beyond_2: tuple[int, int] = (2, 3)  # Nelson 5 / WE 2: k of m
    beyond_1: tuple[int, int] = (4, 5)  # Nelson 6 / WE 3
    within_1: int = 15  # Nelson 7
    mixture: int = 8  # Nelson 8

    def rule_labels(self) -> tuple[str, ...]:
        prefix = "N" if self.name == "nelson" else "WE"
        return tuple(f"{prefix}{i}" for i in self.enabled)

    def describe(self, label: str) -> str:
        params = {
            "N2": {"run": self.same_side},
            "WE4": {"run": self.same_side},
            "N3": {"run": self.trend},
            "N4": {"run": self.alternating},
            "N5": dict(zip("km", self.beyond_2, strict=True)),
            "WE2": dict(zip("km", self.beyond_2, strict=True)),
            "N6": dict(zip("km", self.beyond_1, strict=True)),
            "WE3": dict(zip("km", self.beyond_1, strict=True)),
            "N7": {"run": self.within_1},
            "N8": {"run": self.mixture},
        }.get(label, {})
        return DESCRIPTIONS[label].format(**params)


def nelson(enabled: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8), **lengths: Any) -> RuleSet:
    """Nelson rules 1–8 (Minitab tests 1–8) with adjustable run lengths."""
    bad = [i for i in enabled if i not in range(1, 9)]
    if bad:
        raise DegenerateDataError(f"Nelson rules are 1..8, got {bad}", field="rules")
    return RuleSet(name="nelson", enabled=tuple(sorted(enabled)), **lengths)


def western_electric(enabled: tuple[int, ...] = (1, 2, 3, 4), **lengths: Any) -> RuleSet:
    """Western Electric rules 1–4 (rule 4: 8 points on one side by default)."""
    bad = [i for i in enabled if i not in range(1, 5)]
    if bad:
        raise DegenerateDataError(f"Western Electric rules are 1..4, got {bad}", field="rules")
    lengths.setdefault("same_side", 8)
    return RuleSet(name="western-electric", enabled=tuple(sorted(enabled)), **lengths)


def rule_set(spec: str | RuleSet | None) -> RuleSet | None:
    """A :class:`RuleSet` from ``"nelson"``, ``"western-electric"``, ``"none"`` or ``None``."""
    if spec is None or isinstance(spec, RuleSet):
        return spec
    if spec == "nelson":
        return nelson()
    if spec in ("western-electric", "western_electric", "we"):
        return western_electric()
    if spec == "none":
        return None
    raise DegenerateDataError(f"rules must be one of {RULE_SETS}, got {spec!r}", field="rules")


def run_length(cond: np.ndarray) -> np.ndarray:
    """Length of the run of True ending at each position (0 where False)."""
    idx = np.arange(cond.size)
    last_false = np.maximum.accumulate(np.where(cond, -1, idx))
    return np.where(cond, idx - last_false, 0)


def window_count(cond: np.ndarray, m: int) -> np.ndarray:
    """Number of True in the window of the last ``m`` points ending at each position; -1 where
    the window is not yet full."""
    c = np.concatenate(([0], np.cumsum(cond, dtype=np.int64)))
    out = np.full(cond.size, -1, dtype=np.int64)
    if cond.size >= m:
        out[m - 1 :] = c[m:] - c[: cond.size - m + 1]
    return out


def _same_side(z: np.ndarray, run: int) -> np.ndarray:
    return (run_length(z > 0) >= run) | (run_length(z < 0) >= run)


def _trend(z: np.ndarray, points: int) -> np.ndarray:
    diff = np.diff(z, prepend=np.nan)
    steps = points - 1
    return (run_length(diff > 0) >= steps) | (run_length(diff < 0) >= steps)


def _alternating(z: np.ndarray, points: int) -> np.ndarray:
    sign = np.sign(np.diff(z, prepend=np.nan))
    prev = np.concatenate(([np.nan], sign[:-1]))
    flips = (sign * prev) < 0
    return run_length(flips) >= points - 2


def _k_of_m(z: np.ndarray, limit: float, k: int, m: int) -> np.ndarray:
    up, down = z > limit, z < -limit
    return (up & (window_count(up, m) >= k)) | (down & (window_count(down, m) >= k))


def _within(z: np.ndarray, run: int) -> np.ndarray:
    return run_length(np.abs(z) <= 1) >= run


def _mixture(z: np.ndarray, run: int) -> np.ndarray:
    up, down = z > 1, z < -1
    return (
        (run_length(up | down) >= run)
        & (window_count(up, run) >= 1)
        & (window_count(down, run) >= 1)
    )


def evaluate(z: Any, rules: RuleSet, *, limit: float = 3.0) -> dict[str, np.ndarray]:
    """Boolean flags per rule label (``N1``… or ``WE1``…) for standardised values ``z``.

    ``limit`` is the control limit in σ units used by rule 1 (3 unless the chart uses other
    limits); the zone rules always use 1σ and 2σ.
    """
    zz = as_values(z, "z", min_n=1)
    checks: dict[str, Callable[[], np.ndarray]] = {
        "beyond_limit": lambda: np.abs(zz) > limit,
        "same_side": lambda: _same_side(zz, rules.same_side),
        "trend": lambda: _trend(zz, rules.trend),
        "alternating": lambda: _alternating(zz, rules.alternating),
        "beyond_2": lambda: _k_of_m(zz, 2.0, *rules.beyond_2),
        "beyond_1": lambda: _k_of_m(zz, 1.0, *rules.beyond_1),
        "within_1": lambda: _within(zz, rules.within_1),
        "mixture": lambda: _mixture(zz, rules.mixture),
    }
    if rules.name == "nelson":
        prefix, meaning = "N", NELSON
    else:
        prefix, meaning = "WE", WESTERN_ELECTRIC
    return {f"{prefix}{i}": checks[meaning[i]]() for i in rules.enabled}


def flags_per_point(flags: dict[str, np.ndarray], n: int) -> list[list[str]]:
    """For each point the list of rule labels it breaks (in rule order)."""
    if not flags:
        return [[] for _ in range(n)]
    labels = list(flags)
    matrix = np.vstack([flags[k] for k in labels])
    out: list[list[str]] = [[] for _ in range(n)]
    for r, i in zip(*np.nonzero(matrix), strict=True):
        out[int(i)].append(labels[int(r)])
    return out
