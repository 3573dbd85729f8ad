"""Invariants checked on random inputs (Hypothesis): properties that hold whatever the data."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from vein2vein.stats import (
    ApproximationWarning,
    capability,
    imr_chart,
    k_one_sided,
    k_two_sided,
    tolerance_interval,
    tost,
)

samples = st.lists(st.floats(min_value=1.0, max_value=1000.0), min_size=3, max_size=15)


@settings(max_examples=40, deadline=None)
@given(samples, samples, st.floats(min_value=0.01, max_value=100.0))
def test_ratio_tost_is_scale_invariant(test, reference, factor):
    """Multiplying both arms by the same unit factor leaves a ratio-scale TOST unchanged."""
    assume(np.ptp(np.log(test)) > 1e-6 and np.ptp(np.log(reference)) > 1e-6)
    a = tost(test, reference, lower=0.8, upper=1.25, scale="ratio")
    b = tost(
        np.array(test) * factor, np.array(reference) * factor, lower=0.8, upper=1.25, scale="ratio"
    )
    assert b.p_value == pytest.approx(a.p_value, rel=1e-6, abs=1e-12)
    assert b.difference == pytest.approx(a.difference, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(samples, samples, st.floats(min_value=-50, max_value=50))
def test_difference_tost_is_shift_invariant_and_swapping_arms_mirrors(test, reference, shift):
    assume(np.ptp(test) > 1e-6 and np.ptp(reference) > 1e-6)
    a = tost(test, reference, lower=-30, upper=20)
    b = tost(np.array(test) + shift, np.array(reference) + shift, lower=-30, upper=20)
    assert b.p_value == pytest.approx(a.p_value, rel=1e-6, abs=1e-12)
    swapped = tost(reference, test, lower=-20, upper=30)
    assert swapped.p_lower == pytest.approx(a.p_upper, rel=1e-9, abs=1e-15)
    assert swapped.p_upper == pytest.approx(a.p_lower, rel=1e-9, abs=1e-15)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(min_value=3, max_value=60),
    st.sampled_from([0.9, 0.95, 0.99]),
    st.sampled_from([0.9, 0.95, 0.99]),
)
def test_tolerance_factors_are_ordered(n, coverage, confidence):
    two, one = k_two_sided(n, coverage, confidence), k_one_sided(n, coverage, confidence)
    assert one < two  # a one-sided bound needs a smaller factor
    assert k_two_sided(n + 1, coverage, confidence) < two  # more lots, narrower interval
    assert two > stats.norm.ppf((1 + coverage) / 2)  # wider than the known-parameter interval


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(min_value=-100, max_value=100), min_size=3, max_size=40))
def test_capability_ordering(values):
    assume(np.ptp(values) > 1e-3 and np.abs(np.diff(values)).mean() > 1e-3)
    lo, hi = min(values) - 10, max(values) + 10
    r = capability(values, lsl=lo, usl=hi)
    assert r.cpk <= r.cp + 1e-12 and r.ppk <= r.pp + 1e-12
    assert r.cpk == min(r.cpl, r.cpu)
    assert r.intervals["cpk"][0] < r.cpk < r.intervals["cpk"][1]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(min_value=-100, max_value=100), min_size=2, max_size=50),
    st.floats(min_value=0.1, max_value=1000),
)
def test_chart_rules_are_invariant_to_units(values, scale):
    """Changing units (x -> a·x + b) changes no rule decision."""
    assume(np.abs(np.diff(values)).mean() > 1e-3)
    a = imr_chart(values)
    b = imr_chart(np.array(values) * scale + 7.0)
    assert a.signals.keys() == b.signals.keys()
    for label in a.signals:
        # allow a difference only for points within rounding of a zone boundary
        diff = set(a.signals.get(label, ())) ^ set(b.signals.get(label, ()))
        z = (np.array(values) - a.center) / a.sigma
        assert all(min(abs(abs(z[i - 1]) - t) for t in (1, 2, 3)) < 1e-6 for i in diff)


def test_howe_at_small_n_warns_it_is_far_from_exact():
    with pytest.warns(ApproximationWarning, match=r"\+2\.1% at n = 3"):
        r = tolerance_interval([1.0, 2.0, 3.0], coverage=0.95, confidence=0.95, method="howe")
    assert any("exact k = 9.7888" in w for w in r.warnings)
