"""The CTD comparability summary (3.2.P.2, pharmaceutical development: manufacturing process
development and comparability; issue 14; docs/ctd.md). Pure: plain values in,
:class:`~vein2vein.reports.document.Document` out; ``ctd_comparability_read.py`` reads the
values from the signed protocols and their stored runs.

What is reported (the choices a CMC writer makes; ICH Q5E §2.3 and M4Q(R1) 3.2.P.2.3; FDA,
*Manufacturing Changes and Comparability for Human Cellular and Gene Therapy Products*, draft
2023):

- One study per protocol whose **current version is approved and has been run**: the change,
  the protocol number and version with its approval signature (printed name, time), the arms
  with their batches, and per attribute the tier, the approach (equivalence margin, quality
  range, min-max, descriptive), the result **as stored in the run** (never recomputed), the
  conclusion and the engine's small-n warnings.
- The **latest run** of that version is tabulated (it read the approved results stored last);
  earlier runs of the same version are named in a footnote with their conclusion.
- Runs of **superseded versions** are not tabulated: the dossier presents the study under the
  protocol in force; a footnote names each superseded version with its runs and conclusion, so
  the history stays visible.
- An approved version without a run, and versions not yet approved, are not reported (a
  protocol not yet approved is blinded); the first one is named in a footnote ("not yet run").
- A program without such a study gets the section all the same, with the explicit statement
  "No comparability study" (a table with one row saying so), footnoted like every table: the
  dossier then says there is nothing to summarise rather than leaving the section out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vein2vein.insights.ctd_domain import CtdContent, Stamp, _document, _records
from vein2vein.reports.document import Document, Paragraph, Section, Table
from vein2vein.stats.results import fmt

__all__ = ["CmpRunRef", "CmpSigned", "CmpStudy", "approach", "comparability_summary", "outcome"]

SECTION, TITLE = "3.2.P.2", "Comparability summary"

_APPROACH = {
    "tost": "Equivalence (TOST)",
    "quality_range": "Quality range",
    "minmax": "Min-max of reference",
    "descriptive": "Visual / descriptive",
}


@dataclass(frozen=True)
class CmpSigned:
    """One signature of a protocol version."""

    meaning: str
    printed_name: str
    signed_at: dt.datetime
    signature_id: int


@dataclass(frozen=True)
class CmpRunRef:
    """A run named in a footnote: an earlier run, or a run of a superseded version."""

    protocol: str
    protocol_id: int
    run_id: int
    run_at: dt.datetime
    conclusion: str


@dataclass(frozen=True)
class CmpStudy:
    """A comparability study as the summary shows it: the current approved version of one
    protocol and its latest run, the stored result (``result``, the run's JSON) unchanged."""

    protocol_id: int
    number: str
    version: int
    title: str
    change: str
    reference: str
    test: str
    approvals: tuple[CmpSigned, ...]
    run_id: int
    run_at: dt.datetime
    run_by: str
    inputs_hash: str
    conclusion: str
    #: (arm label, order number, batch id) of the batches the run read
    batches: tuple[tuple[str, str, int], ...]
    #: the run's stored attributes (``ComparabilityResult.to_dict()["attributes"]``)
    attributes: tuple[Mapping[str, Any], ...]
    missing: tuple[str, ...] = ()
    earlier_runs: tuple[CmpRunRef, ...] = ()
    superseded: tuple[CmpRunRef, ...] = ()
    #: record ids used: qc_result, mfg_batch
    result_ids: tuple[int, ...] = ()
    batch_ids: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.number} v{self.version}"


def _n(value: Any) -> str:
    return fmt(value, 4) if value is not None else "-"


def approach(plan: Mapping[str, Any], method: str) -> str:
    """The approach in words with its criterion as the protocol set it."""
    name = _APPROACH.get(method, method)
    if method == "tost":
        if plan.get("margin") is not None:
            bound = f"margin +/-{_n(plan['margin'])}"
        elif plan.get("margin_sd") is not None:
            bound = f"margin +/-{_n(plan['margin_sd'])} SD of reference"
        else:
            bound = f"bounds ({_n(plan.get('lower'))}, {_n(plan.get('upper'))})"
        return f"{name}, {bound}{' (ratio)' if plan.get('scale') == 'ratio' else ''}"
    if method == "quality_range":
        return f"{name}, reference mean +/-{_n(plan.get('k'))} SD"
    return name


def outcome(attribute: Mapping[str, Any]) -> str:
    """The stored result in words: the difference with its CI against the bounds, or the test
    lots inside the range, or both arms' means (descriptive)."""
    res = attribute.get("result") or {}
    ref, test = attribute.get("reference") or {}, attribute.get("test") or {}
    if "ci_low" in res:
        level = 100 * float(res.get("confidence_level", 0.9))
        return (
            f"difference {_n(res.get('difference'))}, {level:g}% CI ({_n(res.get('ci_low'))}, "
            f"{_n(res.get('ci_high'))}) vs bounds ({_n(res.get('lower'))}, "
            f"{_n(res.get('upper'))})"
        )
    if "n_inside" in res:
        return (
            f"{res.get('n_inside')} of {res.get('n_test')} test lots inside "
            f"({_n(res.get('lower'))}, {_n(res.get('upper'))})"
        )
    return (
        f"reference mean {_n(ref.get('mean'))}, test mean {_n(test.get('mean'))} "
        "(no acceptance criterion)"
    )


def _arm_n(attribute: Mapping[str, Any], arm: str) -> str:
    return str((attribute.get(arm) or {}).get("n", "-"))


def _stamp_date(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _study_blocks(i: int, s: CmpStudy, stamp: Stamp) -> list[Any]:
    approvals = "; ".join(
        f"{g.meaning} by {g.printed_name}, {_stamp_date(g.signed_at)} (signature {g.signature_id})"
        for g in s.approvals
    )
    arms: dict[str, list[str]] = {}
    for arm, order, batch_id in s.batches:
        arms.setdefault(arm, []).append(f"{order} ({batch_id})")
    head = Table(
        f"Study {i}: {s.title}",
        ("Item", "Entry"),
        (
            ("Change", s.change),
            ("Protocol", f"{s.label} (protocol record {s.protocol_id})"),
            ("Signatures", approvals or "-"),
            ("Reference arm", s.reference),
            ("Test arm", s.test),
            *((f"Batches, {arm}", ", ".join(xs)) for arm, xs in arms.items()),
            ("Run", f"{s.run_id}, {_stamp_date(s.run_at)} by {s.run_by}"),
            ("Overall conclusion", s.conclusion),
        ),
        (
            "Batches as order number (batch record id): the GMP batches with an approved "
            "record that the run read.",
        ),
        widths=(1.6, 8.4),
    )
    warnings: list[str] = []
    for a in s.attributes:
        for w in a.get("warnings") or ():
            text = f"{a.get('name')}: {w}"
            if text not in warnings:
                warnings.append(text)
    rows = []
    for a in s.attributes:
        plan = a.get("plan") or {}
        unit = plan.get("unit") or ""
        rows.append(
            (
                str(a.get("name")) + (f" ({unit})" if unit else ""),
                str(a.get("tier")),
                approach(plan, str(a.get("method"))),
                f"{_arm_n(a, 'reference')} / {_arm_n(a, 'test')}",
                outcome(a),
                str(a.get("conclusion")),
            )
        )
    notes = [
        f"Results as stored in run {s.run_id} (inputs SHA-256 {s.inputs_hash}), shown to four "
        "significant digits; not recomputed. TOST: two one-sided tests of test - reference, "
        "equivalence when the (1 - 2 alpha) interval lies inside the bounds.",
        *(f"Small-n warning, {w}" for w in warnings),
        *(f"Missing value: {m}." for m in s.missing),
    ]
    notes += [
        f"Earlier run {r.run_id} of {r.protocol} ({_stamp_date(r.run_at)}): {r.conclusion}; "
        "not tabulated (the latest run is)."
        for r in s.earlier_runs
    ]
    notes += [
        f"Superseded version {r.protocol} (protocol record {r.protocol_id}), run {r.run_id} "
        f"({_stamp_date(r.run_at)}): {r.conclusion}; not tabulated (SUPERSEDED by {s.label})."
        for r in s.superseded
    ]
    notes += [
        _records(
            [
                ("protocol versions (cmp_protocol)", [s.protocol_id]),
                ("runs (cmp_run)", [s.run_id]),
                ("batch records (mfg_batch)", s.batch_ids),
                ("QC results (qc_result)", s.result_ids),
            ]
        ),
        stamp.head_line,
    ]
    results = Table(
        f"Study {i}: result per attribute ({s.label}, run {s.run_id})",
        ("Attribute", "Tier", "Approach", "n ref / test", "Result (as stored)", "Conclusion"),
        tuple(rows),
        tuple(notes),
        widths=(1.8, 0.6, 2.2, 1.0, 3.4, 1.2),
    )
    return [head, results]


def comparability_summary(
    content: CtdContent,
    studies: Sequence[CmpStudy],
    stamp: Stamp,
    *,
    not_run: Sequence[str] = (),
) -> Document:
    """The 3.2.P.2 comparability summary of ``content``'s program from its studies (an
    explicit "No comparability study" table when there is none)."""
    if not studies:
        notes = [
            "No comparability protocol of this program has an approved current version with a "
            "stored run at generation.",
            *(f"Approved, not yet run: {x}." for x in not_run),
            _records([]),
            stamp.head_line,
        ]
        blocks: list[Any] = [
            Table(
                "Comparability studies",
                ("Program", "Comparability studies"),
                ((content.program_code, "No comparability study"),),
                tuple(notes),
                widths=(2, 8),
            )
        ]
    else:
        blocks = [
            Paragraph(
                f"{len(studies)} comparability stud{'y' if len(studies) == 1 else 'ies'} of "
                f"{content.program_code}: each protocol's current approved version and its "
                "latest run, the results as stored in the run."
                + (f" Approved, not yet run: {', '.join(not_run)}." if not_run else "")
            )
        ]
        for i, s in enumerate(studies, start=1):
            blocks += _study_blocks(i, s, stamp)
    return _document(content, stamp, SECTION, TITLE, (Section(TITLE, tuple(blocks)),))
