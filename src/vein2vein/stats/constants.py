"""Control-chart constants computed exactly from the normal distribution.

* d₂(n) = E[R]/σ = ∫ 1 − Φ(x)ⁿ − (1 − Φ(x))ⁿ dx (range of n standard normals);
* d₃(n) = SD[R]/σ from E[R²] = 2 ∬_{x<y} 1 − Φ(y)ⁿ − (1 − Φ(x))ⁿ + (Φ(y) − Φ(x))ⁿ dx dy;
* c₄(n) = √(2/(n−1)) Γ(n/2)/Γ((n−1)/2);
* A₂ = 3/(d₂√n), D₃ = max(0, 1 − 3d₃/d₂), D₄ = 1 + 3d₃/d₂, A₃ = 3/(c₄√n),
  B₃ = max(0, 1 − 3√(1−c₄²)/c₄), B₄ = 1 + 3√(1−c₄²)/c₄;
* the median moving range constant for n = 2, m₂ = √2·Φ⁻¹(0.75) (0.954 in tables).

``tabled=True`` rounds every constant to 3 decimals, which reproduces the printed tables
(ASTM E2587, Montgomery appendix VI) used by Minitab and R ``qcc``.

References: Montgomery D.C., Introduction to Statistical Quality Control, appendix VI;
ASTM E2587; Tippett (1925) Biometrika 17:364–387.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from vein2vein.stats.errors import DegenerateDataError

# scipy loads on the first constant computed for n > 2 (or c4 of a sample): I-MR charts, the CPV
# workhorse, use the stored n = 2 values below, so `v2v stats chart` over many CSV files starts
# without scipy (issue 15).

# The quadrature's own d2, d3 and c4 for n = 2 (what _range_moments and the gamma formula give,
# bit for bit: tests/unit/stats/test_constants.py computes them again and compares).
_EXACT_N2 = (1.1283791670955123, 0.85250246642742, 0.7978845608028655)


@dataclass(frozen=True)
class ChartConstants:
    n: int
    d2: float
    d3: float
    c4: float
    A2: float
    A3: float
    B3: float
    B4: float
    D3: float
    D4: float
    tabled: bool


def _panels(lo: float, hi: float, panels: int, order: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre nodes and weights on [lo, hi]."""
    from scipy import special

    x, w = special.roots_legendre(order)
    edges = np.linspace(lo, hi, panels + 1)
    half = (edges[1:] - edges[:-1])[:, None] / 2
    mid = (edges[1:] + edges[:-1])[:, None] / 2
    return (mid + half * x).ravel(), (half * w).ravel()


def _range_moments(n: int) -> tuple[float, float]:
    """E[R] and SD[R] of the range of n standard normals.

    P(R ≤ r) = n ∫ φ(x) (Φ(x + r) − Φ(x))^{n−1} dx, E[R] = ∫₀^∞ P(R > r) dr and
    E[R²] = ∫₀^∞ 2r P(R > r) dr, by composite Gauss–Legendre quadrature (error < 1e-10).
    """
    from scipy import special, stats

    x, wx = _panels(-10.0, 10.0, 40)
    r, wr = _panels(0.0, 16.0, 32)
    cdf_x = special.ndtr(x)
    inner = special.ndtr(x[None, :] + r[:, None]) - cdf_x[None, :]
    p_le = n * np.sum(wx * stats.norm.pdf(x) * inner ** (n - 1), axis=1)
    p_gt = 1.0 - p_le
    d2 = float(np.sum(wr * p_gt))
    er2 = float(np.sum(wr * 2 * r * p_gt))
    return d2, math.sqrt(er2 - d2 * d2)


@lru_cache(maxsize=128)
def _exact(n: int, stored: bool = True) -> tuple[float, float, float]:
    if n == 2 and stored:
        return _EXACT_N2
    d2, d3 = _range_moments(n)
    return d2, d3, c4(n)


def c4(n: int) -> float:
    """c₄(n) = E[s]/σ for a normal sample of size n (n ≥ 2)."""
    from scipy import special

    if n < 2:
        raise DegenerateDataError(f"c4 needs n >= 2, got {n}", field="n")
    return math.sqrt(2 / (n - 1)) * math.exp(special.gammaln(n / 2) - special.gammaln((n - 1) / 2))


# √2·Φ⁻¹(0.75), stored for the same reason (the test computes it with scipy and compares).
MEDIAN_MR_CONSTANT = 0.9538725524089398


def median_mr_constant(tabled: bool = False) -> float:
    """Median of the moving range of two normals in σ units: 0.95387 (0.954 tabled)."""
    return round(MEDIAN_MR_CONSTANT, 3) if tabled else MEDIAN_MR_CONSTANT


@lru_cache(maxsize=256)
def chart_constants(n: int, tabled: bool = False) -> ChartConstants:
    """Shewhart constants for subgroup size ``n`` (2 ≤ n ≤ 100)."""
    if int(n) != n or not 2 <= n <= 100:
        raise DegenerateDataError(f"subgroup size must be an integer 2..100, got {n!r}", field="n")
    n = int(n)
    d2, d3, c4_ = _exact(n)
    root = math.sqrt(n)
    b = 3 * math.sqrt(1 - c4_ * c4_) / c4_
    values = {
        "d2": d2,
        "d3": d3,
        "c4": c4_,
        "A2": 3 / (d2 * root),
        "A3": 3 / (c4_ * root),
        "B3": max(0.0, 1 - b),
        "B4": 1 + b,
        "D3": max(0.0, 1 - 3 * d3 / d2),
        "D4": 1 + 3 * d3 / d2,
    }
    if tabled:
        values = {k: round(v, 3) for k, v in values.items()}
    return ChartConstants(n=n, tabled=tabled, **values)
