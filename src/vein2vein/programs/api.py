"""API routes of programs."""

from __future__ import annotations

from fastapi import APIRouter

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import get_scoped
from vein2vein.auth.tables import Organisation
from vein2vein.programs import schemas, service
from vein2vein.programs.tables import Program
from vein2vein.web.context import AuthDep, DbDep, require

router = APIRouter(prefix="/api/programs", tags=["programs"])


@router.get(
    "", response_model=list[schemas.ProgramPublic], dependencies=[require(Perm.PROGRAM_READ)]
)
def list_programs(auth: AuthDep, db: DbDep) -> list[dict[str, object]]:
    with db.read() as session:
        return [p.public() for p in service.list_programs(session, auth.scope)]


@router.get("/{program_id}", response_model=schemas.ProgramPublic)
def get_program(program_id: int, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.read() as session:
        program = get_scoped(session, auth.scope, Program, program_id)
        auth.scope.require(Perm.PROGRAM_READ)
        return program.public()


@router.post(
    "",
    response_model=schemas.ProgramPublic,
    status_code=201,
    dependencies=[require(Perm.PROGRAM_MANAGE)],
)
def create_program(body: schemas.ProgramCreate, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.uow(auth.actor) as uow:
        org = get_scoped(uow.session, auth.scope, Organisation, body.organisation_id, "id")
        program = service.create_program(uow, org, **body.model_dump(exclude={"organisation_id"}))
        uow.commit()
        return program.public()


@router.patch("/{program_id}", response_model=schemas.ProgramPublic)
def update_program(
    program_id: int, body: schemas.ProgramUpdate, auth: AuthDep, db: DbDep
) -> dict[str, object]:
    changes = body.model_dump(exclude_none=True, exclude={"reason"})
    with db.uow(auth.actor) as uow:
        program = service.update_program(uow, auth.scope, program_id, changes, body.reason)
        uow.commit()
        return program.public()
