"""Control charts against NIST/SEMATECH e-Handbook 6.3.2.2 (S1), R qcc values recorded in the
mistat tests (S2, S3), Montgomery's piston rings with qcc values (S4), qcc test-ewma.R (S8) and the
CUSUM boundary case S9 — all in /work/shared/references/statistics.md section 3."""

import json

import numpy as np
import pytest

from vein2vein.stats import (
    DegenerateDataError,
    SmallSampleWarning,
    cusum_chart,
    ewma_chart,
    imr_chart,
    xbar_r_chart,
    xbar_s_chart,
)

from .data import ANTIFREEZE, FLOWRATE, PISTONRINGS, VISCOSITY


def test_s1_nist_flowrate_individuals_chart():
    r = imr_chart(FLOWRATE, tabled=True)
    assert r.center == pytest.approx(50.81)
    assert r.secondary.center == pytest.approx(1.877778, abs=1e-6)
    assert r.sigma == pytest.approx(1.664697, abs=1e-6)
    assert (r.lcl, r.ucl) == pytest.approx((45.8159, 55.8041), abs=1e-4)
    assert r.secondary.ucl == pytest.approx(6.1347, abs=1e-4)
    assert r.secondary.lcl == 0
    assert r.signals == {}
    exact = imr_chart(FLOWRATE)
    assert (exact.lcl, exact.ucl) == pytest.approx((45.8176, 55.8024), abs=1e-4)


def test_s2_viscosity_qcc_values():
    r = imr_chart(VISCOSITY, tabled=True)
    assert r.center == pytest.approx(33.52333, abs=1e-5)
    assert r.sigma == pytest.approx(0.4261651, abs=1e-7)
    assert (r.lcl, r.ucl) == pytest.approx((32.24484, 34.80183), abs=1e-5)
    assert r.secondary.ucl == pytest.approx(1.57049, abs=1e-5)
    sd = imr_chart(VISCOSITY, sigma_method="sd")
    assert sd.sigma == pytest.approx(0.3415928, abs=1e-7)
    assert (sd.lcl, sd.ucl) == pytest.approx((32.49855, 34.54811), abs=1e-5)
    assert r.flagged == () and sd.flagged == ()


def test_s3_antifreeze_rule_6():
    r = imr_chart(ANTIFREEZE, tabled=True)
    assert r.center == pytest.approx(2.569706, abs=1e-6)
    assert r.sigma == pytest.approx(0.1794541, abs=1e-7)
    assert (r.lcl, r.ucl) == pytest.approx((2.031344, 3.108068), abs=1e-6)
    assert r.signals == {"N6": (30, 32)}
    sd = imr_chart(ANTIFREEZE, sigma_method="sd")
    assert sd.sigma == pytest.approx(0.2216795, abs=1e-7)
    assert (sd.lcl, sd.ucl) == pytest.approx((1.904667, 3.234744), abs=1e-6)


def test_median_moving_range_sigma():
    mr = np.abs(np.diff(VISCOSITY))
    r = imr_chart(VISCOSITY, sigma_method="median_mr")
    assert r.sigma == pytest.approx(np.median(mr) / 0.953873, rel=1e-5)
    assert r.secondary.ucl == pytest.approx(3.865 * np.median(mr), rel=1e-3)  # Minitab's 3.865


def test_s4_pistonrings_xbar_r_phase_one_and_two():
    r = xbar_r_chart(PISTONRINGS, phase1=25, tabled=True)
    assert r.center == pytest.approx(74.001176, abs=1e-6)
    assert r.sigma == pytest.approx(0.009785039, abs=1e-9)
    assert (r.lcl, r.ucl) == pytest.approx((73.98805, 74.01430), abs=1e-5)
    assert r.secondary.center == pytest.approx(0.02276, abs=1e-9)
    assert r.secondary.ucl == pytest.approx(0.048115, abs=1e-6)  # D4 = 2.114
    assert r.phase1 == 25
    assert [p.phase for p in r.points[24:26]] == ["I", "II"]
    # phase II with frozen phase I limits (statistics.md S4)
    assert r.signals["N1"] == (37, 38, 39)
    assert r.signals["N5"] == (35, 37, 38, 39, 40)
    assert r.signals["N6"] == (35, 38, 39, 40)
    assert not any(i <= 25 for i in r.signals["N1"])
    exact = xbar_r_chart(PISTONRINGS, phase1=25)
    assert exact.secondary.ucl == pytest.approx(0.048126, abs=1e-6)


def test_s4_two_sigma_limits():
    r = xbar_r_chart(PISTONRINGS[:25], k=2, tabled=True)
    assert (r.lcl, r.ucl) == pytest.approx((73.99242, 74.00993), abs=1e-5)
    assert r.signals["N1"] == (1, 14)


def test_s4_pistonrings_xbar_s():
    r = xbar_s_chart(PISTONRINGS, phase1=25)
    assert r.secondary.center == pytest.approx(0.009240037, abs=1e-9)
    assert r.sigma == pytest.approx(0.009829977, abs=1e-9)
    assert r.secondary.ucl == pytest.approx(0.019302416, abs=1e-8)
    assert r.secondary.lcl == 0
    assert (r.lcl, r.ucl) == pytest.approx((73.98799, 74.01436), abs=1e-5)


def test_s8_qcc_ewma():
    r = ewma_chart([11, 13, 12], center=10, sigma=2, lam=0.5, L=2)
    assert [p.value for p in r.points] == pytest.approx([10.5, 11.75, 11.875])
    assert [p.lcl for p in r.points] == pytest.approx([8.0, 7.76393, 7.70871], abs=1e-5)
    assert [p.ucl for p in r.points] == pytest.approx([12.0, 12.23607, 12.29129], abs=1e-5)
    assert r.signals == {}


def test_s9_cusum_boundary_and_ewma_on_same_data():
    z = [0] * 5 + [1] * 8
    strict = cusum_chart(z, center=0, sigma=1, k=0.5, h=4)
    assert strict.points[-1].cusum_upper == 4.0
    assert strict.signals == {}  # C+ = h exactly is not a signal with the strict rule
    inclusive = cusum_chart(z, center=0, sigma=1, k=0.5, h=4, inclusive=True)
    assert inclusive.signals == {"CUSUM+": (13,)}
    e = ewma_chart(z, center=0, sigma=1)
    assert e.points[-1].value == pytest.approx(0.83223, abs=1e-5)
    assert e.points[-1].ucl == pytest.approx(0.99849, abs=1e-5)
    assert e.signals == {}


def test_cusum_matches_the_textbook_recursion():
    rng = np.random.default_rng(3)
    x = rng.normal(10, 1, 200) + np.r_[np.zeros(100), np.full(100, 0.8)]
    r = cusum_chart(x, center=10, sigma=1, k=0.5, h=5)
    hi = lo = 0.0
    for p, v in zip(r.points, x, strict=True):
        hi = max(0.0, v - 10.5 + hi)
        lo = max(0.0, 9.5 - v + lo)
        assert p.cusum_upper == pytest.approx(hi, abs=1e-9)
        assert p.cusum_lower == pytest.approx(lo, abs=1e-9)
    assert r.signals["CUSUM+"][0] > 100


def test_json_contract_of_imr_chart():
    d = imr_chart(FLOWRATE).to_dict()
    json.dumps(d)
    for key in ("center", "lcl", "ucl", "sigma", "points", "mr"):
        assert key in d
    assert d["points"][0] == {"index": 1, "value": 49.6, "rules": [], "phase": "I"}
    assert set(d["mr"]) >= {"center", "ucl"}


def test_given_standards_and_phase_warnings():
    r = imr_chart(FLOWRATE, center=50, sigma=1)
    assert r.phase1 == 0 and r.sigma_method == "given"
    assert r.signals["N1"] == (9,)  # 53.6 > 53
    with pytest.warns(SmallSampleWarning, match="phase I"):
        imr_chart(FLOWRATE)


def test_results_are_immutable():
    r = imr_chart(FLOWRATE)
    with pytest.raises(ValueError):
        r.values[0] = 1.0
    with pytest.raises(AttributeError):
        r.center = 1.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: imr_chart([1.0]), "at least 2"),
        (lambda: imr_chart([1.0, 1.0, 1.0]), "sigma is zero"),
        (lambda: imr_chart([1.0, float("nan"), 2.0]), "non-finite"),
        (lambda: imr_chart([1.0, "a", 2.0]), "numeric"),
        (lambda: imr_chart([1.0, 2.0, 3.0], phase1=5), "phase1"),
        (lambda: imr_chart([1.0, 2.0, 3.0], sigma_method="iqr"), "sigma_method"),
        (lambda: xbar_r_chart([[1.0, 2.0], [1.0]]), "equal sizes"),
        (lambda: xbar_r_chart([[1.0], [2.0]]), "subgroup size"),
        (lambda: ewma_chart([1.0, 2.0], lam=0), "lam"),
        (lambda: cusum_chart([1.0, 2.0], h=0), "h must be"),
        (lambda: imr_chart([1.0, 2.0, 3.0], rules="six-sigma"), "rules"),
    ],
)
def test_degenerate_chart_input(call, match):
    with pytest.raises(DegenerateDataError, match=match):
        call()
