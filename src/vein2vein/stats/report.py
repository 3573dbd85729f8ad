"""Rendering of a comparability study as HTML (inline SVG plots) or PDF (matplotlib pages).

Plots per attribute: the individual values by arm, and — for equivalence tests — the (1 − 2α)
confidence interval against the equivalence bounds; for range methods the range with the test
lots.
"""

from __future__ import annotations

import io
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from vein2vein.core.errors import InputError
from vein2vein.stats.comparability import AttributeOutcome, ComparabilityResult
from vein2vein.stats.equivalence import TostResult
from vein2vein.stats.results import fmt


def attribute_figure(a: AttributeOutcome) -> Figure:
    """Values by arm (left) and interval against margin or range (right)."""
    fig = Figure(figsize=(8, 3))  # no pyplot: no global backend state, safe in a server
    axes = fig.subplots(1, 2)
    left, right = axes
    for pos, s in enumerate((a.reference, a.test)):
        jitter = [(i % 5 - 2) * 0.04 for i in range(s.n)]
        left.scatter([pos + j for j in jitter], s.values, s=18, alpha=0.8)
        left.hlines(s.mean, pos - 0.25, pos + 0.25, colors="black")
    left.set_xticks([0, 1], [a.reference.arm, a.test.arm])
    left.set_title(f"{a.plan.name}: values by arm", fontsize=9)
    res = a.result
    if isinstance(res, TostResult):
        right.axvspan(res.lower, res.upper, color="#d8f0dc", label="equivalence bounds")
        right.errorbar(
            [res.difference],
            [0],
            xerr=[[res.difference - res.ci_low], [res.ci_high - res.difference]],
            fmt="o",
            color="black",
            capsize=5,
            label=f"{100 * res.confidence_level:g}% CI",
        )
        right.axvline(1.0 if res.scale == "ratio" else 0.0, color="grey", lw=0.8, ls="--")
        lo, hi = min(res.lower, res.ci_low), max(res.upper, res.ci_high)
        pad = 0.15 * (hi - lo)
        right.set_xlim(lo - pad, hi + pad)
        right.set_yticks([])
        right.set_xlabel("ratio test/reference" if res.scale == "ratio" else "test - reference")
        right.set_title("interval against margin", fontsize=9)
        right.legend(fontsize=7, loc="upper right")
    elif res is not None:
        right.axhspan(res.lower, res.upper, color="#d8f0dc", label="range")
        right.scatter(range(1, a.test.n + 1), a.test.values, s=18, color="C1", label="test lots")
        right.set_xlabel("test lot")
        right.set_title("test lots against the range", fontsize=9)
        right.legend(fontsize=7)
    else:
        right.axis("off")
    fig.tight_layout()
    return fig


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def render_html(result: ComparabilityResult) -> str:
    env = Environment(
        loader=PackageLoader("vein2vein.stats", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    plots = [_svg(attribute_figure(a)) for a in result.attributes]
    return env.get_template("comparability.html").render(
        r=result, plots=plots, num=lambda v: fmt(v, 5)
    )


def write_pdf(result: ComparabilityResult, path: Path) -> None:
    with PdfPages(path) as pdf:
        fig = Figure(figsize=(8.27, 11.69))
        lines = result.summary().splitlines()
        fig.text(0.05, 0.97, "\n".join(lines[:80]), va="top", family="monospace", fontsize=6.5)
        pdf.savefig(fig)
        for a in result.attributes:
            fig = attribute_figure(a)
            fig.suptitle(f"{a.plan.name}: {a.conclusion} — {a.statement}", fontsize=7, y=1.0)
            pdf.savefig(fig, bbox_inches="tight")


def write_report(result: ComparabilityResult, path: str | Path) -> Path:
    """Write ``result`` as HTML or PDF, chosen by the file suffix."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".html", ".htm"):
        p.write_text(render_html(result), encoding="utf-8")
    elif suffix == ".pdf":
        write_pdf(result, p)
    else:
        raise InputError("report must end in .html or .pdf", file=str(path), field="report")
    return p
