"""Clopper-Pearson intervals: the worked table of shared/references/clinical.md section 2.4
(R binom.test values), checked against scipy and statsmodels too."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from vein2vein.clinical.rates import clopper_pearson

TABLE = [
    (0, 2, 0.0, 0.842),
    (1, 2, 0.013, 0.987),
    (1, 3, 0.008, 0.906),
    (3, 3, 0.292, 1.0),
    (2, 5, 0.053, 0.853),
    (5, 5, 0.478, 1.0),
    (2, 10, 0.025, 0.556),
    (3, 10, 0.067, 0.652),
    (9, 10, 0.555, 0.997),
]


@pytest.mark.parametrize(("k", "n", "low", "high"), TABLE)
def test_reference_table(k, n, low, high):
    p = clopper_pearson(k, n)
    assert p.rate == k / n
    assert round(p.ci_low, 3) == low and round(p.ci_high, 3) == high
    ci = binomtest(k, n).proportion_ci(0.95, method="exact")
    assert (p.ci_low, p.ci_high) == pytest.approx((ci.low, ci.high))
    assert (p.ci_low, p.ci_high) == pytest.approx(proportion_confint(k, n, 0.05, method="beta"))


def test_edges_and_errors():
    assert clopper_pearson(0, 0).rate is None
    assert clopper_pearson(0, 4).ci_low == 0.0 and clopper_pearson(4, 4).ci_high == 1.0
    with pytest.raises(ValueError):
        clopper_pearson(3, 2)
    assert clopper_pearson(1, 3).text() == "1/3 (33.3%; 0.8-90.6)"


def test_same_bits_as_scipy_stats_beta_ppf_and_norm_ppf():
    """Issue 15: the engine calls scipy.special (betaincinv, ndtri) instead of importing
    scipy.stats; the numbers, and so the readout's JSON, are the same to the last bit."""
    from scipy.special import ndtri
    from scipy.stats import beta, norm

    for n in [*range(1, 60), 99, 1000, 10_000, 123_457]:
        for k in sorted({0, 1, 2, n // 3, n // 2, n - 1, n} & set(range(n + 1))):
            for level in (0.8, 0.9, 0.95, 0.99):
                a = 1 - level
                p = clopper_pearson(k, n, level)
                low = 0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1))
                high = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k))
                assert (p.ci_low, p.ci_high) == (low, high)
    for level in (0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999):
        q = 1 - (1 - level) / 2
        assert float(ndtri(q)) == float(norm.ppf(q))
