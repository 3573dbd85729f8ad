"""Capability against luca-scr/qcc tests/testthat/test-capability.R (S6) and Montgomery's piston
rings (S5; σ_within matches qcc; Bissell CI) of /work/shared/references/statistics.md."""

import json

import pytest

from vein2vein.stats import DegenerateDataError, SmallSampleWarning, capability

from .data import PISTONRINGS, QCC_CAPABILITY, VISCOSITY


def test_s6_qcc_capability_with_tabled_d2():
    r = capability(QCC_CAPABILITY, lsl=9.9, usl=10.1, target=10.0, tabled=True)
    assert r.mean == pytest.approx(10.005)
    assert (r.cp, r.cpl, r.cpu, r.cpk, r.cpm) == pytest.approx(
        (1.372667, 1.441300, 1.304033, 1.304033, 1.344463), abs=1e-6
    )
    assert r.sigma_overall == pytest.approx(0.0206706, abs=1e-7)
    assert (r.pp, r.ppl, r.ppu, r.ppk, r.ppm) == pytest.approx(
        (1.612598, 1.693228, 1.531968, 1.531968, 1.567395), abs=1e-6
    )
    off = capability(QCC_CAPABILITY, lsl=9.9, usl=10.1, target=10.02, tabled=True)
    assert off.cpm == pytest.approx(1.167834, abs=1e-6)
    assert off.ppm == pytest.approx(1.305161, abs=1e-6)


def test_s6_exact_d2():
    r = capability(QCC_CAPABILITY, lsl=9.9, usl=10.1, target=10.0)
    assert (r.cp, r.cpk, r.cpm) == pytest.approx((1.372500, 1.303875, 1.344307), abs=1e-6)


@pytest.mark.parametrize(
    ("method", "sigma", "cp", "cpk"),
    [
        ("rbar", 0.0097853, 1.7032, 1.6632),
        ("sbar", 0.0098300, 1.6955, 1.6556),
        ("pooled", 0.0098875, 1.6856, 1.6460),
    ],
)
def test_s5_pistonrings_within_sigma_options(method, sigma, cp, cpk):
    r = capability(PISTONRINGS[:25], lsl=73.95, usl=74.05, sigma_within=method)
    assert r.sigma_within == pytest.approx(sigma, abs=1e-7)
    assert r.cp == pytest.approx(cp, abs=1e-4)
    assert r.cpk == pytest.approx(cpk, abs=1e-4)
    assert r.pp == pytest.approx(1.6551, abs=1e-4)
    assert r.ppk == pytest.approx(1.6162, abs=1e-4)
    assert r.n == 125 and r.subgroups == 25


def test_s5_bissell_interval():
    r = capability(PISTONRINGS[:25], lsl=73.95, usl=74.05)
    assert r.intervals["cpk"] == pytest.approx((1.448, 1.878), abs=1e-3)
    assert r.intervals["cp"][0] < r.cp < r.intervals["cp"][1]


def test_subgroup_size_option_equals_2d_input():
    flat = [v for row in PISTONRINGS[:25] for v in row]
    a = capability(flat, lsl=73.95, usl=74.05, subgroup_size=5)
    b = capability(PISTONRINGS[:25], lsl=73.95, usl=74.05)
    assert a.cpk == b.cpk and a.ppk == b.ppk


def test_one_sided_specification_defines_cpk_from_the_available_side():
    r = capability(PISTONRINGS[:25], usl=74.05)
    assert r.cp is None and r.pp is None and r.cpl is None and r.cpm is None
    assert r.cpk == r.cpu
    assert r.ppk == r.ppu
    low = capability(PISTONRINGS[:25], lsl=73.95)
    assert low.cpk == low.cpl
    assert "cp" not in r.intervals and "cpk" in r.intervals


def test_individuals_use_moving_range_and_warn_below_30():
    with pytest.warns(SmallSampleWarning, match="< 30"):
        r = capability(VISCOSITY, lsl=32, usl=35)
    assert r.sigma_within == pytest.approx(0.480714 / 1.128379, rel=1e-5)
    assert "MR" in r.sigma_within_method
    assert "no c4" in r.sigma_overall_method
    d = r.to_dict()
    json.dumps(d)
    for key in (
        "cp",
        "cpl",
        "cpu",
        "cpk",
        "cpm",
        "pp",
        "ppl",
        "ppu",
        "ppk",
        "n",
        "sigma_within",
        "sigma_overall",
    ):
        assert key in d


def test_capability_errors():
    with pytest.raises(DegenerateDataError, match="specification"):
        capability(VISCOSITY)
    with pytest.raises(DegenerateDataError, match="below"):
        capability(VISCOSITY, lsl=35, usl=32)
    with pytest.raises(DegenerateDataError, match="zero variation"):
        capability([1.0, 1.0, 1.0, 1.0], lsl=0, usl=2)
    with pytest.raises(DegenerateDataError, match="split"):
        capability(VISCOSITY, lsl=32, usl=35, subgroup_size=4)
    with pytest.raises(DegenerateDataError, match="sigma_within"):
        capability(PISTONRINGS, lsl=73.9, usl=74.1, sigma_within="mr")
