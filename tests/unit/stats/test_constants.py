"""Chart constants: exact values against the table of /work/shared/references/statistics.md 2.5
(computed from the normal range distribution) and closed forms; tabled values against the printed
3-decimal tables (Montgomery appendix VI / ASTM E2587) that qcc and Minitab use."""

import math

import pytest

from vein2vein.stats import DegenerateDataError, chart_constants
from vein2vein.stats.constants import median_mr_constant

EXACT = [
    # n, d2, d3, c4, A2, D3, D4, A3, B3, B4
    (2, 1.1284, 0.8525, 0.7979, 1.8800, 0, 3.2665, 2.6587, 0, 3.2665),
    (3, 1.6926, 0.8884, 0.8862, 1.0233, 0, 2.5746, 1.9544, 0, 2.5682),
    (4, 2.0588, 0.8798, 0.9213, 0.7286, 0, 2.2821, 1.6281, 0, 2.2660),
    (5, 2.3259, 0.8641, 0.9400, 0.5768, 0, 2.1145, 1.4273, 0, 2.0890),
    (6, 2.5344, 0.8480, 0.9515, 0.4832, 0, 2.0038, 1.2871, 0.0304, 1.9696),
    (7, 2.7044, 0.8332, 0.9594, 0.4193, 0.0757, 1.9243, 1.1819, 0.1177, 1.8823),
    (8, 2.8472, 0.8198, 0.9650, 0.3725, 0.1362, 1.8638, 1.0991, 0.1851, 1.8149),
    (9, 2.9700, 0.8078, 0.9693, 0.3367, 0.1840, 1.8160, 1.0317, 0.2391, 1.7609),
    (10, 3.0775, 0.7971, 0.9727, 0.3083, 0.2230, 1.7770, 0.9754, 0.2837, 1.7163),
]


@pytest.mark.parametrize("row", EXACT)
def test_exact_constants(row):
    n, *expected = row
    c = chart_constants(n)
    got = [c.d2, c.d3, c.c4, c.A2, c.D3, c.D4, c.A3, c.B3, c.B4]
    assert got == pytest.approx(expected, abs=6e-5)


def test_closed_forms_for_small_n():
    # E[R] of 2 and 3 normals: 2/sqrt(pi) and 3/sqrt(pi); SD[R] of 2: sqrt(2 - 4/pi).
    assert chart_constants(2).d2 == pytest.approx(2 / math.sqrt(math.pi), rel=1e-12)
    assert chart_constants(3).d2 == pytest.approx(3 / math.sqrt(math.pi), rel=1e-12)
    assert chart_constants(2).d3 == pytest.approx(math.sqrt(2 - 4 / math.pi), rel=1e-10)


def test_tabled_constants_reproduce_printed_tables():
    assert chart_constants(2, tabled=True).d2 == 1.128
    assert chart_constants(2, tabled=True).D4 == 3.267
    c5 = chart_constants(5, tabled=True)
    assert (c5.d2, c5.A2, c5.D4, c5.A3, c5.B4) == (2.326, 0.577, 2.114, 1.427, 2.089)
    assert chart_constants(4, tabled=True).d2 == 2.059
    assert median_mr_constant(tabled=True) == 0.954
    assert median_mr_constant() == pytest.approx(0.953873, abs=1e-6)


def test_subgroup_size_must_be_valid():
    with pytest.raises(DegenerateDataError):
        chart_constants(1)


def test_stored_n2_constants_are_what_the_formulas_give():
    # I-MR charts use stored n = 2 constants so that they need no scipy (issue 15); they must be
    # the quadrature's and the normal quantile's own values: to 1e-13, since the quadrature's
    # last bits differ between CPUs (0.8525024664274194 against 0.85250246642742 here).
    from scipy import stats

    from vein2vein.stats.constants import _EXACT_N2, MEDIAN_MR_CONSTANT, _exact

    assert _exact(2, stored=False) == pytest.approx(_EXACT_N2, rel=1e-13, abs=0)
    assert math.sqrt(2) * float(stats.norm.ppf(0.75)) == MEDIAN_MR_CONSTANT
