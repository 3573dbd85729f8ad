"""FastAPI application kit: builds the app from the routers, navigation and templates it is given.

It imports no feature: ``vein2vein.features.create_app`` hands it every feature's pieces.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, params
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from vein2vein import __version__
from vein2vein.core.errors import RuleViolation
from vein2vein.core.settings import Settings, get_settings
from vein2vein.store.database import Database
from vein2vein.store.migrate import ensure_up_to_date
from vein2vein.store.privileges import check_application_role
from vein2vein.web import assets, errors, home, openapi, queues
from vein2vein.web.context import authenticate
from vein2vein.web.limits import BodyLimit
from vein2vein.web.nav import Navigation, NavItem
from vein2vein.web.templating import make_templates

STATIC = Path(__file__).with_name("static")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "Cache-Control": "no-store",
}


def navigation(items: Sequence[NavItem]) -> Navigation:
    nav = Navigation()
    nav.add(NavItem("Home", "/", section="Overview"))
    for item in items:
        nav.add(item)
    return nav


def build_app(
    settings: Settings | None,
    db: Database | None,
    *,
    api_routers: Sequence[APIRouter],
    page_routers: Sequence[APIRouter],
    nav: Sequence[NavItem],
    template_folders: Sequence[Path],
    home_counts: Sequence[home.HomeCounts] = (),
    work_queues: Sequence[queues.QueueSource] = (),
) -> FastAPI:
    """Build the application; refuses to start on a database whose schema is out of date."""
    settings = settings or get_settings()
    db = db or Database(settings)
    ensure_up_to_date(db.engine)
    if settings.environment == "production":
        problems = check_application_role(db.engine, db.schema)
        if problems:
            raise RuleViolation(
                "refusing to serve production with more than row privileges: "
                + "; ".join(problems)
                + " (connect as the application role, docs/security.md)"
            )

    app = FastAPI(
        title="vein2vein",
        version=__version__,
        description="The audited record of an autologous CAR-T program: API.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.db = db
    app.state.settings = settings
    app.state.templates = make_templates(template_folders, settings.display_time_zone)
    app.state.nav = navigation(nav)
    app.state.home_counts = tuple(home_counts)
    app.state.work_queues = tuple(work_queues)

    routers = [home.api, *api_routers, home.pages, assets.router, *page_routers]
    app.add_middleware(
        BodyLimit,
        form_bytes=settings.max_form_kb * 1024,
        upload_bytes=settings.max_upload_mb * 2**20,
        upload_paths=upload_paths(routers),
        authenticate=authenticate,
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            if key == "Content-Security-Policy" and request.url.path == "/api/docs":
                continue  # Swagger UI loads its own assets
            response.headers.setdefault(key, value)
        return response

    errors.install(app)
    openapi.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.routers = routers
    for router in app.state.routers:
        app.include_router(router)
    return app


def api_routes(router: APIRouter) -> Iterator[APIRoute]:
    """The API routes of ``router``, and those of the routers included in it: FastAPI keeps an
    included router as one entry (``original_router``), whose routes a plain
    ``isinstance(route, APIRoute)`` filter never sees. Neither the including router nor the
    inclusion may add a prefix or dependencies, or the routes found here would not be the
    routes served (add routes one by one, ``router.routes.extend(...)``, where they must)."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            yield route
            continue
        inner = getattr(route, "original_router", None)
        if inner is None:
            continue
        context = route.include_context  # type: ignore[attr-defined]
        if router.prefix or context.prefix or context.dependencies:
            raise RuntimeError(
                "a router included with a prefix or dependencies of its own or of the router "
                "including it: extend the router with the included router's routes instead"
            )
        yield from api_routes(inner)


def upload_paths(routers: Sequence[APIRouter]) -> list[re.Pattern[str]]:
    """Path patterns of the routes that take uploaded files (a ``File`` parameter)."""
    return [
        route.path_regex
        for router in routers
        for route in api_routes(router)
        if any(isinstance(p.field_info, params.File) for p in route.dependant.body_params)
    ]


def registered_routes(app: FastAPI) -> list[APIRoute]:
    """Every API and page route the features registered (for tests such as tenant isolation),
    those of included routers too."""
    return [r for router in app.state.routers for r in api_routes(router)]
