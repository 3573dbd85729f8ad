"""The CTD tables' rules without a database (insights/ctd_domain.py, ctd_sections.py): which
batches the batch analyses tabulate and how (rejected marked, pending results, batches without
a disposition and failed batches named in a footnote, five batches a table), the batch history,
record ids as ranges, the section registry refusing unknown and not-yet-available sections.
Files are read back with python-docx."""

from __future__ import annotations

import datetime as dt
import io

import docx
import pytest

from vein2vein.core.errors import InputError
from vein2vein.insights import ctd_sections
from vein2vein.insights.ctd_domain import (
    CtdBatch,
    CtdContent,
    CtdResult,
    CtdSpec,
    CtdTest,
    Stamp,
    batch_analyses,
    batch_history,
    id_ranges,
    status_text,
)
from vein2vein.reports.docx_document import render_docx

STAMP = Stamp(dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC), "Ann (ann)", 41, "c0" * 32)
SPEC = CtdSpec(
    1,
    "Release specification",
    2,
    (
        CtdTest("viability", "Viability", "7-AAD", ">= 70 %"),
        CtdTest("vcn", "VCN", "qPCR", "<= 5.0 copies/cell"),
    ),
)


def _batch(i: int, disposition: str | None, **kw: object) -> CtdBatch:
    results = {
        "viability": CtdResult(f"{80 + i} %", "Conforms", 100 + 2 * i),
        "vcn": CtdResult("-", "Pending")
        if disposition == "conditional"
        else CtdResult("2.1 copies/cell", "Conforms", 101 + 2 * i),
    }
    values: dict[str, object] = {
        "batch_id": i,
        "number": f"B-{i:03d}",
        "site": "Leiden",
        "mbr_id": 7,
        "mbr_version": 1,
        "started_on": dt.date(2026, 1, i),
        "cryopreserved_on": dt.date(2026, 1, i + 10),
        "gmp": True,
        "status": "x",
        "disposition": disposition,
        "disposed_on": dt.date(2026, 2, i) if disposition else None,
        "release_id": 50 + i if disposition else None,
        "spec_id": 1,
        "results": results if disposition else {},
    }
    return CtdBatch(**(values | kw))  # type: ignore[arg-type]


def _content(batches: list[CtdBatch]) -> CtdContent:
    return CtdContent(1, "HLX-1", "HLX programme", "HLX-101", "Helixa", tuple(batches), {1: SPEC})


def test_batch_analyses_tabulate_decided_batches_five_a_table() -> None:
    batches = [_batch(i, "released") for i in range(1, 7)]
    batches[2] = _batch(3, "rejected")
    batches[4] = _batch(5, "conditional")
    batches.append(_batch(7, None, status="Batch record in QA review"))
    batches.append(_batch(8, None, failed=True, spec_id=None))
    doc = batch_analyses(_content(batches), STAMP)
    tables = doc.tables()
    included, part1, part2 = tables
    assert [r[0] for r in included.rows] == [f"B-{i:03d}" for i in range(1, 7)]
    assert "REJECTED, 2026-02-03" in [r[6] for r in included.rows]
    notes = "\n".join(included.footnotes)
    assert "no QA disposition yet (see the batch history): B-007 (batch record 7)" in notes
    assert "manufacture failed before release testing (see the batch history): B-008" in notes
    assert "Release specification, version 2 (qc_spec 1)" in notes
    assert part1.columns[2:] == ("B-001", "B-002", "B-003", "B-004", "B-005")
    assert part2.columns[2:] == ("B-006",)
    assert part1.caption.endswith("(part 1 of 2)")
    rows = {r[0].split("\n")[0]: r[2:] for r in part1.rows}
    assert rows["Viability"][0] == "81 %\nConforms"
    assert rows["VCN"][4] == "-\nPending"
    assert rows["QA disposition"][2] == "REJECTED, 2026-02-03"
    assert "results (qc_result) 102-110." in "\n".join(part1.footnotes)
    for t in tables:
        assert t.footnotes[-1] == f"Audit chain head at generation: #41 {'c0' * 32}"
    word = docx.Document(io.BytesIO(render_docx(doc)))
    captions = [p.text for p in word.paragraphs if p.style.name == "Caption"]
    assert captions[0] == "Table 1. Batches included in the batch analyses"
    assert captions[2].startswith("Table 3. Batch analyses against Release specification")


def test_batch_history_lists_every_batch_with_its_use() -> None:
    batches = [
        _batch(1, "released", status="Released"),
        _batch(2, None, gmp=False, number="PD-RUN-1", status="Process-development run"),
    ]
    (table,) = batch_history(_content(batches), STAMP).tables()
    assert [r[0] for r in table.rows] == ["B-001", "PD-RUN-1"]
    assert [r[6] for r in table.rows] == ["Clinical", "Process development (non-GMP)"]
    assert "master batch records (mbr) 7" in "\n".join(table.footnotes)


def test_status_text() -> None:
    assert status_text(gmp=True, batch_status="FAILED", failed_step="EXPAND", disposition=None) == (
        "Manufacture failed at EXPAND; not released"
    )
    assert (
        status_text(
            gmp=True,
            batch_status="APPROVED",
            failed_step=None,
            disposition="conditional",
            pending=["vcn"],
        )
        == "Released (conditional); results to follow: vcn"
    )
    assert status_text(gmp=True, batch_status="IN_REVIEW", failed_step=None, disposition=None) == (
        "Batch record in QA review"
    )


def test_id_ranges() -> None:
    assert id_ranges([5, 1, 2, 3, 9, 10, 3]) == "1-3, 5, 9-10"
    assert id_ranges([]) == "none"


def test_section_registry() -> None:
    assert ctd_sections.find("3.2.p.5.4").code == "3.2.P.5.4"
    assert ctd_sections.find("batch-history").code == "3.2.P.3.3"
    with pytest.raises(InputError, match=r"unknown CTD section '9\.9'") as e:
        ctd_sections.find("9.9")
    assert e.value.field == "section"
    assert ctd_sections.available("comparability").code == "3.2.P.2"
    assert all(s.available for s in ctd_sections.SECTIONS)
    with pytest.raises(InputError, match="pdf or docx"):
        ctd_sections.media_type("xlsx")
