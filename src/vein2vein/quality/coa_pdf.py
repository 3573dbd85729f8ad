"""The Certificate of Analysis as a PDF, and the content read back from one (issue 13).

:func:`render_pdf` prints a :class:`~vein2vein.quality.coa.CoaContent` on A4 (fpdf2, core fonts
through ``reports/pdf.py``): the product, chain of identity and DIN, order, subject (study
identifier, never a name), batch, site, specification and version, the release state
(conditional: the pending tests and their expected dates; exceptional: the reason), every test
(method, criterion, result as entered and as reported, conformance; the table breaks across
pages with its heading repeated), the dose (level, weight, per bag and per kg) and the
signature manifest (printed name, UTC time, meaning; 21 CFR 11.50). Every page's footer
carries the document number, the document hash (:func:`~vein2vein.quality.coa.content_hash`),
the audit chain's head and ``Page x of y``.

The file carries what it claims: the canonical JSON of the content is embedded as the attached
file ``coa-content.json`` (PDF 32000-1 §7.11.4, embedded file streams) and the document hash
is written into the document information's keywords as ``coa-content-sha256:<hex>``.
:func:`read_pdf` (pypdf) takes both out again and says whether they agree.

Output is deterministic: the creation date, the embedded file's dates and so the file
identifier (fpdf2 derives /ID from the bytes and the creation date) come from ``issued_at``, so
one content always gives the same bytes and :func:`document_sha256` of a re-rendering equals
the issued file's.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vein2vein.core.canonical import canonical_json
from vein2vein.core.errors import InputError
from vein2vein.quality.coa import (
    CoaContent,
    CoaOutcome,
    ReleaseState,
    content_data,
    content_hash,
    from_data,
)
from vein2vein.reports.pdf import anchored_pdf, latin1

if TYPE_CHECKING:
    from fpdf import FPDF

EMBEDDED_NAME = "coa-content.json"
KEYWORD = "coa-content-sha256:"
TITLE = "Certificate of Analysis"

__all__ = ["EMBEDDED_NAME", "KEYWORD", "ReadCoa", "document_sha256", "read_pdf", "render_pdf"]


# --- rendering ----------------------------------------------------------------------------


def footer_lines(c: CoaContent, digest: str) -> list[str]:
    """The lines every page ends with (before ``Page x of y``)."""
    return [
        f"{TITLE} {c.document_number}",
        f"Document hash (content SHA-256): {digest}",
        f"Audit chain head: #{c.audit_head_sequence} {c.audit_head_hash}",
    ]


def render_pdf(c: CoaContent) -> bytes:
    """The certificate as PDF bytes; the same content always gives the same bytes."""
    data = canonical_json(content_data(c))
    digest = hashlib.sha256(data).hexdigest()
    pdf = anchored_pdf(footer_lines(c, digest), page_label="Page {page} of {pages}")
    pdf.set_creation_date(c.issued_at)
    pdf.set_title(f"{TITLE} {c.document_number}")
    pdf.set_subject(
        f"{TITLE} of batch {c.batch_number}, {c.product_code}; content SHA-256 {digest}"
    )
    pdf.set_keywords(f"{KEYWORD}{digest}")
    pdf.set_author("vein2vein")
    pdf.set_creator("vein2vein")
    pdf.embed_file(
        bytes=data,
        basename=EMBEDDED_NAME,
        mime_type="application/json",
        creation_date=c.issued_at,
        modification_date=c.issued_at,
        desc=f"Content of {c.document_number} (canonical JSON, SHA-256 {digest})",
    )
    pdf.add_page()
    _heading(pdf, c)
    _identity(pdf, c)
    _release(pdf, c)
    _tests(pdf, c)
    _dose(pdf, c)
    _signatures(pdf, c)
    return bytes(pdf.output())


def _section(pdf: FPDF, text: str, keep: float = 30) -> None:
    """A section heading, on a new page unless ``keep`` mm of its content fit below it."""
    pdf.ln(2)
    if pdf.get_y() + keep > pdf.page_break_trigger:
        pdf.add_page()
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 6, latin1(text), new_x="LMARGIN", new_y="NEXT")


def _heading(pdf: FPDF, c: CoaContent) -> None:
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 9, TITLE, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    issued = c.issued_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    pdf.cell(0, 4, latin1(f"Document {c.document_number}, issued {issued}"), new_x="LMARGIN")
    pdf.ln(5)


def _pairs(pdf: FPDF, rows: list[tuple[str, str]]) -> None:
    pdf.set_font("Helvetica", "", 8)
    with pdf.table(
        col_widths=(45, 145),
        first_row_as_headings=False,
        borders_layout="HORIZONTAL_LINES",
        line_height=4.2,
        text_align="LEFT",
    ) as t:
        for key, value in rows:
            row = t.row()
            row.cell(latin1(key))
            row.cell(latin1(value))


def _identity(pdf: FPDF, c: CoaContent) -> None:
    _pairs(
        pdf,
        [
            ("Product", f"{c.product_name} ({c.product_code})"),
            ("Sponsor", c.sponsor),
            ("Chain of identity (CoI)", c.coi),
            ("DIN (ISBT 128)", c.din),
            ("Order", c.order_number),
            ("Subject", c.subject_id),
            ("Collection date", c.collection_date.isoformat()),
            ("Batch", f"{c.batch_number} (id {c.batch_id})"),
            ("Manufacturing site", c.manufacturing_site),
            ("Master batch record", f"version {c.mbr_version}"),
            ("Specification", f"{c.spec_title}, version {c.spec_version} (id {c.spec_id})"),
        ],
    )


def release_statement(c: CoaContent) -> list[str]:
    """The release state in words, as printed (first line bold)."""
    if c.release_state is ReleaseState.CONDITIONAL:
        pending = "; ".join(
            f"{p.code} (result expected {p.expected_on.isoformat()})" for p in c.pending_tests
        )
        return [
            "CONDITIONAL RELEASE",
            f"Released before the results of: {pending}. The product is released on condition "
            "that these results conform; a result that does not is reported to the treating "
            "physician and the sponsor.",
        ]
    if c.release_state is ReleaseState.EXCEPTIONAL:
        return [
            "EXCEPTIONAL RELEASE - PRODUCT OUT OF SPECIFICATION",
            f"Released at the treating physician's request (EudraLex Vol. 4 Part IV): "
            f"{c.exceptional_reason}",
        ]
    return ["RELEASED", "Every test conforms to the specification."]


def _release(pdf: FPDF, c: CoaContent) -> None:
    _section(pdf, "Release")
    head, *rest = release_statement(c)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, latin1(head), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    for line in rest:
        pdf.multi_cell(0, 4, latin1(line), new_x="LMARGIN", new_y="NEXT")


_TEST_HEAD = ("Test", "Method", "Criterion", "Result as entered", "Reported", "Conformance")
_TEST_WIDTHS = (30, 52, 30, 30, 22, 26)


def _tests(pdf: FPDF, c: CoaContent) -> None:
    _section(pdf, "Tests and results")
    pdf.set_font("Helvetica", "", 7)
    with pdf.table(
        col_widths=_TEST_WIDTHS, line_height=3.6, text_align="LEFT", repeat_headings=1
    ) as t:
        head = t.row()
        for h in _TEST_HEAD:
            head.cell(h)
        for test in c.tests:
            row = t.row()
            row.cell(latin1(f"{test.name} [{test.code}]\n{test.category}"))
            row.cell(latin1(test.method))
            row.cell(latin1(test.criterion))
            row.cell(latin1(test.raw or "-"))
            row.cell(latin1(test.rounded or "-"))
            row.cell(latin1(_conformance(test.outcome, test.analyst, test.tested_on)))


def _conformance(outcome: CoaOutcome, analyst: str, tested_on: Any) -> str:
    words = {
        CoaOutcome.CONFORMS: "Conforms",
        CoaOutcome.DOES_NOT_CONFORM: "DOES NOT CONFORM",
        CoaOutcome.PENDING: "Pending",
        CoaOutcome.REPORTED: "Reported",
    }[outcome]
    by = ", ".join(x for x in (analyst, tested_on.isoformat() if tested_on else "") if x)
    return f"{words}\n{by}" if by else words


def cells_text(value: float) -> str:
    """Cells in scientific notation with three significant figures: ``7.25 × 10^7``."""
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa} × 10^{int(exponent)}"


def _dose(pdf: FPDF, c: CoaContent) -> None:
    _section(pdf, "Dose")
    _pairs(
        pdf,
        [
            ("Dose level", c.dose_level),
            ("Patient weight at order", f"{c.patient_weight_kg:g} kg"),
            (
                "Total dose",
                f"{cells_text(c.total_cells)} CAR-positive viable T cells "
                f"({cells_text(c.cells_per_kg)} /kg) in {c.total_volume_ml:.1f} mL",
            ),
        ],
    )
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 8)
    with pdf.table(col_widths=(20, 35, 35, 50, 50), line_height=4.2, text_align="LEFT") as t:
        head = t.row()
        for h in ("Bag", "Division", "Volume (mL)", "CAR+ viable T cells", "Cells per kg"):
            head.cell(h)
        for b in c.bags:
            row = t.row()
            for text in (
                str(b.number),
                b.division,
                f"{b.volume_ml:.1f}",
                cells_text(b.cells),
                cells_text(b.cells_per_kg),
            ):
                row.cell(latin1(text))


def _signatures(pdf: FPDF, c: CoaContent) -> None:
    _section(pdf, "Signatures")
    pdf.set_font("Helvetica", "", 8)
    if not c.signatures:
        pdf.cell(0, 5, "No signatures.", new_x="LMARGIN", new_y="NEXT")
        return
    with pdf.table(col_widths=(70, 40, 45, 35), line_height=4.2, text_align="LEFT") as t:
        head = t.row()
        for h in ("Printed name", "User", "Signed (UTC)", "Meaning"):
            head.cell(h)
        for s in c.signatures:
            row = t.row()
            for text in (
                s.printed_name,
                s.username,
                s.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                s.meaning,
            ):
                row.cell(latin1(text))
    pdf.set_font("Helvetica", "", 7)
    pdf.ln(1)
    pdf.multi_cell(
        0,
        3.5,
        "Signed electronically (21 CFR Part 11); each signature is linked to this content by "
        "its hash in the audit trail.",
        new_x="LMARGIN",
        new_y="NEXT",
    )


# --- reading back -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadCoa:
    """What a certificate PDF carries: the embedded content (plain data), the hash the file
    states (keywords), the SHA-256 of the embedded content, and whether the two agree."""

    content: dict[str, Any]
    printed_hash: str
    embedded_hash: str
    embedded_hash_matches: bool


def read_pdf(data: bytes, file: str = "coa.pdf") -> ReadCoa:
    """Take the content and the stated hash out of a certificate PDF (pypdf). Refuses, with
    ``InputError`` naming ``file``, what is not a PDF, has no ``coa-content.json`` or whose
    embedded content is not a certificate's content."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not data.startswith(b"%PDF-"):
        raise InputError("not a PDF file", file=file)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        attachments = reader.attachments
        info = reader.metadata
        keywords = str(info.get("/Keywords") or "") if info is not None else ""
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot be read as a PDF ({exc})", file=file) from None
    embedded = attachments.get(EMBEDDED_NAME)
    if not embedded:
        raise InputError(
            f"has no embedded {EMBEDDED_NAME}: not a certificate issued by vein2vein", file=file
        )
    raw = embedded[0]
    try:
        content = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{EMBEDDED_NAME} is not JSON ({exc})", file=file) from None
    from_data(content, file=f"{file}: {EMBEDDED_NAME}")  # refuses a wrong shape
    printed = ""
    for word in str(keywords).replace(",", " ").split():
        if word.startswith(KEYWORD):
            printed = word[len(KEYWORD) :]
    embedded_hash = hashlib.sha256(raw).hexdigest()
    return ReadCoa(
        content=content,
        printed_hash=printed,
        embedded_hash=embedded_hash,
        embedded_hash_matches=bool(printed)
        and embedded_hash == printed
        and content_hash(content) == printed,
    )


def document_sha256(data: bytes) -> str:
    """SHA-256 (hex) of a file's bytes: what the store records of each issued PDF."""
    return hashlib.sha256(data).hexdigest()
