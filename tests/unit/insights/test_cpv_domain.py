"""The CPV rules (insights/cpv_domain.py), pure: the chart's numbers are the statistics
engine's on the same values (``stats.charts.imr_chart``), frozen limits are checked against a
hand computation with d₂(2) = 2/√π (the mean range of two standard normal values; NIST
e-Handbook 6.3.2.2 prints 1.128), and capability against an independent computation with the
standard library and scipy (Ppk = min(USL − x̄, x̄ − LSL)/3s; Bissell 1990's interval
Ĉ ± z·√(1/(9n) + Ĉ²/(2(n − 1))); Montgomery, Introduction to SQC, ch. 8)."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import statistics
from dataclasses import replace
from decimal import Decimal

import pytest
from scipy import stats as sps

from vein2vein.core.errors import InputError
from vein2vein.insights import cpv_domain as dom
from vein2vein.quality.domain import Criterion, Kind, Precision, Test
from vein2vein.stats.capability import capability
from vein2vein.stats.charts import imr_chart
from vein2vein.stats.errors import DegenerateDataError

pytestmark = pytest.mark.filterwarnings("ignore::vein2vein.stats.errors.SmallSampleWarning")
D2 = 2 / math.sqrt(math.pi)
DAY0 = dt.datetime(2026, 8, 3, 8, 0, tzinfo=dt.UTC)
#: four Ghent-like baseline batches, then two monitoring batches, the last below the LCL
VALUES = [81.0, 86.9, 89.9, 87.8, 88.0, 70.1]


def _points(values: list[float], first: int = 1) -> list[dom.Point]:
    return [
        dom.Point(
            batch_id=first + i,
            batch=f"B-{first + i}",
            result_id=100 + i,
            made_at=DAY0 + dt.timedelta(days=14 * i),
            value=v,
            unit="%",
            rounded=f"{v:.0f} %",
            outcome="conforms",
            version_id=1,
            disposition="released",
        )
        for i, v in enumerate(values)
    ]


def _test(kind: Kind, **kw: Decimal) -> Test:
    return Test(
        "viability", "Viability", "flow", Criterion(kind, **kw), unit="%",
        precision=Precision(decimals=0),
    )  # fmt: skip


def test_frozen_limits_are_the_engines_and_match_a_hand_computation() -> None:
    base = dom.baseline_points(_points(VALUES), DAY0.date(), (DAY0 + dt.timedelta(days=50)).date())
    assert [p.value for p in base] == VALUES[:4]
    limits, chart = dom.freeze(base)
    mean = statistics.fmean(VALUES[:4])
    mr_bar = statistics.fmean(abs(b - a) for a, b in itertools.pairwise(VALUES[:4]))
    sigma = mr_bar / D2
    assert limits.center == pytest.approx(mean, rel=1e-12)
    assert limits.sigma == pytest.approx(sigma, rel=1e-12)
    assert (limits.lcl, limits.ucl) == pytest.approx((mean - 3 * sigma, mean + 3 * sigma))
    assert limits.mr_center == pytest.approx(mr_bar)
    engine = imr_chart(VALUES[:4])
    assert (limits.center, limits.sigma, limits.lcl, limits.ucl) == (
        engine.center, engine.sigma, engine.lcl, engine.ucl,
    )  # fmt: skip
    assert chart.warnings  # fewer than 20 phase I points: the engine's warning is kept


def test_points_after_the_baseline_are_judged_against_the_frozen_limits() -> None:
    pts = _points(VALUES)
    limits, _ = dom.freeze(pts[:4])
    spec = dom.spec_limits(_test(Kind.AT_LEAST, limit=Decimal(70)), "≥ 70 %")
    view = dom.judge_series(
        pts, spec, limits=limits, baseline_batches=frozenset({1, 2, 3, 4}),
        baseline_end=pts[3].made_at.date(),
    )  # fmt: skip
    engine = imr_chart(VALUES, center=limits.center, sigma=limits.sigma)
    assert view.chart is not None
    assert (view.chart.center, view.chart.lcl, view.chart.ucl) == (
        engine.center, engine.lcl, engine.ucl,
    )  # fmt: skip
    assert {j.index: j.rules for j in view.points} == {p.index: p.rules for p in engine.points}
    assert [j.phase for j in view.points] == ["baseline"] * 4 + ["monitoring"] * 2
    assert [j.point.batch_id for j in view.flagged] == [6]
    assert "N1" in view.flagged[0].rules  # 70.1 below the frozen LCL (about 76.65)
    assert view.points[1].moving_range == pytest.approx(5.9)
    assert view.frozen and view.problem is None


def test_without_a_baseline_the_limits_are_provisional_from_every_point() -> None:
    view = dom.judge_series(_points(VALUES), dom.SpecLimits(None, None, "report"))
    engine = imr_chart(VALUES)
    assert view.chart is not None and not view.frozen
    assert (view.chart.center, view.chart.sigma) == (engine.center, engine.sigma)
    assert {j.phase for j in view.points} == {"provisional"}
    assert view.capability is None and "no numeric acceptance criterion" in str(
        view.capability_problem
    )


def test_capability_against_an_independent_computation() -> None:
    lsl, usl = 70.0, 99.0
    spec = dom.spec_limits(_test(Kind.RANGE, low=Decimal(70), high=Decimal(99)), "70 – 99 %")
    assert (spec.lsl, spec.usl) == (lsl, usl)
    view = dom.judge_series(_points(VALUES[:5]), spec)
    cap = view.capability
    assert cap is not None
    n, mean, s = 5, statistics.fmean(VALUES[:5]), statistics.stdev(VALUES[:5])
    ppk = min(usl - mean, mean - lsl) / (3 * s)
    z = sps.norm.ppf(0.975)
    half = z * math.sqrt(1 / (9 * n) + ppk**2 / (2 * (n - 1)))
    assert cap.ppk == pytest.approx(ppk, rel=1e-12)
    assert cap.intervals["ppk"] == pytest.approx((ppk - half, ppk + half), rel=1e-12)
    mr_bar = statistics.fmean(abs(b - a) for a, b in itertools.pairwise(VALUES[:5]))
    cpk = min(usl - mean, mean - lsl) / (3 * mr_bar / D2)
    assert cap.cpk == pytest.approx(cpk, rel=1e-12)
    pp = (usl - lsl) / (6 * s)
    chi = sps.chi2.ppf([0.025, 0.975], n - 1)
    assert cap.intervals["pp"] == pytest.approx(tuple(pp * (chi / (n - 1)) ** 0.5), rel=1e-12)
    # the engine's own result on the same values, and the warnings at small n
    assert cap.ppk == capability(VALUES[:5], lsl=lsl, usl=usl).ppk
    assert view.cpk_warning is not None and "5 batches" in view.cpk_warning
    assert any("< 30" in w for w in cap.warnings)


@pytest.mark.parametrize(
    ("kind", "kw", "expected"),
    [
        (Kind.AT_LEAST, {"limit": Decimal(70)}, (70.0, None)),
        (Kind.MORE_THAN, {"limit": Decimal(50)}, (50.0, None)),
        (Kind.AT_MOST, {"limit": Decimal("5.0")}, (None, 5.0)),
        (Kind.LESS_THAN, {"limit": Decimal(100)}, (None, 100.0)),
        (Kind.RANGE, {"low": Decimal("6.8"), "high": Decimal("7.6")}, (6.8, 7.6)),
        (Kind.NEGATIVE, {}, (None, None)),
        (Kind.REPORT_ONLY, {}, (None, None)),
    ],
)
def test_specification_limits_by_criterion(kind: Kind, kw: dict, expected: tuple) -> None:
    limits = dom.spec_limits(_test(kind, **kw), "")
    assert (limits.lsl, limits.usl) == expected


def test_refusals_and_degenerate_series() -> None:
    pts = _points(VALUES)
    with pytest.raises(DegenerateDataError, match="at least 3"):
        dom.freeze(pts[:2])
    with pytest.raises(DegenerateDataError, match="before it starts"):
        dom.baseline_points(pts, dt.date(2026, 9, 1), dt.date(2026, 8, 1))
    assert dom.judge_series(pts[:1], dom.SpecLimits(70.0, None, "")).problem
    flat = dom.judge_series(_points([80.0, 80.0, 80.0]), dom.SpecLimits(70.0, None, ""))
    assert flat.chart is None and "sigma is zero" in str(flat.problem)  # said, not NaN


def test_every_point_in_the_unit_of_the_latest_specification_version() -> None:
    """Specification v1 reported viability as a fraction, v2 in %: each value in %, converted
    in decimal arithmetic as QC results are (by hand: 0.575 × 100 = 57.5 exactly, where binary
    floating point gives 57.49999999999999)."""
    pts = _points([0.81, 0.869, 0.575, *VALUES[3:]])
    pts = [replace(p, unit="1") if i < 3 else replace(p, version_id=2) for i, p in enumerate(pts)]
    view = dom.judge_series(pts, dom.SpecLimits(70.0, None, "≥ 70 %"))
    in_percent = [81.0, 86.9, 57.5, *VALUES[3:]]
    assert [j.point.value for j in view.points] == in_percent  # exactly
    assert [j.point.unit for j in view.points] == ["%"] * 6 and view.unit == "%"
    assert [j.point.converted_from for j in view.points[:3]] == ["0.81 1", "0.869 1", "0.575 1"]
    assert view.points[3].point.converted_from is None
    assert view.chart is not None and view.chart.center == imr_chart(in_percent).center


def test_frozen_limits_follow_the_unit_levels_and_spreads_apart() -> None:
    """Frozen in °C, the series now in K: levels shift by 273.15, σ̂ and moving ranges do not."""
    frozen, _ = dom.freeze(_points([36.9, 37.1, 37.0, 36.8]))
    kelvin = frozen.in_unit("°C", "K", "the baseline")
    assert (kelvin.center, kelvin.lcl, kelvin.ucl) == pytest.approx(
        (frozen.center + 273.15, frozen.lcl + 273.15, frozen.ucl + 273.15), rel=1e-12
    )
    assert (kelvin.sigma, kelvin.mr_center, kelvin.mr_ucl) == pytest.approx(
        (frozen.sigma, frozen.mr_center, frozen.mr_ucl), rel=1e-9
    )
    pts = [replace(p, unit="K") for p in _points([310.05, 310.25, 310.15, 309.95, 310.2])]
    view = dom.judge_series(pts, dom.SpecLimits(None, None, ""), limits=frozen, limits_unit="°C")
    assert view.chart is not None and view.chart.center == pytest.approx(kelvin.center)
    assert view.capability_problem == dom.NO_LIMITS == "no specification limits: no capability"


def test_units_that_do_not_convert_refuse_the_chart_naming_units_and_batches() -> None:
    pts = _points([2.1, 2.4, 1.9, 2.2])
    pts = [replace(p, unit="copies/cell" if i == 3 else "copies/transduced cell")
           for i, p in enumerate(pts)]  # fmt: skip
    with pytest.raises(dom.UnitMismatch) as refused:
        dom.in_latest_unit(pts)
    text = str(refused.value)
    assert "'copies/transduced cell' (batches B-1, B-2, B-3" in text
    assert "'copies/cell', the unit of the latest batch B-4" in text
    view = dom.judge_series(pts, dom.SpecLimits(None, 5.0, "≤ 5"))
    assert view.chart is None and view.points == () and view.problem == text
    frozen, _ = dom.freeze(_points([81.0, 86.9, 89.9]))
    other = dom.judge_series(_points([1.0, 2.0]), dom.SpecLimits(None, None, ""),
                             limits=frozen, limits_unit="°C")  # fmt: skip
    assert other.chart is None and "the baseline was frozen in '°C'" in str(other.problem)


def test_a_series_names_a_qc_test_or_a_batch_record_value() -> None:
    assert dom.source_of("viability") == dom.Source("qc", "viability")
    assert dom.source_of("record:HARVEST.viability") == dom.Source("record", "HARVEST.viability")
    assert dom.series_name(dom.source_of("qc:cd3")) == "cd3"
    assert dom.series_name(dom.source_of("derived:fold_expansion")) == "derived:fold_expansion"
    assert (
        dom.kind_of("cd3") == dom.QUALITY and dom.kind_of("derived:fold_expansion") == dom.PROCESS
    )
    with pytest.raises(InputError, match="derived quantities"):
        dom.source_of("derived:speed")


def _facts(i: int, **kw: object) -> dom.BatchFacts:
    base: dict = dict(
        batch_id=i, batch=f"B-{i}", site="Ghent", made_at=DAY0 + dt.timedelta(days=i),
        batch_status="APPROVED", disposition="released", pending=(), nonconforming=(),
        invalidated=(),
    )  # fmt: skip
    return dom.BatchFacts(**(base | kw))


def test_all_batches_met_specification_and_every_exception() -> None:
    batches = [
        _facts(1),
        _facts(2, invalidated=((9, "viability", "OOS-2026-0001"),)),
        _facts(3, disposition="conditional", pending=("vcn",)),
        _facts(4, disposition="exceptional", nonconforming=((12, "viability"),)),
        _facts(5, disposition="rejected", nonconforming=((13, "cd3"),)),
        _facts(6, disposition="pending", batch_status="IN_REVIEW"),
        _facts(7, disposition="pending", batch_status="FAILED"),
    ]
    out = dom.conformance(batches)
    assert (out["batches"], out["met"], out["decided"], out["all_met"]) == (7, 2, 5, False)
    kinds = [(e.batch_id, e.kind) for e in out["exceptions"]]
    assert kinds == [
        (2, "invalidated"), (3, "conditional"), (4, "oos"), (4, "exceptional"), (5, "oos"),
        (5, "rejected"), (6, "pending"), (7, "failed"),
    ]  # fmt: skip
    assert dom.conformance(batches[:2])["all_met"]
    assert not dom.conformance([])["all_met"]
