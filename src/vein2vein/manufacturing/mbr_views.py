"""Reads of master batch records for pages, the API and the command line (no change, no audit
entry), within the caller's scope (``mbrs.scoped``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from vein2vein.auth.scope import Scope
from vein2vein.auth.signatures import signatures_for
from vein2vein.manufacturing import domain, mbr_yaml, mbrs
from vein2vein.manufacturing.tables import MasterBatchRecord


def _summary(row: MasterBatchRecord, signed: dict[str, str] | None = None) -> dict[str, Any]:
    return row.public() | {
        "product": row.program.code,
        "program_name": row.program.name,
        "site": row.site.name,
        "signed": signed or {},
    }


def mbr_list(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Every version the caller may see, by product, site and version (newest first)."""
    stmt = (
        mbrs.scoped(scope)
        .options(joinedload(MasterBatchRecord.program), joinedload(MasterBatchRecord.site))
        .order_by(
            MasterBatchRecord.program_id,
            MasterBatchRecord.site_id,
            MasterBatchRecord.version.desc(),
        )
    )
    rows = list(session.scalars(stmt).unique())
    signed = _signers(session, [r.id for r in rows])
    return [_summary(r, signed.get(str(r.id))) for r in rows]


def _signers(session: Session, ids: list[int]) -> dict[str, dict[str, str]]:
    from vein2vein.auth.tables import Signature

    out: dict[str, dict[str, str]] = {}
    if not ids:
        return out
    rows = session.execute(
        select(Signature.record_id, Signature.meaning, Signature.printed_name).where(
            Signature.record_type == mbrs.RECORD,
            Signature.record_id.in_([str(i) for i in ids]),
        )
    )
    for record_id, meaning, name in rows:
        out.setdefault(record_id, {})[meaning] = name
    return out


def mbr_detail(session: Session, scope: Scope, mbr_id: int | str) -> dict[str, Any]:
    """One version: its summary, content (operations, materials, equipment, calculations),
    signatures, the other versions of its product and site, and the hash a signer is shown."""
    row = mbrs.get_mbr(session, scope, mbr_id)
    model = mbrs.model_of(row)
    sigs = [s.public() for s in signatures_for(session, mbrs.RECORD, row.id)]
    siblings = session.scalars(
        mbrs.scoped(scope)
        .where(
            MasterBatchRecord.program_id == row.program_id,
            MasterBatchRecord.site_id == row.site_id,
            MasterBatchRecord.id != row.id,
        )
        .order_by(MasterBatchRecord.version)
    ).all()
    others = session.scalars(
        mbrs.scoped(scope)
        .where(MasterBatchRecord.program_id == row.program_id, MasterBatchRecord.id != row.id)
        .order_by(MasterBatchRecord.site_id, MasterBatchRecord.version)
    ).all()
    return {
        "mbr": _summary(row, {s["meaning"]: s["printed_name"] for s in sigs}),
        "content": domain.to_data(model),
        "calculated": {k: c.name for k, c in model.calculated().items()},
        "formulas": {f.value: spec.text for f, spec in domain.FORMULAS.items()},
        "signatures": sigs,
        "shown_hash": row.content_hash,
        "versions": [{"id": o.id, "version": o.version, "status": o.status} for o in siblings],
        "compare": [
            {"id": o.id, "version": o.version, "status": o.status, "site": o.site.name}
            for o in others
        ],
    }


def export_yaml(session: Session, scope: Scope, mbr_id: int | str) -> tuple[str, str]:
    """(file name, YAML text) of a version, its identity and signatures as header comments."""
    row = mbrs.get_mbr(session, scope, mbr_id)
    sigs = signatures_for(session, mbrs.RECORD, row.id)
    header = [
        f"Master batch record {row.program.code} at {row.site.name}, version {row.version} "
        f"({row.status})",
        f"content SHA-256 {row.content_hash}",
        *(f"{s.meaning} by {s.printed_name} on {s.signed_at:%Y-%m-%d %H:%M} UTC" for s in sigs),
        "Exported by vein2vein; importing this file makes a new DRAFT version.",
    ]
    name = f"{row.program.code.lower()}_site{row.site_id}_v{row.version}.yaml"
    return name, mbr_yaml.dump(mbrs.model_of(row), "\n".join(header))


def mbr_diff(session: Session, scope: Scope, a_id: int | str, b_id: int | str) -> dict[str, Any]:
    """The differences from version ``a`` to version ``b`` (any two the caller may see)."""
    a = mbrs.get_mbr(session, scope, a_id)
    b = mbrs.get_mbr(session, scope, b_id)
    changes = domain.diff(mbrs.model_of(a), mbrs.model_of(b))
    return {
        "a": _summary(a),
        "b": _summary(b),
        "changes": [c.as_dict() for c in changes],
    }


def mbr_editor(session: Session, scope: Scope, mbr_id: int | str) -> dict[str, Any]:
    """The editor of a draft: refused to whoever may not author, and for a signed version."""
    from vein2vein.auth.roles import Perm
    from vein2vein.core.errors import PermissionDenied, RuleViolation

    row = mbrs.get_mbr(session, scope, mbr_id)
    scope.require(Perm.MBR_AUTHOR)
    if not scope.is_cdmo:
        raise PermissionDenied("master batch records are written by the CDMO")
    if row.status != mbrs.DRAFT or signatures_for(session, mbrs.RECORD, row.id):
        raise RuleViolation(
            f"version {row.version} is {row.status} and signed: start a new version"
        )
    page = mbr_detail(session, scope, mbr_id)
    return page | {"kinds": [k.value for k in domain.MaterialKind]}
