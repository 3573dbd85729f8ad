"""The home page (real counts of what the store holds, within scope) and the health endpoint."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from starlette.responses import Response

from vein2vein import __version__
from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.store import audit
from vein2vein.store.migrate import current_revision
from vein2vein.web.context import AuthDep, DbDep
from vein2vein.web.templating import render

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["service"])

#: what a feature contributes to the home page: counts of its records the caller may see
HomeCounts = Callable[[Session, Scope], dict[str, int]]


def store_counts(session: Session, scope: Scope, sources: Sequence[HomeCounts]) -> dict[str, int]:
    """Counts of records the caller may see (a sponsor's counts never include other clients)."""
    counts: dict[str, int] = {}
    for source in sources:
        counts.update(source(session, scope))
    if scope.can(Perm.AUDIT_READ):
        stmt = select(func.count()).select_from(audit.AuditEntry)
        if scope.organisation_ids is not None:
            stmt = stmt.where(audit.AuditEntry.organisation_id.in_(scope.organisation_ids))
        counts["audit_entries"] = int(session.scalar(stmt) or 0)
    return counts


@pages.get("/")
def home(request: Request, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        counts = store_counts(session, auth.scope, request.app.state.home_counts)
        recent = []
        if auth.scope.can(Perm.AUDIT_READ):
            recent = [
                e.to_dict()
                for e in audit.query(
                    session,
                    organisation_ids=auth.scope.organisation_ids,
                    newest_first=True,
                    limit=10,
                )
            ]
    return render(request, "home.html", {"counts": counts, "recent": recent})


class Health(BaseModel):
    status: str
    version: str
    database: str
    schema_revision: str | None


@api.get("/health", response_model=Health)
def health(db: DbDep) -> Health:
    """Liveness and database reachability (no authentication; reveals no records)."""
    with db.read() as session:
        session.execute(text("SELECT 1"))
    return Health(
        status="ok",
        version=__version__,
        database=db.engine.dialect.name,
        schema_revision=current_revision(db.engine),
    )
