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
