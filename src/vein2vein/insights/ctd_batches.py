"""The batch tables of a program's CTD (3.2.P.5.4 batch analyses, 3.2.P.3.3 batch history)
read from the signed records: the program's batches in the caller's scope (manufacturing),
the specification version each was judged by, its valid results and QA's disposition (through
the quality feature's reads), turned into plain values for ``ctd_domain``. The conventions
(which batches, which results) are in ``ctd_domain``'s docstring and docs/ctd.md."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from vein2vein.auth.scope import Scope
from vein2vein.core.clock import as_utc
from vein2vein.identity.tables import Order
from vein2vein.insights.ctd_domain import (
    CtdBatch,
    CtdContent,
    CtdResult,
    CtdSpec,
    CtdTest,
    Stamp,
    batch_analyses,
    batch_history,
    status_text,
)
from vein2vein.manufacturing.tables import Batch
from vein2vein.programs.tables import Program
from vein2vein.quality import oos, release, results, specs
from vein2vein.quality.domain import criterion_text
from vein2vein.quality.tables import QcSpec
from vein2vein.reports.document import Document

__all__ = ["Built", "batch_analyses_document", "batch_history_document", "content"]

_CONFORMANCE = {
    "conforms": "Conforms",
    "does not conform": "DOES NOT CONFORM",
    "reported": "Reported",
}


@dataclass(frozen=True)
class Built:
    """A generated document and the ids of the records it was filled from."""

    document: Document
    records: dict[str, list[int]]


def _program_batches(session: Session, scope: Scope, program: Program) -> list[Batch]:
    stmt = (
        scope.filter(select(Batch), Batch)
        .outerjoin(Order, Batch.order_id == Order.id)
        .where(or_(Order.program_id == program.id, Batch.program_id == program.id))
        .options(
            selectinload(Batch.order),
            selectinload(Batch.site),
            selectinload(Batch.events),
        )
        .order_by(Batch.created_at, Batch.id)
    )
    return list(session.scalars(stmt))


def _spec(session: Session, cache: dict[int, CtdSpec], row: QcSpec) -> CtdSpec:
    if row.id not in cache:
        model = specs.model_of(row)
        cache[row.id] = CtdSpec(
            row.id,
            row.title,
            row.version,
            tuple(CtdTest(t.code, t.name, t.method, criterion_text(t)) for t in model.tests),
        )
    return cache[row.id]


def _batch(session: Session, batch: Batch, cache: dict[int, CtdSpec]) -> CtdBatch:
    rel = release.release_of(session, batch.id)
    state = release.display_state(rel).value if rel is not None else None
    pending = json.loads(rel.pending) if rel is not None else []
    spec_row = (rel.spec if rel is not None and rel.spec is not None else None) or (
        specs.for_batch(session, batch) if batch.gmp else None
    )
    frozen = [as_utc(e.at).date() for e in batch.events if e.step == release.FREEZE_STEP]
    found: dict[str, CtdResult] = {}
    invalidated: list[tuple[int, str, str]] = []
    if spec_row is not None and rel is not None:
        spec = _spec(session, cache, spec_row)
        valid = results.valid_results(session, batch.id)
        for t in spec.tests:
            r = valid.get(t.code)
            if r is not None:
                found[t.code] = CtdResult(r.rounded, _CONFORMANCE.get(r.outcome, r.outcome), r.id)
            elif t.code in pending:
                found[t.code] = CtdResult("-", "Pending")
        investigations = {i.result_id: i.number for i in oos.of_batch(session, batch.id)}
        invalidated = [
            (r.id, r.test_code, investigations.get(r.id, "invalidated"))
            for r in results.all_results(session, batch.id)
            if not r.valid
        ]
    still_pending = [c for c in pending if c not in found or found[c].conformance == "Pending"]
    return CtdBatch(
        batch_id=batch.id,
        number=(batch.order.batch_number if batch.order else None)
        or batch.run_label
        or f"B-{batch.id}",
        site=batch.site.name,
        mbr_id=batch.mbr_id,
        mbr_version=batch.mbr_version,
        started_on=as_utc(batch.created_at).date(),
        cryopreserved_on=max(frozen) if frozen else None,
        gmp=batch.gmp,
        failed=batch.status == "FAILED",
        status=status_text(
            gmp=batch.gmp,
            batch_status=batch.status,
            failed_step=batch.failed_step,
            disposition=state,
            pending=still_pending if state == "conditional" else (),
        ),
        disposition=state,
        disposed_on=as_utc(rel.decided_at).date() if rel is not None else None,
        release_id=rel.id if rel is not None else None,
        spec_id=spec_row.id if spec_row is not None else None,
        results=found,
        invalidated=tuple(invalidated),
    )


def content(session: Session, scope: Scope, program: Program) -> CtdContent:
    """The program's batches as the CTD tables show them (``program`` found in scope)."""
    cache: dict[int, CtdSpec] = {}
    batches = tuple(_batch(session, b, cache) for b in _program_batches(session, scope, program))
    for b in batches:
        if b.spec_id is not None and b.spec_id not in cache:
            row = session.get(QcSpec, b.spec_id)
            if row is not None:
                _spec(session, cache, row)
    return CtdContent(
        program_id=program.id,
        program_code=program.code,
        program_name=program.name,
        product=program.product,
        sponsor=program.organisation.name,
        batches=batches,
        specs=cache,
    )


def _records(c: CtdContent, *, tabulated_only: bool) -> dict[str, list[int]]:
    shown = [b for b in c.batches if b.tabulated or not tabulated_only]
    out = {
        "mfg_batch": [b.batch_id for b in shown],
        "qc_release": [b.release_id for b in shown if b.release_id],
    }
    if tabulated_only:
        out["qc_spec"] = sorted({b.spec_id for b in shown if b.spec_id})
        out["qc_result"] = sorted(
            r.result_id for b in shown for r in b.results.values() if r.result_id
        )
    return out


def batch_analyses_document(
    session: Session, scope: Scope, program: Program, stamp: Stamp
) -> Built:
    c = content(session, scope, program)
    return Built(batch_analyses(c, stamp), _records(c, tabulated_only=True))


def batch_history_document(session: Session, scope: Scope, program: Program, stamp: Stamp) -> Built:
    c = content(session, scope, program)
    return Built(batch_history(c, stamp), _records(c, tabulated_only=False))
