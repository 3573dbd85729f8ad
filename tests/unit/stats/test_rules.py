"""Run rules: the deterministic sequences of luca-scr/qcc tests/testthat/test-rules.R (case S7 of
/work/shared/references/statistics.md), and the vectorised engine against the plain-loop
implementation of bench/stats_cpv.py on random series (Hypothesis)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vein2vein.stats import DegenerateDataError, nelson, western_electric
from vein2vein.stats.rules import evaluate, flags_per_point, rule_set


def hits(z, rules, label):
    return [int(i) + 1 for i in np.flatnonzero(evaluate(z, rules)[label])]


N = nelson()
WE = western_electric()


@pytest.mark.parametrize(
    ("label", "z", "expected"),
    [
        ("N1", [0, 3.2, -3.4, 3], [2, 3]),
        ("N2", [0.5] * 10 + [-0.5] * 10, [9, 10, 19, 20]),
        ("N3", [1, 2, 3, 4, 5, 6, 7, 7, 6, 5, 4, 3, 2, 1], [6, 7, 13, 14]),
        ("N4", [1, 3, 2, 4, 3, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8], [14, 15]),
        ("N5", [0, 2.3, 0.4, 2.2, -2.4, -0.2, -2.5], [4, 7]),
        ("N6", [1.2, 1.3, 0.2, 1.4, 1.5, -1.2, -1.3, -0.1, -1.4, -1.5], [5, 10]),
        ("N7", [0.3] * 16 + [1.2], [15, 16]),
        ("N8", [1.2, -1.3, 1.1, -1.4, 1.5, -1.2, 1.3, -1.1, 0.2], [8]),
        ("N8", [1.2] * 8, []),
    ],
)
def test_qcc_nelson_sequences(label, z, expected):
    assert hits(z, N, label) == expected


def test_western_electric_rule_4_and_overlap():
    assert hits([-1] * 8 + [1], WE, "WE4") == [8]
    flags = evaluate([2.5] * 7 + [3.2], WE)
    assert {k: [int(i) + 1 for i in np.flatnonzero(v)] for k, v in flags.items()} == {
        "WE1": [8],
        "WE2": [3, 4, 5, 6, 7, 8],
        "WE3": [5, 6, 7, 8],
        "WE4": [8],
    }
    per_point = flags_per_point(flags, 8)
    assert per_point[7] == ["WE1", "WE2", "WE3", "WE4"]  # each point lists every rule it breaks
    assert per_point[:2] == [[], []]


def test_centre_line_point_breaks_same_side_run():
    z = [0.5] * 8 + [0.0] + [0.5] * 8
    assert hits(z, N, "N2") == []


def test_k_of_m_flags_only_points_beyond_the_zone():
    # Window (2.5, 2.5, 0.1) ending at point 4 holds 2 of 3 beyond 2 sigma, but point 4 itself
    # is not beyond, so only point 3 (the completing point) is flagged.
    assert hits([0, 2.5, 2.5, 0.1], N, "N5") == [3]
    assert hits([2.5, 2.5], N, "N5") == []  # the window of 3 must be full


def test_adjustable_run_lengths():
    assert hits([0.5] * 8, nelson(same_side=8), "N2") == [8]
    assert hits([1, 2, 3, 4, 5], nelson(trend=5), "N3") == [5]
    assert list(evaluate([0.1] * 20, nelson(enabled=(1, 7)))) == ["N1", "N7"]


def test_rule_set_names():
    assert rule_set("nelson").name == "nelson"
    assert rule_set("western-electric").same_side == 8
    assert rule_set("none") is None
    with pytest.raises(DegenerateDataError):
        rule_set("minitab")
    with pytest.raises(DegenerateDataError):
        nelson(enabled=(9,))


def _load_bench():
    path = Path(__file__).resolve().parents[3] / "bench" / "stats_cpv.py"
    spec = importlib.util.spec_from_file_location("stats_cpv_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _load_bench()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(min_value=-4, max_value=4, allow_nan=False),
            st.sampled_from([0.0, 1.0, -1.0, 2.0, -2.0, 3.0, 0.5, -0.5]),
        ),
        min_size=1,
        max_size=60,
    ),
    st.sampled_from(["nelson", "western-electric"]),
)
def test_vectorised_rules_equal_plain_loop(z, name):
    rules = rule_set(name)
    fast = evaluate(z, rules)
    slow = BENCH.loop_rules(list(map(float, z)), name)
    for label, flags in fast.items():
        assert [bool(v) for v in flags] == slow[label], label
