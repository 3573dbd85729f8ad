"""Figures of the readout: plain data first (``plot_data``, JSON-able, for Plotly or any other
library on the web page), then matplotlib renderings of the same data for the report:
waterfall, spider, swimmer and Kaplan-Meier curves with numbers at risk."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from . import codes as C
from . import colours as C_

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .readout import ReadoutResult

WEEK = 7.0

#: kept for callers of the old names; the colours themselves are in ``colours.py``
BOR_COLOURS = C_.BOR_COLOURS
_colour = C_.bor_colour


def _f(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def plot_data(result: ReadoutResult) -> dict[str, Any]:
    """``waterfall``, ``spider``, ``swimmer`` and ``km`` data of a readout (JSON-able)."""
    s = result.subjects[result.subjects["in_population"].to_numpy()]
    tp = result.timepoints
    col = "bor_confirmed" if result.options.use_confirmed else "bor"
    pd_new = set(
        tp.loc[tp["used_for_bor"] & (tp["overall_code"] == C.PD) & tp["new_lesion"], "subject_id"]
    )
    wf = [
        {
            "subject_id": r.subject_id,
            "dose_group": r.dose_group,
            "best_pct_change": float(r.best_pct_change),
            "bor": getattr(r, col),
            "new_lesion_pd": r.subject_id in pd_new,
        }
        for r in s.itertuples()
        if not math.isnan(r.best_pct_change)
    ]
    wf.sort(key=lambda d: -d["best_pct_change"])
    no_bar = [r.subject_id for r in s.itertuples() if math.isnan(r.best_pct_change)]

    spider = []
    used = tp[
        tp["used_for_bor"].to_numpy() & tp["subject_id"].isin(set(s["subject_id"])).to_numpy()
    ]
    for sid, g in used.groupby("subject_id", sort=False):
        ok = ~g["pct_change_baseline"].isna()
        spider.append(
            {
                "subject_id": sid,
                "dose_group": s.loc[s["subject_id"] == sid, "dose_group"].iat[0],
                "week": [0.0, *(g.loc[ok, "day"] / WEEK).round(2).tolist()],
                "pct_change": [0.0, *g.loc[ok, "pct_change_baseline"].round(2).tolist()],
                "new_lesion": [False, *g.loc[ok, "new_lesion"].tolist()],
            }
        )

    swimmer = []
    for r in s.itertuples():
        ref = np.datetime64(r.infusion_date)

        def wk(date: str | None, ref: np.datetime64 = ref) -> float | None:
            if date is None:
                return None
            return float((np.datetime64(date) - ref).astype(int)) / WEEK

        died = r.death_date is not None
        swimmer.append(
            {
                "subject_id": r.subject_id,
                "dose_group": r.dose_group,
                "bor": getattr(r, col),
                "end_week": wk(r.death_date) if died else wk(r.last_known_alive_date),
                "alive": not died,
                "response_week": wk(r.response_start_date),
                "progression_week": wk(r.first_pd_date),
                "new_therapy_week": wk(r.new_therapy_date),
                "death_week": wk(r.death_date),
            }
        )
    groups = [g.dose_group for g in result.groups if g.dose_group != "ALL"]
    swimmer.sort(key=lambda d: (groups.index(d["dose_group"]), -(d["end_week"] or 0)))

    km: dict[str, list[dict[str, Any]]] = {}
    for ep in ("os", "pfs"):
        curves = []
        horizon = max((getattr(g, ep).time.max() if getattr(g, ep).n else 0) for g in result.groups)
        step = _tick(horizon)
        ticks = np.arange(0, horizon + step, step) if horizon else np.array([0.0])
        for g in result.groups:
            fit = getattr(g, ep)
            if g.dose_group == "ALL" and len(result.groups) > 2:
                continue
            curves.append(
                {
                    "dose_group": g.dose_group,
                    **fit.curve_dict(),
                    "median_days": _f(fit.median),
                    "ticks": ticks.tolist(),
                    "at_risk": fit.at_risk(ticks).tolist() if fit.n else [0] * len(ticks),
                }
            )
        km[ep] = curves
    doses = {g.dose_group: _f(g.dose_per_kg) for g in result.groups if g.dose_group != "ALL"}
    return {
        "groups": groups,
        "dose_per_kg": doses,
        "waterfall": wf,
        "waterfall_no_bar": no_bar,
        "spider": spider,
        "swimmer": swimmer,
        "km": km,
    }


def group_colours(data: dict[str, Any]) -> dict[str, str]:
    """One colour per dose level, in dose order, shared by every figure (``colours.py``)."""
    return C_.dose_colours(data["groups"])


def colour_map(data: dict[str, Any]) -> dict[str, Any]:
    """The colours of every figure of ``data`` (the page's script reads the same map)."""
    return C_.colour_map(data["groups"])


def dose_legend(data: dict[str, Any], group: str) -> str:
    """A dose level's legend label with its dose and unit."""
    from .report_text import dose_level

    return dose_level(group, (data.get("dose_per_kg") or {}).get(group))


def _tick(horizon: float) -> float:
    for step in (30, 60, 90, 180, 365, 730):
        if horizon / step <= 8:
            return float(step)
    return float(math.ceil(horizon / 8))


def _figure(width: float = 8.0, height: float = 4.0) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _thresholds(ax: Any) -> None:
    for y, colour in C_.THRESHOLDS:
        ax.axhline(y, ls="--", lw=0.8, color=colour)


def _event(name: str, **kw: Any) -> dict[str, Any]:
    colour, marker, _, _ = C_.EVENTS[name]
    return {"marker": marker, "color": colour, "ls": "", **kw}


def waterfall(data: dict[str, Any]) -> Figure:
    fig = _figure()
    ax = fig.add_subplot()
    wf = data["waterfall"]
    x = np.arange(len(wf))
    ax.bar(
        x,
        [d["best_pct_change"] for d in wf],
        color=[C_.bor_colour(d["bor"]) for d in wf],
        edgecolor="#333333",
        linewidth=0.5,
    )
    for i, d in enumerate(wf):
        if d["new_lesion_pd"]:
            y = d["best_pct_change"]
            ax.annotate(
                "new lesion",
                (i, y),
                xytext=(0, 4 if y >= 0 else -12),
                textcoords="offset points",
                ha="center",
                fontsize=7,
                color=C_.EVENTS["new_lesion"][0],
            )
    _thresholds(ax)
    ax.axhline(0, lw=0.8, color="black")
    ax.set_xticks(x, [d["subject_id"] for d in wf], rotation=60, ha="right", fontsize=7)
    ax.set_xlabel("Subject")
    ax.set_ylabel("Best change in sum of diameters (%)")
    seen = dict.fromkeys(d["bor"] or "MISSING" for d in wf)
    from matplotlib.patches import Patch

    ax.legend(
        handles=[Patch(color=C_.bor_colour(b), label=b) for b in seen],
        fontsize=7,
        loc="upper right",
        title="Best overall response",
        title_fontsize=7,
    )
    return fig


def spider(data: dict[str, Any]) -> Figure:
    """Percent change over time, one line per subject coloured by dose level, the subject's
    label at the end of its line."""
    fig = _figure()
    ax = fig.add_subplot()
    colour = group_colours(data)
    groups = [g for g in data["groups"] if any(d["dose_group"] == g for d in data["spider"])]
    new_colour, new_marker, _, _ = C_.EVENTS["new_lesion"]
    for d in data["spider"]:
        c = colour[d["dose_group"]]
        ax.plot(d["week"], d["pct_change"], marker="o", ms=3, lw=1, color=c)
        for w, p, new in zip(d["week"], d["pct_change"], d["new_lesion"], strict=True):
            if new:
                ax.plot([w], [p], marker=new_marker, color=new_colour, ms=7, ls="")
        ax.annotate(
            d["subject_id"],
            (d["week"][-1], d["pct_change"][-1]),
            xytext=(3, 0),
            textcoords="offset points",
            fontsize=6,
            va="center",
            color=c,
            gid=f"label-{d['subject_id']}",
        )
    _thresholds(ax)
    ax.set_xlabel("Weeks since infusion")
    ax.set_ylabel("Change in sum of diameters (%)")
    ax.margins(x=0.08)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colour[g], label=dose_legend(data, g)) for g in groups]
    handles.append(Line2D([], [], **_event("new_lesion", label="new lesion")))
    ax.legend(handles=handles, fontsize=6.5, title="Dose level", title_fontsize=7)
    return fig


def swimmer(data: dict[str, Any]) -> Figure:
    rows = data["swimmer"]
    fig = _figure(8.0, max(2.6, 0.28 * len(rows) + 1.2))
    ax = fig.add_subplot()
    colour = group_colours(data)
    groups = [g for g in data["groups"] if any(d["dose_group"] == g for d in rows)]
    marks = (
        ("response_week", "response"),
        ("progression_week", "progression"),
        ("new_therapy_week", "new_therapy"),
        ("death_week", "death"),
    )
    for i, d in enumerate(rows):
        end = d["end_week"] or 0.0
        ax.barh(i, end, color=colour[d["dose_group"]], height=0.6, edgecolor="#333333", lw=0.4)
        for key, event in marks:
            if d[key] is not None:
                ax.plot(d[key], i, ms=6, **_event(event))
        if d["alive"]:
            ax.plot(end, i, ms=6, **_event("alive"))
    ax.set_yticks(range(len(rows)), [d["subject_id"] for d in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("Weeks since infusion")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color=colour[g], label=dose_legend(data, g)) for g in groups] + [
        Line2D([], [], **_event(e, label=C_.EVENTS[e][3]))
        for e in ("response", "progression", "new_therapy", "death", "alive")
    ]
    ax.legend(handles=handles, fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def km_plot(data: dict[str, Any], endpoint: str) -> Figure:
    """Kaplan-Meier curves by dose level with their pointwise confidence band (shaded, the
    same band the page draws), censoring ticks and the numbers at risk below."""
    curves = data["km"][endpoint]
    fig = _figure(8.0, 4.6)
    grid = fig.add_gridspec(2, 1, height_ratios=[4, 1.0 + 0.18 * len(curves)])
    ax = fig.add_subplot(grid[0])
    colours = group_colours(data)
    for c in curves:
        colour = colours[c["dose_group"]]
        med = c["median_days"]
        label = (
            f"{dose_legend(data, c['dose_group'])} (median {'NR' if med is None else f'{med:g} d'})"
        )
        ax.step(c["time"], c["survival"], where="post", color=colour, label=label)
        lower = [np.nan if v is None else v for v in c["lower"]]
        upper = [np.nan if v is None else v for v in c["upper"]]
        ax.fill_between(
            c["time"], lower, upper, step="post", color=colour, alpha=0.18, lw=0,
            gid=f"band-{c['dose_group']}",
        )  # fmt: skip
        ax.plot(c["censored_time"], c["censored_survival"], "|", color=colour, ms=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("Overall survival" if endpoint == "os" else "Progression-free survival")
    ax.set_xlabel("Days since infusion")
    ax.legend(fontsize=6.5)
    ticks = curves[0]["ticks"] if curves else [0]
    ax.set_xticks(ticks)
    table = fig.add_subplot(grid[1], sharex=ax)
    table.set_axis_off()
    table.text(
        0,
        1.0,
        "Number at risk",
        transform=table.transAxes,
        fontsize=7,
        weight="bold",
        va="top",
        ha="left",
    )
    for i, c in enumerate(curves):
        y = 1.0 - (i + 1) / (len(curves) + 1)
        table.text(
            -0.01,
            y,
            c["dose_group"],
            transform=table.transAxes,
            fontsize=7,
            ha="right",
            va="center",
            color=colours[c["dose_group"]],
        )
        for t, n in zip(c["ticks"], c["at_risk"], strict=True):
            table.text(
                t,
                y,
                str(n),
                transform=table.get_xaxis_transform(),
                fontsize=7,
                ha="center",
                va="center",
            )
    return fig


def render_all(data: dict[str, Any]) -> dict[str, Figure]:
    return {
        "waterfall": waterfall(data),
        "spider": spider(data),
        "swimmer": swimmer(data),
        "km_os": km_plot(data, "os"),
        "km_pfs": km_plot(data, "pfs"),
    }
