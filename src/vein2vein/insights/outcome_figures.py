"""Figures of product ↔ outcome as Plotly figures (plain dicts; ``Plotly.newPlot`` takes them).
Pure: no database, web or template code. Every title carries the n of what is drawn and the
word "exploratory"; a p-value appears only with its test named. One colour means one thing:
the BOR colours of the clinical readout (``clinical.figures.BOR_COLOURS``) for response
categories, the two KM arms in two fixed colours."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

#: response categories in the order of the x axis
CATEGORIES = ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE")
ARM_COLOURS = ("#264653", "#e76f51")
BOR_COLOURS_FALLBACK = {
    "CR": "#1a9850",
    "PR": "#66bd63",
    "SD": "#fee08b",
    "NON-CR/NON-PD": "#d9ef8b",
    "PD": "#d73027",
    "NE": "#999999",
}


def _bor_colours() -> Mapping[str, str]:
    try:
        from vein2vein.clinical.figures import BOR_COLOURS

        return {**BOR_COLOURS_FALLBACK, **BOR_COLOURS}
    except ImportError:  # pragma: no cover - the clinical engine is part of the package
        return BOR_COLOURS_FALLBACK


def _p(p: float | None, test: str) -> str:
    return "no test" if p is None else f"p = {p:.3g} ({test})"


def _layout(title: str, x: str, y: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 13}},
        "xaxis": {"title": {"text": x}},
        "yaxis": {"title": {"text": y}, "zeroline": False},
        "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
        "showlegend": True,
        "legend": {"orientation": "h", "y": -0.25},
        **extra,
    }


def dot_plot(
    rows: Sequence[Mapping[str, Any]], key: str, name: str, unit: str, mwu: Mapping[str, Any]
) -> dict[str, Any]:
    """The attribute of each linked subject by BOR category, with each category's median."""
    colours = _bor_colours()
    data: list[dict[str, Any]] = []
    n = 0
    for cat in CATEGORIES:
        pts = [
            (r["subject_id"], float(r[key]))
            for r in rows
            if r.get("linked") and r.get(key) is not None and str(r.get("bor")).upper() == cat
        ]
        if not pts:
            continue
        n += len(pts)
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": f"{cat} (n={len(pts)})",
                "x": [cat] * len(pts),
                "y": [v for _, v in pts],
                "text": [s for s, _ in pts],
                "marker": {"size": 10, "color": colours.get(cat, "#777777")},
                "hovertemplate": "%{text}: %{y}<extra></extra>",
            }
        )
        med = statistics.median(v for _, v in pts)
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": f"median {cat}",
                "showlegend": False,
                "x": [cat],
                "y": [med],
                "marker": {"symbol": "line-ew-open", "size": 30, "color": "#000000"},
                "hovertemplate": f"median {cat}: %{{y}}<extra></extra>",
            }
        )
    title = (
        f"Exploratory: {name} by best overall response (n={n}); bars: medians<br>"
        f"<sup>CR+PR vs others: {_p(mwu.get('p'), str(mwu.get('test', '')))}</sup>"
    )
    return {"data": data, "layout": _layout(title, "Best overall response", f"{name} ({unit})")}


def dose_scatter(rows: Sequence[Mapping[str, Any]], sp: Mapping[str, Any]) -> dict[str, Any]:
    """Delivered dose against best % change in the sum of target lesions."""
    colours = _bor_colours()
    pts = [
        r
        for r in rows
        if r.get("linked")
        and r.get("dose_per_kg") is not None
        and r.get("best_pct_change") is not None
    ]
    rho = sp.get("rho")
    rho_text = "ρ not computed" if rho is None else f"Spearman ρ = {rho:.2f}"
    title = (
        f"Exploratory: delivered dose vs best % change in target lesions (n={len(pts)})<br>"
        f"<sup>{rho_text}, {_p(sp.get('p'), str(sp.get('test', '')))}</sup>"
    )
    data = [
        {
            "type": "scatter",
            "mode": "markers+text",
            "name": "subject (colour: BOR)",
            "x": [r["dose_per_kg"] for r in pts],
            "y": [r["best_pct_change"] for r in pts],
            "text": [r["subject_id"] for r in pts],
            "textposition": "top center",
            "marker": {
                "size": 10,
                "color": [colours.get(str(r.get("bor")).upper(), "#777777") for r in pts],
            },
        }
    ]
    layout = _layout(
        title, "Delivered dose (10^6 CAR+ viable T cells/kg)", "Best % change from baseline"
    )
    layout["shapes"] = [
        {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": -30, "y1": -30,
         "line": {"dash": "dot", "color": "#666666"}},
        {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 20, "y1": 20,
         "line": {"dash": "dot", "color": "#666666"}},
    ]  # fmt: skip
    return {"data": data, "layout": layout}


def km_figure(km: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The two Kaplan–Meier curves of an endpoint split at the attribute's median, with their
    95 % log-log bands."""
    data: list[dict[str, Any]] = []
    for i, c in enumerate(km.get("curves") or ()):
        colour = ARM_COLOURS[i % 2]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "line": {"shape": "hv", "color": colour},
                "name": f"{name} {c['label']}, events {c['events']}",
                "x": list(c["times"]),
                "y": list(c["survival"]),
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "line": {"shape": "hv", "color": colour, "width": 0},
                "x": list(c["times"]) + list(reversed(c["times"])),
                "y": list(c["upper"]) + list(reversed(c["lower"])),
                "fill": "toself",
                "opacity": 0.15,
                "showlegend": False,
                "hoverinfo": "skip",
                "name": f"95% band {c['label']}",
            }
        )
    n = sum(c["n"] for c in km.get("curves") or ())
    cut = km.get("cut")
    cut_text = "" if cut is None else f" (median {cut:.4g})"
    title = (
        f"Exploratory: {km.get('endpoint')} split at {name}'s median{cut_text} (n={n})<br>"
        f"<sup>{_p(km.get('p'), str(km.get('test', '')))}</sup>"
    )
    layout = _layout(title, "Days from infusion", "Probability")
    layout["yaxis"]["range"] = [0, 1.05]
    return {"data": data, "layout": layout}
