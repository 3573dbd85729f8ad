"""The home page (the work queues of the caller's role, then small counts of what the store holds,
within scope) and the health endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from vein2vein import __version__
from vein2vein.core.clock import utcnow
from vein2vein.web import queues, views
from vein2vein.web.context import AuthDep, DbDep, public, require
from vein2vein.web.templating import render
from vein2vein.web.views import HomeCounts as HomeCounts  # the app kit names it home.HomeCounts

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["service"])


@pages.get("/", dependencies=[require(None)])
def home(request: Request, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        work = queues.queues_for(session, auth.scope, request.app.state.work_queues, utcnow())
        counts = views.store_counts(session, auth.scope, request.app.state.home_counts)
        recent = views.recent_entries(session, auth.scope)
    return render(request, "home.html", {"queues": work, "counts": counts, "recent": recent})


class Health(BaseModel):
    status: str
    version: str
    database: str
    schema_revision: str | None


@api.get("/health", response_model=Health, dependencies=[public()])
def health(db: DbDep, deep: bool = False) -> Health:
    """Liveness and database reachability (no authentication; reveals no records).

    ``status`` is "ok" when the server answers and the database answered a read of its schema
    revision (``schema_revision``) within the last second; otherwise that read is made now, and
    a database that does not answer gives an error (500). ``?deep=1`` always reads now. So the
    endpoint costs at most one database read a second per server process, however often it is
    polled. Like every page, it is answered from the server's thread pool: a server whose
    threads are all stuck does not look healthy."""
    state = views.database_check(db).state(fresh=deep)
    return Health(
        status="ok",
        version=__version__,
        database=db.engine.dialect.name,
        schema_revision=state.revision,
    )
