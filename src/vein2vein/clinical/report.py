"""The steering-committee report of a readout, as HTML (self-contained: figures embedded as
PNG) or PDF (fpdf2), both printed from one document model (``report_document.py``):
numbered tables and figures with captions and footnotes (population, conventions, data
cut-off), doses with their unit, durations in days, weeks and months, the confidential
marking on every page, the report version and its status, and the sign-off block of the
named steering-committee members (signed or awaiting signature).

The figures are the matplotlib renderings (``figures.py``) of the same ``plot_data`` the study
page draws with Plotly, in the same colours (``colours.py``), with the Kaplan-Meier bands and
the spider plot's subject labels in both. In the PDF the figures share pages
(``figure_pages.pack``) so that no figure page is half empty.

``anchors`` (optional) are labelled lines that tie the report to stored records: the dataset
version's SHA-256 and the audit trail's head hash (docs/audit-trail.md, "Anchoring the head").
They are printed with the provenance and in the footer of every page.

The PDF is deterministic: the same document (and ``created``) gives the same bytes, so a
stored report version downloads byte for byte the same while nothing about it changed.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import threading
import types
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from vein2vein.core.canonical import sha256_hex
from vein2vein.reports.pdf import anchored_pdf
from vein2vein.reports.pdf import latin1 as _latin1

from . import report_document as D
from .figure_pages import Block, pack
from .figures import render_all

if TYPE_CHECKING:
    from fpdf import FPDF
    from matplotlib.figure import Figure

    from .readout import ReadoutResult

TITLE = "Clinical readout"
FIGURE_WIDTH_MM = 180.0
#: relative column widths of the tables that need their own
WIDTHS = {"subjects": [0.75, 0.8, 0.5, 0.75, 0.7, 1.5, 1.5, 1.5]}
FIXED_DATE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, metadata={"Software": None})
    return buf.getvalue()


def subject_listing(result: ReadoutResult) -> Any:
    """The subject listing (Table 3 of the report) as a DataFrame (the study page shows it)."""
    import pandas as pd

    t = D._listing(result, 3, D.conventions(result))
    return pd.DataFrame(list(t.rows), columns=list(t.columns))


@dataclass(frozen=True)
class Picture:
    """A rendered figure: PNG bytes and the figure's size in inches."""

    png: bytes
    width: float
    height: float


#: the pictures of the last few readouts, by the hash of their plot data: a stored report
#: version downloaded again (or its page and PDF) does not draw its figures again
_PICTURES: OrderedDict[str, dict[str, Picture]] = OrderedDict()
_PICTURES_KEPT = 8
_PICTURES_LOCK = threading.Lock()


def pictures(data: Mapping[str, Any]) -> dict[str, Picture]:
    """The figures of ``data`` as PNG (drawn once per distinct data, kept for a few)."""
    key = sha256_hex(data)
    with _PICTURES_LOCK:
        if key in _PICTURES:
            _PICTURES.move_to_end(key)
            return _PICTURES[key]
    drawn = {
        k: Picture(_png(f), f.get_figwidth(), f.get_figheight())
        for k, f in render_all(dict(data)).items()
    }
    with _PICTURES_LOCK:
        _PICTURES[key] = drawn
        while len(_PICTURES) > _PICTURES_KEPT:
            _PICTURES.popitem(last=False)
    return drawn


def _figures(result: ReadoutResult) -> tuple[dict[str, Any], dict[str, Picture]]:
    data = result.plot_data()
    return data, pictures(data)


def document(
    result: ReadoutResult,
    title: str = TITLE,
    *,
    anchors: Mapping[str, str] | None = None,
    meta: D.ReportMeta | None = None,
    data: Mapping[str, Any] | None = None,
) -> D.ReportDocument:
    meta = meta or D.ReportMeta(anchors=dict(anchors or {}))
    if anchors and not meta.anchors:
        meta = D.ReportMeta(**{**meta.__dict__, "anchors": dict(anchors)})
    return D.build(result, title, meta, data)


# ------------------------------------------------------------------ HTML


def to_html(
    result: ReadoutResult,
    title: str = TITLE,
    *,
    anchors: Mapping[str, str] | None = None,
    meta: D.ReportMeta | None = None,
) -> str:
    data, figs = _figures(result)
    doc = document(result, title, anchors=anchors, meta=meta, data=data)
    env = Environment(
        loader=PackageLoader("vein2vein.clinical", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    images = {k: base64.b64encode(p.png).decode() for k, p in figs.items()}
    return env.get_template("report.html.j2").render(doc=doc, images=images)


# ------------------------------------------------------------------ PDF


def _footer_lines(doc: D.ReportDocument) -> list[str]:
    keep = ("Dataset SHA-256", "Audit trail head")
    anchors = doc.meta.anchors
    return [f"{doc.marking} - {doc.meta.version_label}"] + [
        f"{k}: {anchors[k]}" for k in keep if k in anchors
    ]


def _with_header(pdf: FPDF, doc: D.ReportDocument) -> None:
    """The marking and the version at the top of every page."""
    marking, version = _latin1(doc.marking), _latin1(doc.meta.version_label)

    def header(self: FPDF) -> None:
        self.set_font("Helvetica", "B", 7)
        self.set_text_color(150, 0, 0)
        self.cell(0, 4, marking, new_x="LMARGIN", new_y="NEXT", align="L")
        self.set_text_color(0, 0, 0)
        self.set_font("Helvetica", "", 7)
        self.cell(0, 3.5, version, new_x="LMARGIN", new_y="NEXT", align="L")
        self.ln(1.5)

    pdf.header = types.MethodType(header, pdf)  # type: ignore[method-assign]


class _Writer:
    def __init__(self, doc: D.ReportDocument, created: dt.datetime) -> None:
        self.doc = doc
        pdf = anchored_pdf(_footer_lines(doc), page_label="Page {page} of {pages}")
        _with_header(pdf, doc)
        pdf.set_creation_date(created)
        pdf.set_title(_latin1(doc.title))
        pdf.set_subject(_latin1(f"{doc.marking}; {doc.meta.version_label}"))
        pdf.set_author("vein2vein")
        pdf.set_creator("vein2vein")
        pdf.set_margins(15, 10, 15)
        self.pdf = pdf

    def heading(self, text: str, size: float = 11) -> None:
        self.pdf.ln(1.5)
        self.pdf.set_font("Helvetica", "B", size)
        self.pdf.multi_cell(0, 6, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    def para(self, text: str, size: float = 8, height: float = 4, style: str = "") -> None:
        self.pdf.set_font("Helvetica", style, size)
        self.pdf.multi_cell(0, height, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    def footnotes(self, notes: tuple[str, ...]) -> None:
        for note in notes:
            self.para(note, 6.5, 3.2)

    def table(self, t: D.Table, font: float = 7) -> None:
        from fpdf.fonts import FontFace

        pdf = self.pdf
        self.heading(t.caption, 9)
        pdf.set_font("Helvetica", "", font)
        n = len(t.columns)
        widths = WIDTHS.get(t.key) or ([1.4] + [1.0] * (n - 1))
        with pdf.table(
            col_widths=widths,
            text_align=["LEFT"] + ["CENTER"] * (n - 1),
            line_height=font * 0.5,
            headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
        ) as tab:
            for r in [t.columns, *t.rows]:
                row = tab.row()
                for cell in r:
                    row.cell(_latin1(cell))
        pdf.ln(1)
        self.footnotes(t.footnotes)

    def caption_height(self, f: D.FigureRef) -> float:
        pdf = self.pdf
        pdf.set_font("Helvetica", "B", 8)
        lines = len(pdf.multi_cell(0, 4, _latin1(f.caption), dry_run=True, output="LINES"))
        pdf.set_font("Helvetica", "", 6.5)
        notes = sum(
            len(pdf.multi_cell(0, 3.2, _latin1(n), dry_run=True, output="LINES"))
            for n in f.footnotes
        )
        return 4 * lines + 3.2 * notes + 4

    def figures(self, figs: Mapping[str, Picture]) -> list[tuple[int, ...]]:
        pdf = self.pdf
        refs = self.doc.figures
        top = pdf.t_margin + 9  # the header
        space = pdf.h - top - pdf.b_margin
        blocks = [
            Block(FIGURE_WIDTH_MM * figs[f.key].height / figs[f.key].width, self.caption_height(f))
            for f in refs
        ]  # fmt: skip
        pages = pack(blocks, space)
        for page in pages:
            pdf.add_page()
            for i in page.figures:
                f = refs[i]
                width = FIGURE_WIDTH_MM * page.scale
                pdf.image(io.BytesIO(figs[f.key].png), x=(pdf.w - width) / 2, w=width)
                pdf.set_font("Helvetica", "B", 8)
                pdf.multi_cell(0, 4, _latin1(f.caption), new_x="LMARGIN", new_y="NEXT")
                self.footnotes(f.footnotes)
                pdf.ln(3)
        return [p.figures for p in pages]

    def signoff(self) -> None:
        doc, pdf = self.doc, self.pdf
        self.heading("Sign-off")
        s = doc.meta.signoff
        if s is None or not s.signatories:
            self.para(
                "This report is not a stored report version: it carries no signatures. A "
                "steering committee signs a report version generated on the study page."
            )
            return
        self.para(
            "By signing electronically (user name and password asked again; 21 CFR 11.50, "
            "11.200), each named member of the steering committee approves this report "
            "version. The report is final when every named member has signed."
        )
        pdf.set_font("Helvetica", "", 7.5)
        with pdf.table(
            col_widths=[1.4, 1.0, 0.8, 1.3, 1.7], line_height=4.5, first_row_as_headings=False
        ) as tab:
            row = tab.row()
            for h in ("Printed name", "User", "Meaning", "Signed (UTC)", "Content SHA-256"):
                row.cell(h)
            for p in s.signatories:
                sig = s.signature_of(p.username)
                row = tab.row()
                row.cell(_latin1(p.printed_name))
                row.cell(_latin1(p.username))
                if sig is None:
                    row.cell("-")
                    row.cell("awaiting signature")
                    row.cell("")
                else:
                    row.cell(sig.meaning)
                    row.cell(sig.signed_at)
                    row.cell(sig.content_hash[:32] + "...")


def to_pdf(
    result: ReadoutResult,
    title: str = TITLE,
    *,
    anchors: Mapping[str, str] | None = None,
    meta: D.ReportMeta | None = None,
    created: dt.datetime | None = None,
) -> bytes:
    """The report as PDF bytes (``created``: the document's creation date; a stored report
    version passes its generation time, so that re-rendering gives the same bytes)."""
    data, figs = _figures(result)
    doc = document(result, title, anchors=anchors, meta=meta, data=data)
    w = _Writer(doc, created or FIXED_DATE)
    pdf = w.pdf
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 8, _latin1(doc.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 9)
    pdf.set_text_color(150, 0, 0)
    pdf.cell(0, 5, _latin1(f"{doc.marking}: do not distribute outside the steering committee"),
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.set_text_color(0, 0, 0)
    w.para(f"Version: {doc.meta.version_label}. Status: {doc.meta.status}.", 8.5, 4.5, "B")
    for key in ("Study", "Dataset", "Generated"):
        if key in doc.meta.anchors:
            w.para(f"{key}: {doc.meta.anchors[key]}")
    w.heading("Conventions", 9)
    w.footnotes(doc.conventions)
    for t in doc.tables[:3]:
        w.table(t, 6 if t.key == "subjects" else 7)
    w.figures(figs)
    pdf.add_page()
    for t in doc.tables[3:]:
        w.table(t)
    if doc.warnings:
        w.heading("Warnings", 9)
        for warning in doc.warnings:
            w.para(f"- {warning}", 7, 3.5)
    w.heading("Provenance", 9)
    pdf.set_font("Courier", "", 6.5)
    pdf.multi_cell(0, 3.2, _latin1(doc.provenance), new_x="LMARGIN", new_y="NEXT")
    if doc.meta.anchors:
        pdf.ln(1)
        text = "\n".join(f"{k}: {v}" for k, v in doc.meta.anchors.items())
        pdf.multi_cell(0, 3.2, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    w.signoff()
    return bytes(pdf.output())


def figure_pages(result: ReadoutResult) -> list[tuple[int, ...]]:
    """Which figures share which PDF page (for the report's tests and docs)."""
    data, figs = _figures(result)
    w = _Writer(document(result, data=data), FIXED_DATE)
    w.pdf.add_page()
    return w.figures(figs)


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
