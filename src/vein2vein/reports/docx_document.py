"""A :class:`~vein2vein.reports.document.Document` as a Word file (python-docx).

Real Word tables (style ``Table Grid``) whose first row is marked as a header row that Word
repeats on every page (``w:tblHeader``, ECMA-376 Part 1 §17.4.49); captions in Word's
``Caption`` style, ``Table n.`` above a table and ``Figure n.`` below a figure; footnotes as
small paragraphs under their table or figure; the marking and title in every page's header,
the anchor lines, the marking and ``Page x of y`` (``PAGE``/``NUMPAGES`` fields) in its footer.

Output is deterministic: the core properties' dates are the document's ``created_at``, and the
package is written again with fixed member dates in a fixed order, so the same document gives
the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING, Any

from vein2vein.reports.document import (
    Document,
    Figure,
    Paragraph,
    SignOff,
    Table,
    caption_of,
    numbered,
)

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument

__all__ = ["render_docx"]

_ALIGN = {"L": 0, "C": 1, "R": 2}  # WD_ALIGN_PARAGRAPH.LEFT/CENTER/RIGHT


def render_docx(doc: Document) -> bytes:
    """The document as .docx bytes; the same document always gives the same bytes."""
    import docx
    from docx.enum.section import WD_ORIENT
    from docx.shared import Pt

    d = docx.Document()
    style = d.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(10)
    section = d.sections[0]
    if doc.orientation == "L":
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = section.page_height, section.page_width
    _header_footer(d, doc)
    props = d.core_properties
    props.title = doc.title
    props.subject = doc.subtitle
    props.author = doc.author
    props.keywords = doc.keywords
    props.created = doc.created_at.replace(tzinfo=None)
    props.modified = doc.created_at.replace(tzinfo=None)
    props.last_modified_by = doc.author
    props.revision = 1

    d.add_heading(doc.title, level=0)
    if doc.subtitle:
        d.add_paragraph(doc.subtitle, style="Subtitle")
    meta = [f"Version {doc.version}"] if doc.version else []
    meta.append(f"Generated {doc.created_at.strftime('%Y-%m-%d %H:%M:%S UTC')}")
    d.add_paragraph(", ".join(meta))
    for sec, blocks in numbered(doc):
        if sec.heading:
            d.add_heading(sec.heading, level=1)
        for block, number in blocks:
            if isinstance(block, Paragraph):
                p = d.add_paragraph(block.text)
                if block.note:
                    _small(p)
            elif isinstance(block, Table):
                _table(d, block, number)
            elif isinstance(block, Figure):
                _figure(d, block, number)
            elif isinstance(block, SignOff):
                _signoff(d, block)
    buf = io.BytesIO()
    d.save(buf)
    return _fixed_zip(buf.getvalue(), doc.created_at.timetuple()[:6])


def _small(p: Any, size: float = 8) -> None:
    from docx.shared import Pt

    for run in p.runs:
        run.font.size = Pt(size)


def _field(paragraph: Any, instr: str) -> None:
    """A simple field (``PAGE``, ``NUMPAGES``) Word computes when it lays the pages out."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    fld = OxmlElement("w:fldSimple")
    fld.set(qn("w:instr"), instr)
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    fld.append(run)
    paragraph._p.append(fld)


def _header_footer(d: DocxDocument, doc: Document) -> None:
    section = d.sections[0]
    head = section.header.paragraphs[0]
    head.alignment = _ALIGN["C"]
    title = doc.title + (f", version {doc.version}" if doc.version else "")
    if doc.marking:
        head.add_run(doc.marking).bold = True
        head.add_run("\n")
    head.add_run(title)
    _small(head)
    foot = section.footer.paragraphs[0]
    foot.alignment = _ALIGN["C"]
    for line in doc.anchors:
        foot.add_run(line + "\n")
    if doc.marking:
        foot.add_run(doc.marking + "\n").bold = True
    foot.add_run("Page ")
    _field(foot, "PAGE")
    foot.add_run(" of ")
    _field(foot, "NUMPAGES")
    _small(foot, 7)


def _caption(d: DocxDocument, text: str) -> None:
    p = d.add_paragraph(text, style="Caption")
    p.paragraph_format.keep_with_next = True


def _footnotes(d: DocxDocument, notes: tuple[str, ...]) -> None:
    for note in notes:
        _small(d.add_paragraph(note), 8)


def _repeat_header(row: Any) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)


def _table(d: DocxDocument, t: Table, number: int) -> None:
    from docx.shared import Emu

    _caption(d, caption_of(t, number))
    table = d.add_table(rows=1, cols=len(t.columns))
    table.style = "Table Grid"
    section = d.sections[0]
    width = section.page_width - section.left_margin - section.right_margin
    aligns = t.alignments()
    for i, (cell, text) in enumerate(zip(table.rows[0].cells, t.columns, strict=True)):
        cell.text = ""
        run = cell.paragraphs[0].add_run(text)
        run.bold = True
        cell.paragraphs[0].alignment = _ALIGN[aligns[i]]
    if t.repeat_header:
        _repeat_header(table.rows[0])
    for cells in t.rows:
        row = table.add_row()
        for i, (cell, text) in enumerate(zip(row.cells, cells, strict=True)):
            cell.text = text
            cell.paragraphs[0].alignment = _ALIGN[aligns[i]]
    for i, frac in enumerate(t.relative_widths()):
        for cell in table.columns[i].cells:
            cell.width = Emu(int(width * frac))
    for row in table.rows:
        for cell in row.cells:
            for p in cell.paragraphs:
                _small(p, 8)
    _footnotes(d, t.footnotes)


def _figure(d: DocxDocument, f: Figure, number: int) -> None:
    from docx.shared import Emu

    section = d.sections[0]
    width = section.page_width - section.left_margin - section.right_margin
    height = section.page_height - section.top_margin - section.bottom_margin
    w = min(width, int(height * 0.45 / f.aspect))
    d.add_picture(io.BytesIO(f.png), width=Emu(w))
    d.paragraphs[-1].paragraph_format.keep_with_next = True
    _caption(d, caption_of(f, number))
    _footnotes(d, f.footnotes)


def _signoff(d: DocxDocument, s: SignOff) -> None:
    from docx.oxml import OxmlElement

    if s.statement:
        d.add_paragraph(s.statement)
    table = d.add_table(rows=1, cols=5)
    table.style = "Table Grid"
    for cell, text in zip(
        table.rows[0].cells,
        ("Role", "Printed name", "Meaning", "Signature", "Date (UTC)"),
        strict=True,
    ):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    for g in s.signatories:
        row = table.add_row()
        sig = "Signed electronically" if g.signed else "\n\n"
        for cell, text in zip(
            row.cells, (g.role, g.printed_name, g.meaning, sig, g.signed_at), strict=True
        ):
            cell.text = text
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))  # a line kept whole


def _fixed_zip(data: bytes, when: tuple[int, ...]) -> bytes:
    """The package again with every member dated ``when`` (and 1980 at the earliest, zip's
    epoch), in the order python-docx wrote them."""
    stamp = max(tuple(when), (1980, 1, 1, 0, 0, 0))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            z = zipfile.ZipInfo(info.filename, date_time=stamp)  # type: ignore[arg-type]
            z.compress_type = zipfile.ZIP_DEFLATED
            z.external_attr = 0o600 << 16
            dst.writestr(z, src.read(info.filename))
    return out.getvalue()
