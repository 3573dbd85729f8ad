"""Quality range and min–max range: worked example T7 of /work/shared/references/statistics.md."""

import pytest

from vein2vein.stats import DegenerateDataError, SmallSampleWarning, minmax_range, quality_range

from .data import VIABILITY_REFERENCE, VIABILITY_TEST


def test_t7_quality_range_k3_and_k2():
    r = quality_range(VIABILITY_TEST, VIABILITY_REFERENCE)
    assert (r.lower, r.upper) == pytest.approx((86.0641, 97.1109), abs=1e-4)
    assert r.n_inside == 5 and r.fraction_inside == 1.0 and r.passed
    assert r.standardized_difference == pytest.approx(-0.1675 / 1.841147, rel=1e-5)
    r2 = quality_range(VIABILITY_TEST, VIABILITY_REFERENCE, k=2)
    assert (r2.lower, r2.upper) == pytest.approx((87.9052, 95.2698), abs=1e-4)


def test_count_and_share_with_a_lot_outside():
    r = quality_range([90.0, 99.0, 91.0, 92.0], VIABILITY_REFERENCE, min_fraction=0.9)
    assert r.inside == (True, False, True, True)
    assert r.n_inside == 3 and r.fraction_inside == 0.75 and not r.passed
    r = quality_range([90.0, 99.0, 91.0, 92.0], VIABILITY_REFERENCE, min_fraction=0.75)
    assert r.passed


def test_minmax_is_inclusive():
    r = minmax_range([88.7, 94.0, 95.0], VIABILITY_REFERENCE)
    assert (r.lower, r.upper) == (88.7, 94.0)
    assert r.inside == (True, True, False)


def test_few_reference_lots_warn():
    with pytest.warns(SmallSampleWarning):
        r = quality_range([1.0], [1.0, 2.0, 3.0])
    assert r.warnings


def test_errors():
    with pytest.raises(DegenerateDataError, match="zero variance"):
        quality_range([1.0], [2.0, 2.0, 2.0])
    with pytest.raises(DegenerateDataError, match="min_fraction"):
        quality_range([1.0], [1.0, 2.0], min_fraction=0)
