"""Growth kinetics against case G1 of /work/shared/references/statistics.md (closed forms checked
against log-linear OLS) and the textbook doubling-time example (Pearson cell-doubling-time
calculator: 1e5 -> 8e5 cells in 24 h = 3 doublings, 8 h)."""

import math

import pytest

from vein2vein.stats import (
    DegenerateDataError,
    cumulative_doublings,
    doubling_time,
    expansion_kinetics,
    fold_expansion,
    growth_rate_fit,
    population_doublings,
)


def test_g1_single_step():
    assert fold_expansion(1.0e8, 2.4e9) == pytest.approx(24)
    assert population_doublings(1.0e8, 2.4e9) == pytest.approx(4.584963, abs=1e-6)
    assert doubling_time(1.0e8, 2.4e9, 168) == pytest.approx(36.6415, abs=1e-4)


def test_textbook_doubling_time():
    assert population_doublings(1e5, 8e5) == 3.0  # log2 exactly, not 3.32 * log10
    assert doubling_time(1e5, 8e5, 24) == 8.0


def test_g1_serial_counts_with_full_reseed():
    r = expansion_kinetics([0, 3, 5, 7, 9], [5e7, 1.5e8, 6e8, 1.8e9, 2.7e9])
    assert r.step_fold_expansion == pytest.approx((3, 4, 3, 1.5))
    assert r.fold_expansion == pytest.approx(54)
    assert r.doublings == pytest.approx(5.754888, abs=1e-6)
    hours = [dt * 24 for dt in r.step_doubling_time]
    assert hours == pytest.approx([45.43, 24.00, 30.28, 82.06], abs=0.01)
    assert r.fit.rate == pytest.approx(0.474528, abs=1e-6)
    assert r.fit.rate_se == pytest.approx(0.041762, abs=1e-6)
    assert r.fit.doubling_time == pytest.approx(1.46071, abs=1e-5)


def test_exponential_window_and_splits():
    # Splits: seeded counts differ from harvested; cumulative PDL over the steps.
    seeded = [1e8, 2e8, 4e8]
    harvested = [8e8, 1.6e9]
    assert cumulative_doublings(seeded[:2], harvested, pdl0=1.0) == pytest.approx(1 + 3 + 3)
    r = expansion_kinetics([0, 72, 144], [1e8, 8e8, 1.6e9], seeded_cells=[1e8, 2e8, 4e8])
    assert r.step_fold_expansion == pytest.approx((8, 8))
    assert r.doublings == pytest.approx(6)
    assert r.fit.doubling_time == pytest.approx(24.0)
    fit = growth_rate_fit([0, 1, 2, 3, 4], [1, 2, 4, 8, 9], window=(0, 3))
    assert fit.n == 4 and fit.rate == pytest.approx(math.log(2))
    assert fit.rate_se == pytest.approx(0, abs=1e-12)


def test_kinetics_errors():
    with pytest.raises(DegenerateDataError, match="did not grow"):
        doubling_time(1e8, 5e7, 24)
    with pytest.raises(DegenerateDataError, match="> 0"):
        expansion_kinetics([0, 1], [1e6, 0])
    with pytest.raises(DegenerateDataError, match="increase"):
        expansion_kinetics([0, 2, 1], [1e6, 2e6, 3e6])
    with pytest.raises(DegenerateDataError, match="window"):
        growth_rate_fit([0, 1, 2], [1, 2, 4], window=(5, 1))
