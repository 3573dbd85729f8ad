"""The CPV series read from the record, within the caller's scope (docs/cpv.md): the approved
points of one product's attribute or process parameter at one site, the results left out
(invalidated, or awaiting QA's disposition), the specification or MBR the latest point is judged
by, and the baselines.

**Approved** (what enters a chart): a *valid* QC result (never one invalidated by its OOS
investigation) of a GMP batch whose disposition QA has signed: released, conditional,
exceptional or rejected (``qc_release``). A result entered after a conditional release counts
from its entry: the signed release tracks it to its end. A batch with no disposition yet is
counted beside the chart, not plotted. A chart therefore changes the moment QA signs a
disposition, and at no other time except a late result of a conditional release.

**Process parameters** (a series named ``record:STEP.entry`` or ``derived:...``): the same
batches (a GMP batch whose disposition QA signed), the value read from its executed record
after corrections, or derived from its counts, by ``insights.record_values`` (the reads
comparability makes). A batch whose record holds the value but whose disposition QA has not
signed is counted beside the chart.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from vein2vein.auth.scope import Scope
from vein2vein.auth.tables import Site
from vein2vein.core.clock import as_utc
from vein2vein.identity.tables import Order
from vein2vein.insights import cpv_domain as dom
from vein2vein.insights import record_values
from vein2vein.insights.comparability_domain import Source
from vein2vein.insights.cpv_tables import CpvBaseline
from vein2vein.manufacturing import mbrs
from vein2vein.manufacturing.domain import Mbr
from vein2vein.manufacturing.tables import Batch, MasterBatchRecord
from vein2vein.programs.tables import Program
from vein2vein.quality import domain as qdomain
from vein2vein.quality import specs
from vein2vein.quality.tables import QcInvestigation, QcRelease, QcResult, QcSpec

EFFECTIVE, SUPERSEDED = "effective", "superseded"
#: the program a GMP batch belongs to (through its order; a run names it itself)
PROGRAM_OF_BATCH = func.coalesce(Order.program_id, Batch.program_id)


@dataclass(frozen=True)
class SeriesKey:
    program_id: int
    site_id: int
    #: a QC test code, or ``record:STEP.entry`` / ``derived:quantity`` (``cpv_domain.source_of``)
    attribute: str


def batch_label(batch: Batch) -> str:
    order = batch.order
    if order is not None:
        return order.number
    return batch.run_label or f"B-{batch.id}"


def _results(scope: Scope) -> Select[Any]:
    """Valid numeric results of GMP batches in scope, with their batch and disposition."""
    stmt = (
        select(QcResult, Batch, QcRelease, PROGRAM_OF_BATCH)
        .join(Batch, QcResult.batch_id == Batch.id)
        .outerjoin(Order, Batch.order_id == Order.id)
        .outerjoin(QcRelease, QcRelease.batch_id == Batch.id)
        .where(QcResult.valid.is_(True), QcResult.value.is_not(None), Batch.gmp.is_(True))
    )
    return scope.filter(stmt, QcResult)


def _point(session: Session, result: QcResult, batch: Batch, rel: QcRelease) -> dom.Point:
    """A QC result as a point, in its specification's unit (the unit its value was converted
    to when it was judged)."""
    found = spec_test(session, result.spec_id, result.test_code)
    return dom.Point(
        batch_id=batch.id,
        batch=batch_label(batch),
        made_at=as_utc(batch.created_at),
        value=float(result.value or "nan"),
        unit=found[1].unit if found else None,
        rounded=result.rounded,
        outcome=result.outcome,
        version_id=result.spec_id,
        disposition=disposition(rel),
        result_id=result.id,
        source=f"qc_result {result.id}",
    )


def _record_point(batch: Batch, rel: QcRelease, read: record_values.RecordValue) -> dom.Point:
    """A batch-record value as a point, in the unit of the batch's MBR version."""
    return dom.Point(
        batch_id=batch.id,
        batch=batch_label(batch),
        made_at=as_utc(batch.created_at),
        value=read.value,
        unit=read.unit,
        rounded=read.typed or f"{read.value:.6g}",
        outcome=read.verdict or "derived",
        version_id=batch.mbr_id,
        disposition=disposition(rel),
        source=read.record,
        entry_seq=read.seq,
    )


def _decided(rel: QcRelease | None) -> bool:
    return rel is not None and rel.state in dom.DECIDED


def disposition(rel: QcRelease | None) -> str:
    """QA's disposition as lists show it: a conditional release completed by its last result
    is a release (``quality.release.display_state``)."""
    if rel is None:
        return "pending"
    if rel.state == "conditional" and rel.completed_at is not None:
        return "released"
    return rel.state


def approved_points(session: Session, scope: Scope, key: SeriesKey) -> tuple[list[dom.Point], int]:
    """The series' approved points (in chart order) and how many batches have a value (a
    valid result, or an entry of the record) still awaiting QA's disposition."""
    src = dom.source_of(key.attribute)
    if src.kind != "qc":
        return _process_points(session, scope, key, src)
    stmt = _results(scope).where(
        key.program_id == PROGRAM_OF_BATCH,
        Batch.site_id == key.site_id,
        QcResult.test_code == src.key,
    )
    points, waiting = [], 0
    for result, batch, rel, _ in session.execute(stmt):
        if not _decided(rel):
            waiting += 1
        else:
            points.append(_point(session, result, batch, rel))
    return dom.ordered(points), waiting


def _batches(scope: Scope) -> Select[Any]:
    """GMP batches in scope with their disposition and program."""
    stmt = (
        select(Batch, QcRelease, PROGRAM_OF_BATCH)
        .outerjoin(Order, Batch.order_id == Order.id)
        .outerjoin(QcRelease, QcRelease.batch_id == Batch.id)
        .where(Batch.gmp.is_(True))
    )
    return scope.filter(stmt, Batch)


def _process_points(
    session: Session, scope: Scope, key: SeriesKey, src: Source
) -> tuple[list[dom.Point], int]:
    rows = session.execute(
        _batches(scope).where(key.program_id == PROGRAM_OF_BATCH, Batch.site_id == key.site_id)
    ).all()
    records = record_values.load_records(session, [b.id for b, _, _ in rows])
    points, waiting = [], 0
    for batch, rel, _ in rows:
        read, _why = record_values.BatchValues(batch.id, records[batch.id]).read(src)
        if read is None:
            continue
        if not _decided(rel):
            waiting += 1
        else:
            points.append(_record_point(batch, rel, read))
    return dom.ordered(points), waiting


def all_series(session: Session, scope: Scope) -> dict[SeriesKey, list[dom.Point]]:
    """Every series in scope with its approved points: the QC results (one query) and every
    parameter, in-process control and growth quantity of the signed batches' records."""
    out: dict[SeriesKey, list[dom.Point]] = {}
    for result, batch, rel, program_id in session.execute(_results(scope)):
        if not _decided(rel):
            continue
        key = SeriesKey(program_id, batch.site_id, result.test_code)
        out.setdefault(key, []).append(_point(session, result, batch, rel))
    signed = [
        (b, rel, pid) for b, rel, pid in session.execute(_batches(scope)) if _decided(rel) and pid
    ]
    records = record_values.load_records(session, [b.id for b, _, _ in signed])
    for batch, rel, program_id in signed:
        recorded = record_values.BatchValues(batch.id, records[batch.id])
        for item in record_values.process_items(recorded.record.mbr):
            read, _why = recorded.read(item.source)
            if read is not None:
                key = SeriesKey(program_id, batch.site_id, item.source.text)
                out.setdefault(key, []).append(_record_point(batch, rel, read))
    return {k: dom.ordered(v) for k, v in out.items()}


def invalidated(session: Session, scope: Scope, key: SeriesKey) -> list[dict[str, Any]]:
    """Results of the series invalidated by their OOS investigation (never plotted; a
    batch-record value is corrected in the record, never invalidated)."""
    src = dom.source_of(key.attribute)
    if src.kind != "qc":
        return []
    stmt = (
        select(QcResult, Batch, QcInvestigation.number)
        .join(Batch, QcResult.batch_id == Batch.id)
        .outerjoin(Order, Batch.order_id == Order.id)
        .outerjoin(QcInvestigation, QcInvestigation.result_id == QcResult.id)
        .where(
            QcResult.valid.is_(False),
            key.program_id == PROGRAM_OF_BATCH,
            Batch.site_id == key.site_id,
            QcResult.test_code == src.key,
        )
        .order_by(Batch.created_at, QcResult.id)
    )
    return [
        {
            "result_id": r.id,
            "batch_id": b.id,
            "batch": batch_label(b),
            "value": r.value_text,
            "unit": r.unit,
            "rounded": r.rounded,
            "outcome": r.outcome,
            "invalidated_at": r.invalidated_at,
            "investigation": number,
        }
        for r, b, number in session.execute(scope.filter(stmt, QcResult))
    ]


def spec_test(session: Session, spec_id: int, test: str) -> tuple[QcSpec, qdomain.Test] | None:
    spec = session.get(QcSpec, spec_id)
    if spec is None:
        return None
    model = specs.model_of(spec)
    try:
        return spec, model.test(test)
    except KeyError:
        return None


@dataclass(frozen=True)
class Described:
    """What a series is, from the specification or MBR version of its latest point."""

    kind: str  # dom.QUALITY | dom.PROCESS
    name: str
    unit: str | None
    spec: dom.SpecLimits
    version_id: int | None  # the QcSpec or MasterBatchRecord row
    version_label: str | None
    position: int = 0  # a process parameter's place in the MBR (process order)

    @property
    def unit_text(self) -> str:
        if self.unit is None:
            return "no unit"
        return "1 (a ratio, no unit)" if self.unit == "1" else self.unit


def describe_series(session: Session, key: SeriesKey, points: list[dom.Point]) -> Described:
    """Name, unit and limits of the series as its latest point's specification (a quality
    attribute) or MBR version (a process parameter: PAR or acceptance limits) gives them."""
    src = dom.source_of(key.attribute)
    last = points[-1].version_id if points else None
    none = dom.SpecLimits(None, None, "")
    if src.kind == "qc":
        found = spec_test(session, last, src.key) if last is not None else None
        if found is None:
            return Described(dom.QUALITY, src.key, None, none, None, None)
        spec, test = found
        limits = dom.spec_limits(test, qdomain.criterion_text(test))
        return Described(
            dom.QUALITY, test.name, test.unit, limits, spec.id, f"{spec.product} v{spec.version}"
        )
    row = session.get(MasterBatchRecord, last) if last is not None else None
    if row is None:
        return Described(dom.PROCESS, key.attribute, None, dom.SpecLimits(None, None, "", "MBR"),
                         None, None)  # fmt: skip
    found = _process_items(mbrs.model_of(row)).get(src.text)
    if found is None:
        return Described(dom.PROCESS, key.attribute, None, dom.SpecLimits(None, None, "", "MBR"),
                         None, None)  # fmt: skip
    position, item = found
    text = item.limits_text()
    limits = dom.SpecLimits(item.limits.low, item.limits.high, text, "MBR")
    return Described(
        dom.PROCESS, item.name, item.unit, limits, row.id, f"MBR v{row.version}", position
    )


@functools.lru_cache(maxsize=32)
def _process_items(model: Mbr) -> dict[str, tuple[int, record_values.ProcessItem]]:
    """An MBR version's process values by series name, with their place in process order
    (kept for the next caller, as ``mbrs.model_of`` keeps the immutable model)."""
    items = record_values.process_items(model)
    return {item.source.text: (i, item) for i, item in enumerate(items)}


def effective_baseline(session: Session, key: SeriesKey) -> CpvBaseline | None:
    return session.scalars(
        select(CpvBaseline).where(
            CpvBaseline.program_id == key.program_id,
            CpvBaseline.site_id == key.site_id,
            CpvBaseline.test_code == key.attribute,
            CpvBaseline.status == EFFECTIVE,
        )
    ).first()


def baselines_of(session: Session, scope: Scope, key: SeriesKey) -> list[CpvBaseline]:
    stmt = scope.filter(select(CpvBaseline), CpvBaseline).where(
        CpvBaseline.program_id == key.program_id,
        CpvBaseline.site_id == key.site_id,
        CpvBaseline.test_code == key.attribute,
    )
    return list(session.scalars(stmt.order_by(CpvBaseline.frozen_at.desc(), CpvBaseline.id.desc())))


def effective_baselines(session: Session, scope: Scope) -> dict[SeriesKey, CpvBaseline]:
    stmt = scope.filter(select(CpvBaseline), CpvBaseline).where(CpvBaseline.status == EFFECTIVE)
    return {SeriesKey(b.program_id, b.site_id, b.test_code): b for b in session.scalars(stmt)}


def limits_of(b: CpvBaseline) -> dom.FrozenLimits:
    return dom.FrozenLimits(b.center, b.sigma, b.lcl, b.ucl, b.mr_center, b.mr_ucl)


def baseline_batches(b: CpvBaseline) -> frozenset[int]:
    return frozenset(int(p[0]) for p in json.loads(b.content)["points"])


def site_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    return dict(session.execute(select(Site.id, Site.name).where(Site.id.in_(wanted))).all())


def programs_by_id(session: Session, scope: Scope, ids: Iterable[int]) -> dict[int, Program]:
    wanted = set(ids)
    if not wanted:
        return {}
    stmt = scope.filter(select(Program), Program).where(Program.id.in_(wanted))
    return {p.id: p for p in session.scalars(stmt)}


# --------------------------------------------------------------------------------------------
# the batches of a period (all batches met specification)
# --------------------------------------------------------------------------------------------


def period_batches(
    session: Session, scope: Scope, program_id: int, start: dt.date | None, end: dt.date | None
) -> list[dom.BatchFacts]:
    """Every GMP batch of the program started in the period (UTC days, both included)."""
    stmt = scope.filter(select(Batch).outerjoin(Order, Batch.order_id == Order.id), Batch).where(
        Batch.gmp.is_(True), program_id == PROGRAM_OF_BATCH
    )
    rows = [
        b
        for b in session.scalars(stmt.order_by(Batch.created_at, Batch.id))
        if (start is None or as_utc(b.created_at).date() >= start)
        and (end is None or as_utc(b.created_at).date() <= end)
    ]
    ids = [b.id for b in rows]
    if not ids:
        return []
    rels = {
        r.batch_id: r for r in session.scalars(select(QcRelease).where(QcRelease.batch_id.in_(ids)))
    }
    results: dict[int, list[QcResult]] = {}
    for r in session.scalars(select(QcResult).where(QcResult.batch_id.in_(ids))):
        results.setdefault(r.batch_id, []).append(r)
    numbers = dict(
        session.execute(
            select(QcInvestigation.result_id, QcInvestigation.number).where(
                QcInvestigation.batch_id.in_(ids)
            )
        ).all()
    )
    sites = site_names(session, {b.site_id for b in rows})
    out = []
    for b in rows:
        rel = rels.get(b.id)
        mine = results.get(b.id, [])
        valid_codes = {r.test_code for r in mine if r.valid}
        pending: tuple[str, ...] = ()
        if rel is not None and rel.state == "conditional" and rel.completed_at is None:
            pending = tuple(c for c in json.loads(rel.pending) if c not in valid_codes)
        out.append(
            dom.BatchFacts(
                batch_id=b.id,
                batch=batch_label(b),
                site=sites.get(b.site_id, ""),
                made_at=as_utc(b.created_at),
                batch_status=b.status,
                disposition=disposition(rel),
                pending=pending,
                nonconforming=tuple(
                    (r.id, r.test_code) for r in mine if r.valid and r.outcome == "does not conform"
                ),
                invalidated=tuple(
                    (r.id, r.test_code, numbers.get(r.id)) for r in mine if not r.valid
                ),
            )
        )
    return out
