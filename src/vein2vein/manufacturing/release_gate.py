"""Why a batch cannot be released (pure): the hook the QC release (issue 13) calls.

A batch is released only when its executed record is fit to be: made under GMP, not failed,
approved by QA with an intact signature, and with every deviation of it closed (21 CFR
211.192 and 211.22(a): production records reviewed and approved by the quality unit, and any
unexplained discrepancy investigated, before a batch is released; EU GMP Annex 16 §1.7: the
Qualified Person certifies only once the batch record is complete and deviations are assessed).
:func:`release_blockers` lists every reason that holds, in a fixed order, so that a release
page can show them all at once; an empty list means the batch record does not block release
(QC results, specifications and the certificate are the release's own checks, issue 13).

The reader ``batch_views.batch_release_blockers(session, scope, batch_id)`` gathers the facts
from the store and calls this function.

Pure: no database, web or template code (tests/unit/architecture/test_import_rules.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BatchFacts:
    """What the release gate needs to know of one batch.

    ``approval_intact``: None when the record carries no QA approval signature; else whether
    the signed content still matches the record now."""

    batch_id: int
    gmp: bool
    status: str
    failed_step: str | None = None
    failed_reason: str | None = None
    approval_intact: bool | None = None
    open_deviations: Sequence[str] = field(default=())


def release_blockers(facts: BatchFacts) -> list[str]:
    """Every reason the batch record blocks release (empty: it does not), in this order:
    a process-development run, a failed batch, a record not QA-approved (or whose approval no
    longer matches it), each deviation not closed."""
    b = facts.batch_id
    out: list[str] = []
    if not facts.gmp:
        out.append(
            f"batch {b} is a process-development run (non-GMP): it can never be released or "
            "approved for infusion"
        )
    if facts.status == "FAILED":
        where = f" at {facts.failed_step}" if facts.failed_step else ""
        why = f": {facts.failed_reason}" if facts.failed_reason else ""
        out.append(f"batch {b} failed{where}{why}")
    if facts.status != "APPROVED" or facts.approval_intact is None:
        out.append(f"the batch record of batch {b} is not QA-approved (status {facts.status})")
    elif not facts.approval_intact:
        out.append(
            f"the QA approval of batch {b} no longer matches its record: the record changed "
            "after it was signed"
        )
    out.extend(f"deviation {number} of batch {b} is not closed" for number in facts.open_deviations)
    return out
