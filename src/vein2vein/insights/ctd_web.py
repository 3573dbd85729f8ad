"""The CTD tables page (``/ctd``; docs/ctd.md): the programs in the caller's scope and, for each,
the sections with links to their PDF and Word files (``/ctd/{program_id}?section=&format=``,
generated on request and audited, as the CoA download is); sections not yet available are
listed with the reason. A refused generation shows the page again with the message."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from vein2vein.auth.roles import Perm
from vein2vein.insights import ctd_service
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import FormError, show
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)


def _page(request: Request, auth: AuthDep, db: DbDep, failed: FormError | None = None) -> Response:
    with db.read() as session:
        page = ctd_service.sections_page(session, auth.scope)
    context = page | (failed.context() if failed else {})
    return render(request, "ctd_tables.html", context, status_code=failed.status if failed else 200)


@router.get("/ctd", dependencies=[require(Perm.QC_READ)])
def ctd_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    return _page(request, auth, db)


@router.get("/ctd/{program_id}", dependencies=[require(Perm.QC_READ)])
def ctd_download(
    request: Request,
    program_id: int,
    auth: AuthDep,
    db: DbDep,
    section: str = "3.2.P.5.4",
    format: str = "pdf",
) -> Response:
    """The section's tables of the program as a file (audited)."""

    def made() -> Response:
        with db.uow(auth.actor) as uow:
            out = ctd_service.generate(uow, auth.scope, program_id, section[:40], format[:8])
            uow.commit()
        return Response(
            out.data,
            media_type=out.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{out.filename}"',
                "X-Content-SHA256": out.sha256,
                "X-Audit-Head": f"{out.head_seq}:{out.head_hash}",
            },
        )

    return show(lambda err: _page(request, auth, db, err), made)
