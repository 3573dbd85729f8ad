"""The steering-committee report of a readout, as HTML (self-contained: figures embedded as
PNG) or PDF (fpdf2): response table by dose level, subject listing, waterfall, spider, swimmer
and Kaplan-Meier plots with numbers at risk, RS disagreements, warnings and provenance.

``anchors`` (optional) are labelled lines that tie the report to stored records: the study
page passes the dataset version's SHA-256 and the audit trail's head hash
(docs/audit-trail.md, "Anchoring the head"). They are printed with the provenance and in the
footer (every page of the PDF).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from vein2vein.reports.pdf import anchored_pdf
from vein2vein.reports.pdf import latin1 as _latin1

from .figures import render_all

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .readout import ReadoutResult

TITLE = "Clinical readout"


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130)
    return buf.getvalue()


def subject_listing(result: ReadoutResult) -> pd.DataFrame:
    s = result.subjects[result.subjects["in_population"].to_numpy()]

    def days(x: float, ev: int) -> str:
        if math.isnan(x):
            return "-"
        return f"{x:g}" + ("" if ev == 1 else "+")

    return pd.DataFrame(
        {
            "Subject": s["subject_id"],
            "Dose group": s["dose_group"],
            "BOR": s["bor"].fillna("-"),
            "Confirmed BOR": s["bor_confirmed"].fillna("-"),
            "Best % change": [("-" if math.isnan(x) else f"{x:.1f}") for x in s["best_pct_change"]],
            "PFS, days": [days(x, e) for x, e in zip(s["pfs_days"], s["pfs_event"], strict=True)],
            "OS, days": [days(x, e) for x, e in zip(s["os_days"], s["os_event"], strict=True)],
            "DOR, days": [days(x, e) for x, e in zip(s["dor_days"], s["dor_event"], strict=True)],
        }
    )


def _context(result: ReadoutResult, title: str) -> tuple[dict, dict[str, bytes]]:
    data = result.plot_data()
    pngs = {k: _png(f) for k, f in render_all(data).items()}
    o = result.options
    ctx = {
        "title": title,
        "criteria": "iRECIST" if o.irecist else "RECIST 1.1",
        "basis": "confirmed" if o.use_confirmed else "unconfirmed",
        "population": o.population,
        "cutoff": o.cutoff.isoformat() if o.cutoff else None,
        "level": f"{100 * o.level:g}",
        "conf_type": o.conf_type,
        "no_bar": data["waterfall_no_bar"],
        "warnings": list(result.warnings),
        "provenance": result.provenance.summary(),
    }
    return ctx, pngs


def to_html(
    result: ReadoutResult, title: str = TITLE, *, anchors: Mapping[str, str] | None = None
) -> str:
    ctx, pngs = _context(result, title)
    env = Environment(
        loader=PackageLoader("vein2vein.clinical", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    listing = subject_listing(result)
    dis = result.disagreements.drop(columns=["subj"], errors="ignore")
    return env.get_template("report.html.j2").render(
        **ctx,
        images={k: base64.b64encode(v).decode() for k, v in pngs.items()},
        response_table=result.response_table().to_html(border=0),
        subject_table=listing.to_html(index=False, border=0),
        disagreements=dis.to_html(index=False, border=0) if len(dis) else "",
        anchors=dict(anchors or {}),
    )


def _footer_lines(anchors: Mapping[str, str]) -> list[str]:
    keep = ("Dataset SHA-256", "Audit trail head")
    return [f"{k}: {anchors[k]}" for k in keep if k in anchors]


def to_pdf(
    result: ReadoutResult, title: str = TITLE, *, anchors: Mapping[str, str] | None = None
) -> bytes:
    anchors = dict(anchors or {})
    ctx, pngs = _context(result, title)
    pdf = anchored_pdf(_footer_lines(anchors))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 9, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    pdf.multi_cell(
        0,
        4,
        _latin1(
            f"{ctx['criteria']}; response rates from the {ctx['basis']} best overall response; "
            f"population: {ctx['population']}"
            + (f"; data cut-off {ctx['cutoff']}" if ctx["cutoff"] else "")
            + f". ORR = CR + PR; DCR = CR + PR + SD + NON-CR/NON-PD; exact {ctx['level']}% CIs. "
            f"Medians in days, Brookmeyer-Crowley {ctx['conf_type']} interval; NR = not reached; "
            "+ = censored."
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )

    def table(frame: pd.DataFrame, first_col: str, font: float = 7) -> None:
        pdf.set_font("Helvetica", "", font)
        headers = [first_col, *map(str, frame.columns)]
        rows = [[str(i), *map(str, r)] for i, r in zip(frame.index, frame.to_numpy(), strict=True)]
        with pdf.table(
            col_widths=[2.2] + [1.6] * len(frame.columns), text_align="CENTER", line_height=4
        ) as t:
            for r in [headers, *rows]:
                row = t.row()
                for cell in r:
                    row.cell(_latin1(cell))

    def heading(text: str) -> None:
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 7, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    heading("Response by dose level")
    table(result.response_table(), "")
    heading("Subjects")
    listing = subject_listing(result).set_index("Subject")
    table(listing, "Subject", 6.5)
    for key, name in (
        ("waterfall", "Waterfall"),
        ("spider", "Spider plot"),
        ("swimmer", "Swimmer plot"),
        ("km_os", "Overall survival"),
        ("km_pfs", "Progression-free survival"),
    ):
        pdf.add_page()
        heading(name)
        pdf.image(io.BytesIO(pngs[key]), w=180)
    dis = result.disagreements.drop(columns=["subj"], errors="ignore")
    if len(dis):
        heading("Investigator (RS) vs derived responses")
        table(dis.set_index("subject_id"), "Subject")
    if ctx["warnings"]:
        heading("Warnings")
        pdf.set_font("Helvetica", "", 7)
        for w in ctx["warnings"]:
            pdf.multi_cell(0, 4, _latin1(f"- {w}"), new_x="LMARGIN", new_y="NEXT")
    heading("Provenance")
    pdf.set_font("Courier", "", 7)
    pdf.multi_cell(0, 3.5, _latin1(ctx["provenance"]), new_x="LMARGIN", new_y="NEXT")
    if anchors:
        pdf.ln(1)
        text = "\n".join(f"{k}: {v}" for k, v in anchors.items())
        pdf.multi_cell(0, 3.5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def write_report(result: ReadoutResult, path: str | Path, title: str = TITLE) -> Path:
    """Write ``path`` as HTML or PDF, chosen by its suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        path.write_text(to_html(result, title), encoding="utf-8")
    elif suffix == ".pdf":
        path.write_bytes(to_pdf(result, title))
    else:
        raise ValueError(f"report must end in .html or .pdf, not {path.name!r}")
    return path
