"""2^k factorial: Montgomery, Design and Analysis of Experiments, Example 6.1 (case G2 of
/work/shared/references/statistics.md; F_A = 53.19, F_B = 19.15 as printed in the textbook)."""

import pytest

from vein2vein.stats import DegenerateDataError, InsufficientDataError, factorial_analysis

from .data import MONTGOMERY_6_1


def test_g2_effects_and_anova():
    r = factorial_analysis(MONTGOMERY_6_1, "y", ["A", "B"])
    assert r.effects == pytest.approx({"A": 8.3333, "B": -5.0, "A:B": 1.6667}, abs=1e-4)
    rows = {row.term: row for row in r.anova}
    assert rows["A"].sum_sq == pytest.approx(208.333, abs=1e-3)
    assert rows["B"].sum_sq == pytest.approx(75.000, abs=1e-3)
    assert rows["A:B"].sum_sq == pytest.approx(8.333, abs=1e-3)
    assert rows["Residual"].sum_sq == pytest.approx(31.333, abs=1e-3)
    assert rows["Residual"].df == 8
    assert rows["A"].f == pytest.approx(53.19, abs=0.01)
    assert rows["B"].f == pytest.approx(19.15, abs=0.01)
    assert rows["A:B"].f == pytest.approx(2.13, abs=0.01)
    assert rows["A"].p == pytest.approx(8.4e-5, rel=0.01)
    assert rows["B"].p == pytest.approx(0.00236, rel=0.01)


def test_centre_points_give_curvature():
    data = {k: list(v) for k, v in MONTGOMERY_6_1.items()}
    data["A"] += [0] * 4
    data["B"] += [0] * 4
    data["y"] += [29, 30, 28, 31]
    r = factorial_analysis(data, "y", ["A", "B"])
    assert r.n_center == 4
    # y_C - y_F = 29.5 - 27.5; SS_curv = nF nC (yF - yC)^2 / (nF + nC) = 12*4*4/16 = 12
    assert r.curvature == pytest.approx(2.0)
    rows = {row.term: row for row in r.anova}
    assert rows["curvature"].sum_sq == pytest.approx(12.0)
    assert r.effects["A"] == pytest.approx(8.3333, abs=1e-4)


def test_doe_errors():
    with pytest.raises(DegenerateDataError, match="coded"):
        factorial_analysis({"A": [1, 2], "y": [1, 2]}, "y", ["A"])
    with pytest.raises(InsufficientDataError, match="corner"):
        factorial_analysis({"A": [1, 1], "B": [1, -1], "y": [1, 2]}, "y", ["A", "B"])
    with pytest.raises(InsufficientDataError, match="residual"):
        factorial_analysis(
            {"A": [1, -1, 1, -1], "B": [1, 1, -1, -1], "y": [1, 2, 3, 4]}, "y", ["A", "B"]
        )
    with pytest.raises(DegenerateDataError, match="not found"):
        factorial_analysis({"A": [1, -1], "y": [1, 2]}, "y", ["C"])
