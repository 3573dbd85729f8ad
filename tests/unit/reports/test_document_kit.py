"""The shared document kit (reports/document.py and its PDF, Word and HTML renderers; issue 14):
numbering and captions, footnotes, the marking, anchors and ``Page x of y`` on every page, the
header row repeated when a table spans pages, two figures on a page, the sign-off block, and
deterministic bytes. The PDF is read back with pypdf and the Word file with python-docx,
independently of fpdf2 and of the XML the kit writes."""

from __future__ import annotations

import io
import re
import struct
import zlib
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from vein2vein.reports.document import (
    Document,
    Figure,
    Paragraph,
    Section,
    Signatory,
    SignOff,
    Table,
    numbered,
    png_size,
)
from vein2vein.reports.docx_document import render_docx
from vein2vein.reports.html_document import render_html
from vein2vein.reports.pdf_document import render_pdf

WHEN = datetime(2026, 12, 7, 2, 30, tzinfo=UTC)
HEAD = "Audit chain head: #42 " + "ab" * 32


def png(width: int, height: int) -> bytes:
    """A grey PNG of the given size, written by hand (PNG spec §11)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def sample(rows: int = 120, figures: int = 2) -> Document:
    long = Table(
        "Batch analyses of every batch",
        ("Batch", "Test", "Result", "Conformance"),
        tuple((f"B-{i:03d}", "Viability", f"{80 + i % 10}", "Conforms") for i in range(rows)),
        footnotes=("Record ids: batch 1-120.", HEAD),
        align=("L", "L", "R", "L"),
        widths=(2, 3, 1, 2),
    )
    short = Table("Sites", ("Site", "Batches"), (("Leiden", "3"), ("Boston", "2")), ("a. note",))
    figs = tuple(
        Figure(f"Chart {i + 1}", png(600, 400), (f"n = {10 + i}",)) for i in range(figures)
    )
    return Document(
        "Batch analyses",
        (
            Section("Introduction", (Paragraph("Every batch − with its status ≥ 1."),)),
            Section("Results", (long, *figs, short)),
            Section(
                "Sign-off",
                (
                    SignOff(
                        (
                            Signatory("Author", "Ann Author", "authored", "2026-12-07 02:00"),
                            Signatory("QA approver"),
                        ),
                        "By signing I confirm the tables match the signed records.",
                    ),
                ),
            ),
        ),
        subtitle="Program EPCAM-01",
        marking="CONFIDENTIAL",
        version="3",
        anchors=(HEAD,),
        created_at=WHEN,
    )


@pytest.fixture(scope="module")
def pdf_pages() -> list[str]:
    reader = PdfReader(io.BytesIO(render_pdf(sample())))
    return [p.extract_text() for p in reader.pages]


def test_numbering_counts_tables_and_figures_apart() -> None:
    nums = [(type(b).__name__, n) for _, bs in numbered(sample()) for b, n in bs]
    assert nums == [
        ("Paragraph", 0),
        ("Table", 1),
        ("Figure", 1),
        ("Figure", 2),
        ("Table", 2),
        ("SignOff", 0),
    ]


def test_model_refuses_ragged_rows_and_non_png() -> None:
    with pytest.raises(ValueError, match="row 2: 1 cells for 2 columns"):
        Table("t", ("a", "b"), (("1", "2"), ("3",)))
    with pytest.raises(ValueError, match="not a PNG"):
        Figure("f", b"GIF89a" + b"\x00" * 30)
    assert png_size(png(7, 5)) == (7, 5)


def test_pdf_every_page_has_marking_anchor_and_page_x_of_y(pdf_pages: list[str]) -> None:
    n = len(pdf_pages)
    assert n >= 3
    for i, text in enumerate(pdf_pages, start=1):
        assert text.count("CONFIDENTIAL") >= 2, i  # head and foot
        assert "Batch analyses, version 3" in text
        assert HEAD in text
        assert f"Page {i} of {n}" in text


def test_pdf_captions_footnotes_and_text(pdf_pages: list[str]) -> None:
    text = "\n".join(pdf_pages)
    assert "Table 1. Batch analyses of every batch" in text
    assert "Table 2. Sites" in text
    assert "Figure 1. Chart 1" in text and "Figure 2. Chart 2" in text
    assert "Record ids: batch 1-120." in text and "a. note" in text
    assert "n = 11" in text
    assert "Every batch - with its status >= 1." in text  # core fonts: ASCII stand-ins
    # the footnote follows the last row of its table
    assert text.index("B-119") < text.index("Record ids: batch 1-120.")


def test_pdf_table_header_repeats_on_every_page_it_spans(pdf_pages: list[str]) -> None:
    spanned = [p for p in pdf_pages if re.search(r"B-\d{3}", p)]
    assert len(spanned) >= 2
    for page in spanned:
        assert re.search(r"Batch\s*Test\s*Result\s*Conformance", page), page[:300]
    rows = re.findall(r"B-(\d{3})", "\n".join(spanned))
    assert rows == [f"{i:03d}" for i in range(120)]  # every row once, in order


def test_pdf_two_figures_share_a_page() -> None:
    reader = PdfReader(io.BytesIO(render_pdf(sample(rows=3, figures=4))))
    pages = [p.extract_text() for p in reader.pages]
    with_figs = [re.findall(r"Figure (\d)\.", p) for p in pages]
    assert sum(len(f) for f in with_figs) == 4
    assert any(len(f) == 2 for f in with_figs)  # figures at most half a page: two fit
    assert len(pages) <= 3


def test_pdf_sign_off_block(pdf_pages: list[str]) -> None:
    text = "\n".join(pdf_pages)
    assert "By signing I confirm" in text
    assert re.search(r"Author\s*Ann Author\s*authored\s*Signed electronically", text)
    assert "QA approver" in text


def test_pdf_is_deterministic_and_dated() -> None:
    a, b = render_pdf(sample()), render_pdf(sample())
    assert a == b
    info = PdfReader(io.BytesIO(a)).metadata
    assert info is not None and str(info["/CreationDate"]).startswith("D:20261207023000")
    assert info.title == "Batch analyses"


@pytest.fixture(scope="module")
def word():
    import docx

    return docx.Document(io.BytesIO(render_docx(sample())))


def test_docx_tables_captions_and_footnotes(word) -> None:
    paras = [p.text for p in word.paragraphs]
    captions = [p.text for p in word.paragraphs if p.style.name == "Caption"]
    assert captions == [
        "Table 1. Batch analyses of every batch",
        "Figure 1. Chart 1",
        "Figure 2. Chart 2",
        "Table 2. Sites",
    ]
    long, short, signoff = word.tables
    assert [c.text for c in long.rows[0].cells] == ["Batch", "Test", "Result", "Conformance"]
    assert len(long.rows) == 121 and long.rows[120].cells[0].text == "B-119"
    assert [c.text for c in short.rows[2].cells] == ["Boston", "2"]
    # footnotes follow their table: the paragraph after Table 1's caption block
    i = paras.index("Record ids: batch 1-120.")
    assert paras[i + 1] == HEAD
    assert "a. note" in paras
    assert [c.text for c in signoff.rows[1].cells][:3] == ["Author", "Ann Author", "authored"]


def test_docx_header_row_repeats(word) -> None:
    from docx.oxml.ns import qn

    first = word.tables[0].rows[0]._tr
    flag = first.find(qn("w:trPr")).find(qn("w:tblHeader"))
    assert flag is not None and flag.get(qn("w:val")) == "true"
    assert word.tables[0].rows[1]._tr.find(qn("w:trPr")) is None


def test_docx_marking_anchor_and_page_fields(word) -> None:
    section = word.sections[0]
    assert section.header.paragraphs[0].text.startswith("CONFIDENTIAL")
    foot = section.footer.paragraphs[0]
    assert HEAD in foot.text and "CONFIDENTIAL" in foot.text
    instr = [
        e.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}instr")
        for e in foot._p.iter()
        if e.tag.endswith("fldSimple")
    ]
    assert instr == ["PAGE", "NUMPAGES"]
    assert word.core_properties.created == WHEN


def test_docx_is_deterministic() -> None:
    assert render_docx(sample()) == render_docx(sample())


def test_html_fragment() -> None:
    html = str(render_html(sample()))
    assert "<caption>Table 1. Batch analyses of every batch</caption>" in html
    assert "<figcaption>Figure 2. Chart 2" in html
    assert 'alt="Chart 1"' in html
    assert html.count('<th scope="col"') >= 6
    assert "Every batch − with its status ≥ 1." in html
    esc = Document("<x>", (Section("s", (Paragraph("<script>"),)),))
    assert "<script>" not in str(render_html(esc))
