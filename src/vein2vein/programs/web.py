"""Pages of programs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from vein2vein.auth.roles import Perm
from vein2vein.programs import views
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/programs", dependencies=[require(Perm.PROGRAM_READ)])
def programs_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        rows = views.programs(session, auth.scope)
    return render(request, "programs.html", {"programs": rows})


@router.get("/programs/{program_id}", dependencies=[require(Perm.PROGRAM_READ)])
def program_page(request: Request, program_id: int, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        page = views.program_page(session, auth.scope, program_id)
    return render(request, "program.html", page)
