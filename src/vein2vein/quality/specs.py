"""Use cases of specifications: import a version (draft), approve it with an electronic
signature (it becomes effective and supersedes the one before), and find the version in force
for a batch.

A version belongs to the sponsor whose program's product it specifies (the sponsor reads its
own specifications, and nothing of another client's). Versions are numbered per program, stage
and phase (1, 2, ...). Approval locks the draft's row first, as signing does, so two approvers
at once are taken one after the other; the second finds it effective. The author of a version
does not approve it (two people, EU GMP Part I §4.3 and Annex 11 §14).

**Version in force.** A batch is judged against the drug-product specification of its
program's phase that was effective when the batch was made (``Batch.created_at``): effective at
or before that time, and not superseded before it. A later version never changes how an
earlier batch is judged (DESIGN "Versions").
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.auth.signatures import require_credentials, sign, signatures_for
from vein2vein.auth.tables import Signature
from vein2vein.core.canonical import canonical_json, sha256_hex
from vein2vein.core.clock import as_utc, utcnow
from vein2vein.core.errors import InputError, PermissionDenied, RuleViolation
from vein2vein.core.settings import Settings
from vein2vein.manufacturing.tables import Batch
from vein2vein.programs.tables import Program
from vein2vein.quality import domain, spec_yaml
from vein2vein.quality.domain import Phase, Specification, Stage
from vein2vein.quality.tables import QcSpec
from vein2vein.store.uow import UnitOfWork

RECORD = "qc_spec"
APPROVE_MEANING = "approved"
DRAFT, EFFECTIVE, SUPERSEDED = "draft", "effective", "superseded"


def get_spec(session: Session, scope: Scope, spec_id: int | str, *, lock: bool = False) -> QcSpec:
    spec = get_scoped(session, scope, QcSpec, spec_id)
    scope.require(Perm.QC_READ)
    if lock:
        spec = session.get_one(QcSpec, spec.id, with_for_update=True, populate_existing=True)
    return spec


@lru_cache(maxsize=64)
def _model(content: str) -> Specification:
    return domain.from_data(json.loads(content))


def model_of(spec: QcSpec) -> Specification:
    """The specification a stored version holds (parsed once per content)."""
    return _model(spec.content)


def label(spec: QcSpec) -> str:
    return f"{spec.product} {spec.stage} {spec.phase} v{spec.version}"


def program_phase(program: Program) -> Phase | None:
    """The program's clinical phase as a specification names it ('Phase 1' → phase_1)."""
    text = "_".join(program.phase.strip().lower().replace("-", " ").split())
    try:
        return Phase(text)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# import and approve
# --------------------------------------------------------------------------------------------


def import_spec(uow: UnitOfWork, scope: Scope, text: str, file: str = "spec.yaml") -> QcSpec:
    """A new draft version from a YAML file (``docs/quality.md`` gives the format); the
    program is the one whose code the file names."""
    if not scope.is_cdmo:
        raise PermissionDenied("specifications are written by the CDMO's quality unit")
    scope.require(Perm.SPEC_AUTHOR)
    spec = spec_yaml.parse(text, file)
    return store_spec(uow, scope, spec, file=file)


def store_spec(uow: UnitOfWork, scope: Scope, spec: Specification, *, file: str = "") -> QcSpec:
    s = uow.session
    program = s.scalars(select(Program).where(Program.code == spec.product)).first()
    if program is None:
        raise InputError(f"{file or 'the specification'}: no program has the code {spec.product}")
    last = s.scalar(
        select(func.max(QcSpec.version)).where(
            QcSpec.program_id == program.id,
            QcSpec.stage == spec.stage.value,
            QcSpec.phase == spec.phase.value,
        )
    )
    data = domain.to_data(spec)
    row = QcSpec(
        organisation_id=program.organisation_id,
        program_id=program.id,
        product=spec.product,
        stage=spec.stage.value,
        phase=spec.phase.value,
        version=(last or 0) + 1,
        title=spec.title,
        content=canonical_json(data).decode(),
        content_hash=sha256_hex(data),
        status=DRAFT,
        created_by=uow.actor.name,
        created_at=utcnow(),
    )
    s.add(row)
    s.flush()
    uow.record(
        "qc.spec_import",
        RECORD,
        row.id,
        after={"spec": label(row), "file": file, "content_hash": row.content_hash},
        organisation_id=row.organisation_id,
    )
    return row


def content(spec: QcSpec) -> dict[str, Any]:
    """What the approver signs: which version of what, and its content."""
    return {
        "program_id": spec.program_id,
        "product": spec.product,
        "stage": spec.stage,
        "phase": spec.phase,
        "version": spec.version,
        "content_hash": spec.content_hash,
        "specification": json.loads(spec.content),
    }


def approve(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    spec_id: int | str,
    *,
    username: str,
    password: str,
    shown_hash: str | None = None,
) -> Signature:
    """QA approves a draft (meaning: approved): it becomes effective at the signature's time
    and the version effective until then is superseded at that moment."""
    s = uow.session
    spec = get_spec(s, scope, spec_id, lock=True)
    scope.require(Perm.SPEC_APPROVE)
    if spec.status != DRAFT:
        raise RuleViolation(f"specification {label(spec)} is already {spec.status}")
    if spec.created_by.lower() == scope.username.lower():
        raise RuleViolation(
            f"you wrote specification {label(spec)}: another person approves it (EU GMP Part I 4.3)"
        )
    require_credentials(username, password)
    sig = sign(
        uow,
        settings,
        signer_id=scope.user_id,
        username=username,
        password=password,
        record_type=RECORD,
        record_id=spec.id,
        organisation_id=spec.organisation_id,
        meaning=APPROVE_MEANING,
        content=content(spec),
        shown_hash=shown_hash,
        reason=f"approving specification {label(spec)}",
    )
    previous = s.scalars(
        select(QcSpec)
        .where(
            QcSpec.program_id == spec.program_id,
            QcSpec.stage == spec.stage,
            QcSpec.phase == spec.phase,
            QcSpec.status == EFFECTIVE,
        )
        .with_for_update()
    ).all()
    for old in previous:
        old.status = SUPERSEDED
        old.superseded_at = sig.signed_at
        uow.record(
            "qc.spec_superseded",
            RECORD,
            old.id,
            before={"status": EFFECTIVE},
            after={"status": SUPERSEDED, "by": label(spec)},
            organisation_id=old.organisation_id,
        )
    spec.status = EFFECTIVE
    spec.effective_at = sig.signed_at
    spec.effective_by = scope.username
    uow.record(
        "qc.spec_effective",
        RECORD,
        spec.id,
        before={"status": DRAFT},
        after={"status": EFFECTIVE, "signature_id": sig.id},
        organisation_id=spec.organisation_id,
    )
    return sig


# --------------------------------------------------------------------------------------------
# the version in force
# --------------------------------------------------------------------------------------------


def in_force(
    session: Session, program: Program, at: dt.datetime, stage: Stage = Stage.DRUG_PRODUCT
) -> QcSpec | None:
    """The version of ``program``'s specification for ``stage`` (and its phase) in force at
    ``at``, or None."""
    stmt = select(QcSpec).where(
        QcSpec.program_id == program.id,
        QcSpec.stage == stage.value,
        QcSpec.status.in_((EFFECTIVE, SUPERSEDED)),
        QcSpec.effective_at <= at,
        or_(QcSpec.superseded_at.is_(None), QcSpec.superseded_at > at),
    )
    phase = program_phase(program)
    if phase is not None:
        stmt = stmt.where(QcSpec.phase == phase.value)
    return session.scalars(stmt.order_by(QcSpec.effective_at.desc(), QcSpec.id.desc())).first()


def effective_versions(session: Session) -> list[QcSpec]:
    """Every version ever effective (for lists that pick the one in force per batch)."""
    return list(session.scalars(select(QcSpec).where(QcSpec.status.in_((EFFECTIVE, SUPERSEDED)))))


def in_force_among(
    versions: list[QcSpec], program: Program, at: dt.datetime, stage: Stage = Stage.DRUG_PRODUCT
) -> QcSpec | None:
    """:func:`in_force` over versions already read."""
    phase = program_phase(program)
    found = [
        v
        for v in versions
        if v.program_id == program.id
        and v.stage == stage.value
        and (phase is None or v.phase == phase.value)
        and v.effective_at is not None
        and as_utc(v.effective_at) <= as_utc(at)
        and (v.superseded_at is None or as_utc(v.superseded_at) > as_utc(at))
    ]
    return max(found, key=lambda v: (as_utc(v.effective_at), v.id), default=None)  # type: ignore[arg-type]


def program_of(batch: Batch) -> Program:
    program = batch.order.program if batch.order is not None else batch.program
    assert program is not None  # a GMP batch has its order, a run its program (CHECK)
    return program


def for_batch(session: Session, batch: Batch) -> QcSpec | None:
    """The drug-product specification version ``batch`` is judged against."""
    return in_force(session, program_of(batch), batch.created_at)


# --------------------------------------------------------------------------------------------
# reads
# --------------------------------------------------------------------------------------------


def summary(spec: QcSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "label": label(spec),
        "product": spec.product,
        "stage": spec.stage,
        "phase": spec.phase,
        "version": spec.version,
        "title": spec.title,
        "status": spec.status,
        "content_hash": spec.content_hash,
        "created_at": spec.created_at,
        "created_by": spec.created_by,
        "effective_at": spec.effective_at,
        "effective_by": spec.effective_by,
        "superseded_at": spec.superseded_at,
    }


def list_specs(session: Session, scope: Scope) -> list[dict[str, Any]]:
    scope.require(Perm.QC_READ)
    stmt = scope.filter(select(QcSpec), QcSpec).order_by(
        QcSpec.product, QcSpec.stage, QcSpec.phase, QcSpec.version.desc()
    )
    return [summary(s) for s in session.scalars(stmt)]


def spec_detail(session: Session, scope: Scope, spec_id: int | str) -> dict[str, Any]:
    spec = get_spec(session, scope, spec_id)
    model = model_of(spec)
    return summary(spec) | {
        "tests": [
            {
                "code": t.code,
                "name": t.name,
                "category": t.category.value,
                "method": t.method,
                "unit": t.unit,
                "criterion": domain.criterion_text(t),
                "after_release": t.after_release,
            }
            for t in model.tests
        ],
        "shown_hash": sha256_hex(content(spec)),
        "signatures": [sig.public() for sig in signatures_for(session, RECORD, spec.id)],
    }
