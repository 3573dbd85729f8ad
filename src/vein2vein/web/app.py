"""FastAPI application factory: mounts every feature's pages and API routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from vein2vein import __version__
from vein2vein.audittrail import api as audit_api
from vein2vein.audittrail import web as audit_web
from vein2vein.auth import api as auth_api
from vein2vein.auth import web as auth_web
from vein2vein.auth.roles import Perm
from vein2vein.clinical import api as clinical_api
from vein2vein.clinical import web as clinical_web
from vein2vein.core.settings import Settings, get_settings
from vein2vein.identity import api as identity_api
from vein2vein.identity import web as identity_web
from vein2vein.programs import api as programs_api
from vein2vein.programs import web as programs_web
from vein2vein.scheduling import api as schedule_api
from vein2vein.scheduling import web as schedule_web
from vein2vein.store.database import Database
from vein2vein.store.migrate import ensure_up_to_date
from vein2vein.web import assets, errors, home
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


def navigation() -> Navigation:
    nav = Navigation()
    nav.add(NavItem("Home", "/", section="Overview"))
    nav.add(NavItem("Programs", "/programs", Perm.PROGRAM_READ))
    nav.add(NavItem("Orders", "/coi", Perm.PROGRAM_READ))
    nav.add(NavItem("Patients", "/coi/patients", Perm.PROGRAM_READ))
    nav.add(NavItem("Scan", "/coi/scan", Perm.PROGRAM_READ))
    nav.add(NavItem("Mismatches", "/coi/mismatches", Perm.PROGRAM_READ))
    nav.add(NavItem("Clinical", "/clinical", Perm.PROGRAM_READ))
    nav.add(NavItem("Schedule", "/schedule", Perm.PROGRAM_READ))
    nav.add(NavItem("Organisations", "/orgs", Perm.ORG_READ, section="Administration"))
    nav.add(NavItem("Users", "/users", Perm.USER_READ, section="Administration"))
    nav.add(NavItem("Audit trail", "/audit", Perm.AUDIT_READ, section="Compliance"))
    nav.add(NavItem("Audit reviews", "/audit/reviews", Perm.AUDIT_REVIEW, section="Compliance"))
    nav.add(NavItem("Verify chain", "/audit/verify", Perm.AUDIT_VERIFY, section="Compliance"))
    return nav


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    """Build the application; refuses to start on a database whose schema is out of date."""
    settings = settings or get_settings()
    db = db or Database(settings)
    ensure_up_to_date(db.engine)

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
    app.state.templates = make_templates()
    app.state.nav = navigation()

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            if key == "Content-Security-Policy" and request.url.path == "/api/docs":
                continue  # Swagger UI loads its own assets
            response.headers.setdefault(key, value)
        return response

    errors.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.routers = [
        home.api,
        auth_api.router,
        programs_api.router,
        identity_api.router,
        clinical_api.router,
        schedule_api.router,
        audit_api.router,
        home.pages,
        assets.router,
        auth_web.router,
        programs_web.router,
        identity_web.router,
        clinical_web.router,
        schedule_web.router,
        audit_web.router,
    ]
    for router in app.state.routers:
        app.include_router(router)
    return app


def registered_routes(app: FastAPI) -> list[APIRoute]:
    """Every API and page route the features registered (for tests such as tenant isolation)."""
    return [r for router in app.state.routers for r in router.routes if isinstance(r, APIRoute)]
