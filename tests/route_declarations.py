"""What a route declares of who may call it (``require(Perm.X)``, ``require(None)``,
``public()``), read from its dependencies: for the route-permission test, and for the fuzzers,
which fuzz a route only as the roles that hold its permission (the others are refused before
the handler runs, which the route-permission test checks for every pair)."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from sqlalchemy import select

from vein2vein.auth.roles import Perm, has_permission
from vein2vein.auth.tables import User
from vein2vein.store.database import Database

PUBLIC = "public"
LOGGED_IN = "logged in"


def _walk(dependant: Any) -> list[Any]:
    found = []
    for dep in dependant.dependencies:
        found.append(dep.call)
        found.extend(_walk(dep))
    return found


def declaration(route: APIRoute) -> set[Any]:
    """What a route declares: a Perm, LOGGED_IN (require(None)) or PUBLIC."""
    out: set[Any] = set()
    for call in _walk(route.dependant):
        if getattr(call, "v2v_public", False):
            out.add(PUBLIC)
        elif hasattr(call, "v2v_permission"):
            perm = call.v2v_permission
            out.add(LOGGED_IN if perm is None else perm)
    return out


def may_call(role: str, route: APIRoute) -> bool:
    """Whether ``role`` holds what ``route`` declares (public and logged-in routes: yes)."""
    return all(not isinstance(p, Perm) or has_permission(role, p) for p in declaration(route))


def role_of(db: Database, username: str) -> str:
    """The role of a stored user (the demo's, for the fuzzers)."""
    with db.read() as session:
        return session.scalars(select(User.role).where(User.username == username)).one()
