"""Use cases of comparability protocols: write a version (draft), edit it, sign it (the author:
authored; a second person: approved), make the next version, and run an approved version on
the stored, approved results (docs/comparability.md). One unit of work each, owned by the
caller; every change with its audit entry.

A protocol belongs to the sponsor whose program it compares (the sponsor reads its own,
nothing of another client's); it is written, signed and run by the CDMO's quality unit.

**Locks.** Editing, signing, approving and revising a version take its row lock first
(``SELECT ... FOR UPDATE``), and only then look at its status and signatures, so two people
signing or editing at once are taken one after the other: the second finds it signed. Approving
also locks the approved version it supersedes.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope, get_scoped, scoped_select
from vein2vein.auth.signatures import ensure_unlocked, require_credentials, sign
from vein2vein.auth.tables import Signature
from vein2vein.core.canonical import canonical_json, sha256_hex
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import InputError, PermissionDenied, RuleViolation
from vein2vein.core.settings import Settings
from vein2vein.insights import comparability_data as data
from vein2vein.insights import comparability_domain as rules
from vein2vein.insights.comparability_tables import CmpProtocol, CmpRun
from vein2vein.programs.tables import Program
from vein2vein.stats.comparability import ComparabilityResult, LotValue, run_comparability
from vein2vein.store.locks import lock_row
from vein2vein.store.uow import UnitOfWork

RECORD, RUN_RECORD = "cmp_protocol", "cmp_run"


def get_protocol(
    session: Session, scope: Scope, protocol_id: int | str, *, lock: bool = False
) -> CmpProtocol:
    row = get_scoped(session, scope, CmpProtocol, protocol_id)
    scope.require(Perm.COMPARABILITY_READ)
    if lock:
        row = session.get_one(CmpProtocol, row.id, with_for_update=True, populate_existing=True)
    return row


def get_run(session: Session, scope: Scope, run_id: int | str) -> CmpRun:
    row = get_scoped(session, scope, CmpRun, run_id)
    scope.require(Perm.COMPARABILITY_READ)
    return row


def content_of(row: CmpProtocol) -> dict[str, Any]:
    return json.loads(row.content)


def label(row: CmpProtocol) -> str:
    return f"{row.number} v{row.version}"


def signed_content(row: CmpProtocol) -> dict[str, Any]:
    """What both signatures sign: which version of which protocol, and its content."""
    return {
        "number": row.number,
        "version": row.version,
        "program_id": row.program_id,
        "content_hash": row.content_hash,
        "protocol": content_of(row),
    }


def _author_scope(scope: Scope) -> None:
    if not scope.is_cdmo:
        raise PermissionDenied("comparability protocols are written by the CDMO's quality unit")
    scope.require(Perm.COMPARABILITY_AUTHOR)


def _program(session: Session, scope: Scope, code: str) -> Program:
    program = session.scalars(scoped_select(scope, Program).where(Program.code == code)).first()
    if program is None:
        raise InputError(f"no program has the code {code}", field="program")
    return program


def _set_content(row: CmpProtocol, content: dict[str, Any]) -> None:
    row.content = canonical_json(content).decode()
    row.content_hash = sha256_hex(content)
    row.title = content["title"]


# --------------------------------------------------------------------------------------------
# write, edit, sign, approve, revise
# --------------------------------------------------------------------------------------------


def create(uow: UnitOfWork, scope: Scope, text: str, file: str = "protocol.yaml") -> CmpProtocol:
    """Version 1 of a new protocol, a draft, from its YAML (``comparability_domain``)."""
    _author_scope(scope)
    content = rules.parse_yaml(text, file)
    s = uow.session
    program = _program(s, scope, content["program"])
    lock_row(s, Program, program.id)  # two protocols written at once never share a number
    count = s.scalar(
        select(func.count(func.distinct(CmpProtocol.number))).where(
            CmpProtocol.program_id == program.id
        )
    )
    row = CmpProtocol(
        organisation_id=program.organisation_id,
        program_id=program.id,
        number=f"CP-{program.code}-{(count or 0) + 1:02d}",
        version=1,
        status=rules.DRAFT,
        created_at=utcnow(),
        created_by=uow.actor.name,
    )
    _set_content(row, content)
    s.add(row)
    s.flush()
    uow.record(
        "comparability.protocol_create",
        RECORD,
        row.id,
        after={"protocol": label(row), "file": file, "content_hash": row.content_hash},
        organisation_id=row.organisation_id,
    )
    return row


def edit(
    uow: UnitOfWork, scope: Scope, protocol_id: int | str, text: str, file: str = "protocol.yaml"
) -> CmpProtocol:
    """Replace a draft's content (its author only; a signed version is never edited)."""
    s = uow.session
    row = get_protocol(s, scope, protocol_id, lock=True)
    _author_scope(scope)
    ensure_unlocked(s, RECORD, row.id)
    rules.check_edit(row.status)
    if row.created_by.lower() != scope.username.lower():
        raise RuleViolation(f"{label(row)} is {row.created_by}'s draft: its author edits it")
    content = rules.parse_yaml(text, file)
    if _program(s, scope, content["program"]).id != row.program_id:
        raise InputError("a version stays with its protocol's program", field="program")
    before = row.content_hash
    _set_content(row, content)
    uow.record(
        "comparability.protocol_edit",
        RECORD,
        row.id,
        before={"content_hash": before},
        after={"content_hash": row.content_hash},
        organisation_id=row.organisation_id,
    )
    return row


def sign_authored(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    protocol_id: int | str,
    *,
    username: str,
    password: str,
    shown_hash: str | None = None,
) -> Signature:
    """The author signs the draft (meaning: authored): its content is locked from now on."""
    s = uow.session
    row = get_protocol(s, scope, protocol_id, lock=True)
    _author_scope(scope)
    rules.check_author_signature(row.status, row.created_by, scope.username)
    sig = _sign(uow, settings, scope, row, rules.AUTHORED_MEANING, "authoring",
                username, password, shown_hash)  # fmt: skip
    row.status, row.authored_at, row.authored_by = rules.AUTHORED, sig.signed_at, scope.username
    uow.record(
        "comparability.protocol_authored",
        RECORD,
        row.id,
        before={"status": rules.DRAFT},
        after={"status": rules.AUTHORED, "signature_id": sig.id},
        organisation_id=row.organisation_id,
    )
    return sig


def _sign(
    uow: UnitOfWork,
    settings: Settings,
    scope: Scope,
    row: CmpProtocol,
    meaning: str,
    doing: str,
    username: str,
    password: str,
    shown_hash: str | None,
) -> Signature:
    """The caller's signature of ``meaning`` over the version's content as signed."""
    require_credentials(username, password)
    return sign(
        uow, settings, signer_id=scope.user_id, username=username, password=password,
        record_type=RECORD, record_id=row.id, organisation_id=row.organisation_id,
        meaning=meaning, content=signed_content(row), shown_hash=shown_hash,
        reason=f"{doing} comparability protocol {label(row)}",
    )  # fmt: skip


def approve(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    protocol_id: int | str,
    *,
    username: str,
    password: str,
    shown_hash: str | None = None,
) -> Signature:
    """A second person approves the authored version (meaning: approved); the version of the
    same protocol approved until then is superseded at that moment."""
    s = uow.session
    row = get_protocol(s, scope, protocol_id, lock=True)
    if not scope.is_cdmo:
        raise PermissionDenied("comparability protocols are approved by the CDMO's quality unit")
    scope.require(Perm.COMPARABILITY_APPROVE)
    rules.check_approval(row.status, row.authored_by, scope.username)
    sig = _sign(uow, settings, scope, row, rules.APPROVED_MEANING, "approving",
                username, password, shown_hash)  # fmt: skip
    earlier = s.scalars(
        select(CmpProtocol)
        .where(
            CmpProtocol.program_id == row.program_id,
            CmpProtocol.number == row.number,
            CmpProtocol.status == rules.APPROVED,
        )
        .with_for_update()
    ).all()
    for old in earlier:
        old.status, old.superseded_at = rules.SUPERSEDED, sig.signed_at
        uow.record(
            "comparability.protocol_superseded",
            RECORD,
            old.id,
            before={"status": rules.APPROVED},
            after={"status": rules.SUPERSEDED, "by": label(row)},
            organisation_id=old.organisation_id,
        )
    row.status, row.approved_at, row.approved_by = rules.APPROVED, sig.signed_at, scope.username
    uow.record(
        "comparability.protocol_approved",
        RECORD,
        row.id,
        before={"status": rules.AUTHORED},
        after={"status": rules.APPROVED, "signature_id": sig.id},
        organisation_id=row.organisation_id,
    )
    return sig


def revise(
    uow: UnitOfWork, scope: Scope, protocol_id: int | str, text: str, file: str = "protocol.yaml"
) -> CmpProtocol:
    """The next version of a signed protocol, a draft with the given content: the way a signed
    protocol changes. Refused while a draft of it is open or when ``protocol_id`` is not its
    latest version."""
    s = uow.session
    row = get_protocol(s, scope, protocol_id, lock=True)
    _author_scope(scope)
    if row.status == rules.DRAFT:
        raise RuleViolation(f"{label(row)} is still a draft: edit it instead")
    latest = s.scalar(
        select(func.max(CmpProtocol.version)).where(
            CmpProtocol.program_id == row.program_id, CmpProtocol.number == row.number
        )
    )
    if latest != row.version:
        raise RuleViolation(f"{row.number} has a later version (v{latest}): revise that one")
    content = rules.parse_yaml(text, file)
    if _program(s, scope, content["program"]).id != row.program_id:
        raise InputError("a version stays with its protocol's program", field="program")
    new = CmpProtocol(
        organisation_id=row.organisation_id,
        program_id=row.program_id,
        number=row.number,
        version=row.version + 1,
        status=rules.DRAFT,
        previous_id=row.id,
        created_at=utcnow(),
        created_by=uow.actor.name,
    )
    _set_content(new, content)
    s.add(new)
    s.flush()
    uow.record(
        "comparability.protocol_revise",
        RECORD,
        new.id,
        after={"protocol": label(new), "previous": label(row), "content_hash": new.content_hash},
        organisation_id=new.organisation_id,
    )
    return new


# --------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------


def lot_values(values: list[list[Any]], content: dict[str, Any]) -> list[LotValue]:
    """The engine's lot values from stored inputs (``StoredValue.as_list``)."""
    arm_label = {data.REFERENCE: content["reference"]["label"], data.TEST: content["test"]["label"]}
    return [
        LotValue(
            lot=f"{order} (batch {batch_id})",
            arm=arm_label[arm],
            attribute=attribute,
            value=float(value),
            donor="",
            row=i + 1,
            file=record,
        )
        for i, (arm, attribute, batch_id, order, value, _unit, record) in enumerate(values)
    ]


def evaluate(row: CmpProtocol, inputs: dict[str, Any]) -> ComparabilityResult:
    """The engine's result of a protocol version on stored inputs (pure once read)."""
    content = content_of(row)
    protocol = rules.engine_protocol(content, label(row))
    return run_comparability(protocol, lot_values(inputs["values"], content))


def run(uow: UnitOfWork, scope: Scope, protocol_id: int | str) -> CmpRun:
    """Run an approved version on the approved results stored now (``comparability_data``)
    and keep the values used, each with its record, and the engine's result."""
    s = uow.session
    row = get_protocol(s, scope, protocol_id, lock=True)
    _author_scope(scope)
    rules.check_run(row.status)
    content = content_of(row)
    chosen = data.arm_batches(s, row.program_id, content)
    values, missing = data.read_values(s, content, chosen, (data.REFERENCE, data.TEST))
    inputs = {
        "protocol": label(row),
        "protocol_hash": row.content_hash,
        "batches": [vars(b) for b in chosen],
        "values": [v.as_list() for v in values],
        "missing": [vars(m) for m in missing],
    }
    result = evaluate(row, inputs)
    stored = CmpRun(
        organisation_id=row.organisation_id,
        protocol_id=row.id,
        run_at=utcnow(),
        run_by=uow.actor.name,
        inputs=canonical_json(inputs).decode(),
        inputs_hash=sha256_hex(inputs),
        result=canonical_json(result.to_dict()).decode(),
        conclusion=result.conclusion,
    )
    s.add(stored)
    s.flush()
    uow.record(
        "comparability.run",
        RUN_RECORD,
        stored.id,
        after={
            "protocol": label(row),
            "inputs_hash": stored.inputs_hash,
            "conclusion": stored.conclusion,
            "values": len(values),
        },
        organisation_id=row.organisation_id,
    )
    return stored
