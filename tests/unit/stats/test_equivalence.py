"""TOST against R `equivalence::tost` values stored in statsmodels' test_tost.py (T1–T5), the
pingouin docstring example (T6) and the team's worked CAR-T example (T7), all recomputed in
/work/shared/references/statistics.md section 3."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vein2vein.stats import (
    DegenerateDataError,
    DesignWarning,
    SmallSampleWarning,
    margin_from_reference,
    tost,
    tost_from_summary,
)
from vein2vein.stats.equivalence import min_half_width

from .data import (
    CLINIC_X1_VAR1,
    CLINIC_X1_VAR2,
    CLINIC_X2_VAR1,
    CLINIC_X2_VAR2,
    VIABILITY_REFERENCE,
    VIABILITY_TEST,
)

R = 1e-5


def test_t1_welch_clinic_var1():
    r = tost(CLINIC_X1_VAR1, CLINIC_X2_VAR1, lower=-0.6, upper=0.6)
    assert r.variance == "welch"
    assert r.difference == pytest.approx(0.164667, rel=R)
    assert r.se == pytest.approx(0.253163, rel=R)
    assert r.df == pytest.approx(26.7485, rel=R)
    assert r.t_lower == pytest.approx(3.02046, rel=R)
    assert r.p_lower == pytest.approx(0.0027487, rel=1e-4)
    assert r.t_upper == pytest.approx(-1.71958, rel=R)
    assert r.p_upper == pytest.approx(0.0485308, rel=R)
    assert r.p_value == pytest.approx(0.0485308, rel=R)
    assert (r.ci_low, r.ci_high) == pytest.approx((-0.266686, 0.596020), rel=R)
    assert r.equivalent


def test_t2_pooled_clinic_var1():
    r = tost(CLINIC_X1_VAR1, CLINIC_X2_VAR1, margin=0.6, variance="pooled")
    assert r.df == 28
    assert r.p_lower == pytest.approx(0.0026699, rel=1e-4)
    assert r.p_value == pytest.approx(0.0482732, rel=R)
    assert (r.ci_low, r.ci_high) == pytest.approx((-0.265996, 0.595329), rel=R)
    assert r.equivalent


@pytest.mark.parametrize(
    ("variance", "df", "p", "ci"),
    [
        ("welch", 24.1100, 0.431794, (0.194916, 0.930417)),
        ("pooled", 28, 0.431693, (0.196945, 0.928388)),
    ],
)
def test_t3_clinic_var2_not_equivalent(variance, df, p, ci):
    r = tost(CLINIC_X1_VAR2, CLINIC_X2_VAR2, margin=0.6, variance=variance)
    assert r.difference == pytest.approx(0.562667, rel=R)
    assert r.se == pytest.approx(0.214987, rel=R)
    assert r.df == pytest.approx(df, rel=R)
    assert r.t_lower == pytest.approx(5.40807, rel=R)
    assert r.t_upper == pytest.approx(-0.173654, rel=1e-4)
    assert r.p_value == pytest.approx(p, rel=R)
    assert r.p_value == r.p_upper  # the binding side is the upper bound
    assert (r.ci_low, r.ci_high) == pytest.approx(ci, rel=R)
    assert not r.equivalent


def test_t4_paired_clinic_var1():
    r = tost(CLINIC_X1_VAR1, CLINIC_X2_VAR1, margin=0.6, paired=True)
    assert r.design == "paired" and r.variance == "paired"
    assert r.se == pytest.approx(0.135751, rel=R)
    assert r.df == 14
    assert r.p_value == pytest.approx(0.00316688, rel=R)
    assert (r.ci_low, r.ci_high) == pytest.approx((-0.074434, 0.403767), rel=1e-4)


def test_t5_ratio_scale_back_transforms():
    r = tost(CLINIC_X1_VAR1, CLINIC_X2_VAR1, lower=0.8, upper=1.25, scale="ratio")
    assert r.log_difference == pytest.approx(0.0431223, rel=R)
    assert r.se == pytest.approx(0.0735084, rel=R)
    assert r.df == pytest.approx(27.6118, rel=R)
    assert r.p_value == pytest.approx(0.0104709, rel=R)
    assert (r.log_ci_low, r.log_ci_high) == pytest.approx((-0.0819852, 0.168230), rel=R)
    assert r.difference == pytest.approx(1.04407, rel=R)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.92129, 1.18321), rel=R)
    assert (r.lower, r.upper) == (0.8, 1.25)


def test_t6_pingouin_docstring_example():
    a, b = [4, 7, 8, 6, 3, 2], [6, 8, 7, 10, 11, 9]
    r = tost(a, b, margin=1, variance="pooled")
    assert r.df == 10
    assert r.p_value == pytest.approx(0.965097, rel=R)
    r = tost(a, b, margin=0.5, paired=True)
    assert r.df == 5
    assert r.p_value == pytest.approx(0.954854, rel=R)


def test_t7_cart_viability_estimated_margin():
    r = tost(VIABILITY_TEST, VIABILITY_REFERENCE, margin_sd=1.5)
    assert r.margin.source == "k_sd_reference"
    assert r.margin.sd_reference == pytest.approx(1.841147, rel=R)
    assert r.upper == pytest.approx(2.761720, rel=R)
    assert r.margin.n_reference == 8 and r.margin.df_reference == 7
    assert r.margin.provenance is not None
    assert r.difference == pytest.approx(-0.1675, rel=R)
    assert r.se == pytest.approx(0.939749, rel=R)
    assert r.df == pytest.approx(9.94644, rel=R)
    assert r.t_lower == pytest.approx(2.76055, rel=R)
    assert r.p_lower == pytest.approx(0.0101027, rel=R)
    assert r.t_upper == pytest.approx(-3.11702, rel=R)
    assert r.p_upper == pytest.approx(0.0054988, rel=1e-4)
    assert r.p_value == pytest.approx(0.0101027, rel=R)
    assert (r.ci_low, r.ci_high) == pytest.approx((-1.871689, 1.536689), rel=R)
    assert r.equivalent
    pooled = tost(VIABILITY_TEST, VIABILITY_REFERENCE, margin_sd=1.5, variance="pooled")
    assert pooled.df == 11
    assert pooled.p_value == pytest.approx(0.0116913, rel=R)
    assert (pooled.ci_low, pooled.ci_high) == pytest.approx((-1.938556, 1.603556), rel=R)


def test_summary_statistics_match_raw_data():
    t, r = np.array(VIABILITY_TEST), np.array(VIABILITY_REFERENCE)
    raw = tost(t, r, margin=2.0)
    summ = tost_from_summary(
        t.mean(), t.std(ddof=1), t.size, r.mean(), r.std(ddof=1), r.size, margin=2.0
    )
    assert summ.p_value == pytest.approx(raw.p_value, rel=1e-12)
    assert (summ.ci_low, summ.ci_high) == pytest.approx((raw.ci_low, raw.ci_high), rel=1e-12)
    est = tost_from_summary(
        t.mean(), t.std(ddof=1), t.size, r.mean(), r.std(ddof=1), r.size, margin_sd=1.5
    )
    assert est.upper == pytest.approx(2.761720, rel=R)


def test_labels_name_each_one_sided_test():
    r = tost(VIABILITY_TEST, VIABILITY_REFERENCE, margin=3)
    assert "difference <= lower bound" in r.lower_test and "upper-tail" in r.lower_test
    assert "difference >= upper bound" in r.upper_test and "lower-tail" in r.upper_test
    d = r.to_dict()
    for key in (
        "difference",
        "se",
        "df",
        "t_lower",
        "p_lower",
        "t_upper",
        "p_upper",
        "p_value",
        "ci_low",
        "ci_high",
        "equivalent",
        "variance",
    ):
        assert key in d
    assert d["provenance"]["method"].startswith("TOST")
    assert "EQUIVALENT" in r.summary()


def test_three_versus_three_welch_with_estimated_margin_warns_it_can_never_pass():
    # statistics.md 1.6: smallest achievable 90% CI half-width about 1.52 s_R > 1.5 s_R.
    assert min_half_width(3, 3, 0.05, "welch") == pytest.approx(1.5288, abs=5e-4)
    assert min_half_width(3, 3, 0.05, "pooled") < 1.5
    with pytest.warns(DesignWarning, match="never conclude equivalence"):
        r = tost([1.0, 1.1, 0.9], [1.0, 1.2, 0.8], margin_sd=1.5)
    assert not r.equivalent
    assert any("never" in w for w in r.warnings)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DesignWarning)
        warnings.simplefilter("ignore", SmallSampleWarning)
        tost([1.0, 1.1, 0.9], [1.0, 1.2, 0.8, 1.1, 0.95], margin_sd=1.5)  # no design warning


def test_fixed_margin_does_not_warn_about_design():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tost([1.0, 1.1, 0.9], [1.0, 1.2, 0.8], margin=1.0)


def test_margin_from_reference_on_ratio_scale_uses_ln_values():
    m = margin_from_reference([100, 120, 90, 110], k=1.5, scale="ratio")
    s = np.std(np.log([100, 120, 90, 110]), ddof=1)
    assert m.upper == pytest.approx(math.exp(1.5 * s))
    assert m.lower == pytest.approx(math.exp(-1.5 * s))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"test": [1.0], "reference": [1, 2, 3], "margin": 1}, "at least 2"),
        ({"test": [1, 1, 1], "reference": [2, 2, 2], "margin": 1}, "zero variance"),
        ({"test": [1, float("nan"), 2], "reference": [1, 2, 3], "margin": 1}, "non-finite"),
        ({"test": [1, "x", 2], "reference": [1, 2, 3], "margin": 1}, "numeric"),
        ({"test": [1, 2, 3], "reference": [1, 2, 3], "lower": 1, "upper": -1}, "below"),
        ({"test": [1, 2, 3], "reference": [1, 2, 3]}, "exactly one margin"),
        ({"test": [1, 2, 3], "reference": [1, 2, 3], "margin": 1, "margin_sd": 1.5}, "exactly one"),
        ({"test": [1, 2, 3], "reference": [1, -2, 3], "margin": 1.25, "scale": "ratio"}, "> 0"),
        ({"test": [1, 2, 3], "reference": [1, 2, 3], "margin": 0.8, "scale": "ratio"}, "> 1"),
        ({"test": [1, 2, 3], "reference": [1, 2], "margin": 1, "paired": True}, "equal lengths"),
        ({"test": [1, 2, 3], "reference": [1, 2, 3], "margin": 1, "variance": "x"}, "variance"),
    ],
)
def test_degenerate_input_raises_clear_error(kwargs, match):
    test, reference = kwargs.pop("test"), kwargs.pop("reference")
    with pytest.raises(DegenerateDataError, match=match):
        tost(test, reference, **kwargs)


finite = st.floats(min_value=-100, max_value=100, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(finite, min_size=2, max_size=12),
    st.lists(finite, min_size=2, max_size=12),
    st.floats(min_value=0.1, max_value=50),
    st.sampled_from(["welch", "pooled"]),
)
def test_decision_equals_ci_inside_bounds(test, reference, margin, variance):
    """Invariant: p_TOST < α exactly when the (1−2α) CI lies inside the bounds."""
    if np.ptp(test) < 1e-6 and np.ptp(reference) < 1e-6:
        return
    try:
        r = tost(test, reference, margin=margin, variance=variance)
    except DegenerateDataError:
        return
    inside = -margin < r.ci_low and r.ci_high < margin
    if abs(r.p_value - 0.05) > 1e-9:
        assert r.equivalent == inside
    assert r.p_value == max(r.p_lower, r.p_upper)
