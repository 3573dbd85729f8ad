"""A :class:`~vein2vein.reports.document.Document` as PDF (fpdf2, through ``reports/pdf.py``).

Every page is headed by the marking (bold) and the title with its version, and ends with the
document's anchor lines (record ids, the audit chain's head), the marking and ``Page x of y``.
Tables carry their caption above (``Table n. ...``, kept on the page of the table's first
rows), their header row repeated on every page they span, and their footnotes below. Figures
are at most half the page's writable height, so two fit on a page; a figure that does not fit
in the space left is shrunk to fit when it keeps at least :data:`MIN_SHRINK` of its size, and
only otherwise goes to the next page, so no page is left half empty before a figure. The
sign-off block is never split across pages.

Output is deterministic: the creation date written into the file (and so fpdf2's file
identifier) is the document's ``created_at``, so the same document gives the same bytes.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from vein2vein.reports.document import (
    Document,
    Figure,
    Paragraph,
    SignOff,
    Table,
    caption_of,
    numbered,
)
from vein2vein.reports.pdf import anchored_pdf, latin1

if TYPE_CHECKING:
    from fpdf import FPDF

PAGE_LABEL = "Page {page} of {pages}"
#: a figure that does not fit below the text is shrunk rather than moved while it keeps
#: this fraction of its height
MIN_SHRINK = 0.6
_FIG_GAP = 4.0

__all__ = ["PAGE_LABEL", "render_pdf"]


def header_lines(doc: Document) -> list[str]:
    title = doc.title + (f", version {doc.version}" if doc.version else "")
    return [doc.marking, title] if doc.marking else [title]


def footer_lines(doc: Document) -> list[str]:
    return [*doc.anchors, *([doc.marking] if doc.marking else [])]


def render_pdf(doc: Document) -> bytes:
    """The document as PDF bytes; the same document always gives the same bytes."""
    pdf = anchored_pdf(
        footer_lines(doc), doc.orientation, page_label=PAGE_LABEL, header=header_lines(doc)
    )
    pdf.set_creation_date(doc.created_at)
    pdf.set_title(latin1(doc.title))
    if doc.subtitle:
        pdf.set_subject(latin1(doc.subtitle))
    if doc.keywords:
        pdf.set_keywords(latin1(doc.keywords))
    pdf.set_author(latin1(doc.author))
    pdf.set_creator("vein2vein")
    pdf.add_page()
    _title(pdf, doc)
    for section, blocks in numbered(doc):
        _heading(pdf, section.heading)
        for block, number in blocks:
            if isinstance(block, Paragraph):
                _paragraph(pdf, block)
            elif isinstance(block, Table):
                _table(pdf, block, number)
            elif isinstance(block, Figure):
                _figure(pdf, block, number)
            elif isinstance(block, SignOff):
                _signoff(pdf, block)
    return bytes(pdf.output())


def _title(pdf: FPDF, doc: Document) -> None:
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 7, latin1(doc.title), new_x="LMARGIN", new_y="NEXT")
    if doc.subtitle:
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 5, latin1(doc.subtitle), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    parts = [f"Version {doc.version}"] if doc.version else []
    parts.append(f"Generated {doc.created_at.strftime('%Y-%m-%d %H:%M:%S UTC')}")
    pdf.cell(0, 5, latin1(", ".join(parts)), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _room(pdf: FPDF) -> float:
    return pdf.page_break_trigger - pdf.get_y()


def _keep(pdf: FPDF, height: float) -> None:
    """A new page unless ``height`` mm fit below."""
    if _room(pdf) < height:
        pdf.add_page()


def _heading(pdf: FPDF, text: str) -> None:
    if not text:
        return
    pdf.ln(2)
    _keep(pdf, 30)
    pdf.set_font("Helvetica", "B", 11)
    pdf.multi_cell(0, 6, latin1(text), new_x="LMARGIN", new_y="NEXT")


def _paragraph(pdf: FPDF, p: Paragraph) -> None:
    size, lh = (7, 3.4) if p.note else (9, 4.4)
    pdf.set_font("Helvetica", "", size)
    pdf.multi_cell(0, lh, latin1(p.text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _caption(pdf: FPDF, text: str) -> float:
    pdf.set_font("Helvetica", "B", 8.5)
    return pdf.multi_cell(0, 4.2, latin1(text), dry_run=True, output="HEIGHT")


def _footnotes(pdf: FPDF, notes: tuple[str, ...]) -> None:
    pdf.set_font("Helvetica", "", 6.5)
    for note in notes:
        pdf.multi_cell(0, 3.1, latin1(note), new_x="LMARGIN", new_y="NEXT")


def _table(pdf: FPDF, t: Table, number: int) -> None:
    from fpdf.fonts import FontFace

    text = caption_of(t, number)
    pdf.ln(1)
    _keep(pdf, _caption(pdf, text) + 18)
    pdf.set_font("Helvetica", "B", 8.5)
    pdf.multi_cell(0, 4.2, latin1(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(0.5)
    pdf.set_font("Helvetica", "", 7)
    with pdf.table(
        col_widths=t.relative_widths(),
        text_align=t.alignments(),
        line_height=3.5,
        repeat_headings=1 if t.repeat_header else 0,
        headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
        width=pdf.epw,
    ) as table:
        head = table.row()
        for c in t.columns:
            head.cell(latin1(c))
        for cells in t.rows:
            row = table.row()
            for c in cells:
                row.cell(latin1(c))
    if t.footnotes:
        pdf.ln(0.8)
        _footnotes(pdf, t.footnotes)
    pdf.ln(2)


def _notes_height(pdf: FPDF, notes: tuple[str, ...]) -> float:
    pdf.set_font("Helvetica", "", 6.5)
    return sum(pdf.multi_cell(0, 3.1, latin1(n), dry_run=True, output="HEIGHT") for n in notes)


def _figure(pdf: FPDF, f: Figure, number: int) -> None:
    text = caption_of(f, number)
    below = _caption(pdf, text) + _notes_height(pdf, f.footnotes) + _FIG_GAP
    writable = pdf.page_break_trigger - pdf.t_margin
    max_h = writable / 2 - below - _FIG_GAP
    w = pdf.epw
    h = w * f.aspect
    if h > max_h:
        h, w = max_h, max_h / f.aspect
    room = _room(pdf) - below - _FIG_GAP
    if room < h:
        if room >= MIN_SHRINK * h:
            h, w = room, room / f.aspect
        else:
            pdf.add_page()
    pdf.ln(_FIG_GAP / 2)
    x = pdf.l_margin + (pdf.epw - w) / 2
    pdf.image(io.BytesIO(f.png), x=x, y=pdf.get_y(), w=w, h=h)
    pdf.set_y(pdf.get_y() + h + 1)
    pdf.set_font("Helvetica", "B", 8.5)
    pdf.multi_cell(0, 4.2, latin1(text), new_x="LMARGIN", new_y="NEXT")
    _footnotes(pdf, f.footnotes)
    pdf.ln(_FIG_GAP / 2)


_SIGN_HEAD = ("Role", "Printed name", "Meaning", "Signature", "Date (UTC)")
_SIGN_WIDTHS = (0.22, 0.22, 0.16, 0.24, 0.16)


def _signoff(pdf: FPDF, s: SignOff) -> None:
    needed = 12 + 10 * (len(s.signatories) + 1)
    _keep(pdf, needed)
    if s.statement:
        pdf.set_font("Helvetica", "", 8)
        pdf.multi_cell(0, 4, latin1(s.statement), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    pdf.set_font("Helvetica", "", 8)
    with pdf.table(col_widths=_SIGN_WIDTHS, line_height=4.5, width=pdf.epw) as table:
        head = table.row()
        for c in _SIGN_HEAD:
            head.cell(c)
        for g in s.signatories:
            row = table.row()
            sig = "Signed electronically" if g.signed else "\n\n"
            for c in (g.role, g.printed_name, g.meaning, sig, g.signed_at):
                row.cell(latin1(c))
    pdf.ln(2)
