"""The CTD Module 3 tables of a program, as documents (issue 14; docs/ctd.md). Pure: plain
values in, :class:`~vein2vein.reports.document.Document` out; ``ctd_batches.py`` reads the
values from the signed records.

Which batches, and how results are shown (the conventions a CMC writer would apply; ICH M4Q(R1)
3.2.P.5.4 "a description of batches and results of batch analyses should be provided"; FDA,
*Chemistry, Manufacturing, and Control (CMC) Information for Human Gene Therapy IND
Applications*, 2020, section IV.B.5.d):

- **3.2.P.5.4 Batch analyses** lists every GMP batch of the program that has a QA disposition
  at generation: released, conditionally released (tests that may follow release shown as
  *Pending* until their result is in), released under an exceptional release (the
  nonconforming results shown as such), and rejected (marked). Lots that failed release are
  part of the manufacturing experience a reviewer expects to see, so they are not left out.
  Batches still without a disposition are not tabulated (their results are not final); the
  first table's footnote names them, and the batch history lists them with their status.
- Results are the **reportable results as stored**: the rounded value the specification's
  rounding rule gave when the result was judged (the value on the CoA) and the judgement
  stored with it, against the specification version the batch was judged by. Results
  invalidated by an OOS investigation are not tabulated; a footnote names them with the
  investigation.
- **Batch history** (accompanying the process description, 3.2.P.3.3, and the development
  history, 3.2.P.2.3): every batch of the program, GMP and process-development runs alike,
  with site, MBR version, start of manufacture, cryopreservation date, use and status.
- Every table is footnoted with the ids of the records it was filled from and the audit
  chain's head at generation; every page carries the head too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from vein2vein.reports.document import Document, Paragraph, Section, Table

#: batches side by side in one batch-analysis table (landscape A4)
BATCHES_PER_TABLE = 5
MARKING = "CONFIDENTIAL"

__all__ = [
    "BATCHES_PER_TABLE",
    "CtdBatch",
    "CtdContent",
    "CtdResult",
    "CtdSpec",
    "CtdTest",
    "Stamp",
    "batch_analyses",
    "batch_history",
    "id_ranges",
    "status_text",
]


@dataclass(frozen=True)
class Stamp:
    """When, by whom and at which audit head a document was generated."""

    generated_at: dt.datetime
    generated_by: str
    head_seq: int
    head_hash: str

    @property
    def head_line(self) -> str:
        return f"Audit chain head at generation: #{self.head_seq} {self.head_hash}"


@dataclass(frozen=True)
class CtdTest:
    code: str
    name: str
    method: str
    criterion: str


@dataclass(frozen=True)
class CtdSpec:
    spec_id: int
    title: str
    version: int
    tests: tuple[CtdTest, ...]

    @property
    def label(self) -> str:
        return f"{self.title}, version {self.version}"


@dataclass(frozen=True)
class CtdResult:
    """A test's reportable result of one batch: ``reported`` is the stored rounded value,
    ``conformance`` the stored judgement in words (or *Pending* / *Not tested*)."""

    reported: str
    conformance: str
    result_id: int | None = None


@dataclass(frozen=True)
class CtdBatch:
    """One batch as the tables show it. ``disposition`` is QA's decision (``released``,
    ``conditional``, ``exceptional``, ``rejected``) or None; ``status`` its state in words."""

    batch_id: int
    number: str
    site: str
    mbr_id: int
    mbr_version: int
    started_on: dt.date
    cryopreserved_on: dt.date | None
    gmp: bool
    status: str
    failed: bool = False
    disposition: str | None = None
    disposed_on: dt.date | None = None
    release_id: int | None = None
    spec_id: int | None = None
    results: Mapping[str, CtdResult] = field(default_factory=dict)
    #: results invalidated by an investigation: (result id, test code, investigation number)
    invalidated: tuple[tuple[int, str, str], ...] = ()

    @property
    def use(self) -> str:
        return "Clinical" if self.gmp else "Process development (non-GMP)"

    @property
    def tabulated(self) -> bool:
        """In the batch analyses: a GMP batch with QA's disposition and its specification."""
        return self.gmp and self.disposition is not None and self.spec_id is not None


@dataclass(frozen=True)
class CtdContent:
    """What the program's CTD tables are filled from."""

    program_id: int
    program_code: str
    program_name: str
    product: str
    sponsor: str
    batches: tuple[CtdBatch, ...]
    specs: Mapping[int, CtdSpec]


DISPOSITION_TEXT = {
    "released": "Released",
    "conditional": "Released (conditional)",
    "exceptional": "Released (exceptional release)",
    "rejected": "REJECTED",
}


_BATCH_STATUS = {
    "IN_PROGRESS": "In manufacture",
    "ON_HOLD": "In manufacture (on hold)",
    "COMPLETE": "Manufactured; batch record not yet submitted to QA",
    "IN_REVIEW": "Batch record in QA review",
    "APPROVED": "Batch record approved; awaiting QA disposition",
}


def status_text(
    *,
    gmp: bool,
    batch_status: str,
    failed_step: str | None,
    disposition: str | None,
    pending: Sequence[str] = (),
) -> str:
    """A batch's status at generation in words (batch history)."""
    if batch_status == "FAILED":
        return f"Manufacture failed{f' at {failed_step}' if failed_step else ''}; not released"
    if not gmp:
        return (
            "Process-development run: "
            + _BATCH_STATUS.get(batch_status, batch_status).split(";")[0]
        )
    if disposition is not None:
        text = DISPOSITION_TEXT.get(disposition, disposition)
        if disposition == "conditional" and pending:
            text += f"; results to follow: {', '.join(pending)}"
        return text
    return _BATCH_STATUS.get(batch_status, batch_status)


def id_ranges(ids: Iterable[int]) -> str:
    """``1-3, 5, 9-10``: record ids in ascending order with runs collapsed."""
    xs = sorted(set(ids))
    if not xs:
        return "none"
    parts: list[str] = []
    start = prev = xs[0]
    for x in [*xs[1:], None]:
        if x is not None and x == prev + 1:
            prev = x
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if x is not None:
            start = prev = x
    return ", ".join(parts)


def _records(pairs: Sequence[tuple[str, Iterable[int]]]) -> str:
    shown = [(label, sorted(set(ids))) for label, ids in pairs]
    named = [f"{label} {id_ranges(ids)}" for label, ids in shown if ids]
    return "Source records: " + ("; ".join(named) if named else "none") + "."


def _document(
    content: CtdContent, stamp: Stamp, section: str, title: str, sections: tuple[Section, ...]
) -> Document:
    when = stamp.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    return Document(
        title=f"{section} {title}",
        subtitle=f"{content.product or content.program_name} ({content.program_code}); "
        f"sponsor {content.sponsor}",
        marking=MARKING,
        version=f"{when}, audit head #{stamp.head_seq}",
        anchors=(
            f"{content.program_code} CTD {section}, generated {when} by {stamp.generated_by}",
            stamp.head_line,
        ),
        sections=sections,
        created_at=stamp.generated_at,
        orientation="L",
        keywords=f"CTD {section}; {content.program_code}; audit head {stamp.head_hash}",
    )


# --- 3.2.P.5.4 batch analyses -------------------------------------------------------------


def _date(d: dt.date | None) -> str:
    return d.isoformat() if d else "-"


def _disposition(b: CtdBatch) -> str:
    text = DISPOSITION_TEXT.get(b.disposition or "", "Awaiting disposition")
    return f"{text}, {_date(b.disposed_on)}" if b.disposed_on else text


def _included_table(content: CtdContent, batches: list[CtdBatch], stamp: Stamp) -> Table:
    left = [b for b in content.batches if b.gmp and not b.tabulated]
    failed = [b for b in left if b.failed]
    waiting = [b for b in left if not b.failed]
    notes = [
        "Every GMP batch of the program with a QA disposition at generation, in order of "
        "manufacture; rejected batches are included and marked.",
    ]
    notes += [
        f"Specification version {x.version}: {x.label} (qc_spec {x.spec_id})."
        for x in (content.specs[i] for i in sorted({b.spec_id for b in batches if b.spec_id}))
    ]
    if waiting:
        notes.append(
            "Not tabulated, no QA disposition yet (see the batch history): "
            + ", ".join(f"{b.number} (batch record {b.batch_id})" for b in waiting)
            + "."
        )
    if failed:
        notes.append(
            "Not tabulated, manufacture failed before release testing (see the batch "
            "history): "
            + ", ".join(f"{b.number} (batch record {b.batch_id})" for b in failed)
            + "."
        )
    notes += [
        _records(
            [
                ("batch records (mfg_batch)", [b.batch_id for b in batches]),
                ("QA dispositions (qc_release)", [b.release_id for b in batches if b.release_id]),
                ("specifications (qc_spec)", [b.spec_id for b in batches if b.spec_id]),
            ]
        ),
        stamp.head_line,
    ]
    return Table(
        "Batches included in the batch analyses",
        (
            "Batch",
            "Batch record",
            "Manufacturing site",
            "MBR version",
            "Manufacture started",
            "Specification",
            "QA disposition",
        ),
        tuple(
            (
                b.number,
                str(b.batch_id),
                b.site,
                str(b.mbr_version),
                _date(b.started_on),
                f"version {content.specs[b.spec_id].version}"
                if b.spec_id in content.specs
                else "-",
                _disposition(b),
            )
            for b in batches
        ),
        tuple(notes),
        widths=(2.2, 1.2, 2.2, 1, 1.5, 1.4, 2.6),
    )


def _chunks(xs: list[CtdBatch], n: int) -> list[list[CtdBatch]]:
    return [xs[i : i + n] for i in range(0, len(xs), n)]


def _results_table(spec: CtdSpec, group: list[CtdBatch], part: str, stamp: Stamp) -> Table:
    head = ("Test (method)", "Acceptance criterion", *(b.number for b in group))
    rows: list[tuple[str, ...]] = [
        ("Manufacturing site", "", *(b.site for b in group)),
        ("Manufacture started", "", *(_date(b.started_on) for b in group)),
        ("QA disposition", "", *(_disposition(b) for b in group)),
    ]
    for t in spec.tests:
        cells = []
        for b in group:
            r = b.results.get(t.code)
            cells.append(f"{r.reported}\n{r.conformance}" if r else "-\nNot tested")
        rows.append((f"{t.name}\n({t.method})", t.criterion, *cells))
    invalidated = [(b, i) for b in group for i in b.invalidated]
    notes = [
        "Results as stored: the reportable result rounded as the specification prescribes, "
        "and the conformance judged against it when the result was entered. Pending: a test "
        "that may follow release (conditional release) without its result at generation.",
    ]
    if invalidated:
        notes.append(
            "Invalidated by an OOS investigation and not tabulated: "
            + "; ".join(
                f"result {rid} ({code}, {b.number}; {inv})" for b, (rid, code, inv) in invalidated
            )
            + "."
        )
    notes += [
        _records(
            [
                ("batch records (mfg_batch)", [b.batch_id for b in group]),
                ("QA dispositions (qc_release)", [b.release_id for b in group if b.release_id]),
                ("specification (qc_spec)", [spec.spec_id]),
                (
                    "results (qc_result)",
                    [r.result_id for b in group for r in b.results.values() if r.result_id],
                ),
            ]
        ),
        stamp.head_line,
    ]
    n = len(group)
    return Table(
        f"Batch analyses against {spec.label}{part}",
        head,
        tuple(rows),
        tuple(notes),
        align=("L", "L", *("C",) * n),
        widths=(3.0, 2.6, *(2.2,) * n),
    )


def batch_analyses(content: CtdContent, stamp: Stamp) -> Document:
    """3.2.P.5.4: the batches included, then per specification version the batches side by
    side (:data:`BATCHES_PER_TABLE` per table), each test's result and conformance."""
    batches = [b for b in content.batches if b.tabulated]
    blocks: list[Paragraph | Table] = [
        Paragraph(
            f"Results of release testing of the batches of {content.program_code} manufactured "
            "for clinical use, filled from the signed records: the executed batch records, "
            "the specification versions in force when each batch was made, the QC results and "
            "QA's disposition."
        ),
        _included_table(content, batches, stamp),
    ]
    if not batches:
        blocks.append(Paragraph("No batch of this program has a QA disposition yet."))
    for spec_id in sorted({b.spec_id for b in batches if b.spec_id is not None}):
        spec = content.specs[spec_id]
        judged = [b for b in batches if b.spec_id == spec_id]
        groups = _chunks(judged, BATCHES_PER_TABLE)
        for i, group in enumerate(groups, start=1):
            part = f" (part {i} of {len(groups)})" if len(groups) > 1 else ""
            blocks.append(_results_table(spec, group, part, stamp))
    return _document(
        content,
        stamp,
        "3.2.P.5.4",
        "Batch analyses",
        (Section("Batch analyses", tuple(blocks)),),
    )


# --- batch history ------------------------------------------------------------------------


def batch_history(content: CtdContent, stamp: Stamp) -> Document:
    """The program's batch history: every batch, GMP and process development, in order of
    manufacture."""
    rows = tuple(
        (
            b.number,
            str(b.batch_id),
            b.site,
            str(b.mbr_version),
            _date(b.started_on),
            _date(b.cryopreserved_on),
            b.use,
            b.status,
        )
        for b in content.batches
    )
    table = Table(
        "Batch history",
        (
            "Batch",
            "Batch record",
            "Manufacturing site",
            "MBR version",
            "Manufacture started",
            "Cryopreserved",
            "Use",
            "Status",
        ),
        rows,
        (
            "Every batch of the program in order of manufacture: GMP batches made for "
            "patients in the clinical trial and process-development runs (non-GMP, never "
            "administered). Status at generation.",
            _records(
                [
                    ("batch records (mfg_batch)", [b.batch_id for b in content.batches]),
                    ("master batch records (mbr)", [b.mbr_id for b in content.batches]),
                    (
                        "QA dispositions (qc_release)",
                        [b.release_id for b in content.batches if b.release_id],
                    ),
                ]
            ),
            stamp.head_line,
        ),
        widths=(2.2, 1.1, 2.2, 1, 1.4, 1.4, 2, 3.4),
    )
    made = len(content.batches)
    gmp = sum(b.gmp for b in content.batches)
    return _document(
        content,
        stamp,
        "3.2.P.3.3",
        "Batch history",
        (
            Section(
                "Batch history",
                (
                    Paragraph(
                        f"{made} batch(es) of {content.program_code}: {gmp} GMP, "
                        f"{made - gmp} process development."
                    ),
                    table,
                ),
            ),
        ),
    )
