"""Growth of one batch against earlier batches of the same MBR version (pure: no database, web or
template code).

* **Count points**: the viable cell counts of the culture (``execution.viable_counts``: in the
  EpCAM MBRs seeded, at transduction, day 5, harvested), each placed on the **process day** of
  its operation in the MBR (``day``), so that batches line up point by point whatever the hour
  of their entries.
* **Growth** of the batch: fold expansion, population doublings and doubling time from
  ``execution.record_kinetics`` (through ``stats.kinetics.expansion_kinetics``: FE = N_last /
  N_first, PD = log₂ FE, DT = elapsed / PD, elapsed measured between the first entries of the
  first and last counts), with the doubling time also in hours. Example: 1.0 × 10^8 → 2.0 × 10^9
  cells over 9 days: FE 20, PD log₂ 20 = 4.3219, DT 9 × 24 / 4.3219 = 49.98 h.
* **Envelope** of earlier batches at each count point: lowest, median and highest current value
  and how many batches gave one. Drawn only from ``MIN_BATCHES`` (3) earlier batches on: with
  fewer, a band is two points and a median, which says nothing about the process. The median of
  an even number of values is the mean of the two middle ones (Hyndman & Fan type 7 at p = 0.5,
  the default of R's ``quantile`` and of ``statistics.median``). Which batches count as earlier
  is the caller's choice (the store: complete, in review or approved batches of the same MBR
  version created before this one).

The chart (``growth_figure``) is a Plotly figure as a plain dict (``Plotly.newPlot`` takes it);
the same numbers are returned as rows (``table_rows``), the chart's text alternative.

References: ATCC Animal Cell Culture Guide (population doublings); Roth V. (2006) Doubling Time
Computing; Hyndman R.J. & Fan Y. (1996) Sample quantiles in statistical packages, Am Stat
50:361–365.
"""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vein2vein.manufacturing import execution, units
from vein2vein.manufacturing.domain import Mbr
from vein2vein.stats.errors import DegenerateDataError, SmallSampleWarning

#: earlier batches needed before an envelope is drawn
MIN_BATCHES = 3
HOURS_PER_DAY = 24.0
COLOURS = {"band": "rgba(42,157,143,0.25)", "median": "#264653", "batch": "#c1121f"}


@dataclass(frozen=True)
class CountPoint:
    """A viable cell count of the MBR: ``STEP.entry``, its name and the process day."""

    point: str
    name: str
    day: int | None


@dataclass(frozen=True)
class Growth:
    """Fold expansion, population doublings and doubling time of one batch, or why not."""

    fold_expansion: float | None
    doublings: float | None
    doubling_time_days: float | None
    elapsed_days: float | None
    counts_used: int
    problem: str | None = None

    @property
    def doubling_time_h(self) -> float | None:
        if self.doubling_time_days is None:
            return None
        return self.doubling_time_days * HOURS_PER_DAY


@dataclass(frozen=True)
class EnvelopePoint:
    point: str
    day: int | None
    n: int
    low: float | None
    median: float | None
    high: float | None


@dataclass(frozen=True)
class Envelope:
    """Lowest, median and highest count of earlier batches at each count point."""

    n_batches: int
    points: tuple[EnvelopePoint, ...]

    @property
    def drawn(self) -> bool:
        return self.n_batches >= MIN_BATCHES

    @property
    def message(self) -> str:
        if self.drawn:
            return f"envelope of {self.n_batches} earlier batches of the same MBR version"
        return (
            f"no envelope yet: {self.n_batches} earlier batch"
            f"{'' if self.n_batches == 1 else 'es'} of the same MBR version "
            f"(at least {MIN_BATCHES} needed)"
        )


def count_points(mbr: Mbr) -> list[CountPoint]:
    """The MBR's viable cell counts in process order, each with its operation's day."""
    points = []
    for name in execution.viable_counts(mbr):
        step, entry = name.split(".", 1)
        op = mbr.operation(step)
        item = op.entry(entry)
        points.append(CountPoint(name, item.name if item else entry, op.day))
    return points


def counts_of(record: execution.BatchRecord, points: Sequence[CountPoint]) -> dict[str, float]:
    """The current value (in cells) of each count point entered in the record."""
    found: dict[str, float] = {}
    for p in points:
        step, entry = p.point.split(".", 1)
        current = record.current(step, entry)
        if current is not None:
            found[p.point] = units.convert(current.value, current.unit, "cells")
    return found


def counts_by_batch(
    batches: Sequence[int], entries: Iterable[tuple[int, str, float, str]]
) -> list[dict[str, float]]:
    """Counts (in cells) of each of ``batches`` from stored entries ``(batch, STEP.entry,
    value, unit)`` in record order: the last entry of a point is its current value (a
    correction comes later). A batch without counts gives an empty mapping."""
    found: dict[int, dict[str, float]] = {b: {} for b in batches}
    for batch, point, value, unit in entries:
        if batch in found:
            found[batch][point] = units.convert(value, unit, "cells")
    return [found[b] for b in batches]


def growth_of(record: execution.BatchRecord) -> Growth:
    """The record's kinetics (``execution.record_kinetics``), or the reason there are none."""
    try:
        with warnings.catch_warnings():
            # two counts leave the log-linear fit without a standard error; only the fit's
            # rate would need one, and nothing here shows the fit
            warnings.simplefilter("ignore", SmallSampleWarning)
            k = execution.record_kinetics(record)
    except (execution.ExecutionError, DegenerateDataError) as refused:
        entered = len(counts_of(record, count_points(record.mbr)))
        return Growth(None, None, None, None, entered, str(refused))
    problem = None
    if k.doubling_time_days is None:
        problem = f"the cells did not grow (fold expansion {k.fold_expansion:.3g})"
    return Growth(
        fold_expansion=k.fold_expansion,
        doublings=k.doublings,
        doubling_time_days=k.doubling_time_days,
        elapsed_days=k.days[-1],
        counts_used=len(k.cells),
        problem=problem,
    )


def envelope(points: Sequence[CountPoint], earlier: Sequence[Mapping[str, float]]) -> Envelope:
    """At each count point: n, lowest, median and highest of the earlier batches' counts
    (``earlier``: one mapping point → cells per batch, as ``counts_of`` returns)."""
    out = []
    for p in points:
        values = sorted(c[p.point] for c in earlier if p.point in c)
        if values:
            out.append(
                EnvelopePoint(
                    p.point, p.day, len(values), values[0], statistics.median(values), values[-1]
                )
            )
        else:
            out.append(EnvelopePoint(p.point, p.day, 0, None, None, None))
    return Envelope(len(earlier), tuple(out))


def table_rows(
    points: Sequence[CountPoint], counts: Mapping[str, float], env: Envelope
) -> list[dict[str, Any]]:
    """One row per count point: day, name, this batch's count and the envelope there."""
    by_point = {e.point: e for e in env.points}
    rows = []
    for p in points:
        e = by_point.get(p.point)
        shown = e is not None and env.drawn and e.n > 0
        rows.append(
            {
                "point": p.point,
                "name": p.name,
                "day": p.day,
                "cells": counts.get(p.point),
                "n": e.n if e else 0,
                "low": e.low if shown and e else None,
                "median": e.median if shown and e else None,
                "high": e.high if shown and e else None,
            }
        )
    return rows


def growth_figure(rows: Sequence[Mapping[str, Any]], drawn: bool, title: str) -> dict[str, Any]:
    """A Plotly figure (plain dict) of ``table_rows``: the band (lowest to highest) and median
    of earlier batches when ``drawn``, and this batch's counts, on a log scale by process day.
    Points without a process day in the MBR are left out (they stay in the table)."""
    placed = [r for r in rows if r["day"] is not None]
    data: list[dict[str, Any]] = []
    band = [r for r in placed if r["low"] is not None] if drawn else []
    if band:
        x = [r["day"] for r in band]
        data += [
            {"type": "scatter", "mode": "lines", "x": x, "y": [r["high"] for r in band],
             "name": "earlier batches: highest", "line": {"width": 0},
             "hovertemplate": "day %{x}: highest %{y:.3s} cells<extra></extra>",
             "showlegend": False, "legendgroup": "band"},
            {"type": "scatter", "mode": "lines", "x": x, "y": [r["low"] for r in band],
             "name": "earlier batches: lowest to highest", "fill": "tonexty",
             "fillcolor": COLOURS["band"], "line": {"width": 0}, "legendgroup": "band",
             "hovertemplate": "day %{x}: lowest %{y:.3s} cells<extra></extra>"},
            {"type": "scatter", "mode": "lines", "x": x, "y": [r["median"] for r in band],
             "name": "earlier batches: median", "line": {"color": COLOURS["median"],
             "dash": "dash", "width": 2},
             "hovertemplate": "day %{x}: median %{y:.3s} cells<extra></extra>"},
        ]  # fmt: skip
    mine = [r for r in placed if r["cells"] is not None]
    data.append(
        {"type": "scatter", "mode": "lines+markers", "x": [r["day"] for r in mine],
         "y": [r["cells"] for r in mine], "name": "this batch",
         "text": [r["name"] for r in mine],
         "line": {"color": COLOURS["batch"], "width": 3}, "marker": {"size": 9},
         "hovertemplate": "day %{x}: %{y:.3s} cells<br>%{text}<extra></extra>"}
    )  # fmt: skip
    days = [r["day"] for r in placed]
    return {
        "data": data,
        "layout": {
            "title": {"text": title},
            "xaxis": {"title": {"text": "process day"}, "dtick": 1,
                      "range": [min(days, default=0) - 0.5, max(days, default=1) + 0.5]},
            "yaxis": {"title": {"text": "viable cells"}, "type": "log",
                      "exponentformat": "power"},
            "legend": {"orientation": "h", "y": -0.2},
            "margin": {"l": 70, "r": 10, "t": 50, "b": 40},
        },
    }  # fmt: skip


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def cells_text(value: float | None) -> str:
    """A cell count as people write it: ``2.00 × 10⁹`` (three significant digits)."""
    if value is None:
        return "—"
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"
