"""Plotly Gantt chart of a plan (a figure dict, ready for ``Plotly.newPlot`` or ``go.Figure``),
the same bars as rows of a table (the chart's text alternative), and the list of orders at risk
of missing their required-by date.

Every bar of a batch carries its order number (cut to ``LABEL_CHARS`` characters so that it
stays readable on a tablet; the full text is in its tooltip and in the table). Every colour and
pattern drawn has its own legend entry: a trace per delivery status and kind of material
(infectious material hatched, material shipped from another site outlined), cleaning, downtime,
and the "today" line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from vein2vein.scheduling.model import Plan, Problem, cross_site_batches

MS_PER_DAY = 86_400_000
#: the longest label drawn on a bar; longer order numbers end in "…" (full text in the tooltip)
LABEL_CHARS = 12
COLOURS = {
    "on time": "#2a9d8f",
    "at risk": "#e9c46a",
    "late": "#e76f51",
    "on hold": "#9b2226",
    "blocked": "#6a040f",
    "delivered": "#8ecae6",
    "started": "#577590",
    "cleaning": "#c8c8c8",
    "downtime": "#6c757d",
}
TODAY_COLOUR = "#c1121f"
#: Plotly pattern shapes and what they mean in the legend
HATCH_INFECTIOUS = "/"
#: outline of a batch made at another site than the one that received its material
OUTLINE = "#1d3557"


@dataclass(frozen=True)
class AtRisk:
    """An order late or within ``margin`` days of its required-by date, or not placed at all."""

    order_id: str
    required_by: dt.date
    ship: dt.date | None
    slack_days: int | None
    reason: str


def orders_at_risk(problem: Problem, plan: Plan, margin_days: int = 2) -> list[AtRisk]:
    """Unscheduled orders first, then by slack (days between delivery and required-by)."""
    out: list[AtRisk] = []
    for u in plan.unscheduled:
        order = problem.order_by_id.get(u.order_id)
        if order is not None:
            out.append(AtRisk(u.order_id, order.required_by, None, None, u.reason))
    for a in plan.assignments:
        order = problem.order_by_id.get(a.order_id)
        if order is None:
            continue
        slack = (order.required_by - a.ship).days
        if slack < 0:
            out.append(AtRisk(a.order_id, order.required_by, a.ship, slack, f"{-slack} days late"))
        elif slack <= margin_days:
            out.append(AtRisk(a.order_id, order.required_by, a.ship, slack, f"{slack} days spare"))
    return sorted(out, key=lambda r: (r.slack_days is not None, r.slack_days or 0, r.order_id))


def _status(problem: Problem, order_id: str, ship: dt.date, margin_days: int) -> str:
    order = problem.order_by_id[order_id]
    if order.fixed is not None:
        return "started"
    slack = (order.required_by - ship).days
    return "late" if slack < 0 else "at risk" if slack <= margin_days else "on time"


def bar_label(order_id: str) -> str:
    """The text drawn on a batch's bar: the order number, cut to ``LABEL_CHARS`` characters."""
    if len(order_id) <= LABEL_CHARS:
        return order_id
    return order_id[: LABEL_CHARS - 1] + "…"


@dataclass(frozen=True)
class Bar:
    """One bar of the chart: a batch, the cleaning after it, or a downtime window.

    ``legend`` is the legend entry it is drawn under; ``last`` the last day it occupies."""

    suite_id: str
    kind: str  # batch | cleaning | downtime
    legend: str
    status: str  # on time | at risk | late | started | cleaning | downtime
    start: dt.date
    days: int
    label: str
    detail: str
    order_id: str = ""
    infectious: bool = False
    shipped_from: str = ""

    @property
    def last(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days - 1)

    def as_row(self) -> dict[str, Any]:
        return {
            "suite": self.suite_id,
            "kind": self.kind,
            "legend": self.legend,
            "status": self.status,
            "order_id": self.order_id,
            "first_day": self.start.isoformat(),
            "last_day": self.last.isoformat(),
            "days": self.days,
            "detail": self.detail,
        }


def _legend(status: str, infectious: bool, shipped_from: str) -> str:
    name = status
    if infectious:
        name += ", infectious material (hatched)"
    if shipped_from:
        name += ", shipped from another site (outlined)"
    return name


#: a delivery projection's state (``scheduling.projection.State``) as a bar's status
PROJECTED_STATUS = {
    "on_track": "on time",
    "at_risk": "at risk",
    "late": "late",
    "on_hold": "on hold",
    "blocked": "blocked",
    "met": "delivered",
    "missed": "delivered",
}


def gantt_bars(
    problem: Problem,
    plan: Plan,
    *,
    margin_days: int = 2,
    states: Mapping[str, str] | None = None,
) -> list[Bar]:
    """Every bar of the chart, suite by suite in the problem's order, then by start: the data
    of the chart and of its table. ``states`` (the latest published plan: each order's state
    in the one delivery projection, by the plan's order id) colours a batch as every other
    screen shows it (an order on hold is never "on time"); without it, by the plan's own days."""
    suites = problem.suite_by_id
    moves = {c.order_id: c for c in cross_site_batches(problem, plan)}
    bars: list[Bar] = []
    for a in plan.assignments:
        order, suite = problem.order_by_id.get(a.order_id), suites.get(a.suite_id)
        if order is None or suite is None:
            continue
        slack = (order.required_by - a.ship).days
        move = moves.get(a.order_id)
        notes = [f"release {a.release}, delivered {a.ship}"]
        notes.append(f"required by {order.required_by} ({slack:+d} days)")
        if order.infectious:
            notes.append("infectious material")
        if move is not None:
            notes.append(
                f"material received at {move.from_site}, shipped to {move.to_site}"
                + (
                    f" ({move.days} day{'s' if move.days != 1 else ''})"
                    if move.days is not None
                    else " (no shipping route)"
                )
            )
        projected = PROJECTED_STATUS.get((states or {}).get(a.order_id, ""))
        if order.fixed is not None and projected in (None, "on time"):
            projected = "started"  # pinned: its batch record says where and since when
        status = projected or _status(problem, a.order_id, a.ship, margin_days)
        shipped = move.from_site if move is not None else ""
        bars.append(
            Bar(
                a.suite_id,
                "batch",
                _legend(status, order.infectious, shipped),
                status,
                a.start,
                order.process_days,
                bar_label(a.order_id),
                "; ".join(notes),
                a.order_id,
                order.infectious,
                shipped,
            )
        )
        clean = suite.turnaround_days(order)
        if clean:
            what = "decontamination" if order.infectious and suite.decon_days else "changeover"
            bars.append(
                Bar(
                    a.suite_id,
                    "cleaning",
                    "cleaning",
                    "cleaning",
                    a.end,
                    clean,
                    "",
                    f"{what} after {a.order_id}",
                    a.order_id,
                )
            )
    for suite in problem.suites:
        for w in suite.downtime:
            days = (w.end - w.start).days
            bars.append(
                Bar(suite.suite_id, "downtime", "downtime", "downtime", w.start, days, "", w.reason)
            )
    rank = {s.suite_id: k for k, s in enumerate(problem.suites)}
    return sorted(bars, key=lambda b: (rank.get(b.suite_id, 0), b.start, b.kind))


def gantt_figure(
    problem: Problem,
    plan: Plan,
    *,
    margin_days: int = 2,
    title: str = "Suite schedule",
    today: dt.date | None = None,
    states: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One row per suite: batches coloured by delivery status and labelled with their order
    number (hatched when the material is infectious, outlined when it was shipped from another
    site), their changeover or decontamination in grey, downtime in dark grey, and a line on
    ``today``; every colour and pattern has a legend entry."""
    traces: dict[str, list[Bar]] = {}
    for bar in gantt_bars(problem, plan, margin_days=margin_days, states=states):
        traces.setdefault(bar.legend, []).append(bar)
    order = list(COLOURS)
    fig = go.Figure()
    for name in sorted(traces, key=lambda n: (order.index(traces[n][0].status), n)):
        group = traces[name]
        first = group[0]
        pattern = HATCH_INFECTIOUS if first.infectious else ""
        fig.add_trace(
            go.Bar(
                name=name,
                orientation="h",
                y=[b.suite_id for b in group],
                base=[b.start.isoformat() for b in group],
                x=[b.days * MS_PER_DAY for b in group],
                text=[b.label for b in group],
                textposition="inside",
                insidetextanchor="start",
                textangle=0,
                textfont={"color": "#000000", "size": 11},
                hovertext=[_hover(b) for b in group],
                hoverinfo="text",
                marker={
                    "color": COLOURS[first.status],
                    "line": {"color": OUTLINE, "width": 3 if first.shipped_from else 0},
                    "pattern": {"shape": pattern, "fgcolor": OUTLINE, "solidity": 0.3},
                },
            )
        )
    suites = [s.suite_id for s in reversed(problem.suites)]
    fig.update_layout(
        title=title,
        barmode="overlay",
        xaxis={"type": "date", "title": "date"},
        yaxis={"title": "suite", "categoryorder": "array", "categoryarray": suites},
        legend={"orientation": "h", "y": -0.15},
        uniformtext={"minsize": 9, "mode": "show"},
        margin={"l": 60, "r": 10, "t": 50, "b": 40},
    )
    if today is not None:
        _today_line(fig, today, suites)
    if plan.assignments:  # open on the batches; downtime further out is a zoom away
        first_day = min(a.start for a in plan.assignments) - dt.timedelta(days=3)
        last_day = max(a.end for a in plan.assignments) + dt.timedelta(days=7)
        if today is not None:
            first_day = min(first_day, today - dt.timedelta(days=3))
        fig.update_xaxes(range=[first_day.isoformat(), last_day.isoformat()])
    figure: dict[str, Any] = fig.to_dict()
    return figure


def _hover(bar: Bar) -> str:
    head = bar.order_id if bar.kind == "batch" else bar.kind
    return f"{head} in {bar.suite_id}<br>{bar.start} to {bar.last}<br>" + bar.detail.replace(
        "; ", "<br>"
    )


def _today_line(fig: go.Figure, today: dt.date, suites: list[str]) -> None:
    """A vertical line across the whole chart on ``today`` and its legend entry."""
    fig.add_shape(
        type="line",
        xref="x",
        yref="paper",
        x0=today.isoformat(),
        x1=today.isoformat(),
        y0=0,
        y1=1,
        line={"color": TODAY_COLOUR, "width": 2, "dash": "dash"},
    )
    fig.add_annotation(
        x=today.isoformat(),
        y=1,
        xref="x",
        yref="paper",
        text="today",
        showarrow=False,
        yanchor="bottom",
        font={"color": TODAY_COLOUR},
    )
    # a trace of one point draws nothing but gives the line its legend entry
    fig.add_trace(
        go.Scatter(
            name=f"today ({today.isoformat()})",
            x=[today.isoformat()],
            y=suites[-1:],
            mode="lines",
            line={"color": TODAY_COLOUR, "width": 2, "dash": "dash"},
            hoverinfo="skip",
        )
    )
