"""Kaplan-Meier medians and Brookmeyer-Crowley intervals.

References: R survival ``survfit(Surv(time, status) ~ 1, data = lung)`` prints median 310,
0.95LCL 285, 0.95UCL 363 (conf.type "log", R's default); by sex 270 (212, 310) and
426 (348, 550). ``survival::aml`` (conf.type "log"): Maintained 31 (18, NA), Nonmaintained
23 (8, NA). lifelines 0.30.3 KaplanMeierFitter (log-log band) is run live for comparison.
lifelines.datasets.load_lung() is R's lung with status recoded to 1 = dead.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_lung, load_waltons
from lifelines.utils import median_survival_times

from vein2vein.clinical.survival import SurvivalInputError, kaplan_meier

AML_M = ([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161], [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
AML_N = ([5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45], [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1])


def triple(fit):
    return (fit.median, fit.median_lower, fit.median_upper)


def test_lung_matches_r_log_interval():
    lung = load_lung()
    fit = kaplan_meier(lung["time"], lung["status"], conf_type="log")
    assert (fit.n, fit.events) == (228, 165)
    assert triple(fit) == (310, 285, 363)


@pytest.mark.parametrize(("sex", "expected"), [(1, (270, 212, 310)), (2, (426, 348, 550))])
def test_lung_by_sex_matches_r(sex, expected):
    lung = load_lung()
    g = lung[lung["sex"] == sex]
    assert triple(kaplan_meier(g["time"], g["status"], conf_type="log")) == expected


def lifelines_triple(t, e):
    kmf = KaplanMeierFitter().fit(t, e)
    ci = median_survival_times(kmf.confidence_interval_)
    return (kmf.median_survival_time_, ci.iloc[0, 0], ci.iloc[0, 1])


@pytest.mark.parametrize("which", ["lung", "lung1", "lung2", "waltons_control", "waltons_mir"])
def test_log_log_matches_lifelines(which):
    if which.startswith("lung"):
        d = load_lung()
        if which != "lung":
            d = d[d["sex"] == int(which[-1])]
        t, e = d["time"], d["status"]
    else:
        d = load_waltons()
        d = d[d["group"] == ("control" if which.endswith("control") else "miR-137")]
        t, e = d["T"], d["E"]
    assert triple(kaplan_meier(t, e, conf_type="log-log")) == lifelines_triple(t, e)


def test_lung_log_log_and_plain_values():
    lung = load_lung()
    assert triple(kaplan_meier(lung["time"], lung["status"])) == (310, 284, 361)
    assert triple(kaplan_meier(lung["time"], lung["status"], conf_type="plain")) == (310, 284, 361)


def test_aml_matches_r_log():
    m = kaplan_meier(*AML_M, conf_type="log")
    n = kaplan_meier(*AML_N, conf_type="log")
    assert m.median == 31 and m.median_lower == 18 and math.isnan(m.median_upper)
    assert n.median == 23 and n.median_lower == 8 and math.isnan(n.median_upper)


def test_where_we_differ_from_lifelines_documented_cases():
    # S = 0.5 exactly on a flat step: R/SAS midpoint 2.5, lifelines 2
    assert kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1]).median == 2.5
    assert KaplanMeierFitter().fit([1, 2, 3, 4], [1, 1, 1, 1]).median_survival_time_ == 2
    # curve drops to 0: R gives an open upper limit, lifelines the last event time
    fit = kaplan_meier([245, 315, 448], [1, 1, 1])
    assert (fit.median, fit.median_lower) == (315, 245) and math.isnan(fit.median_upper)
    assert lifelines_triple([245, 315, 448], [1, 1, 1]) == (315, 245, 448)
    # aml Maintained, log-log: lifelines reports inf where we report NaN
    m = kaplan_meier(*AML_M)
    assert m.median_lower == 13 and math.isnan(m.median_upper)


def test_flat_step_at_half_running_to_end_of_follow_up():
    # S = 0.5 after the second event, then only censorings: midpoint of 2 and the last time 10
    fit = kaplan_meier([1, 2, 5, 10], [1, 1, 0, 0])
    assert fit.median == 6.0


def test_not_reached_is_nan():
    fit = kaplan_meier([5, 10, 15, 20], [1, 0, 0, 0])
    assert math.isnan(fit.median)
    assert fit.summary_dict()["median_days"] is None


def test_all_censored_and_single_subject():
    fit = kaplan_meier([3, 4], [0, 0])
    assert fit.events == 0 and math.isnan(fit.median)
    one = kaplan_meier([7], [1])
    assert one.median == 7 and one.survival.tolist() == [0.0]


def test_event_and_censoring_at_the_same_time_censored_still_at_risk():
    fit = kaplan_meier([2, 2, 3, 4], [1, 0, 1, 1])
    assert fit.n_risk.tolist() == [4, 2, 1]
    assert fit.survival.tolist() == pytest.approx([0.75, 0.375, 0.0])


def test_numbers_at_risk():
    fit = kaplan_meier([1, 2, 2, 5, 8], [1, 0, 1, 1, 0])
    assert fit.at_risk([0, 2, 3, 8, 9]).tolist() == [5, 4, 2, 1, 0]


def test_empty_group_fits_without_estimate():
    fit = kaplan_meier([], [])
    assert fit.n == 0 and math.isnan(fit.median)


def test_bad_input_raises_named_error():
    with pytest.raises(SurvivalInputError):
        kaplan_meier([1, -2], [1, 1])
    with pytest.raises(SurvivalInputError):
        kaplan_meier([1, 2], [1, 2])
    with pytest.raises(ValueError):
        kaplan_meier([1, 2], [1, 1], conf_type="arcsin")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 60), st.booleans()), min_size=1, max_size=40))
def test_survival_curve_matches_lifelines(data):
    t = np.array([x for x, _ in data], float)
    e = np.array([int(y) for _, y in data])
    fit = kaplan_meier(t, e)
    kmf = KaplanMeierFitter().fit(t, e)
    expected = kmf.survival_function_at_times(fit.time).to_numpy()
    assert fit.survival == pytest.approx(expected)
