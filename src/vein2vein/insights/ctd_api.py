"""API routes of the CTD tables (docs/ctd.md): the sections, and a program's section as PDF or
Word. Generating calls ``ctd_service.generate`` in one unit of work (audited), as the page and
``v2v reports ctd`` do; another client's program is not found."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from vein2vein.auth.roles import Perm
from vein2vein.insights import ctd_schemas, ctd_sections, ctd_service
from vein2vein.web.context import AuthDep, DbDep, require

router = APIRouter(prefix="/api", tags=["CTD tables"])
READ = [require(Perm.QC_READ)]


@router.get("/ctd/sections", response_model=list[ctd_schemas.CtdSectionPublic], dependencies=READ)
def list_sections(auth: AuthDep) -> list[dict[str, Any]]:
    """The CTD sections, available or not (with the reason)."""
    return [
        {"code": s.code, "title": s.title, "available": s.available, "unavailable": s.unavailable}
        for s in ctd_sections.SECTIONS
    ]


@router.get(
    "/programs/{program_id}/ctd",
    response_class=Response,
    responses={
        200: {
            "content": {media: {} for media in ctd_sections.FORMATS.values()},
            "description": "the section's tables",
        }
    },
    dependencies=READ,
)
def generate_ctd(
    program_id: int,
    auth: AuthDep,
    db: DbDep,
    section: str = Query("3.2.P.5.4", max_length=40, description="CTD section, e.g. 3.2.P.5.4"),
    format: str = Query("pdf", max_length=8, description="pdf or docx"),
) -> Response:
    """The program's tables of a CTD section as PDF or Word, footnoted with the record ids and
    the audit chain's head; the generation is recorded in the trail (``insights.ctd_generate``).
    """
    with db.uow(auth.actor) as uow:
        made = ctd_service.generate(uow, auth.scope, program_id, section, format)
        uow.commit()
    return Response(
        made.data,
        media_type=made.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{made.filename}"',
            "X-Content-SHA256": made.sha256,
            "X-Audit-Head": f"{made.head_seq}:{made.head_hash}",
        },
    )
