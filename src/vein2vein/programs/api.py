"""API routes of programs."""

from __future__ import annotations

from fastapi import APIRouter

from vein2vein.auth.roles import Perm
from vein2vein.programs import schemas, service, views
from vein2vein.web.context import AuthDep, DbDep, require

router = APIRouter(prefix="/api/programs", tags=["programs"])


@router.get(
    "", response_model=list[schemas.ProgramPublic], dependencies=[require(Perm.PROGRAM_READ)]
)
def list_programs(auth: AuthDep, db: DbDep) -> list[dict[str, object]]:
    with db.read() as session:
        return views.programs(session, auth.scope)


@router.get(
    "/{program_id}", response_model=schemas.ProgramPublic, dependencies=[require(Perm.PROGRAM_READ)]
)
def get_program(program_id: int, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.read() as session:
        return views.program(session, auth.scope, program_id)


@router.post(
    "",
    response_model=schemas.ProgramPublic,
    status_code=201,
    dependencies=[require(Perm.PROGRAM_MANAGE)],
)
def create_program(body: schemas.ProgramCreate, auth: AuthDep, db: DbDep) -> dict[str, object]:
    with db.uow(auth.actor) as uow:
        program = service.create_program(
            uow,
            auth.scope,
            body.organisation_id,
            **body.model_dump(exclude={"organisation_id"}),
        )
        uow.commit()
        return program.public()


@router.patch(
    "/{program_id}",
    response_model=schemas.ProgramPublic,
    dependencies=[require(Perm.PROGRAM_MANAGE)],
)
def update_program(
    program_id: int, body: schemas.ProgramUpdate, auth: AuthDep, db: DbDep
) -> dict[str, object]:
    changes = body.model_dump(exclude_none=True, exclude={"reason"})
    with db.uow(auth.actor) as uow:
        program = service.update_program(uow, auth.scope, program_id, changes, body.reason)
        uow.commit()
        return program.public()
