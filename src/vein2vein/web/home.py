"""The home page (real counts of what the store holds, within scope) and the health endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from vein2vein import __version__
from vein2vein.store.migrate import current_revision
from vein2vein.web import views
from vein2vein.web.context import AuthDep, DbDep, public, require
from vein2vein.web.templating import render
from vein2vein.web.views import HomeCounts as HomeCounts  # the app kit names it home.HomeCounts

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["service"])


@pages.get("/", dependencies=[require(None)])
def home(request: Request, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        counts = views.store_counts(session, auth.scope, request.app.state.home_counts)
        recent = views.recent_entries(session, auth.scope)
    return render(request, "home.html", {"counts": counts, "recent": recent})


class Health(BaseModel):
    status: str
    version: str
    database: str
    schema_revision: str | None


@api.get("/health", response_model=Health, dependencies=[public()])
def health(db: DbDep) -> Health:
    """Liveness and database reachability (no authentication; reveals no records)."""
    with db.read() as session:
        views.database_answers(session)
    return Health(
        status="ok",
        version=__version__,
        database=db.engine.dialect.name,
        schema_revision=current_revision(db.engine),
    )
