"""The 3.2.P.2 comparability summary's builder: the program's comparability protocols and
their stored runs in the caller's scope (comparability's own tables and signatures), turned
into plain values for ``ctd_comparability`` (which studies, which runs: its docstring and
docs/ctd.md). Nothing is recomputed: the result shown is the run's stored JSON."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope, scoped_select
from vein2vein.auth.signatures import signatures_for
from vein2vein.core.clock import as_utc
from vein2vein.insights import comparability_data as data
from vein2vein.insights import comparability_domain as rules
from vein2vein.insights.comparability_service import RECORD, label
from vein2vein.insights.comparability_tables import CmpProtocol, CmpRun
from vein2vein.insights.ctd_batches import Built
from vein2vein.insights.ctd_comparability import (
    CmpRunRef,
    CmpSigned,
    CmpStudy,
    comparability_summary,
)
from vein2vein.insights.ctd_domain import CtdContent, Stamp
from vein2vein.programs.tables import Program

__all__ = ["comparability_document", "studies"]


def _arm(arm: dict[str, Any]) -> str:
    version = f", MBR v{arm['mbr_version']}" if arm.get("mbr_version") is not None else ""
    return f"{arm['label']} ({arm['site']}{version})"


def _ref(row: CmpProtocol, run: CmpRun) -> CmpRunRef:
    return CmpRunRef(label(row), row.id, run.id, as_utc(run.run_at), run.conclusion)


def _study(
    session: Session, row: CmpProtocol, runs: list[CmpRun], superseded: list[CmpRunRef]
) -> CmpStudy:
    content = json.loads(row.content)
    last = runs[-1]
    inputs, result = json.loads(last.inputs), json.loads(last.result)
    arm_label = {data.REFERENCE: content["reference"]["label"], data.TEST: content["test"]["label"]}
    batches = tuple(
        (arm_label.get(b["arm"], b["arm"]), b["order"], int(b["batch_id"]))
        for b in inputs["batches"]
    )
    result_ids = sorted(
        {
            int(v[6].split()[1])
            for v in inputs["values"]
            if str(v[6]).startswith("qc_result ") and str(v[6]).split()[1].isdigit()
        }
    )
    signed = tuple(
        CmpSigned(g.meaning, g.printed_name, as_utc(g.signed_at), g.id)
        for g in signatures_for(session, RECORD, row.id)
    )
    return CmpStudy(
        protocol_id=row.id,
        number=row.number,
        version=row.version,
        title=row.title,
        change=content.get("change", ""),
        reference=_arm(content["reference"]),
        test=_arm(content["test"]),
        approvals=signed,
        run_id=last.id,
        run_at=as_utc(last.run_at),
        run_by=last.run_by,
        inputs_hash=last.inputs_hash,
        conclusion=last.conclusion,
        batches=batches,
        attributes=tuple(result.get("attributes", ())),
        missing=tuple(
            f"{arm_label.get(m['arm'], m['arm'])} {m['attribute']} {m['order']} "
            f"(batch {m['batch_id']}): {m['reason']}"
            for m in inputs.get("missing", ())
        ),
        earlier_runs=tuple(_ref(row, r) for r in runs[:-1]),
        superseded=tuple(superseded),
        result_ids=tuple(result_ids),
        batch_ids=tuple(sorted({b[2] for b in batches})),
    )


def studies(session: Session, scope: Scope, program: Program) -> tuple[list[CmpStudy], list[str]]:
    """The program's studies (current approved version with a run) and the approved versions
    not yet run, in protocol-number order."""
    scope.require(Perm.COMPARABILITY_READ)
    rows = list(
        session.scalars(
            scoped_select(scope, CmpProtocol)
            .where(CmpProtocol.program_id == program.id)
            .order_by(CmpProtocol.number, CmpProtocol.version)
        )
    )
    ids = [r.id for r in rows]
    runs: dict[int, list[CmpRun]] = {}
    if ids:
        for run in session.scalars(
            scoped_select(scope, CmpRun)
            .where(CmpRun.protocol_id.in_(ids))
            .order_by(CmpRun.run_at, CmpRun.id)
        ):
            runs.setdefault(run.protocol_id, []).append(run)
    out: list[CmpStudy] = []
    not_run: list[str] = []
    for number in sorted({r.number for r in rows}):
        versions = [r for r in rows if r.number == number]
        current = [r for r in versions if r.status == rules.APPROVED]
        if not current:
            continue
        row = current[-1]
        if not runs.get(row.id):
            not_run.append(label(row))
            continue
        older = [
            _ref(v, run)
            for v in versions
            if v.version < row.version and v.status == rules.SUPERSEDED
            for run in runs.get(v.id, [])
        ]
        out.append(_study(session, row, runs[row.id], older))
    return out, not_run


def comparability_document(session: Session, scope: Scope, program: Program, stamp: Stamp) -> Built:
    found, not_run = studies(session, scope, program)
    content = CtdContent(
        program_id=program.id,
        program_code=program.code,
        program_name=program.name,
        product=program.product,
        sponsor=program.organisation.name,
        batches=(),
        specs={},
    )
    records = {
        "cmp_protocol": sorted({s.protocol_id for s in found}),
        "cmp_run": sorted({s.run_id for s in found}),
        "mfg_batch": sorted({i for s in found for i in s.batch_ids}),
        "qc_result": sorted({i for s in found for i in s.result_ids}),
    }
    return Built(comparability_summary(content, found, stamp, not_run=not_run), records)
