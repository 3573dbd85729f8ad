"""Figures of the readout: plain data first (``plot_data``, JSON-able, for Plotly or any other
library on the web page), then matplotlib renderings of the same data for the report:
waterfall, spider, swimmer and Kaplan-Meier curves with numbers at risk."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from . import codes as C

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .readout import ReadoutResult

BOR_COLOURS = {
    "CR": "#1b7837",
    "PR": "#5aae61",
    "SD": "#f1b631",
    "NON-CR/NON-PD": "#92c5de",
    "PD": "#d6604d",
    "UPD": "#f4a582",
    "NE": "#9e9e9e",
    "ND": "#bdbdbd",
    "MISSING": "#d9d9d9",
}
GROUP_COLOURS = ["#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb"]
WEEK = 7.0


def _colour(label: str | None) -> str:
    if label is None:
        return BOR_COLOURS["MISSING"]
    plain = {
        "iCR": "CR",
        "iPR": "PR",
        "iSD": "SD",
        "NON-iCR/NON-iUPD": "NON-CR/NON-PD",
        "iCPD": "PD",
        "iUPD": "UPD",
    }.get(label, label)
    return BOR_COLOURS.get(plain, "#9e9e9e")


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
    return {
        "groups": groups,
        "waterfall": wf,
        "waterfall_no_bar": no_bar,
        "spider": spider,
        "swimmer": swimmer,
        "km": km,
    }


def group_colours(data: dict[str, Any]) -> dict[str, str]:
    """One colour per dose group, in dose order, shared by every figure (``ALL`` last)."""
    names = [*data["groups"], "ALL"]
    return {g: GROUP_COLOURS[i % len(GROUP_COLOURS)] for i, g in enumerate(names)}


def _tick(horizon: float) -> float:
    for step in (30, 60, 90, 180, 365, 730):
        if horizon / step <= 8:
            return float(step)
    return float(math.ceil(horizon / 8))


def _figure(width: float = 8.0, height: float = 4.5) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def waterfall(data: dict[str, Any]) -> Figure:
    fig = _figure()
    ax = fig.add_subplot()
    wf = data["waterfall"]
    x = np.arange(len(wf))
    ax.bar(
        x,
        [d["best_pct_change"] for d in wf],
        color=[_colour(d["bor"]) for d in wf],
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
                color="#b2182b",
            )
    ax.axhline(20, ls="--", lw=0.8, color="#d6604d")
    ax.axhline(-30, ls="--", lw=0.8, color="#1b7837")
    ax.axhline(0, lw=0.8, color="black")
    ax.set_xticks(x, [d["subject_id"] for d in wf], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("Best change in sum of diameters (%)")
    ax.set_title("Waterfall: best % change from baseline (colour = BOR)")
    seen = dict.fromkeys(d["bor"] for d in wf)
    from matplotlib.patches import Patch

    ax.legend(
        handles=[Patch(color=_colour(b), label=b) for b in seen], fontsize=7, loc="upper right"
    )
    return fig


def spider(data: dict[str, Any]) -> Figure:
    fig = _figure()
    ax = fig.add_subplot()
    colour = group_colours(data)
    groups = [g for g in data["groups"] if any(d["dose_group"] == g for d in data["spider"])]
    for d in data["spider"]:
        ax.plot(d["week"], d["pct_change"], marker="o", ms=3, lw=1, color=colour[d["dose_group"]])
        for w, p, new in zip(d["week"], d["pct_change"], d["new_lesion"], strict=True):
            if new:
                ax.plot([w], [p], marker="x", color="#b2182b", ms=7)
    ax.axhline(20, ls="--", lw=0.8, color="#d6604d")
    ax.axhline(-30, ls="--", lw=0.8, color="#1b7837")
    ax.set_xlabel("Weeks since infusion")
    ax.set_ylabel("Change in sum of diameters (%)")
    ax.set_title("Spider plot (x = new lesion)")
    from matplotlib.lines import Line2D

    ax.legend(handles=[Line2D([], [], color=colour[g], label=g) for g in groups], fontsize=7)
    return fig


def swimmer(data: dict[str, Any]) -> Figure:
    rows = data["swimmer"]
    fig = _figure(8.0, max(3.0, 0.32 * len(rows) + 1.2))
    ax = fig.add_subplot()
    colour = group_colours(data)
    groups = [g for g in data["groups"] if any(d["dose_group"] == g for d in rows)]
    for i, d in enumerate(rows):
        end = d["end_week"] or 0.0
        ax.barh(i, end, color=colour[d["dose_group"]], height=0.6, alpha=0.85)
        if d["response_week"] is not None:
            ax.plot(d["response_week"], i, marker="^", color="#1b7837", ms=7)
        if d["progression_week"] is not None:
            ax.plot(d["progression_week"], i, marker="D", color="#d6604d", ms=6)
        if d["new_therapy_week"] is not None:
            ax.plot(d["new_therapy_week"], i, marker="s", color="#542788", ms=6)
        if d["death_week"] is not None:
            ax.plot(d["death_week"], i, marker="X", color="black", ms=7)
        if d["alive"]:
            ax.annotate(
                "", xy=(end + 6, i), xytext=(end, i), arrowprops={"arrowstyle": "->", "lw": 1.2}
            )
    ax.set_yticks(range(len(rows)), [d["subject_id"] for d in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("Weeks since infusion")
    ax.set_title("Swimmer plot")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color=colour[g], label=g) for g in groups] + [
        Line2D([], [], marker="^", ls="", color="#1b7837", label="response (first CR/PR)"),
        Line2D([], [], marker="D", ls="", color="#d6604d", label="progression"),
        Line2D([], [], marker="s", ls="", color="#542788", label="new therapy / surgery"),
        Line2D([], [], marker="X", ls="", color="black", label="death"),
        Line2D([], [], marker=r"$\rightarrow$", ls="", color="black", label="alive"),
    ]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def km_plot(data: dict[str, Any], endpoint: str) -> Figure:
    curves = data["km"][endpoint]
    fig = _figure(8.0, 5.0)
    grid = fig.add_gridspec(2, 1, height_ratios=[4, 1.0 + 0.18 * len(curves)])
    ax = fig.add_subplot(grid[0])
    colours = group_colours(data)
    for c in curves:
        colour = colours[c["dose_group"]]
        med = c["median_days"]
        label = f"{c['dose_group']} (median {'NR' if med is None else f'{med:g}'} d)"
        ax.step(c["time"], c["survival"], where="post", color=colour, label=label)
        ax.plot(c["censored_time"], c["censored_survival"], "|", color=colour, ms=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("Overall survival" if endpoint == "os" else "Progression-free survival")
    ax.set_xlabel("Days since infusion")
    ax.legend(fontsize=7)
    ax.set_title(f"Kaplan-Meier: {'OS' if endpoint == 'os' else 'PFS'} by dose group")
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
