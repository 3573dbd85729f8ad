"""Reads of product ↔ outcome for pages, API and CLI: the studies in scope, and one study's
subjects with their batch's attributes beside their outcome and the exploratory analyses.

Reading needs ``outcome.read``; the study is looked up through the caller's scope first (a
sponsor sees its own studies, never another sponsor's: *not found*). The outcome of each
subject is the readout of the study's newest dataset version under the study's own options
(``clinical.readouts.compute_readout``).
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.clinical.readouts import compute_readout
from vein2vein.clinical.studies import study_defaults
from vein2vein.clinical.tables import Study
from vein2vein.core.errors import InputError, NotFound, V2VError
from vein2vein.identity.tables import Order
from vein2vein.insights import outcome_analysis as oa
from vein2vein.insights.outcome_facts import product_facts
from vein2vein.insights.outcome_tables import OutcomeLink


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def studies(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """The studies in scope with how many subjects are linked to an order now."""
    scope.require(Perm.OUTCOME_READ)
    rows = session.scalars(
        scope.filter(select(Study), Study)
        .options(selectinload(Study.program), selectinload(Study.versions))
        .order_by(Study.code)
    ).all()
    links = session.scalars(
        scope.filter(select(OutcomeLink), OutcomeLink).where(OutcomeLink.unlinked_at.is_(None))
    ).all()
    linked: dict[int, int] = {}
    for link in links:
        linked[link.study_id] = linked.get(link.study_id, 0) + 1
    return [
        {
            "id": s.id,
            "code": s.code,
            "title": s.title,
            "program": s.program.code,
            "subjects": s.versions[-1].n_subjects if s.versions else 0,
            "linked": linked.get(s.id, 0),
        }
        for s in rows
    ]


def get_study(session: Session, scope: Scope, study_id: int | str) -> Study:
    study = get_scoped(session, scope, Study, study_id)
    scope.require(Perm.OUTCOME_READ)
    return study


def _links(session: Session, study: Study) -> list[OutcomeLink]:
    return list(
        session.scalars(
            select(OutcomeLink)
            .where(OutcomeLink.study_id == study.id)
            .options(selectinload(OutcomeLink.order))
            .order_by(OutcomeLink.id)
        )
    )


def study_outcome(
    session: Session, scope: Scope, study_id: int | str, km_attribute: str = "car_positive"
) -> dict[str, Any]:
    """Every subject of the study's newest dataset version with its linked order and batch,
    the product attributes beside BOR, best % change, PFS and OS, the link history, and the
    exploratory analyses (``analysis``: :class:`~vein2vein.insights.outcome_analysis.
    OutcomeAnalysis` as a dict)."""
    study = get_study(session, scope, study_id)
    try:
        oa.attribute(km_attribute)
    except KeyError as exc:
        raise InputError(str(exc.args[0]), field="km_attribute") from None
    links = _links(session, study)
    current = {link.subject_id: link for link in links if link.unlinked_at is None}
    version = study.versions[-1] if study.versions else None
    subjects: list[dict[str, Any]] = []
    readout_error = None
    if version is not None:
        try:
            _, result = compute_readout(session, scope, version.id, study_defaults(study))
            subjects = list(result.iter_subject_dicts())
        except (V2VError, ValueError) as exc:  # a readout that cannot be computed is shown
            readout_error = str(exc)
    rows = []
    for s in subjects:
        link = current.get(s["subject_id"])
        row: dict[str, Any] = {
            "subject_id": s["subject_id"],
            "dose_group": s.get("dose_group"),
            "bor": s.get("bor"),
            "best_pct_change": s.get("best_pct_change"),
            "pfs_days": s.get("pfs_days"),
            "pfs_event": s.get("pfs_event"),
            "os_days": s.get("os_days"),
            "os_event": s.get("os_event"),
            "linked": False,
            "link_id": None,
            "warnings": [],
        }
        if link is not None:
            order = session.get(Order, link.order_id)
            assert order is not None
            facts = product_facts(session, order)
            row |= facts.row() | {
                "linked": facts.batch_id is not None,
                "link_id": link.id,
                "warnings": list((link.checks or {}).get("warnings", [])),
            }
        else:
            row |= {a.key: None for a in oa.ATTRIBUTES}
        rows.append(_finite(row))
    analysis = oa.analyse(rows, km_attribute=km_attribute)
    return {
        "study": {"id": study.id, "code": study.code, "title": study.title},
        "version": version.public() if version is not None else None,
        "readout_error": readout_error,
        "rows": rows,
        "attributes": [
            {"key": a.key, "name": a.name, "unit": a.unit, "digits": a.digits}
            for a in oa.ATTRIBUTES
        ],
        "km_attribute": km_attribute,
        "links": [link.public() for link in links],
        "analysis": _finite(analysis.to_dict()),
        "summary": analysis.summary(),
    }


def study_id_of(session: Session, scope: Scope, ref: str) -> int:
    """A study named by id or by code (the command line), within scope."""
    ref = ref.strip()
    if ref.isdigit():
        return get_study(session, scope, ref).id
    rows = session.scalars(scope.filter(select(Study), Study).where(Study.code == ref)).all()
    if len(rows) != 1:
        raise NotFound(f"study {ref} not found" if not rows else f"study code {ref} is ambiguous")
    scope.require(Perm.OUTCOME_READ)
    return rows[0].id
