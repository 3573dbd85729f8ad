"""Pages of programs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import get_scoped
from vein2vein.programs import service
from vein2vein.programs.tables import Program
from vein2vein.store import audit
from vein2vein.web.context import AuthDep, DbDep
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/programs")
def programs_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    auth.scope.require(Perm.PROGRAM_READ)
    with db.read() as session:
        rows = [
            p.public() | {"sponsor": p.organisation.name}
            for p in service.list_programs(session, auth.scope)
        ]
    return render(request, "programs.html", {"programs": rows})


@router.get("/programs/{program_id}")
def program_page(request: Request, program_id: int, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        program = get_scoped(session, auth.scope, Program, program_id)
        auth.scope.require(Perm.PROGRAM_READ)
        history = []
        if auth.scope.can(Perm.AUDIT_READ):
            history = [
                e.to_dict()
                for e in audit.query(
                    session,
                    entity_type="program",
                    entity_id=str(program.id),
                    organisation_ids=auth.scope.organisation_ids,
                    newest_first=True,
                )
            ]
        return render(
            request,
            "program.html",
            {
                "program": program.public() | {"sponsor": program.organisation.name},
                "history": history,
            },
        )
