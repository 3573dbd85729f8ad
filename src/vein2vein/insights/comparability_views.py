"""Reads of comparability protocols and runs for pages, API and CLI (``(session, scope, ids)
-> plain dicts``), scoped like the services.

Blinding (``comparability_domain.test_arm_visible``): for a version not yet approved, the
detail carries the reference arm's values and the summaries a margin or range is set from,
and of the test arm only which batches it will hold; runs exist only for approved versions.
"""

from __future__ import annotations

import json
import statistics
import warnings
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope, scoped_select
from vein2vein.auth.signatures import signatures_for
from vein2vein.core.canonical import sha256_hex
from vein2vein.insights import comparability_data as data
from vein2vein.insights import comparability_domain as rules
from vein2vein.insights import comparability_service as service
from vein2vein.insights.comparability_tables import CmpProtocol, CmpRun
from vein2vein.stats.comparability import DEFAULT_METHOD_BY_TIER, ComparabilityResult
from vein2vein.stats.errors import StatisticalWarning


def summary(row: CmpProtocol) -> dict[str, Any]:
    return {
        "id": row.id,
        "number": row.number,
        "version": row.version,
        "label": service.label(row),
        "title": row.title,
        "status": row.status,
        "program": row.program.code,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "authored_at": row.authored_at,
        "authored_by": row.authored_by,
        "approved_at": row.approved_at,
        "approved_by": row.approved_by,
        "superseded_at": row.superseded_at,
        "content_hash": row.content_hash,
    }


#: the versions the caller may approve: authored by someone else (the QA approver's queue)
TO_APPROVE = "to_approve"


def list_protocols(
    session: Session, scope: Scope, status: str | None = None
) -> list[dict[str, Any]]:
    """Every protocol version in scope, or only those in ``status`` (draft, authored, approved,
    superseded), or :data:`TO_APPROVE`: authored by someone other than the caller, who may
    approve them (``comparability_domain.check_approval``)."""
    scope.require(Perm.COMPARABILITY_READ)
    stmt = scoped_select(scope, CmpProtocol)
    if status == TO_APPROVE:
        stmt = stmt.where(
            CmpProtocol.status == rules.AUTHORED,
            func.lower(CmpProtocol.authored_by) != scope.username.lower(),
        )
    elif status is not None:
        stmt = stmt.where(CmpProtocol.status == status)
    rows = session.scalars(stmt.order_by(CmpProtocol.number, CmpProtocol.version.desc()))
    return [summary(r) for r in rows]


def _reference_preview(
    content: dict[str, Any], values: list[data.StoredValue]
) -> list[dict[str, Any]]:
    """Per attribute, the reference arm's values and what the protocol would set from them
    (the margin k·s_R, the range x̄ ± k·s_R or min-max): what the author needs, no more."""
    out = []
    for a in content["attributes"]:
        xs = [v.value for v in values if v.attribute == a["name"]]
        n = len(xs)
        mean = statistics.fmean(xs) if xs else None
        sd = statistics.stdev(xs) if n > 1 else None
        implied = _implied(a, xs, mean, sd)
        out.append(
            {
                "name": a["name"],
                "source": a["source"],
                "n": n,
                "mean": mean,
                "sd": sd,
                "minimum": min(xs) if xs else None,
                "maximum": max(xs) if xs else None,
                "values": [_value(v) for v in values if v.attribute == a["name"]],
                "implied": implied,
                "few_lots": n < 6,
            }
        )
    return out


def _value(v: data.StoredValue) -> dict[str, Any]:
    return {"batch_id": v.batch_id, "order": v.order, "value": v.value, "unit": v.unit,
            "record": v.record}  # fmt: skip


def _implied(a: dict[str, Any], xs: list[float], mean: float | None, sd: float | None) -> str:
    """What the reference values make of the attribute's criterion (a preview; the engine's
    run is the result)."""
    method = a.get("method") or DEFAULT_METHOD_BY_TIER[int(a.get("tier", 1))]
    if method == "tost":
        if a.get("margin_sd") is not None and sd is not None:
            if a.get("scale") == "ratio":
                return f"ratio margin from {a['margin_sd']:g} x s_R of the ln values"
            return f"margin ±{a['margin_sd'] * sd:.4g} ({a['margin_sd']:g} x s_R)"
        if a.get("margin") is not None:
            return f"margin ±{a['margin']:g}"
        if a.get("lower") is not None:
            return f"bounds ({a['lower']:g}, {a['upper']:g})"
    if method == "quality_range" and sd is not None and mean is not None:
        k = a.get("k", 3.0)
        return f"range ({mean - k * sd:.4g}, {mean + k * sd:.4g}) = mean ± {k:g} s_R"
    if method == "minmax" and xs:
        return f"range ({min(xs):.4g}, {max(xs):.4g})"
    return ""


def protocol_detail(session: Session, scope: Scope, protocol_id: int | str) -> dict[str, Any]:
    row = service.get_protocol(session, scope, protocol_id)
    content = service.content_of(row)
    visible = rules.test_arm_visible(row.status)
    chosen = data.arm_batches(session, row.program_id, content)
    ref_values, ref_missing = data.read_values(session, content, chosen, (data.REFERENCE,))
    versions = session.scalars(
        select(CmpProtocol)
        .where(CmpProtocol.program_id == row.program_id, CmpProtocol.number == row.number)
        .order_by(CmpProtocol.version)
    ).all()
    runs = (
        session.scalars(
            select(CmpRun).where(CmpRun.protocol_id == row.id).order_by(CmpRun.id.desc())
        ).all()
        if visible
        else []
    )
    return summary(row) | {
        "content": content,
        "yaml": rules.to_yaml(content),
        "shown_hash": sha256_hex(service.signed_content(row)),
        "test_arm_visible": visible,
        "reference_arm": content["reference"],
        "test_arm": content["test"],
        "reference_batches": [vars(b) for b in chosen if b.arm == data.REFERENCE],
        "test_batches": [
            {"batch_id": b.batch_id, "order": b.order} for b in chosen if b.arm == data.TEST
        ],
        "reference_preview": _reference_preview(content, ref_values),
        "reference_missing": [vars(m) for m in ref_missing],
        "written_after_unblinding": written_after_unblinding(row, list(versions)),
        "versions": [
            {"id": v.id, "version": v.version, "status": v.status, "label": service.label(v)}
            for v in versions
        ],
        "signatures": [s.public() for s in signatures_for(session, service.RECORD, row.id)],
        "runs": [_run_summary(r) for r in runs],
    }


def written_after_unblinding(row: CmpProtocol, versions: list[CmpProtocol]) -> str | None:
    """Why a later version was written knowing the test arm: an earlier version of the same
    protocol had been approved (its test arm shown) before this one was written."""
    seen = [
        v for v in versions
        if v.version < row.version and v.approved_at is not None and v.approved_at <= row.created_at
    ]  # fmt: skip
    if not seen:
        return None
    first = seen[0]
    return (
        f"written after version {first.version} was approved on {first.approved_at:%Y-%m-%d} "
        "and the results of the test arm could be shown"
    )


def _run_summary(r: CmpRun) -> dict[str, Any]:
    return {
        "id": r.id,
        "protocol_id": r.protocol_id,
        "run_at": r.run_at,
        "run_by": r.run_by,
        "inputs_hash": r.inputs_hash,
        "conclusion": r.conclusion,
    }


def run_detail(session: Session, scope: Scope, run_id: int | str) -> dict[str, Any]:
    """A run: the protocol version it applied (and whether it was superseded since), the
    values used with their records, the stored result, and the engine's result recomputed from
    the stored values (``result``, for the figures), which must agree with the stored one."""
    run = service.get_run(session, scope, run_id)
    row = run.protocol
    versions = session.scalars(
        select(CmpProtocol)
        .where(CmpProtocol.program_id == row.program_id, CmpProtocol.number == row.number)
        .order_by(CmpProtocol.version)
    ).all()
    later = [v for v in versions if v.version > row.version and v.status != rules.DRAFT]
    inputs = json.loads(run.inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        result: ComparabilityResult = service.evaluate(row, inputs)
    return {
        "run": _run_summary(run),
        "protocol": summary(row),
        "content": service.content_of(row),
        "superseded": row.status == rules.SUPERSEDED,
        "superseded_by": [service.label(v) for v in later],
        "written_after_unblinding": written_after_unblinding(row, list(versions)),
        "signatures": [s.public() for s in signatures_for(session, service.RECORD, row.id)],
        "inputs": inputs,
        "stored_result": json.loads(run.result),
        "result": result,
    }


def run_json(detail: dict[str, Any]) -> dict[str, Any]:
    """A run as the API and ``--json`` give it (the stored result, not the recomputed one)."""
    return {k: v for k, v in detail.items() if k != "result"}
