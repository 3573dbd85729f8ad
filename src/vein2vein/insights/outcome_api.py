"""API routes of product ↔ outcome (``/api/outcome/...``): thin wrappers over
``outcome_views`` (reads) and ``outcome_links`` (link, unlink; one unit of work each)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from vein2vein.auth.roles import Perm
from vein2vein.insights import outcome_links, outcome_views
from vein2vein.insights import outcome_schemas as schemas
from vein2vein.web.context import AuthDep, DbDep, require

router = APIRouter(prefix="/api/outcome", tags=["Product and outcome"])
READ = [require(Perm.OUTCOME_READ)]
LINK = [require(Perm.OUTCOME_LINK)]


@router.get("/studies", response_model=list[schemas.StudySummary], dependencies=READ)
def list_studies(auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    """The studies in scope with how many subjects are linked to an order now."""
    with db.read() as session:
        return outcome_views.studies(session, auth.scope)


@router.get("/studies/{study_id}", response_model=schemas.StudyOutcome, dependencies=READ)
def study_outcome(
    study_id: int,
    auth: AuthDep,
    db: DbDep,
    km_attribute: str = Query("car_positive", max_length=40),
) -> dict[str, Any]:
    """Every subject with its batch's attributes beside BOR, best % change, PFS and OS, and
    the exploratory analyses (exploratory: each p names its test, every group its n)."""
    with db.read() as session:
        return outcome_views.study_outcome(session, auth.scope, study_id, km_attribute)


@router.post(
    "/studies/{study_id}/links",
    response_model=schemas.Link,
    status_code=201,
    dependencies=LINK,
)
def link(study_id: int, body: schemas.LinkRequest, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Link a subject to the order with this CoI identifier (same sponsor and program, same
    patient by year of birth where known; a refusal names what differs)."""
    with db.uow(auth.actor) as uow:
        row = outcome_links.link_subject(
            uow, auth.scope, study_id, body.subject_id, body.coi,
            year_of_birth=body.year_of_birth, reason=body.reason,
        )  # fmt: skip
        out = row.public()
        uow.commit()
    return out


@router.post("/links/{link_id}/unlink", response_model=schemas.Link, dependencies=LINK)
def unlink(link_id: int, body: schemas.UnlinkRequest, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """End a current link (it stays in the history with who, when and why)."""
    with db.uow(auth.actor) as uow:
        row = outcome_links.unlink(uow, auth.scope, link_id, body.reason)
        out = row.public()
        uow.commit()
    return out
