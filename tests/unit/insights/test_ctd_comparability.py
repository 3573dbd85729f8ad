"""The 3.2.P.2 comparability summary without a database (insights/ctd_comparability.py): a
fake stored run is shown with its numbers as stored (difference and CI against the bounds, test
lots inside the range), its approach per tier, the approval signature, the small-n warnings,
earlier and superseded runs in footnotes, the record ids and the audit head; a program without
a study gets the explicit "No comparability study" table. Read back with python-docx."""

from __future__ import annotations

import datetime as dt
import io

import docx

from vein2vein.insights.ctd_comparability import (
    CmpRunRef,
    CmpSigned,
    CmpStudy,
    approach,
    comparability_summary,
)
from vein2vein.insights.ctd_domain import CtdContent, Stamp
from vein2vein.reports.docx_document import render_docx
from vein2vein.reports.pdf_document import render_pdf

AT = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
STAMP = Stamp(AT, "Henrik Lindqvist (qa.approver)", 812, "ab" * 32)
CONTENT = CtdContent(7, "HLX-EPC-01", "EpCAM", "HLX-EPC CAR-T", "Helixa", (), {})

TOST = {
    "name": "viability",
    "tier": 1,
    "method": "tost",
    "plan": {"unit": "%", "margin": 5.0, "scale": "difference"},
    "reference": {"n": 5, "mean": 88.1},
    "test": {"n": 2, "mean": 89.35},
    "result": {
        "difference": 1.2345678,
        "ci_low": -3.61234,
        "ci_high": 6.08765,
        "lower": -5.0,
        "upper": 5.0,
        "confidence_level": 0.9,
    },
    "conclusion": "inconclusive",
    "warnings": ["n test = 2: the interval is wide"],
}
RANGE = {
    "name": "vcn",
    "tier": 2,
    "method": "quality_range",
    "plan": {"k": 3.0, "unit": "copies/cell"},
    "reference": {"n": 4},
    "test": {"n": 2},
    "result": {"n_inside": 2, "n_test": 2, "lower": 1.1, "upper": 3.25},
    "conclusion": "comparable",
    "warnings": ["range from 4 reference lots"],
}
VISUAL = {
    "name": "harvest_viability",
    "tier": 3,
    "method": "descriptive",
    "plan": {},
    "reference": {"n": 5, "mean": 91.0},
    "test": {"n": 2, "mean": 90.5},
    "result": None,
    "conclusion": "descriptive",
    "warnings": [],
}


def _study() -> CmpStudy:
    return CmpStudy(
        protocol_id=31,
        number="CP-HLX-EPC-01-01",
        version=2,
        title="Ghent to Leiden transfer",
        change="Site transfer Ghent -> Leiden",
        reference="Ghent MBR v1 (Site B - Ghent, MBR v1)",
        test="Leiden MBR v1 (Site A - Leiden, MBR v1)",
        approvals=(
            CmpSigned("authored", "Grace Okafor", AT - dt.timedelta(days=2), 70),
            CmpSigned("approved", "Henrik Lindqvist", AT - dt.timedelta(days=1), 71),
        ),
        run_id=9,
        run_at=AT,
        run_by="grace",
        inputs_hash="cd" * 32,
        conclusion="not demonstrated",
        batches=(("Ghent MBR v1", "HLX-0007", 17), ("Leiden MBR v1", "HLX-0001", 11)),
        attributes=(TOST, RANGE, VISUAL),
        missing=("Leiden MBR v1 vcn HLX-0002 (batch 12): no valid result",),
        earlier_runs=(CmpRunRef("CP-HLX-EPC-01-01 v2", 31, 8, AT, "not demonstrated"),),
        superseded=(CmpRunRef("CP-HLX-EPC-01-01 v1", 30, 4, AT, "inconclusive"),),
        result_ids=(101, 102, 103, 105),
        batch_ids=(11, 17),
    )


def _text(doc: object) -> str:
    word = docx.Document(io.BytesIO(render_docx(doc)))  # type: ignore[arg-type]
    cells = [c.text for t in word.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in word.paragraphs] + cells)


def test_a_stored_run_is_summarised_as_stored_with_its_records_and_head() -> None:
    doc = comparability_summary(CONTENT, [_study()], STAMP, not_run=("CP-HLX-EPC-01-02 v1",))
    assert doc.title == "3.2.P.2 Comparability summary"
    text = _text(doc)
    for expected in (
        "Site transfer Ghent -> Leiden",
        "CP-HLX-EPC-01-01 v2 (protocol record 31)",
        "approved by Henrik Lindqvist, 2026-11-01 09:30 UTC (signature 71)",
        "HLX-0007 (17)",
        "Equivalence (TOST), margin +/-5",
        "difference 1.235, 90% CI (-3.612, 6.088) vs bounds (-5, 5)",
        "Quality range, reference mean +/-3 SD",
        "2 of 2 test lots inside (1.1, 3.25)",
        "Visual / descriptive",
        "5 / 2",
        "inconclusive",
        "Small-n warning, viability: n test = 2: the interval is wide",
        "Earlier run 8 of CP-HLX-EPC-01-01 v2",
        "Superseded version CP-HLX-EPC-01-01 v1 (protocol record 30), run 4",
        "SUPERSEDED by CP-HLX-EPC-01-01 v2",
        "protocol versions (cmp_protocol) 31; runs (cmp_run) 9",
        "QC results (qc_result) 101-103, 105",
        f"Audit chain head at generation: #812 {'ab' * 32}",
        "Approved, not yet run: CP-HLX-EPC-01-02 v1",
    ):
        assert expected in text, expected
    assert render_pdf(doc).startswith(b"%PDF")


def test_no_study_gives_an_explicit_table() -> None:
    text = _text(comparability_summary(CONTENT, [], STAMP))
    assert "No comparability study" in text
    assert "Source records: none." in text and f"#812 {'ab' * 32}" in text


def test_approach_words() -> None:
    assert approach({"margin_sd": 1.5}, "tost") == (
        "Equivalence (TOST), margin +/-1.5 SD of reference"
    )
    assert approach({"lower": 0.8, "upper": 1.25, "scale": "ratio"}, "tost") == (
        "Equivalence (TOST), bounds (0.8, 1.25) (ratio)"
    )
    assert approach({}, "minmax") == "Min-max of reference"
