"""TOST power: exact quadrature and seeded simulation against the Monte Carlo table of
/work/shared/references/statistics.md section 1.6 (100,000 reps, MC error about ±0.003) and
against a brute-force simulation of raw data written here."""

import numpy as np
import pytest
from scipy import stats

from vein2vein.stats import DegenerateDataError, InsufficientDataError, tost_power, tost_sample_size


@pytest.mark.parametrize(
    ("n", "pooled", "welch"),
    [
        (3, 0.154, 0.117),
        (4, 0.269, 0.239),
        (5, 0.416, 0.392),
        (6, 0.561, 0.548),
        (8, 0.771, 0.766),
        (10, 0.885, 0.884),
    ],
)
def test_exact_power_matches_published_simulation(n, pooled, welch):
    assert tost_power(n, sigma=1, margin=1.5, variance="pooled").power == pytest.approx(
        pooled, abs=0.006
    )
    assert tost_power(n, sigma=1, margin=1.5, variance="welch").power == pytest.approx(
        welch, abs=0.006
    )


def test_exact_power_at_shift_and_size_at_margin():
    assert tost_power(10, sigma=1, margin=1.5, true_difference=0.5, variance="pooled").power == (
        pytest.approx(0.689, abs=0.005)
    )
    # Size at the margin with a known margin and pooled variance: 0.039 / 0.048 / 0.050.
    for n, size in ((3, 0.039), (5, 0.048), (10, 0.050)):
        r = tost_power(n, sigma=1, margin=1.5, true_difference=1.5, variance="pooled")
        assert r.power == pytest.approx(size, abs=0.002)
        assert r.power <= 0.05 + 1e-9


def test_exact_pooled_power_agrees_with_brute_force_simulation():
    rng = np.random.default_rng(7)
    n_t, n_r, reps = 4, 7, 200_000
    t = rng.normal(0.3, 1.0, (reps, n_t))
    r = rng.normal(0.0, 1.3, (reps, n_r))
    df = n_t + n_r - 2
    sp2 = ((n_t - 1) * t.var(1, ddof=1) + (n_r - 1) * r.var(1, ddof=1)) / df
    half = stats.t.ppf(0.95, df) * np.sqrt(sp2 * (1 / n_t + 1 / n_r))
    d = t.mean(1) - r.mean(1)
    brute = np.mean((d - half > -1.5) & (d + half < 1.5))
    exact = tost_power(
        n_t, n_r, sigma=1.0, sigma_reference=1.3, margin=1.5, true_difference=0.3, variance="pooled"
    ).power
    assert exact == pytest.approx(brute, abs=0.004)


def test_paired_exact_power_matches_noncentral_t_identity():
    # With one-sided power P(T' > t_crit) for a single bound far away, TOST power -> noncentral t.
    n, sd, theta = 6, 1.0, 1.2
    r = tost_power(n, sigma=sd, lower=-theta, upper=1e6, variance="paired")
    q = stats.t.ppf(0.95, n - 1)
    assert r.power == pytest.approx(stats.nct.sf(q, n - 1, theta / (sd / np.sqrt(n))), abs=1e-6)


@pytest.mark.parametrize(("n", "expected"), [(3, 0.0), (5, 0.342), (8, 0.682), (10, 0.814)])
def test_estimated_margin_simulation_matches_published_table(n, expected):
    r = tost_power(n, sigma=1, margin_sd=1.5, variance="welch", n_sim=100_000, seed=11)
    assert r.method == "simulation" and r.seed == 11
    assert r.power == pytest.approx(expected, abs=0.008)


def test_estimated_margin_three_vs_ten_and_pooled_three_vs_three():
    assert tost_power(3, 10, sigma=1, margin_sd=1.5).power == pytest.approx(0.34, abs=0.015)
    assert tost_power(3, sigma=1, margin_sd=1.5, variance="pooled").power == pytest.approx(
        0.06, abs=0.01
    )


def test_simulation_is_reproducible_with_its_seed():
    a = tost_power(5, sigma=1, margin_sd=1.5, seed=3, n_sim=5000)
    b = tost_power(5, sigma=1, margin_sd=1.5, seed=3, n_sim=5000)
    c = tost_power(5, sigma=1, margin_sd=1.5, seed=4, n_sim=5000)
    assert a.power == b.power
    assert a.power != c.power
    assert a.to_dict()["provenance"]["options"]["seed"] == 3


def test_sample_size_search_returns_smallest_n():
    r = tost_sample_size(target_power=0.8, sigma=1, margin=1.5, variance="pooled")
    assert r.n_test == 9 and r.n_reference == 9
    assert r.power >= 0.8
    assert r.power_curve[-2][2] < 0.8


def test_power_input_errors():
    with pytest.raises(InsufficientDataError):
        tost_power(1, sigma=1, margin=1)
    with pytest.raises(DegenerateDataError, match="either a fixed margin or margin_sd"):
        tost_power(5, sigma=1, margin=1, margin_sd=1.5)
    with pytest.raises(DegenerateDataError, match="sigma"):
        tost_power(5, sigma=0, margin=1)
    with pytest.raises(InsufficientDataError, match="not reached"):
        tost_sample_size(sigma=1, margin=0.5, true_difference=0.6, variance="pooled", max_n=20)
