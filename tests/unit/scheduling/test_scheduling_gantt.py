"""Gantt figure dict and orders at risk."""

from __future__ import annotations

import dataclasses

import plotly.graph_objects as go

from vein2vein.scheduling.gantt import MS_PER_DAY, gantt_figure, orders_at_risk
from vein2vein.scheduling.model import Problem, Unscheduled

from .conftest import GOOD, D, plan_of


def test_figure_is_a_valid_plotly_dict(small: Problem) -> None:
    fig = gantt_figure(small, plan_of(small, GOOD))
    go.Figure(fig)  # plotly validates every property
    names = {trace["name"] for trace in fig["data"]}
    assert {"on time", "cleaning", "downtime"} <= names
    batches = next(t for t in fig["data"] if t["name"] == "on time")
    assert len(batches["y"]) == 3
    o2 = list(batches["hovertext"]).index(next(t for t in batches["hovertext"] if "O2" in t))
    assert batches["x"][o2] == 4 * MS_PER_DAY and batches["base"][o2] == "2026-03-03"
    assert batches["marker"]["pattern"]["shape"][o2] == "/"  # infectious material hatched
    assert fig["layout"]["xaxis"]["type"] == "date"


def test_orders_at_risk_sorted_by_slack(small: Problem) -> None:
    problem = small.replace(
        orders=tuple(
            dataclasses.replace(o, required_by=D(2026, 3, 14)) if o.order_id == "O1" else o
            for o in small.orders
        )
    )
    plan = plan_of(problem, [*GOOD[1:], GOOD[0]], unscheduled=())
    risky = orders_at_risk(problem, plan, margin_days=14)
    assert [r.order_id for r in risky][:1] == ["O1"] and risky[0].slack_days == -1
    dropped = plan_of(problem, GOOD[:2], unscheduled=(Unscheduled("O3", "hold"),))
    assert orders_at_risk(problem, dropped)[0].order_id == "O3"
    late = next(t for t in gantt_figure(problem, plan)["data"] if t["name"] == "late")
    assert any("O1" in text for text in late["hovertext"])
