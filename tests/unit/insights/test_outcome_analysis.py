"""The exploratory analyses of product ↔ outcome against scipy and lifelines computed here:

* exact Wilcoxon–Mann–Whitney: ``scipy.stats.mannwhitneyu(method="exact")`` without ties, and
  ``scipy.stats.permutation_test(permutation_type="independent", n_resamples=inf)`` of U with
  ties; the textbook case of Hollander, Wolfe & Chicken (3rd ed.) Table A.6: n₁ = 3, n₂ = 7,
  U = 21 (all responders above all others) has two-sided p = 2/120 = 0.01667;
* exact Spearman: ``scipy.stats.permutation_test(permutation_type="pairings",
  n_resamples=inf)`` on the mid-ranks at n = 8, with and without ties, and the exact
  two-sided p of n = 4 with ρ = 1, 2/24 = 0.0833 (one pairing of 24 each way);
* the KM split: lifelines ``KaplanMeierFitter`` medians and ``logrank_test`` on the same arms.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from vein2vein.insights.outcome_analysis import analyse, km_split, mann_whitney, spearman


def _scipy_spearman_exact(x: list[float], y: list[float]) -> float:
    rx, ry = stats.rankdata(x), stats.rankdata(y)
    rxc = rx - rx.mean()

    def rho(v, axis=-1):  # type: ignore[no-untyped-def]
        vc = v - v.mean(axis=-1, keepdims=True)
        return (vc * rxc).sum(-1) / np.sqrt((rxc**2).sum() * (vc**2).sum(-1))

    res = stats.permutation_test(
        (ry,), rho, permutation_type="pairings", n_resamples=math.inf, vectorized=True
    )
    return float(res.pvalue)


@pytest.mark.parametrize(
    ("x", "y"),
    [
        ([1.2, 2.0, 3.1, 4.4, 5.0, 6.3, 7.7, 8.1], [2.0, 1.0, 4.0, 3.0, 7.0, 8.0, 5.0, 6.0]),
        ([0.3, 0.3, 1, 1, 1, 3, 3, 2], [-40, -10, -48, 5, -12, -8, 25, -20]),
    ],
)
def test_spearman_exact_p_is_scipys_permutation_test(x: list[float], y: list[float]) -> None:
    got = spearman(x, y)
    assert got.rho == pytest.approx(float(stats.spearmanr(x, y).statistic), rel=1e-12)
    assert got.p == pytest.approx(_scipy_spearman_exact(x, y), rel=1e-12)
    assert got.test.startswith("Spearman rank correlation, exact")


def test_spearman_small_cases_and_limits() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]).p == pytest.approx(2 / 24)
    assert spearman([1, 2], [3, 4]).p is None
    assert (
        spearman([1, 1, 1, 1], [1, 2, 3, 4]).note == "fewer than 3 subjects or a constant variable"
    )
    big = spearman(list(range(20)), [v * v % 7 for v in range(20)])
    assert "t approximation" in big.test


def test_mann_whitney_exact_with_and_without_ties() -> None:
    top = mann_whitney([50, 45, 60], [30, 35, 20, 41, 38, 33, 37])
    assert (top.u, top.p) == (21.0, pytest.approx(2 / 120))
    x, y = [50.0, 45, 40], [30.0, 35, 20, 41, 38, 33, 37]
    ref = stats.mannwhitneyu(x, y, method="exact")
    got = mann_whitney(x, y)
    assert (got.u, got.p) == (float(ref.statistic), pytest.approx(float(ref.pvalue)))
    tied_y = [30.0, 35, 40, 41, 38, 33, 37]
    ref_t = stats.permutation_test(
        (x, tied_y),
        lambda a, b, axis: stats.mannwhitneyu(a, b, axis=axis).statistic,
        permutation_type="independent",
        n_resamples=math.inf,
        vectorized=True,
    )
    got_t = mann_whitney(x, tied_y)
    assert got_t.p == pytest.approx(float(ref_t.pvalue)) and "ties present" in got_t.test
    assert mann_whitney([1.0], [2.0, 3.0]).p is None


def test_km_split_at_the_median_is_lifelines() -> None:
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test

    values = [10, 20, 30, 40, 50, 60]
    days = [100, 150, 200, 300, 400, 500]
    events = [True, True, True, False, True, False]
    got = km_split(values, days, events, "x", "OS")
    assert got.cut == 35
    low, high = got.curves
    assert (low.n, high.n, low.events, high.events) == (3, 3, 3, 1)
    ref = KaplanMeierFitter().fit(days[:3], events[:3])
    assert low.median_days == pytest.approx(float(ref.median_survival_time_))
    assert high.median_days == 400  # first time S(t) <= 0.5 (lifelines' convention)
    lr = logrank_test(days[:3], days[3:], events[:3], events[3:])
    assert got.p == pytest.approx(float(lr.p_value))


def test_the_analysis_is_labelled_exploratory_and_carries_provenance() -> None:
    rows = [
        {"subject_id": f"S{i}", "linked": i != 5, "bor": "PR" if i < 3 else "SD",
         "best_pct_change": -40 + 8 * i, "pfs_days": 100 + 20 * i, "pfs_event": 1,
         "os_days": 200 + 30 * i, "os_event": i % 2, "dose_per_kg": 0.5 + i / 10,
         "car_positive": 30 + i, "viability": 90 - i, "vcn": 1 + i / 10,
         "fold_expansion": 30 + i, "doubling_time_h": 40 + i, "vein_to_vein_days": 21 + i}
        for i in range(8)
    ]  # fmt: skip
    got = analyse(rows)
    assert got.label.startswith("Exploratory")
    assert got.n_linked == 7 and "left out" in got.warnings[0]
    assert got.provenance is not None and got.provenance.library_versions["lifelines"]
    assert all(m.test for m in got.by_response)
    with pytest.raises(KeyError):
        analyse(rows, km_attribute="nonsense")


def test_wmw_with_ties_above_the_enumeration_limit_uses_the_tie_corrected_normal() -> None:
    """15 against 15 with ties: C(30, 15) = 1.55e8 splits, never enumerated; the p is scipy's
    asymptotic Mann-Whitney with the tie correction, and the test says so."""
    from vein2vein.insights import outcome_analysis as oa

    xs = [1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 5.0, 6.0, 7.0, 8.0, 9.0, 9.0, 10.0, 11.0, 12.0]
    ys = [3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 13.0, 14.0, 15.0, 16.0]
    assert math.comb(30, 15) > oa.EXACT_MAX_SPLITS
    ref = stats.mannwhitneyu(xs, ys, alternative="two-sided", method="asymptotic")
    got = oa.mann_whitney(xs, ys, "viability")
    assert got.p == pytest.approx(ref.pvalue, rel=1e-12)
    assert "normal approximation with tie correction" in got.test
