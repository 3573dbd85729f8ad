"""Response rates with exact (Clopper-Pearson) intervals.

Clopper CJ, Pearson ES. Biometrika 1934;26:404-413: lower = Beta(a/2; k, n-k+1) (0 when k = 0),
upper = Beta(1-a/2; k+1, n-k) (1 when k = n), a = 1 - level split equally between the sides.
Agrees with R ``binom.test``, scipy ``binomtest(...).proportion_ci(method="exact")`` and
statsmodels ``proportion_confint(method="beta")`` (checked in the tests).

The quantile is ``scipy.special.betaincinv`` (the inverse regularised incomplete beta, which is
what ``scipy.stats.beta.ppf`` evaluates: equal to the last bit, checked in the tests), so that a
readout does not import ``scipy.stats`` (most of a second at start-up, issue 15).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scipy.special import betaincinv


@dataclass(frozen=True)
class Proportion:
    k: int
    n: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    level: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "n": self.n,
            "rate": self.rate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }

    def text(self) -> str:
        if self.rate is None or self.ci_low is None or self.ci_high is None:
            return f"{self.k}/{self.n}"
        return (
            f"{self.k}/{self.n} ({100 * self.rate:.1f}%; "
            f"{100 * self.ci_low:.1f}-{100 * self.ci_high:.1f})"
        )


def clopper_pearson(k: int, n: int, level: float = 0.95) -> Proportion:
    """Exact binomial interval for ``k`` successes out of ``n``; ``n = 0`` gives no estimate."""
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    if n == 0:
        return Proportion(k, n, None, None, None, level)
    a = 1 - level
    low = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, a / 2))
    high = 1.0 if k == n else float(betaincinv(k + 1, n - k, 1 - a / 2))
    return Proportion(k, n, k / n, low, high, level)
