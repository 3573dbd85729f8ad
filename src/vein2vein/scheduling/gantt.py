"""Plotly Gantt chart of a plan (a figure dict, ready for ``Plotly.newPlot`` or ``go.Figure``),
and the list of orders at risk of missing their required-by date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from vein2vein.scheduling.model import Plan, Problem

MS_PER_DAY = 86_400_000
COLOURS = {
    "on time": "#2a9d8f",
    "at risk": "#e9c46a",
    "late": "#e76f51",
    "started": "#577590",
    "cleaning": "#c8c8c8",
    "downtime": "#6c757d",
}


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


def gantt_figure(
    problem: Problem, plan: Plan, *, margin_days: int = 2, title: str = "Suite schedule"
) -> dict[str, Any]:
    """One row per suite: batches coloured by delivery status (hatched when infectious), their
    changeover or decontamination in grey, and downtime in dark grey."""
    bars: dict[str, dict[str, list[Any]]] = {
        name: {"y": [], "base": [], "x": [], "text": [], "pattern": []} for name in COLOURS
    }

    def add(kind: str, suite: str, start: dt.date, days: int, text: str, hatch: str = "") -> None:
        bar = bars[kind]
        bar["y"].append(suite)
        bar["base"].append(start.isoformat())
        bar["x"].append(days * MS_PER_DAY)
        bar["text"].append(text)
        bar["pattern"].append(hatch)

    suites = problem.suite_by_id
    for a in plan.assignments:
        order, suite = problem.order_by_id.get(a.order_id), suites.get(a.suite_id)
        if order is None or suite is None:
            continue
        slack = (order.required_by - a.ship).days
        text = (
            f"{a.order_id}<br>start {a.start}, end {a.end}<br>release {a.release}, "
            f"delivered {a.ship}<br>required by {order.required_by} ({slack:+d} days)"
            + ("<br>infectious material" if order.infectious else "")
        )
        kind = _status(problem, a.order_id, a.ship, margin_days)
        add(kind, a.suite_id, a.start, order.process_days, text, "/" if order.infectious else "")
        clean = suite.turnaround_days(order)
        if clean:
            what = "decontamination" if order.infectious and suite.decon_days else "changeover"
            add("cleaning", a.suite_id, a.end, clean, f"{what} after {a.order_id}")
    for suite in problem.suites:
        for w in suite.downtime:
            add("downtime", suite.suite_id, w.start, (w.end - w.start).days, w.reason or "down")

    fig = go.Figure()
    for name, bar in bars.items():
        if not bar["y"]:
            continue
        fig.add_trace(
            go.Bar(
                name=name,
                orientation="h",
                y=bar["y"],
                base=bar["base"],
                x=bar["x"],
                hovertext=bar["text"],
                hoverinfo="text",
                marker={"color": COLOURS[name], "pattern": {"shape": bar["pattern"]}},
            )
        )
    fig.update_layout(
        title=title,
        barmode="overlay",
        xaxis={"type": "date", "title": "date"},
        yaxis={
            "title": "suite",
            "categoryorder": "array",
            "categoryarray": [s.suite_id for s in reversed(problem.suites)],
        },
        legend={"orientation": "h"},
    )
    if plan.assignments:  # open on the batches; downtime further out is a zoom away
        first = min(a.start for a in plan.assignments) - dt.timedelta(days=3)
        last = max(a.end for a in plan.assignments) + dt.timedelta(days=7)
        fig.update_xaxes(range=[first.isoformat(), last.isoformat()])
    figure: dict[str, Any] = fig.to_dict()
    return figure
