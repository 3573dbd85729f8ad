"""One permission table (issue 9): every route declares the permission it needs, and the roles
table (``auth.roles.ROLE_PERMISSIONS``) is the only place that grants it.

- every registered API and page route declares exactly one of ``require(Perm.X)``,
  ``require(None)`` (any logged-in user) or ``public()`` — a new route without one fails here;
- every role that does not hold a route's permission is refused (403, or 404 for a sponsor on a
  route that names a record), over HTTP, for every such (route, role) pair;
- the matrix in docs/security.md is the one generated from the roles table.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute
from tests import factories
from tests.factories import PASSWORD
from tests.openapi_examples import example_body
from tests.route_declarations import PUBLIC, declaration
from tests.webclient import client, logged_in

from vein2vein.auth import service, tokens
from vein2vein.auth.roles import ROLE_KIND, ROLE_PERMISSIONS, Perm, Role, permission_matrix_markdown
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor
from vein2vein.web.app import registered_routes

PARAM = re.compile(r"{(\w+)(?::\w+)?}")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_every_route_declares_exactly_one_permission(sqlite_db: Database) -> None:
    app = client(sqlite_db).app
    missing, several = [], []
    for route in registered_routes(app):
        found = declaration(route)
        if not found:
            missing.append(f"{sorted(route.methods)} {route.path}")
        elif len(found) > 1:
            several.append(f"{route.path}: {found}")
    assert not missing, "routes without require(...) or public():\n" + "\n".join(missing)
    assert not several, "routes declaring several permissions:\n" + "\n".join(several)


def test_the_declaration_is_found() -> None:
    """The walk above sees what require() and public() mark (guards the test itself)."""
    from fastapi import APIRouter

    from vein2vein.web.context import public, require

    router = APIRouter()

    @router.get("/a", dependencies=[require(Perm.PLAN_READ)])
    def a() -> None: ...

    @router.get("/b", dependencies=[public()])
    def b() -> None: ...

    @router.get("/c")
    def c() -> None: ...

    routes = {r.path: r for r in router.routes if isinstance(r, APIRoute)}
    assert declaration(routes["/a"]) == {Perm.PLAN_READ}
    assert declaration(routes["/b"]) == {PUBLIC}
    assert declaration(routes["/c"]) == set()


def test_every_permission_is_granted_to_some_role_and_described() -> None:
    granted = set().union(*ROLE_PERMISSIONS.values())
    assert set(Perm) == granted, f"never granted: {set(Perm) - granted}"
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_docs_show_the_generated_matrix() -> None:
    text = DOCS.read_text(encoding="utf-8")
    start, end = "<!-- permission-matrix:start -->", "<!-- permission-matrix:end -->"
    assert start in text and end in text, f"{DOCS} lacks the permission-matrix markers"
    block = text.split(start, 1)[1].split(end, 1)[0].strip()
    assert block == permission_matrix_markdown(), (
        "docs/security.md's matrix is out of date: regenerate it with\n"
        "  .venv/bin/python -c 'from vein2vein.auth.roles import permission_matrix_markdown as m;"
        " print(m())'"
    )


def _body(spec: dict[str, Any], path: str, method: str) -> Any:
    """A valid JSON body for the operation (so that the request reaches the permission check
    rather than stopping at validation), or None."""
    operation = spec["paths"].get(path, {}).get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    defs = spec.get("components", {}).get("schemas", {})
    return example_body(content["application/json"]["schema"], defs, {})


def _fill(path: str) -> str:
    return PARAM.sub("1", path)


def test_roles_lacking_a_routes_permission_are_refused(sqlite_db: Database) -> None:
    db = sqlite_db
    cdmo = factories.org(db, "CDMO", "Northbridge")
    sponsor = factories.org(db, "SPONSOR", "Helixa")
    factories.program(db, sponsor, "HLX-1")
    app = client(db).app
    spec = client(db).get("/api/openapi.json").json()
    routes = [
        (route, perm)
        for route in registered_routes(app)
        for perm in declaration(route)
        if isinstance(perm, Perm)
    ]
    wrong: list[str] = []
    checked = 0
    for role in Role:
        org = cdmo if ROLE_KIND[role].value == "CDMO" else sponsor
        username = f"perm.{role.value}"
        factories.user(db, org, role.value, username=username)
        pages, csrf = logged_in(db, username, PASSWORD)
        with db.uow(Actor("t")) as uow:
            scope = service.scope_of(service.user_by_username(uow.session, username))
            _, token = tokens.create_token(uow, scope, "perm", 1)
            uow.commit()
        api = client(db)
        api.headers["authorization"] = f"Bearer {token}"
        for route, perm in routes:
            if perm in ROLE_PERMISSIONS[role]:
                continue
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                path = _fill(route.path)
                if route.path.startswith("/api/"):
                    r = api.request(method, path, json=_body(spec, route.path, method))
                else:
                    data = {"csrf_token": csrf} if method != "GET" else None
                    r = pages.request(method, path, data=data, follow_redirects=False)
                checked += 1
                if r.status_code not in (403, 404):
                    wrong.append(
                        f"{role.value} {method} {route.path} ({perm.value}): {r.status_code}"
                    )
    assert checked > 50
    assert not wrong, "roles without the permission were not refused:\n" + "\n".join(wrong)
