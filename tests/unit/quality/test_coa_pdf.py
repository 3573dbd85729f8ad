"""The Certificate of Analysis PDF: what every page prints, the embedded content, reading it back,
tampering, and deterministic output (quality/coa_pdf.py; docs/quality.md, "Certificate of
Analysis"). Text is extracted with pypdf, independently of fpdf2 which writes it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import re

import pytest
from pypdf import PdfReader, PdfWriter
from tests.unit.quality.coa_sample import ISSUED, released, sample

from vein2vein.core.errors import InputError
from vein2vein.quality.coa import (
    CoaOutcome,
    ReleaseState,
    Status,
    content_data,
    content_hash,
    from_data,
    verdict,
)
from vein2vein.quality.coa_pdf import (
    EMBEDDED_NAME,
    document_sha256,
    read_pdf,
    render_pdf,
)
from vein2vein.reports.pdf import anchored_pdf


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_pdf(sample())


def pages_text(data: bytes) -> list[str]:
    """Each page's text with white space collapsed (table cells wrap)."""
    reader = PdfReader(io.BytesIO(data))
    return [" ".join(p.extract_text().split()) for p in reader.pages]


def test_every_page_carries_number_hash_head_and_page_x_of_y(pdf: bytes) -> None:
    c = sample()
    pages = pages_text(pdf)
    assert len(pages) == 2
    for i, text in enumerate(pages, start=1):
        assert f"Page {i} of {len(pages)}" in text
        assert "Certificate of Analysis COA-EPC-0042-1" in text
        assert f"Document hash (content SHA-256): {content_hash(c)}" in text
        assert f"Audit chain head: #5123 {c.audit_head_hash}" in text


def test_first_page_states_identity_release_and_every_test(pdf: bytes) -> None:
    c = sample()
    first = pages_text(pdf)[0]
    for item in (
        "Certificate of Analysis",
        "issued 2026-12-05 14:30:00 UTC",
        "HLX-101 anti-EpCAM CAR-T (HLX-EPC-01)",
        "Helix Oncology Ltd",
        "COI-HLX-0042-7Q",
        "W1234 26 000042 E",
        "ORD-2026-0042",
        "HLX-101-003-017",
        "EPC-0042 (id b9f1c2d4)",
        "Leiden cell-therapy suite 2",
        "version 1 (id spec-7)",
        "CONDITIONAL RELEASE",
        "sterility (result expected 2026-12-18)",
        "vcn (result expected 2026-12-11)",
        # viability: criterion, raw and rounded (USP 7.20 prints both)
        ">= 70 % 92 % 92 % Conforms",
        # CAR+ entered as a fraction, reported rounded to 0.1 %
        ">= 20.0 % 0.3415 (fraction) 34.2 % Conforms",
        "0.25 EU/mL 0.3 EU/mL",
        "IFN-gamma release",
    ):
        assert item in first, item
    every = " ".join(pages_text(pdf))
    for t in c.tests:  # the table may go on over the next page
        assert f"[{t.code}]" in every
    assert first.count("Pending") == 2


def test_last_page_states_dose_per_bag_and_signatures(pdf: bytes) -> None:
    last = pages_text(pdf)[-1]
    for item in (
        "Dose level 3.0 x 10^6 CAR-positive viable T cells/kg",
        "Patient weight at order 80 kg",
        # docs/quality.md worked example: 2.4 x 10^8 cells, two bags of 60 mL, 1.5 x 10^6 /kg
        "2.40 x 10^8 CAR-positive viable T cells (3.00 x 10^6 /kg) in 120.0 mL",
        "1 A0 60.0 1.20 x 10^8 1.50 x 10^6",
        "2 B0 60.0 1.20 x 10^8 1.50 x 10^6",
        "Dr Anna de Vries adevries 2026-12-05 14:02:11 UTC reviewed",
        "Jan Doe jdoe 2026-12-05 14:28:40 UTC released",
    ):
        assert item in last, item


def test_released_and_exceptional_states_are_printed() -> None:
    assert "RELEASED Every test conforms" in pages_text(render_pdf(released()))[0]
    c = released()
    failed = tuple(
        dataclasses.replace(t, outcome=CoaOutcome.DOES_NOT_CONFORM, raw="64 %", rounded="64 %")
        if t.code == "viability"
        else t
        for t in c.tests
    )
    exceptional = dataclasses.replace(
        c,
        tests=failed,
        release_state=ReleaseState.EXCEPTIONAL,
        exceptional_reason="viability 64 %; no alternative product; request of Dr K. Berg",
    )
    first = pages_text(render_pdf(exceptional))[0]
    assert "EXCEPTIONAL RELEASE - PRODUCT OUT OF SPECIFICATION" in first
    assert "viability 64 %; no alternative product; request of Dr K. Berg" in first
    assert ">= 70 % 64 % 64 % DOES NOT CONFORM" in first


def test_a_long_test_table_breaks_across_pages_with_its_heading_repeated() -> None:
    c = sample()
    many = tuple(
        dataclasses.replace(t, code=f"{t.code}_{n}")
        for n in range(3)
        for t in c.tests
        if t.outcome is not CoaOutcome.PENDING
    )
    big = dataclasses.replace(c, tests=many + c.tests[5:8])  # keeps vcn and sterility pending
    pages = pages_text(render_pdf(big))
    assert len(pages) >= 3
    heading = "Test Method Criterion Result as entered Reported Conformance"
    with_table = [p for p in pages if "[" in p]
    assert len(with_table) >= 2
    assert all(heading in p for p in with_table)
    for t in big.tests:
        assert sum(f"[{t.code}]" in p for p in pages) == 1, t.code
    for i, text in enumerate(pages, start=1):
        assert f"Page {i} of {len(pages)}" in text
        assert content_hash(big) in text


def test_the_file_carries_its_content_and_hash(pdf: bytes) -> None:
    c = sample()
    reader = PdfReader(io.BytesIO(pdf))
    assert list(reader.attachments) == [EMBEDDED_NAME]
    assert f"coa-content-sha256:{content_hash(c)}" in reader.metadata["/Keywords"]
    read = read_pdf(pdf)
    assert read.content == content_data(c)
    assert from_data(read.content) == c
    assert read.printed_hash == read.embedded_hash == content_hash(c)
    assert read.embedded_hash_matches


def test_document_sha256_is_of_the_bytes(pdf: bytes) -> None:
    assert document_sha256(pdf) == hashlib.sha256(pdf).hexdigest()


def test_output_is_deterministic_and_dated_at_issue(pdf: bytes) -> None:
    c = sample()
    assert render_pdf(c) == pdf
    assert PdfReader(io.BytesIO(pdf)).metadata.creation_date == ISSUED
    # every date the file carries (info, embedded file) is the time of issue, never "now"
    assert set(re.findall(rb"D:(\d{14})", pdf)) == {b"20261205143000"}
    later = dataclasses.replace(c, issued_at=ISSUED + dt.timedelta(hours=1))
    assert render_pdf(later) != pdf


def test_a_printed_value_edited_after_issue_is_detected(pdf: bytes) -> None:
    """A tamperer edits the printed viability (92 % → 98 %) in the page's content stream and
    saves the file again (pypdf, as a PDF editor would): the bytes are no longer those issued,
    while the embedded content still is, so the verdict is 'altered after issue'."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    page = writer.pages[0]
    stream = page.get_contents()
    assert stream is not None
    original = stream.get_data()
    assert original.count(b"(92 %)") == 2
    stream.set_data(original.replace(b"(92 %)", b"(98 %)"))
    page.replace_contents(stream)
    out = io.BytesIO()
    writer.write(out)
    edited = out.getvalue()
    assert ">= 70 % 98 % 98 % Conforms" in pages_text(edited)[0]

    read = read_pdf(edited)
    assert read.embedded_hash_matches  # the embedded content is untouched...
    assert document_sha256(edited) != document_sha256(pdf)  # ...but the bytes are not
    issued = {document_sha256(pdf): content_data(sample())}
    by_content = {content_hash(sample()): content_data(sample())}
    v = verdict(
        issued_by_file=issued.get(document_sha256(edited)),
        issued_by_content=by_content.get(read.printed_hash),
        current=content_data(sample()),
        embedded_hash_matches=read.embedded_hash_matches,
    )
    assert v.status is Status.ALTERED and not v.authentic


def test_edited_embedded_content_no_longer_matches_its_hash(pdf: bytes) -> None:
    """One byte of the embedded JSON changed in place (same length, so the file still opens):
    the content no longer hashes to the hash the file states."""
    assert pdf.count(b'"raw":"92 %"') == 1
    edited = pdf.replace(b'"raw":"92 %"', b'"raw":"98 %"')
    read = read_pdf(edited)
    assert next(t for t in read.content["tests"] if t["code"] == "viability")["raw"] == "98 %"
    assert read.printed_hash == content_hash(sample())
    assert not read.embedded_hash_matches


def test_read_refuses_what_is_not_a_pdf() -> None:
    with pytest.raises(InputError, match="not a PDF") as err:
        read_pdf(b"Certificate of Analysis\n", "scan.txt")
    assert err.value.file == "scan.txt"


def test_read_refuses_a_broken_pdf(pdf: bytes) -> None:
    with pytest.raises(InputError) as err:
        read_pdf(pdf[:300], "cut.pdf")
    assert err.value.file == "cut.pdf"


def test_read_refuses_a_pdf_without_content() -> None:
    plain = anchored_pdf(["x"])
    plain.add_page()
    plain.set_font("Helvetica", "", 10)
    plain.cell(0, 5, "Certificate of Analysis")
    with pytest.raises(InputError, match=r"has no embedded coa-content\.json") as err:
        read_pdf(bytes(plain.output()), "other.pdf")
    assert str(err.value).startswith("other.pdf: ")


def test_read_refuses_embedded_content_of_the_wrong_shape() -> None:
    other = anchored_pdf(["x"])
    other.add_page()
    other.embed_file(bytes=b'{"coa_format": 1}', basename=EMBEDDED_NAME)
    with pytest.raises(InputError, match="missing field") as err:
        read_pdf(bytes(other.output()), "odd.pdf")
    assert err.value.file == f"odd.pdf: {EMBEDDED_NAME}"
