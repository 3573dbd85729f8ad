"""Use cases of master batch records: import, new version, edits of a draft, signing, retiring.

Who may do what (``Perm`` in ``auth/roles.py``):

============================ ============== =====================================================
action                       permission     rule
============================ ============== =====================================================
read                         ``mbr.read``   CDMO staff: all; a sponsor: its own programs' MBRs
import YAML, new version,    ``mbr.author`` CDMO only; a draft only (locked once signed)
edit a draft
sign as author               ``mbr.author`` DRAFT → IN_REVIEW
sign as reviewer             ``mbr.review`` after the author, by another person
sign as approver             ``mbr.approve``after the reviewer, by a third person → EFFECTIVE; the
                                            effective version of the same product and site →
                                            SUPERSEDED
retire                       ``mbr.approve``EFFECTIVE → RETIRED
============================ ============== =====================================================

Locking (STYLE 10; ``auth/signatures.py``): signing and editing take the same row lock of the
MBR (``SELECT ... FOR UPDATE``) before they look at its signatures, so an edit and a signature
never both land, and two approvers signing at once make one effective version (the second finds
the approval and is refused). Making a version effective, importing and starting a version also
hold the program's row, so two versions of one product and site never become effective, or get
the same number, at once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Meaning, Perm
from vein2vein.auth.scope import Scope
from vein2vein.auth.signatures import ensure_unlocked, sign, signatures_for
from vein2vein.auth.tables import Signature, Site
from vein2vein.core.canonical import canonical_json, sha256_hex
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import Conflict, InputError, NotFound, PermissionDenied, RuleViolation
from vein2vein.core.settings import Settings
from vein2vein.core.text import clean_text, parse_id
from vein2vein.manufacturing import domain, mbr_yaml
from vein2vein.manufacturing.domain import Mbr, MbrError
from vein2vein.manufacturing.tables import MasterBatchRecord
from vein2vein.programs.tables import Program
from vein2vein.store.locks import lock_row
from vein2vein.store.uow import UnitOfWork

RECORD = "mbr"
DRAFT, IN_REVIEW, EFFECTIVE, SUPERSEDED, RETIRED = (
    "DRAFT",
    "IN_REVIEW",
    "EFFECTIVE",
    "SUPERSEDED",
    "RETIRED",
)
STATUSES = (DRAFT, IN_REVIEW, EFFECTIVE, SUPERSEDED, RETIRED)
#: the order of signatures, and the permission each needs
SIGNING = {
    Meaning.AUTHORED: Perm.MBR_AUTHOR,
    Meaning.REVIEWED: Perm.MBR_REVIEW,
    Meaning.APPROVED: Perm.MBR_APPROVE,
}


# --- look-up within the scope -------------------------------------------------------------


def scoped(scope: Scope) -> Any:
    """MBRs the caller may see: a CDMO's staff all of them; a sponsor those of its programs."""
    stmt = select(MasterBatchRecord)
    ids = scope.organisation_ids
    if ids is not None:
        stmt = stmt.join(Program, Program.id == MasterBatchRecord.program_id).where(
            Program.organisation_id.in_(ids)
        )
    return stmt


def get_mbr(
    session: Session, scope: Scope, mbr_id: int | str, *, lock: bool = False
) -> MasterBatchRecord:
    """One MBR in the caller's scope (others: not found); ``lock`` holds its row (edits and
    signatures take it before looking at its signatures)."""
    key = parse_id(mbr_id)
    found = (
        session.scalars(scoped(scope).where(MasterBatchRecord.id == key)).first()
        if key is not None
        else None
    )
    if found is None:
        raise NotFound(f"master batch record {mbr_id} not found")
    scope.require(Perm.MBR_READ)
    if lock:
        lock_row(session, MasterBatchRecord, found.id)
        session.refresh(found)
    return found


def content_of(row: MasterBatchRecord) -> dict[str, Any]:
    """The stored content (what is signed)."""
    data: dict[str, Any] = json.loads(row.content)
    return data


def model_of(row: MasterBatchRecord) -> Mbr:
    return _model(row.content)


@functools.lru_cache(maxsize=32)
def _model(content: str) -> Mbr:
    """The model of stored content, kept for the next caller: a batch record is rebuilt from
    its MBR at every entry, and the model is immutable (frozen dataclasses and tuples). The
    text itself is the key, so an edited draft is parsed again."""
    return domain.from_data(json.loads(content))


def _store(row: MasterBatchRecord, mbr: Mbr) -> None:
    data = domain.to_data(mbr)
    row.content = canonical_json(data).decode("utf-8")
    row.content_hash = sha256_hex(data)
    row.title = mbr.title


# --- import and new versions --------------------------------------------------------------


def _require_cdmo_author(scope: Scope) -> None:
    scope.require(Perm.MBR_AUTHOR)
    if not scope.is_cdmo:
        raise PermissionDenied("master batch records are written by the CDMO")


def _program(session: Session, code: str) -> Program:
    found = list(session.scalars(select(Program).where(func.upper(Program.code) == code.upper())))
    if not found:
        raise InputError(f"no program with the code '{code}'", field="product")
    if len(found) > 1:
        raise InputError(f"several sponsors have a program '{code}'", field="product")
    return found[0]


def _site(session: Session, scope: Scope, name: str) -> Site:
    site = session.scalars(
        select(Site).where(
            Site.organisation_id == scope.organisation_id,
            func.lower(Site.name) == name.strip().lower(),
        )
    ).first()
    if site is None:
        raise InputError(f"the CDMO has no site named '{name}'", field="site")
    return site


def _next_version(session: Session, program_id: int, site_id: int) -> int:
    """The next version number (the program's row is held, so two callers get two numbers);
    refused while an earlier version is still a draft or in review."""
    rows = session.execute(
        select(MasterBatchRecord.version, MasterBatchRecord.status).where(
            MasterBatchRecord.program_id == program_id, MasterBatchRecord.site_id == site_id
        )
    ).all()
    open_ = [v for v, status in rows if status in (DRAFT, IN_REVIEW)]
    if open_:
        raise Conflict(
            f"version {open_[0]} of this product and site is still a draft or in review: "
            "finish it before starting another"
        )
    return max((v for v, _ in rows), default=0) + 1


def import_yaml(
    uow: UnitOfWork, scope: Scope, text: str, file_name: str = "mbr.yaml"
) -> MasterBatchRecord:
    """A new DRAFT version from an MBR file (its product and site named in the file)."""
    _require_cdmo_author(scope)
    file_name = clean_text(file_name, "file", 200) or "mbr.yaml"
    mbr = mbr_yaml.parse(text, file_name)
    s = uow.session
    program = _program(s, mbr.product)
    site = _site(s, scope, mbr.site)
    lock_row(s, Program, program.id)
    row = MasterBatchRecord(
        organisation_id=scope.organisation_id,
        program_id=program.id,
        site_id=site.id,
        version=_next_version(s, program.id, site.id),
        status=DRAFT,
        source_file=file_name,
        created_by=scope.username,
        created_at=utcnow(),
    )
    _store(row, mbr)
    s.add(row)
    s.flush()
    uow.record(
        "mbr.import",
        RECORD,
        row.id,
        after=row.public(),
        organisation_id=row.organisation_id,
    )
    return row


def new_version(uow: UnitOfWork, scope: Scope, mbr_id: int | str, reason: str) -> MasterBatchRecord:
    """A new DRAFT copied from an effective version (a change always makes a new version)."""
    base = get_mbr(uow.session, scope, mbr_id)
    _require_cdmo_author(scope)
    reason = clean_text(reason, "reason", 2000, required=True, multiline=True)
    if base.status != EFFECTIVE:
        raise RuleViolation(f"a new version starts from the effective one (this is {base.status})")
    s = uow.session
    lock_row(s, Program, base.program_id)
    row = MasterBatchRecord(
        organisation_id=base.organisation_id,
        program_id=base.program_id,
        site_id=base.site_id,
        version=_next_version(s, base.program_id, base.site_id),
        status=DRAFT,
        content=base.content,
        content_hash=base.content_hash,
        title=base.title,
        based_on_id=base.id,
        created_by=scope.username,
        created_at=utcnow(),
    )
    s.add(row)
    s.flush()
    uow.record(
        "mbr.new_version",
        RECORD,
        row.id,
        after=row.public(),
        reason=reason,
        organisation_id=row.organisation_id,
    )
    return row


# --- edits of a draft ---------------------------------------------------------------------


def _edit(
    uow: UnitOfWork,
    scope: Scope,
    mbr_id: int | str,
    action: str,
    change: Callable[[Mbr], Mbr],
    reason: str,
) -> MasterBatchRecord:
    """Apply a pure edit to a draft: row locked, unsigned, rules checked, audited with the
    differences it made."""
    row = get_mbr(uow.session, scope, mbr_id, lock=True)
    _require_cdmo_author(scope)
    ensure_unlocked(uow.session, RECORD, row.id)
    if row.status != DRAFT:
        raise RuleViolation(f"only a draft can be edited (this version is {row.status})")
    reason = clean_text(reason, "reason", 2000, multiline=True)
    before = model_of(row)
    try:
        after = change(before)
    except MbrError as exc:
        raise InputError(exc.message, field=exc.path or None) from None
    changes = domain.diff(before, after)
    if not changes:
        raise InputError("nothing changed", field="reason")
    old_hash = row.content_hash
    _store(row, after)
    uow.record(
        action,
        RECORD,
        row.id,
        before={"content_hash": old_hash},
        after={"content_hash": row.content_hash, "changes": [c.as_dict() for c in changes]},
        reason=reason or None,
        organisation_id=row.organisation_id,
    )
    return row


def edit_parameter(
    uow: UnitOfWork,
    scope: Scope,
    mbr_id: int | str,
    operation: str,
    parameter: str,
    *,
    target: float | None,
    nor: tuple[float | None, float | None],
    par: tuple[float | None, float | None],
    reason: str = "",
) -> MasterBatchRecord:
    """A parameter's target, NOR (low, high) and PAR (low, high); ``None``: no limit there."""

    def change(m: Mbr) -> Mbr:
        return domain.set_parameter_limits(
            m,
            operation,
            parameter,
            target=domain.number(target, "target"),
            nor=domain.limits_from(*nor, "nor"),
            par=domain.limits_from(*par, "par"),
        )

    return _edit(uow, scope, mbr_id, "mbr.edit_parameter", change, reason)


def edit_second_person(
    uow: UnitOfWork,
    scope: Scope,
    mbr_id: int | str,
    operation: str,
    entry: str,
    required: bool,
    reason: str = "",
) -> MasterBatchRecord:
    return _edit(
        uow,
        scope,
        mbr_id,
        "mbr.edit_verification",
        lambda m: domain.set_second_person(m, operation, entry, required),
        reason,
    )


def add_material(
    uow: UnitOfWork,
    scope: Scope,
    mbr_id: int | str,
    material: dict[str, Any],
    operation: str | None = None,
    reason: str = "",
) -> MasterBatchRecord:
    """A material from plain data (code, name, kind, lot_data, ...), used by ``operation``."""
    return _edit(
        uow,
        scope,
        mbr_id,
        "mbr.add_material",
        lambda m: domain.add_material(m, domain.material_from_data(material), operation or None),
        reason,
    )


def remove_material(
    uow: UnitOfWork, scope: Scope, mbr_id: int | str, code: str, reason: str = ""
) -> MasterBatchRecord:
    return _edit(
        uow, scope, mbr_id, "mbr.remove_material", lambda m: domain.remove_material(m, code), reason
    )


def add_equipment(
    uow: UnitOfWork,
    scope: Scope,
    mbr_id: int | str,
    equipment: dict[str, Any],
    operation: str | None = None,
    reason: str = "",
) -> MasterBatchRecord:
    return _edit(
        uow,
        scope,
        mbr_id,
        "mbr.add_equipment",
        lambda m: domain.add_equipment(m, domain.equipment_from_data(equipment), operation or None),
        reason,
    )


def remove_equipment(
    uow: UnitOfWork, scope: Scope, mbr_id: int | str, code: str, reason: str = ""
) -> MasterBatchRecord:
    return _edit(
        uow,
        scope,
        mbr_id,
        "mbr.remove_equipment",
        lambda m: domain.remove_equipment(m, code),
        reason,
    )


# --- signing ------------------------------------------------------------------------------


def sign_mbr(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    mbr_id: int | str,
    meaning: str,
    *,
    username: str,
    password: str,
    shown_hash: str | None = None,
) -> Signature:
    """Sign a version as author, reviewer or approver (in that order, three different people);
    the approval makes it effective and supersedes the effective version of its product and
    site. The row is locked first, as edits lock it."""
    row = get_mbr(uow.session, scope, mbr_id, lock=True)
    try:
        wanted = Meaning(meaning.strip().lower())
    except ValueError:
        wanted = None
    if wanted not in SIGNING:
        raise InputError("sign an MBR as authored, reviewed or approved", field="meaning")
    scope.require(SIGNING[wanted])
    if not scope.is_cdmo:
        raise PermissionDenied("master batch records are signed by the CDMO")
    s = uow.session
    existing = {sig.meaning: sig for sig in signatures_for(s, RECORD, row.id)}
    _check_order(row, wanted, existing, scope.user_id)
    sig = sign(
        uow,
        settings,
        signer_id=scope.user_id,
        username=username,
        password=password,
        record_type=RECORD,
        record_id=row.id,
        organisation_id=row.organisation_id,
        meaning=wanted.value,
        content=content_of(row),
        shown_hash=shown_hash,
    )
    before = row.public()
    if wanted == Meaning.AUTHORED:
        row.status = IN_REVIEW
    elif wanted == Meaning.APPROVED:
        _make_effective(uow, row)
    if row.status != before["status"]:
        uow.record(
            "mbr.status",
            RECORD,
            row.id,
            before={"status": before["status"]},
            after={"status": row.status, "signature_id": sig.id},
            organisation_id=row.organisation_id,
        )
    return sig


def _check_order(
    row: MasterBatchRecord, wanted: Meaning, existing: dict[str, Signature], user_id: int
) -> None:
    if wanted.value in existing:
        sig = existing[wanted.value]
        raise Conflict(
            f"version {row.version} was already signed as {wanted.value} by {sig.printed_name}"
        )
    if wanted == Meaning.AUTHORED:
        if row.status != DRAFT:
            raise RuleViolation(f"only a draft is signed as authored (this is {row.status})")
        return
    if row.status == DRAFT:
        raise RuleViolation("it must be signed as authored first")
    if row.status != IN_REVIEW:
        raise RuleViolation(f"this version is {row.status}: it cannot be {wanted.value} now")
    needed = Meaning.AUTHORED if wanted == Meaning.REVIEWED else Meaning.REVIEWED
    if needed.value not in existing:
        raise RuleViolation(f"it must be signed as {needed.value} first")
    others = {sig.user_id: sig.meaning for sig in existing.values()}
    if user_id in others:
        raise RuleViolation(
            f"you signed this version as {others[user_id]}: author, reviewer and approver are "
            "three different people"
        )


def _make_effective(uow: UnitOfWork, row: MasterBatchRecord) -> None:
    s = uow.session
    lock_row(s, Program, row.program_id)
    now = utcnow()
    current = s.scalars(
        select(MasterBatchRecord).where(
            MasterBatchRecord.program_id == row.program_id,
            MasterBatchRecord.site_id == row.site_id,
            MasterBatchRecord.status == EFFECTIVE,
            MasterBatchRecord.id != row.id,
        )
    ).all()
    for old in current:
        old.status, old.superseded_at = SUPERSEDED, now
        uow.record(
            "mbr.supersede",
            RECORD,
            old.id,
            before={"status": EFFECTIVE},
            after={"status": SUPERSEDED, "superseded_by": row.id},
            organisation_id=old.organisation_id,
        )
    row.status, row.effective_at = EFFECTIVE, now


def retire(uow: UnitOfWork, scope: Scope, mbr_id: int | str, reason: str) -> MasterBatchRecord:
    """An effective version withdrawn without a successor (the product leaves the site)."""
    row = get_mbr(uow.session, scope, mbr_id, lock=True)
    scope.require(Perm.MBR_APPROVE)
    reason = clean_text(reason, "reason", 2000, required=True, multiline=True)
    if row.status != EFFECTIVE:
        raise RuleViolation(f"only the effective version can be retired (this is {row.status})")
    row.status = RETIRED
    uow.record(
        "mbr.retire",
        RECORD,
        row.id,
        before={"status": EFFECTIVE},
        after={"status": RETIRED},
        reason=reason,
        organisation_id=row.organisation_id,
    )
    return row
