"""One colour means one thing in every figure of a readout, on the study page (Plotly) and in
the report (matplotlib): this module is the only place that picks them.

Three disjoint families, so that no hue is read two ways:

* **response category** (best overall response, and a time-point response): greens for
  response (CR dark, PR light), amber for stable disease, light purple for non-CR/non-PD, reds
  for progression, greys for not evaluable / missing;
* **dose level**: one sequential blue scale, lighter for a lower dose and darker for a higher
  one (dose levels are ordered), and near-black for all subjects together;
* **events** on the swimmer and spider plots: each with its colour *and* its marker shape
  (response, progression, new therapy or surgery, death, still alive, new lesion), so that the
  figures also read in greyscale. The reference lines of RECIST (+20 % and -30 %) take the
  colours of PD and PR.

iRECIST categories take the colour of their RECIST counterpart (iCR as CR, iUPD its own).
:func:`colour_map` is what the page's script and the report's figures both read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

BOR_COLOURS: dict[str, str] = {
    "CR": "#1b7837",
    "PR": "#7fbf7b",
    "SD": "#f1b631",
    "NON-CR/NON-PD": "#c2a5cf",
    "PD": "#b2182b",
    "UPD": "#f4a582",
    "NE": "#878787",
    "ND": "#bababa",
    "MISSING": "#e0e0e0",
}
IRECIST_AS_RECIST = {
    "iCR": "CR",
    "iPR": "PR",
    "iSD": "SD",
    "NON-iCR/NON-iUPD": "NON-CR/NON-PD",
    "iCPD": "PD",
    "iUPD": "UPD",
}
#: sequential blues (ColorBrewer "Blues", 3 to 7 classes): light = low dose
_BLUES = ["#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"]
ALL_COLOUR = "#252525"
#: event -> (colour, matplotlib marker, Plotly symbol, legend label)
EVENTS: dict[str, tuple[str, str, str, str]] = {
    "response": (BOR_COLOURS["PR"], "^", "triangle-up", "response (first CR/PR)"),
    "progression": (BOR_COLOURS["PD"], "D", "diamond", "progression"),
    "new_therapy": ("#8c510a", "s", "square", "new therapy / surgery"),
    "death": ("#000000", "X", "x", "death"),
    "alive": ("#000000", ">", "triangle-right", "alive at last contact"),
    "new_lesion": (BOR_COLOURS["PD"], "x", "x-thin-open", "new lesion"),
}
#: the RECIST reference lines: +20 % (progression) and -30 % (partial response)
THRESHOLDS = ((20.0, BOR_COLOURS["PD"]), (-30.0, BOR_COLOURS["PR"]))


def bor_colour(label: str | None) -> str:
    """The colour of a response category (iRECIST as its RECIST counterpart)."""
    if label is None:
        return BOR_COLOURS["MISSING"]
    return BOR_COLOURS.get(IRECIST_AS_RECIST.get(label, label), BOR_COLOURS["NE"])


def dose_colours(groups: Sequence[str]) -> dict[str, str]:
    """One blue per dose level, in dose order (lighter = lower), and ``ALL`` near-black.

    The scale is spread over the seven blues so that two levels are never neighbours when
    there are few; more than seven levels reuse the darkest."""
    n = len(groups)
    if n <= 1:
        picks = [4]
    else:
        first = 1 if n <= 5 else 0
        picks = [round(first + i * (len(_BLUES) - 1 - first) / (n - 1)) for i in range(n)]
    out = {g: _BLUES[min(p, len(_BLUES) - 1)] for g, p in zip(groups, picks, strict=False)}
    out["ALL"] = ALL_COLOUR
    return out


def colour_map(groups: Sequence[str]) -> dict[str, Any]:
    """Everything a figure needs to colour itself, JSON-able (the page's script reads it)."""
    return {
        "bor": dict(BOR_COLOURS),
        "irecist_as_recist": dict(IRECIST_AS_RECIST),
        "dose": dose_colours(groups),
        "events": {
            k: {"colour": c, "symbol": s, "label": lbl} for k, (c, _, s, lbl) in EVENTS.items()
        },
        "thresholds": [{"y": y, "colour": c} for y, c in THRESHOLDS],
    }
