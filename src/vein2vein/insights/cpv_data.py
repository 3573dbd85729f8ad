"""The CPV series read from the record, within the caller's scope (docs/cpv.md): the approved
points of one product's attribute at one site, the results left out (invalidated, or awaiting
QA's disposition), the specification the latest point is judged by, and the baselines.

**Approved** (what enters a chart): a *valid* QC result (never one invalidated by its OOS
investigation) of a GMP batch whose disposition QA has signed: released, conditional,
exceptional or rejected (``qc_release``). A result entered after a conditional release counts
from its entry: the signed release tracks it to its end. A batch with no disposition yet is
counted beside the chart, not plotted. A chart therefore changes the moment QA signs a
disposition, and at no other time except a late result of a conditional release.
"""

from __future__ import annotations

import datetime as dt
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
from vein2vein.insights.cpv_tables import CpvBaseline
from vein2vein.manufacturing.tables import Batch
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
    test: str


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


def _point(result: QcResult, batch: Batch, rel: QcRelease) -> dom.Point:
    return dom.Point(
        batch_id=batch.id,
        batch=batch_label(batch),
        result_id=result.id,
        made_at=as_utc(batch.created_at),
        value=float(result.value or "nan"),
        rounded=result.rounded,
        outcome=result.outcome,
        spec_id=result.spec_id,
        disposition=disposition(rel),
    )


def disposition(rel: QcRelease | None) -> str:
    """QA's disposition as lists show it: a conditional release completed by its last result
    is a release (``quality.release.display_state``)."""
    if rel is None:
        return "pending"
    if rel.state == "conditional" and rel.completed_at is not None:
        return "released"
    return rel.state


def approved_points(session: Session, scope: Scope, key: SeriesKey) -> tuple[list[dom.Point], int]:
    """The series' approved points (in chart order) and how many batches have a valid result
    still awaiting QA's disposition."""
    stmt = _results(scope).where(
        key.program_id == PROGRAM_OF_BATCH,
        Batch.site_id == key.site_id,
        QcResult.test_code == key.test,
    )
    points, waiting = [], 0
    for result, batch, rel, _ in session.execute(stmt):
        if rel is None or rel.state not in dom.DECIDED:
            waiting += 1
        else:
            points.append(_point(result, batch, rel))
    return dom.ordered(points), waiting


def all_series(session: Session, scope: Scope) -> dict[SeriesKey, list[dom.Point]]:
    """Every series in scope with its approved points (one query)."""
    out: dict[SeriesKey, list[dom.Point]] = {}
    for result, batch, rel, program_id in session.execute(_results(scope)):
        if rel is None or rel.state not in dom.DECIDED:
            continue
        key = SeriesKey(program_id, batch.site_id, result.test_code)
        out.setdefault(key, []).append(_point(result, batch, rel))
    return {k: dom.ordered(v) for k, v in out.items()}


def invalidated(session: Session, scope: Scope, key: SeriesKey) -> list[dict[str, Any]]:
    """Results of the series invalidated by their OOS investigation (never plotted)."""
    stmt = (
        select(QcResult, Batch, QcInvestigation.number)
        .join(Batch, QcResult.batch_id == Batch.id)
        .outerjoin(Order, Batch.order_id == Order.id)
        .outerjoin(QcInvestigation, QcInvestigation.result_id == QcResult.id)
        .where(
            QcResult.valid.is_(False),
            key.program_id == PROGRAM_OF_BATCH,
            Batch.site_id == key.site_id,
            QcResult.test_code == key.test,
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


def effective_baseline(session: Session, key: SeriesKey) -> CpvBaseline | None:
    return session.scalars(
        select(CpvBaseline).where(
            CpvBaseline.program_id == key.program_id,
            CpvBaseline.site_id == key.site_id,
            CpvBaseline.test_code == key.test,
            CpvBaseline.status == EFFECTIVE,
        )
    ).first()


def baselines_of(session: Session, scope: Scope, key: SeriesKey) -> list[CpvBaseline]:
    stmt = scope.filter(select(CpvBaseline), CpvBaseline).where(
        CpvBaseline.program_id == key.program_id,
        CpvBaseline.site_id == key.site_id,
        CpvBaseline.test_code == key.test,
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
