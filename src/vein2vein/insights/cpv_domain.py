"""Continued process verification (CPV, FDA Process Validation guidance 2011, stage 3; EU GMP
Annex 15 §5.28-5.32): the rules of one product's control chart at one site for one quality
attribute or process parameter, of a frozen baseline, of capability against the specification
(or the MBR's limits) and of the "all batches met specification" summary. Pure: no database,
web or template code; the numbers come from the statistics engine (``stats.charts.imr_chart``,
``stats.capability.capability``), never computed again here.

Conventions (docs/cpv.md):

* **One point per batch**: the batch's *valid* result of the attribute once QA has signed the
  batch's disposition (released, conditional, exceptional or rejected); a result entered after
  a conditional release counts from its entry (the signed release tracks it). Invalidated
  results are never plotted; they are listed beside the chart with their investigation.
  Points are in the order the batches were started (``made_at``), ties by batch id.
* **Process parameters** (``source_of``): a series named ``record:STEP.entry`` or
  ``derived:fold_expansion`` / ``derived:doubling_time_h`` (comparability's names of batch-record
  values) charts the batch record's current value of the entry, or the growth derived from its
  viable counts, of the same batches (``insights.record_values``); a bare test code names a
  quality attribute (QC result).
* **One unit** (``in_latest_unit``): every point is converted to the unit of the latest point
  (the unit of its specification or MBR version) by ``manufacturing.units``, the conversion
  QC results are judged with; a unit that does not convert refuses the chart, naming both
  units and the batches (``UnitMismatch``). Frozen limits are converted the same way.
* **Limits**: I-chart x̄ ± 3σ̂ with σ̂ = MR̄/d₂(2) (NIST e-Handbook 6.3.2.2). With a frozen
  baseline, every point is judged against the frozen centre and σ̂ (the engine's "given
  standards"), the baseline's own points included; without one the limits are *provisional*,
  estimated from every point shown, and the page says so.
* **Run rules**: Nelson 1-8 with Minitab's run lengths (``stats.rules``), on the whole series.
* **Capability** against the specification version of the latest point: Ppk with its 95 %
  confidence interval (Bissell 1990) leads; Cpk is shown with a warning below
  ``stats.capability.FEW_LOTS`` points, as the engine warns; none without a numeric criterion.
  A process parameter's capability is against the MBR's limits of the latest point (PAR, or an
  in-process control's acceptance limits); without any, ``NO_LIMITS`` says so.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from vein2vein.core.errors import RuleViolation
from vein2vein.insights.comparability_domain import Source, parse_source
from vein2vein.manufacturing import units
from vein2vein.manufacturing.units import UnitError
from vein2vein.quality.domain import Kind, Test
from vein2vein.stats.capability import FEW_LOTS, CapabilityResult, capability
from vein2vein.stats.charts import ControlChartResult, imr_chart
from vein2vein.stats.errors import DegenerateDataError

#: the fewest points a baseline may be frozen from (two moving ranges); fewer than
#: ``stats.charts.FEW_PHASE1`` (20) are allowed with the engine's warning kept in the record
MIN_BASELINE = 3
RULES = "nelson"
SIGMA_METHOD = "mr"
K = 3.0
#: the dispositions whose batches' results count (QA signed them)
DECIDED = ("released", "conditional", "exceptional", "rejected")
#: the two kinds of series
QUALITY, PROCESS = "quality attribute", "process parameter"
#: what the capability section says of a series whose limits are none
NO_LIMITS = "no specification limits: no capability"

# --------------------------------------------------------------------------------------------
# the series
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One batch's value of the attribute or process parameter."""

    batch_id: int
    batch: str  # what people call it: the order number, else B-{id}
    made_at: dt.datetime
    value: float
    unit: str | None
    rounded: str  # as reported (QC) or as typed (batch record)
    outcome: str  # the QC judgement, or the record's check against the MBR (ok, flag, deviation)
    version_id: int  # the specification (QC) or MBR (batch record) version it was judged under
    disposition: str
    result_id: int | None = None  # the QC result (None: a batch-record value)
    source: str = ""  # where it was read: "qc_result 12", "mfg_batch 3 entry 41", ...
    entry_seq: int | None = None  # the batch-record entry (a link to it)
    converted_from: str | None = None  # "0.85 1": the value before conversion to the series unit


# --------------------------------------------------------------------------------------------
# which values a series holds
# --------------------------------------------------------------------------------------------


def source_of(attribute: str) -> Source:
    """What a series' name reads: a bare test code (``viability``) a QC result, as baselines
    name it since migration 0018; ``record:STEP.entry`` or ``derived:quantity`` a batch-record
    value, in comparability's syntax (``comparability_domain.parse_source``)."""
    if ":" not in attribute:
        return Source("qc", attribute)
    return parse_source(attribute, "attribute")


def series_name(src: Source) -> str:
    """The name of the series of a source (``qc:viability`` → ``viability``)."""
    return src.key if src.kind == "qc" else src.text


def kind_of(attribute: str) -> str:
    return QUALITY if source_of(attribute).kind == "qc" else PROCESS


class UnitMismatch(RuleViolation):
    """Values of one series in units that do not convert into each other."""


def in_latest_unit(points: Sequence[Point]) -> list[Point]:
    """The points in chart order, each in the unit of the latest point (the unit of the latest
    specification or MBR version), converted in decimal arithmetic as QC results are
    (``manufacturing.units.convert_exact``: 0.85 → 85 % exactly). ``UnitMismatch`` when a
    unit does not convert, naming both units and the batches."""
    pts = ordered(points)
    if not pts:
        return []
    last = pts[-1]
    target = last.unit
    out: list[Point] = []
    stuck: dict[tuple[str | None, str], list[str]] = {}
    for p in pts:
        if p.unit == target:
            out.append(p)
            continue
        try:
            if p.unit is None or target is None:
                raise UnitError("a value without its unit")
            exact = units.convert_exact(Decimal(repr(p.value)), p.unit, target)
        except UnitError as exc:
            stuck.setdefault((p.unit, str(exc)), []).append(p.batch)
            continue
        out.append(replace(p, value=float(exact), unit=target, converted_from=_with(p)))
    if stuck:
        parts = [
            f"{_unit(unit)} (batch{'es' if len(b) > 1 else ''} {', '.join(b)}: {why})"
            for (unit, why), b in stuck.items()
        ]
        raise UnitMismatch(
            f"no chart: the values are in {'; '.join(parts)}, which do not convert to "
            f"{_unit(target)}, the unit of the latest batch {last.batch}. Charting them together "
            "would mix units"
        )
    return out


def _with(p: Point) -> str:
    return f"{p.value:.10g} {p.unit}"


def _unit(unit: str | None) -> str:
    return "no unit" if unit is None else f"'{unit}'"


@dataclass(frozen=True)
class SpecLimits:
    """The numeric acceptance criterion of a test, or the limits of a process parameter in the
    MBR (``source``), as capability reads it; ``text`` "" when there are none."""

    lsl: float | None
    usl: float | None
    text: str
    source: str = "specification"

    @property
    def numeric(self) -> bool:
        return self.lsl is not None or self.usl is not None


def spec_limits(test: Test, text: str) -> SpecLimits:
    """LSL and USL of a test's criterion: a range gives both, ≥ and > the lower, ≤ and < the
    upper (the strictness of the sign does not change a capability index); qualitative and
    report-only tests give none."""
    c = test.criterion
    if c.kind is Kind.RANGE:
        return SpecLimits(_f(c.low), _f(c.high), text)
    if c.kind in (Kind.AT_LEAST, Kind.MORE_THAN):
        return SpecLimits(_f(c.limit), None, text)
    if c.kind in (Kind.AT_MOST, Kind.LESS_THAN):
        return SpecLimits(None, _f(c.limit), text)
    return SpecLimits(None, None, text)


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def ordered(points: Sequence[Point]) -> list[Point]:
    return sorted(points, key=lambda p: (p.made_at, p.batch_id))


# --------------------------------------------------------------------------------------------
# the baseline
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrozenLimits:
    """The limits a baseline froze (what later points are judged against)."""

    center: float
    sigma: float
    lcl: float
    ucl: float
    mr_center: float
    mr_ucl: float

    def in_unit(self, unit: str | None, target: str | None, what: str) -> FrozenLimits:
        """The limits in ``target`` (the series' unit now): levels converted, the spreads (σ̂,
        moving ranges) by the conversion's factor alone; ``UnitMismatch`` names ``what``."""
        if unit is None or target is None or unit == target:
            return self
        try:

            def level(v: float) -> float:
                return units.convert(v, unit, target)

            def spread(v: float) -> float:
                return level(v) - level(0.0)

            return FrozenLimits(
                level(self.center), spread(self.sigma), level(self.lcl), level(self.ucl),
                spread(self.mr_center), spread(self.mr_ucl),
            )  # fmt: skip
        except UnitError as exc:
            raise UnitMismatch(
                f"no chart: {what} was frozen in '{unit}', which does not convert to '{target}', "
                f"the unit of the latest batch ({exc})"
            ) from None


def baseline_points(points: Sequence[Point], start: dt.date, end: dt.date) -> list[Point]:
    """The points of batches started from ``start`` to ``end`` (both days included, UTC)."""
    if end < start:
        raise DegenerateDataError(
            f"the baseline period ends ({end}) before it starts ({start})", field="end"
        )
    return [p for p in ordered(points) if start <= p.made_at.date() <= end]


def freeze(points: Sequence[Point]) -> tuple[FrozenLimits, ControlChartResult]:
    """The limits of a baseline: the engine's I-MR chart of the baseline's points (phase I)."""
    if len(points) < MIN_BASELINE:
        raise DegenerateDataError(
            f"a baseline needs at least {MIN_BASELINE} batches with an approved result; the "
            f"period holds {len(points)}",
            field="start",
        )
    chart = _chart([p.value for p in points])
    assert chart.secondary is not None
    limits = FrozenLimits(
        center=chart.center,
        sigma=chart.sigma,
        lcl=chart.lcl,
        ucl=chart.ucl,
        mr_center=chart.secondary.center,
        mr_ucl=chart.secondary.ucl,
    )
    return limits, chart


def _chart(values: Sequence[float], limits: FrozenLimits | None = None) -> ControlChartResult:
    """The engine's chart; its warnings are kept in the result (and not printed twice)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if limits is None:
            return imr_chart(values, sigma_method=SIGMA_METHOD, k=K, rules=RULES)
        return imr_chart(
            values,
            sigma_method=SIGMA_METHOD,
            center=limits.center,
            sigma=limits.sigma,
            k=K,
            rules=RULES,
        )


def baseline_content(
    *,
    product: str,
    site: str,
    attribute: str,
    unit: str | None,
    start: dt.date,
    end: dt.date,
    points: Sequence[Point],
    limits: FrozenLimits,
    chart: ControlChartResult,
    supersedes: int | None,
    reason: str,
) -> dict[str, Any]:
    """What the person freezing a baseline signs: the series, the period, every batch and
    result with its value, the limits and how they were computed."""
    return {
        "record": "cpv_baseline",
        "product": product,
        "site": site,
        "attribute": attribute,
        "unit": unit,
        "period": [start.isoformat(), end.isoformat()],
        "kind": kind_of(attribute),
        "points": [[p.batch_id, p.result_id, p.value] for p in points],
        "records": [p.source for p in points],
        "limits": {
            "center": limits.center,
            "sigma": limits.sigma,
            "lcl": limits.lcl,
            "ucl": limits.ucl,
            "mr_center": limits.mr_center,
            "mr_ucl": limits.mr_ucl,
        },
        "method": {
            "chart": "I-MR",
            "sigma": chart.sigma_method,
            "k": chart.k,
            "rules": chart.rule_set,
            "input_hash": chart.provenance.input_hash,
            "library_versions": dict(chart.provenance.library_versions),
        },
        "warnings": list(chart.warnings),
        "supersedes": supersedes,
        "reason": reason,
    }


# --------------------------------------------------------------------------------------------
# the dashboard of one series
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Judged:
    """One point as the dashboard shows it."""

    point: Point
    index: int  # 1-based, in chart order
    phase: str  # "baseline" | "monitoring" | "before" | "provisional"
    rules: tuple[str, ...]
    moving_range: float | None


@dataclass(frozen=True)
class SeriesView:
    points: tuple[Judged, ...]
    chart: ControlChartResult | None
    frozen: bool
    capability: CapabilityResult | None
    capability_problem: str | None
    cpk_warning: str | None
    spec: SpecLimits
    problem: str | None = None  # why there is no chart
    warnings: tuple[str, ...] = field(default=())
    unit: str | None = None  # of every point and limit (the latest point's)

    @property
    def flagged(self) -> tuple[Judged, ...]:
        return tuple(j for j in self.points if j.rules)


def judge_series(
    points: Sequence[Point],
    spec: SpecLimits,
    *,
    limits: FrozenLimits | None = None,
    limits_unit: str | None = None,
    baseline_batches: frozenset[int] = frozenset(),
    baseline_end: dt.date | None = None,
) -> SeriesView:
    """The chart of ``points`` (in the latest point's unit) against the frozen ``limits``
    (frozen in ``limits_unit``, converted) or provisional limits from the points themselves,
    each point's rules, and capability against ``spec``."""
    frozen = limits is not None
    try:
        pts = in_latest_unit(points)
        unit = pts[-1].unit if pts else None
        if limits is not None:
            limits = limits.in_unit(limits_unit, unit, "the baseline")
    except UnitMismatch as exc:
        return SeriesView((), None, frozen, None, None, None, spec, problem=str(exc))
    if len(pts) < 2:
        return SeriesView(
            (), None, frozen, None, None, None, spec,
            problem=f"{len(pts)} batch with an approved value: a chart needs at least 2",
            unit=unit,
        )  # fmt: skip
    try:
        chart = _chart([p.value for p in pts], limits)
    except DegenerateDataError as exc:
        return SeriesView(
            (), None, frozen, None, None, None, spec, problem=f"no chart: {exc}", unit=unit
        )
    rules = {p.index: p.rules for p in chart.points}
    judged = []
    for i, p in enumerate(pts, start=1):
        if limits is None:
            phase = "provisional"
        elif p.batch_id in baseline_batches:
            phase = "baseline"
        elif baseline_end is not None and p.made_at.date() > baseline_end:
            phase = "monitoring"
        else:
            phase = "before"
        mr = abs(p.value - pts[i - 2].value) if i > 1 else None
        judged.append(Judged(p, i, phase, tuple(rules.get(i, ())), mr))
    cap, problem, cpk_warning = _capability([p.value for p in pts], spec)
    return SeriesView(
        tuple(judged), chart, frozen, cap, problem, cpk_warning, spec,
        warnings=chart.warnings, unit=unit,
    )  # fmt: skip


def _capability(
    values: Sequence[float], spec: SpecLimits
) -> tuple[CapabilityResult | None, str | None, str | None]:
    if not spec.numeric:
        if not spec.text:
            return None, NO_LIMITS, None
        return None, f"no numeric acceptance criterion ({spec.text}): no capability", None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cap = capability(values, lsl=spec.lsl, usl=spec.usl, sigma_within=SIGMA_METHOD)
    except DegenerateDataError as exc:
        return None, f"capability not computed: {exc}", None
    cpk_warning = None
    if cap.n < FEW_LOTS:
        cpk_warning = (
            f"Cpk from {cap.n} batches uses a within-batch sigma from {cap.n - 1} moving "
            f"ranges: indicative only, read Ppk and its confidence interval"
        )
    return cap, None, cpk_warning


def figure(view: SeriesView, title: str, unit: str | None) -> dict[str, Any]:
    """The individuals chart as a Plotly figure (plain dict): the values by batch, flagged
    points marked, the centre line and control limits (frozen or provisional) and the
    specification limits."""
    chart = view.chart
    assert chart is not None
    x = [j.point.batch for j in view.points]
    y = [j.point.value for j in view.points]
    flagged = [j for j in view.points if j.rules]
    kind = "frozen" if view.frozen else "provisional"
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines+markers", "x": x, "y": y, "name": "batch value",
         "line": {"color": "#1f4e79", "width": 2}, "marker": {"size": 8},
         "text": [j.phase for j in view.points],
         "hovertemplate": "%{x}: %{y}<br>%{text}<extra></extra>"},
        {"type": "scatter", "mode": "markers", "x": [j.point.batch for j in flagged],
         "y": [j.point.value for j in flagged], "name": "run rule broken",
         "marker": {"size": 14, "symbol": "circle-open", "color": "#b00020",
                    "line": {"width": 3}},
         "text": [", ".join(j.rules) for j in flagged],
         "hovertemplate": "%{x}: %{y}<br>%{text}<extra></extra>"},
    ]  # fmt: skip
    lines = [
        (chart.center, f"centre line ({kind})", "#333333", "solid"),
        (chart.ucl, f"UCL ({kind})", "#b35900", "dash"),
        (chart.lcl, f"LCL ({kind})", "#b35900", "dash"),
    ]
    if view.spec.usl is not None:
        lines.append((view.spec.usl, f"USL ({view.spec.source})", "#6a1b9a", "dot"))
    if view.spec.lsl is not None:
        lines.append((view.spec.lsl, f"LSL ({view.spec.source})", "#6a1b9a", "dot"))
    for value, name, colour, dash in lines:
        data.append(
            {"type": "scatter", "mode": "lines", "x": [x[0], x[-1]], "y": [value, value],
             "name": f"{name} {value:.4g}", "line": {"color": colour, "dash": dash, "width": 1.5},
             "hoverinfo": "name"}
        )  # fmt: skip
    return {
        "data": data,
        "layout": {
            "title": {"text": title},
            "xaxis": {"title": {"text": "batch (in order of manufacture)"}, "type": "category"},
            "yaxis": {"title": {"text": unit or "value"}},
            "legend": {"orientation": "h", "y": -0.3},
            "margin": {"l": 60, "r": 10, "t": 50, "b": 40},
        },
    }


# --------------------------------------------------------------------------------------------
# all batches met specification
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchFacts:
    """What the conformance summary needs to know of one batch of the period."""

    batch_id: int
    batch: str
    site: str
    made_at: dt.datetime
    batch_status: str  # the executed record's status (FAILED, APPROVED, ...)
    disposition: str  # pending / released / conditional / exceptional / rejected
    pending: tuple[str, ...]  # tests a conditional release still waits for
    nonconforming: tuple[tuple[int, str], ...]  # valid results out of specification (id, test)
    invalidated: tuple[tuple[int, str, str | None], ...]  # (result id, test, investigation)


@dataclass(frozen=True)
class Nonconformance:
    batch_id: int
    batch: str
    kind: str
    text: str
    result_id: int | None = None
    investigation: str | None = None


EXCEPTION_KINDS = {
    "oos": "result out of specification",
    "rejected": "batch rejected",
    "exceptional": "exceptional release (out of specification, for its patient)",
    "conditional": "conditional release, results still pending",
    "failed": "manufacturing failed",
    "pending": "no QA disposition yet",
    "invalidated": "OOS invalidated (laboratory error), retest conforms",
}


def met_specification(b: BatchFacts) -> bool:
    """Released (a conditional release counts once its last result conformed) with no valid
    result out of specification."""
    return b.disposition == "released" and not b.nonconforming and b.batch_status != "FAILED"


def conformance(batches: Sequence[BatchFacts]) -> dict[str, Any]:
    """Counts and every exception of the batches of one product and period."""
    out: list[Nonconformance] = []
    for b in sorted(batches, key=lambda b: (b.made_at, b.batch_id)):
        for rid, test in b.nonconforming:
            out.append(
                Nonconformance(b.batch_id, b.batch, "oos", f"{test}: {EXCEPTION_KINDS['oos']}", rid)
            )
        if b.batch_status == "FAILED":
            out.append(Nonconformance(b.batch_id, b.batch, "failed", EXCEPTION_KINDS["failed"]))
        elif b.disposition == "pending":
            text = f"{EXCEPTION_KINDS['pending']} (batch record {b.batch_status.lower()})"
            out.append(Nonconformance(b.batch_id, b.batch, "pending", text.replace("_", " ")))
        elif b.disposition in ("rejected", "exceptional"):
            out.append(
                Nonconformance(b.batch_id, b.batch, b.disposition, EXCEPTION_KINDS[b.disposition])
            )
        elif b.disposition == "conditional":
            waiting = ", ".join(b.pending) or "none listed"
            out.append(
                Nonconformance(b.batch_id, b.batch, "conditional",
                           f"{EXCEPTION_KINDS['conditional']}: {waiting}")
            )  # fmt: skip
        for rid, test, number in b.invalidated:
            out.append(
                Nonconformance(b.batch_id, b.batch, "invalidated",
                           f"{test}: {EXCEPTION_KINDS['invalidated']}", rid, number)
            )  # fmt: skip
    met = [b for b in batches if met_specification(b)]
    decided = [b for b in batches if b.disposition in DECIDED]
    return {
        "batches": len(batches),
        "decided": len(decided),
        "met": len(met),
        "all_met": bool(batches) and len(met) == len(batches),
        "exceptions": out,
        "kinds": EXCEPTION_KINDS,
    }
