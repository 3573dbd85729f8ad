"""Use cases of programs: create, edit, list and read within the caller's scope."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.auth import lookup
from vein2vein.auth.lookup import Ref
from vein2vein.auth.roles import OrgKind, Perm
from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.core.errors import Conflict, InputError
from vein2vein.core.text import clean_text
from vein2vein.programs.tables import Program
from vein2vein.store.uow import UnitOfWork

EDITABLE = ("name", "product", "target", "indication", "phase", "description")
MAX_LENGTH = {
    "name": 200,
    "product": 200,
    "target": 64,
    "indication": 200,
    "phase": 32,
    "description": 4000,
}


def _clean(values: dict[str, str]) -> dict[str, str]:
    return {
        key: clean_text(value, key, MAX_LENGTH[key], multiline=key == "description")
        for key, value in values.items()
    }


def create_program(
    uow: UnitOfWork,
    scope: Scope,
    organisation: Ref,
    *,
    code: str,
    name: str,
    product: str = "",
    target: str = "",
    indication: str = "",
    phase: str = "",
    description: str = "",
) -> Program:
    """Add a program to a sponsor (its id, or its name at the command line)."""
    scope.require(Perm.PROGRAM_MANAGE)
    sponsor = lookup.organisation(uow.session, scope, organisation)
    if sponsor.kind != OrgKind.SPONSOR:
        raise InputError("programs belong to sponsor organisations", field="organisation")
    code = clean_text(code, "code", 32, required=True).upper()
    fields = _clean(
        {
            "name": name,
            "product": product,
            "target": target,
            "indication": indication,
            "phase": phase,
            "description": description,
        }
    )
    if not fields["name"]:
        raise InputError("a program needs a name", field="name")
    s = uow.session
    if s.scalar(
        select(Program.id).where(Program.organisation_id == sponsor.id, Program.code == code)
    ):
        raise Conflict(f"{sponsor.name} already has a program {code}")
    program = Program(organisation_id=sponsor.id, code=code, **fields)
    s.add(program)
    s.flush()
    uow.record(
        "program.create",
        "program",
        program.id,
        after=program.public(),
        organisation_id=sponsor.id,
    )
    return program


def update_program(
    uow: UnitOfWork, scope: Scope, program_id: int, changes: dict[str, str], reason: str
) -> Program:
    program = get_scoped(uow.session, scope, Program, program_id)  # out of scope: not found
    scope.require(Perm.PROGRAM_MANAGE)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InputError(f"cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    if not reason.strip():
        raise InputError("a reason is required to change a program", field="reason")
    before = program.public()
    for key, value in _clean(changes).items():
        setattr(program, key, value)
    if not program.name:
        raise InputError("a program needs a name", field="name")
    uow.record(
        "program.update",
        "program",
        program.id,
        before=before,
        after=program.public(),
        reason=reason,
        organisation_id=program.organisation_id,
    )
    return program


def list_programs(session: Session, scope: Scope) -> list[Program]:
    """Programs the caller may see, by code (pick lists of other features' pages)."""
    stmt = scope.filter(select(Program), Program).order_by(Program.code)
    return list(session.scalars(stmt))
