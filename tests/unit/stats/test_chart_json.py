"""The fast JSON writer of control charts (issue 15) writes, byte for byte, what
``json.dumps(result.to_dict(), indent=2, allow_nan=False)`` writes: the ``v2v stats chart --json``
output of issue 4. Every chart type, every rule set, phase I / II, points breaking several rules,
and the numbers whose notation differs between orjson and ``repr`` (1e-9 <= |x| < 1e-4, above
1e16)."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vein2vein.core.errors import InputError
from vein2vein.stats import cusum_chart, ewma_chart, imr_chart, xbar_r_chart, xbar_s_chart
from vein2vein.stats.chart_json import chart_json

from .data import FLOWRATE, PISTONRINGS


def reference(result) -> bytes:
    return json.dumps(result.to_dict(), indent=2, allow_nan=False).encode("ascii")


def series(seed: int = 3, n: int = 2000, scale: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(100.0, scale, n)
    x[100:130] += 2.5 * scale  # runs, zone rules, several rules on one point
    x[700] += 6 * scale
    x[900:915] = 100.0 + np.linspace(0, 3 * scale, 15)  # a trend
    return x


CHARTS = {
    "imr nelson": lambda: imr_chart(series(), phase1=100),
    "imr all phase I": lambda: imr_chart(series()),
    "imr western electric": lambda: imr_chart(series(), rules="western-electric", phase1=50),
    "imr no rules": lambda: imr_chart(series(), rules="none"),
    "imr median MR tabled": lambda: imr_chart(series(), sigma_method="median_mr", tabled=True),
    "imr standards": lambda: imr_chart(series(), center=100, sigma=2),
    "imr flowrate": lambda: imr_chart(FLOWRATE, tabled=True),
    "imr tiny values": lambda: imr_chart(series(scale=3e-5) - 100.0),
    "imr huge values": lambda: imr_chart(series(scale=1e17)),
    "xbar-r": lambda: xbar_r_chart(np.array(PISTONRINGS), phase1=25, tabled=True),
    "xbar-s": lambda: xbar_s_chart(series().reshape(-1, 4), rules="western-electric"),
    "ewma": lambda: ewma_chart(series(), phase1=200),
    "ewma tiny": lambda: ewma_chart(series(scale=1e-6) - 100.0),
    "cusum": lambda: cusum_chart(series(), center=100, sigma=2),
    "cusum tiny": lambda: cusum_chart(series(scale=1e-5) - 100.0),
}


@pytest.mark.parametrize("name", CHARTS)
def test_fast_writer_is_byte_identical_to_json_dumps(name):
    result = CHARTS[name]()
    assert chart_json(result) == reference(result)


def test_the_cases_exercise_what_the_writer_special_cases():
    x = imr_chart(series(), phase1=100)
    assert any(len(p.rules) > 1 for p in x.points)
    assert {p.phase for p in x.points} == {"I", "II"}
    tiny = imr_chart(series(scale=3e-5) - 100.0)
    assert b"e-05" in reference(tiny)  # the notation orjson writes differently


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e20, max_value=1e20),
        min_size=3,
        max_size=60,
    ),
    exponent=st.integers(min_value=-12, max_value=18),
    kind=st.sampled_from(["imr", "ewma", "cusum", "xbar-r"]),
)
def test_any_series_any_scale(values, exponent, kind):
    x = np.asarray(values) * 10.0**exponent
    if not np.isfinite(x).all() or np.ptp(x) == 0 or np.abs(np.diff(x)).mean() == 0:
        return
    try:
        if kind == "imr":
            result = imr_chart(x)
        elif kind == "ewma":
            result = ewma_chart(x)
        elif kind == "cusum":
            result = cusum_chart(x)
        else:
            m = x.size - x.size % 3
            result = xbar_r_chart(x[:m].reshape(-1, 3))
    except InputError:  # degenerate data for that chart
        return
    assert chart_json(result) == reference(result)


def test_index_heads_are_right_whether_kept_or_not(monkeypatch):
    from vein2vein.stats import chart_json as writer

    monkeypatch.setattr(writer, "_HEADS", {})
    monkeypatch.setattr(writer, "_KEEP_HEADS", 40)
    x = series()
    for n in (30, 60, 20, 40, 45):  # kept, too long to keep, shorter, kept again, longer
        result = imr_chart(x[:n])
        assert chart_json(result) == reference(result)
