"""API routes of the audit trail: read, verify, head, reviews and their signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from vein2vein.audittrail import export, schemas, service, views
from vein2vein.audittrail.filters import AuditFilter, parse_filter
from vein2vein.auth.roles import Perm
from vein2vein.web.context import AuthDep, DbDep, require

router = APIRouter(prefix="/api/audit", tags=["audit trail"])


class FilterQuery:
    """The trail's filters as query parameters (the page's names; dates are days in the display
    zone, ``since`` a UTC time)."""

    def __init__(
        self,
        user: str | None = Query(None, description="Actor's user name as recorded"),
        action: str | None = Query(None, description="Action, e.g. user.create"),
        entity_type: str | None = Query(None, description="Entity type, e.g. coi_order"),
        entity_id: str | None = Query(None, description="Entity id (with entity_type)"),
        entity: str | None = Query(None, description="TYPE or TYPE:ID"),
        organisation: int | None = Query(None, ge=1, description="Organisation id"),
        date_from: str | None = Query(
            None, alias="from", description="First day, YYYY-MM-DD in the display zone"
        ),
        date_to: str | None = Query(
            None, alias="to", description="Last day, YYYY-MM-DD in the display zone"
        ),
        since: str | None = Query(None, description="YYYY-MM-DD or ISO 8601 (UTC)"),
    ) -> None:
        self.values = {
            "user": user,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "entity": entity,
            "organisation": organisation,
            "date_from": date_from,
            "date_to": date_to,
            "since": since,
        }

    def parse(self, db: DbDep) -> AuditFilter:
        return parse_filter(**self.values, zone=db.settings.display_time_zone)


FiltersDep = Annotated[FilterQuery, Depends()]


@router.get(
    "", response_model=list[schemas.AuditEntryPublic], dependencies=[require(Perm.AUDIT_READ)]
)
def read_log(
    auth: AuthDep,
    db: DbDep,
    filters: FiltersDep,
    limit: int = Query(500, ge=1, le=10000),
) -> list[dict[str, object]]:
    """Audit entries of the caller's organisations (CDMO QA and admins: all), newest first; use
    ``/api/audit/page`` to read beyond ``limit``."""
    chosen = filters.parse(db)
    with db.read() as session:
        return views.entries(session, auth.scope, filters=chosen, limit=limit, newest_first=True)


@router.get(
    "/page", response_model=schemas.AuditPagePublic, dependencies=[require(Perm.AUDIT_READ)]
)
def read_page(
    auth: AuthDep,
    db: DbDep,
    filters: FiltersDep,
    below: int | None = Query(None, ge=0, description="Older page: entries below this sequence"),
    above: int | None = Query(None, ge=0, description="Newer page: entries above this sequence"),
) -> dict[str, object]:
    """One page of 100 filtered entries, newest first (keyset on the sequence, no cap), with
    the total count and the keys of the neighbouring pages (``older`` → ``below``, ``newer`` →
    ``above``)."""
    chosen = filters.parse(db)
    with db.read() as session:
        return views.page(session, auth.scope, chosen, below=below, above=above)


@router.get(
    "/export",
    dependencies=[require(Perm.AUDIT_READ)],
    responses={200: {"content": {"text/csv": {}, "application/pdf": {}}}},
)
def export_log(
    auth: AuthDep,
    db: DbDep,
    filters: FiltersDep,
    format: str = Query("csv", description="csv or pdf"),
) -> Response:
    """The filtered entries as CSV or PDF, stating the chain's head and the filters; the
    export is recorded in the trail (``audit.export``)."""
    chosen = filters.parse(db)
    with db.read() as session:
        exported = export.build_export(session, auth.scope, chosen, format)
    with db.uow(auth.actor) as uow:
        export.record_export(uow, exported)
        uow.commit()
    return Response(
        exported.content,
        media_type=exported.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{exported.filename}"',
            "X-Export-SHA256": exported.sha256,
            "X-Audit-Head": f"{exported.head.seq}:{exported.head.hash}",
        },
    )


@router.get(
    "/verify", response_model=schemas.VerifyPublic, dependencies=[require(Perm.AUDIT_VERIFY)]
)
def verify(
    auth: AuthDep, db: DbDep, head: str | None = Query(None, description="Anchored head hash")
) -> dict[str, object]:
    """Walk the hash chain and report the first broken sequence number."""
    with db.read() as session:
        return views.verification(session, auth.scope, head)


@router.get(
    "/reviews", response_model=list[schemas.ReviewPublic], dependencies=[require(Perm.AUDIT_READ)]
)
def list_reviews(auth: AuthDep, db: DbDep) -> list[dict[str, object]]:
    with db.read() as session:
        return views.reviews(session, auth.scope)


@router.post(
    "/reviews",
    response_model=schemas.ReviewPublic,
    status_code=201,
    dependencies=[require(Perm.AUDIT_REVIEW)],
)
def create_review(body: schemas.ReviewCreate, auth: AuthDep, db: DbDep) -> dict[str, object]:
    """Record a review of the trail up to its current head; sign it to anchor the head."""
    with db.uow(auth.actor) as uow:
        review_id = service.create_review(uow, auth.scope, body.comment).id
        uow.commit()
    return _review(db, auth, review_id)


@router.get(
    "/reviews/{review_id}",
    response_model=schemas.ReviewPublic,
    dependencies=[require(Perm.AUDIT_READ)],
)
def get_review(review_id: int, auth: AuthDep, db: DbDep) -> dict[str, object]:
    return _review(db, auth, review_id)


@router.patch(
    "/reviews/{review_id}",
    response_model=schemas.ReviewPublic,
    dependencies=[require(Perm.AUDIT_REVIEW)],
)
def update_review(
    review_id: int, body: schemas.ReviewUpdate, auth: AuthDep, db: DbDep
) -> dict[str, object]:
    """Edit the comment; refused once the review is signed."""
    with db.uow(auth.actor) as uow:
        service.update_review_comment(uow, auth.scope, review_id, body.comment)
        uow.commit()
    return _review(db, auth, review_id)


@router.post(
    "/reviews/{review_id}/sign",
    response_model=schemas.SignaturePublic,
    status_code=201,
    dependencies=[require(Perm.AUDIT_REVIEW)],
)
def sign_review(
    review_id: int, body: schemas.SignRequest, auth: AuthDep, db: DbDep
) -> dict[str, object]:
    """Sign a review with user name and password asked again (21 CFR 11.200)."""
    with db.uow(auth.actor) as uow:
        sig = service.sign_review(
            uow,
            auth.scope,
            db.settings,
            review_id,
            username=body.username,
            password=body.password,
            meaning=body.meaning,
            shown_hash=body.content_hash,
            reason=body.reason,
        )
        uow.commit()
        return sig.public()


def _review(db: DbDep, auth: AuthDep, review_id: int) -> dict[str, object]:
    with db.read() as session:
        return views.review(session, auth.scope, review_id)
