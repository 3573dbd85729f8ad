"""Gantt figure dict and orders at risk."""

from __future__ import annotations

import dataclasses

import plotly.graph_objects as go

from vein2vein.scheduling.gantt import (
    LABEL_CHARS,
    MS_PER_DAY,
    bar_label,
    gantt_bars,
    gantt_figure,
    orders_at_risk,
)
from vein2vein.scheduling.model import Problem, Transfer, Unscheduled

from .conftest import GOOD, D, plan_of


def test_figure_is_a_valid_plotly_dict(small: Problem) -> None:
    fig = gantt_figure(small, plan_of(small, GOOD))
    go.Figure(fig)  # plotly validates every property
    names = {trace["name"] for trace in fig["data"]}
    assert {"on time", "on time, infectious material (hatched)", "cleaning", "downtime"} == names
    plain = next(t for t in fig["data"] if t["name"] == "on time")
    assert list(plain["text"]) == ["O1", "O3"]  # every batch labelled with its order
    hatched = next(t for t in fig["data"] if "infectious" in t["name"])
    assert list(hatched["text"]) == ["O2"]
    assert hatched["x"][0] == 4 * MS_PER_DAY and hatched["base"][0] == "2026-03-03"
    assert hatched["marker"]["pattern"]["shape"] == "/"  # infectious material hatched
    assert plain["marker"]["pattern"]["shape"] == ""
    assert fig["layout"]["xaxis"]["type"] == "date"


def test_every_colour_and_pattern_drawn_has_its_own_legend_entry(small: Problem) -> None:
    problem = _shipped(small)
    fig = gantt_figure(problem, plan_of(problem, GOOD), today=D(2026, 3, 5))
    bars = [t for t in fig["data"] if t["type"] == "bar"]
    looks = {
        (t["marker"]["color"], t["marker"]["pattern"]["shape"], t["marker"]["line"]["width"])
        for t in bars
    }
    assert len(looks) == len(bars)  # one trace (one legend entry) per look
    assert all(t.get("showlegend") is not False and t["name"] for t in fig["data"])
    outlined = next(t for t in bars if "shipped from another site (outlined)" in t["name"])
    assert list(outlined["text"]) == ["O1"] and outlined["marker"]["line"]["width"] > 0
    assert "received at Leiden, shipped to Ghent (1 day)" in outlined["hovertext"][0]


def test_today_line_spans_the_chart_and_is_in_the_legend(small: Problem) -> None:
    fig = gantt_figure(small, plan_of(small, GOOD), today=D(2026, 3, 5))
    (line,) = fig["layout"]["shapes"]
    assert (line["x0"], line["x1"], line["yref"], line["y0"], line["y1"]) == (
        "2026-03-05",
        "2026-03-05",
        "paper",
        0,
        1,
    )
    assert any(t["name"] == "today (2026-03-05)" for t in fig["data"])
    assert gantt_figure(small, plan_of(small, GOOD))["layout"].get("shapes") in (None, ())


def test_long_order_numbers_are_cut_on_the_bar_and_whole_in_the_tooltip(small: Problem) -> None:
    long_id = "HLX-EPC-01-2026-000123"
    problem = small.replace(
        orders=tuple(
            dataclasses.replace(o, order_id=long_id) if o.order_id == "O1" else o
            for o in small.orders
        )
    )
    rows = [(long_id if o == "O1" else o, su, t) for o, su, t in GOOD]
    fig = gantt_figure(problem, plan_of(problem, rows))
    plain = next(t for t in fig["data"] if t["name"] == "on time")
    k = list(plain["text"]).index(bar_label(long_id))
    assert bar_label(long_id) == "HLX-EPC-01-…" and len(bar_label(long_id)) == LABEL_CHARS
    assert plain["hovertext"][k].startswith(long_id)


def test_table_rows_are_the_bars_of_the_chart(small: Problem) -> None:
    plan = plan_of(small, GOOD)
    rows = [b.as_row() for b in gantt_bars(small, plan)]
    fig = gantt_figure(small, plan)
    assert len(rows) == sum(len(t["y"]) for t in fig["data"] if t["type"] == "bar")
    o2 = next(r for r in rows if r["order_id"] == "O2" and r["kind"] == "batch")
    # 4 days from 3 March: the last day in the suite is 6 March; then 1 + 3 days of cleaning
    assert (o2["suite"], o2["first_day"], o2["last_day"]) == ("B", "2026-03-03", "2026-03-06")
    clean = next(r for r in rows if r["order_id"] == "O2" and r["kind"] == "cleaning")
    assert (clean["first_day"], clean["days"]) == ("2026-03-07", 4)
    assert [r["kind"] for r in rows if r["suite"] == "B"][-1] == "downtime"


def _shipped(problem: Problem) -> Problem:
    """O1's material received at Leiden, made in suite A at Ghent, 1 day of shipping."""
    suites = tuple(dataclasses.replace(s, site="Ghent") for s in problem.suites)
    orders = tuple(
        dataclasses.replace(o, material_site="Leiden") if o.order_id == "O1" else o
        for o in problem.orders
    )
    return problem.replace(
        suites=suites, orders=orders, transfers=(Transfer("Leiden", "Ghent", 1),)
    )


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
