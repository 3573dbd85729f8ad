"""Reads of the QC pages that no use case module answers by itself: the QC analyst's worklist
and one batch's results page (no SQL in ``web.py``).

**Worklist** (``/qc``): every GMP batch in scope that QA has not released or rejected, and every
conditional release with results still to follow, with each test of its specification version
that has no valid result and when that result is due:

=======================================  ====================================================
test                                     due
=======================================  ====================================================
may follow release (``after_release``)   freezing day + the test's ``result_days`` in the
                                         specification (without it the compendial 14-day
                                         sterility culture, Ph. Eur. 2.6.27, USP <71>)
every other test                         the day the batch record was approved by QA, or else
                                         sent to QA (release waits for both); none before
=======================================  ====================================================

and the batch's open out-of-specification investigations. Rejected and fully released batches
are left out, as are failed
batches: nothing is left to test.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.core.clock import as_utc
from vein2vein.manufacturing import batches
from vein2vein.manufacturing.tables import Batch
from vein2vein.quality import oos, release, results, specs
from vein2vein.quality.release_rules import ReleaseState


def _frozen_on(batch: Batch) -> dt.date | None:
    times = [e.at for e in batches.record_of(batch).events if e.step == release.FREEZE_STEP]
    return as_utc(max(times)).date() if times else None


def _due(batch: Batch, after_release: bool, days_to_result: int) -> dt.date | None:
    if after_release:
        frozen = _frozen_on(batch)
        return frozen + dt.timedelta(days=days_to_result) if frozen else None
    decided = batch.approved_at or batch.submitted_at
    return as_utc(decided).date() if decided else None


def worklist(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Per batch still to be tested: its missing tests with their due dates and its open
    investigations (see the module's docstring); batches with nothing to do are left out."""
    scope.require(Perm.QC_READ)
    out = []
    for row in release.list_releases(session, scope):
        state = ReleaseState(row["state"])
        if state is ReleaseState.REJECTED or row["batch_status"] == batches.FAILED:
            continue  # never to be released: nothing left to test
        if state is not ReleaseState.PENDING and not row["pending"]:
            continue
        batch = batches.get_batch(session, scope, row["batch"])
        spec_row = specs.for_batch(session, batch)
        model = specs.model_of(spec_row) if spec_row is not None else None
        valid = results.valid_results(session, batch.id)
        missing = [
            {
                "code": t.code,
                "name": t.name,
                "after_release": t.after_release,
                "calculated": t.code == results.CALCULATED,
                "due": _due(batch, t.after_release, t.days_to_result),
            }
            for t in (model.tests if model else ())
            if t.code not in valid
        ]
        investigations = [
            oos.summary(i)
            for i in oos.of_batch(session, batch.id)
            if not oos.OosStatus(i.status).closed
        ]
        if not missing and not investigations and spec_row is not None:
            continue
        dues = [m["due"] for m in missing if m["due"] is not None and not m["calculated"]]
        out.append(
            row
            | {
                "spec_id": spec_row.id if spec_row else None,
                "missing": missing,
                "investigations": investigations,
                "next_due": min(dues, default=None),
            }
        )
    out.sort(key=lambda r: (r["next_due"] is None, r["next_due"] or dt.date.max, r["batch"]))
    return out


def batch_results(session: Session, scope: Scope, batch_id: int | str) -> dict[str, Any]:
    """One batch's QC page: its specification version, each test with its valid result and the
    earlier (invalidated) ones, its investigations and its release state."""
    batch = batches.get_batch(session, scope, batch_id)
    scope.require(Perm.QC_READ)
    spec_row = specs.for_batch(session, batch) if batch.gmp else None
    rows = results.test_rows(session, batch, spec_row)
    for r in rows:
        r["due"] = None if r["result"] else _due(batch, r["after_release"], r["days_to_result"])
    rel = release.release_of(session, batch.id)
    return {
        "batch": {
            "id": batch.id,
            "gmp": batch.gmp,
            "status": batch.status,
            "order": batch.order.number if batch.order else None,
            "coi": batch.coi,
            "product": specs.program_of(batch).code,
        },
        "spec": specs.summary(spec_row) if spec_row else None,
        "tests": rows,
        "investigations": [oos.summary(i) for i in oos.of_batch(session, batch.id)],
        "state": release.display_state(rel).value,
        "formats": results.FORMATS,
    }
