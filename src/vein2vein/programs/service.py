"""Use cases of programs: create, edit, list and read within the caller's scope."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import OrgKind, Perm
from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.auth.tables import Organisation
from vein2vein.core.errors import Conflict, InputError
from vein2vein.programs.tables import Program
from vein2vein.store.uow import UnitOfWork

EDITABLE = ("name", "product", "target", "indication", "phase", "description")


def create_program(
    uow: UnitOfWork,
    organisation: Organisation,
    *,
    code: str,
    name: str,
    product: str = "",
    target: str = "",
    indication: str = "",
    phase: str = "",
    description: str = "",
) -> Program:
    if organisation.kind != OrgKind.SPONSOR:
        raise InputError("programs belong to sponsor organisations", field="organisation")
    code = code.strip().upper()
    if not code or len(code) > 32:
        raise InputError("a program code of 1 to 32 characters is required", field="code")
    if not name.strip():
        raise InputError("a program needs a name", field="name")
    s = uow.session
    if s.scalar(
        select(Program.id).where(Program.organisation_id == organisation.id, Program.code == code)
    ):
        raise Conflict(f"{organisation.name} already has a program {code}")
    program = Program(
        organisation_id=organisation.id,
        code=code,
        name=name.strip(),
        product=product.strip(),
        target=target.strip(),
        indication=indication.strip(),
        phase=phase.strip(),
        description=description.strip(),
    )
    s.add(program)
    s.flush()
    uow.record(
        "program.create",
        "program",
        program.id,
        after=program.public(),
        organisation_id=organisation.id,
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
    for key, value in changes.items():
        setattr(program, key, value.strip())
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
    stmt = scope.filter(select(Program), Program).order_by(Program.code)
    return list(session.scalars(stmt))
