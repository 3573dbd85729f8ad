"""Per-request authentication context and the dependencies routes declare."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from vein2vein.auth import sessions, tokens
from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.core.errors import AuthenticationFailed, PermissionDenied
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

SESSION_COOKIE = "v2v_session"
PRELOGIN_COOKIE = "v2v_prelogin"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class NotAuthenticated(AuthenticationFailed):
    """No valid session or token: pages redirect to the log-in, the API answers 401."""

    def __init__(self, message: str, notice: str = "required") -> None:
        super().__init__(message)
        self.notice = notice


class CsrfFailed(PermissionDenied):
    title = "Form expired"


class PasswordChangeRequired(PermissionDenied):
    title = "Password change required"


#: what a user who must replace an administrator-chosen password may still reach
PASSWORD_CHANGE_PATHS = ("/account", "/logout", "/static/", "/assets/", "/api/health")


@dataclass(frozen=True)
class Auth:
    scope: Scope
    via: str  # "session" | "token"
    csrf_token: str | None = None
    must_change_password: bool = False

    @property
    def actor(self) -> Actor:
        return Actor(
            name=self.scope.username,
            user_id=self.scope.user_id,
            organisation_id=self.scope.organisation_id,
        )


def get_db(request: Request) -> Database:
    return request.app.state.db


DbDep = Annotated[Database, Depends(get_db)]


def _authenticate(request: Request, db: Database) -> Auth:
    """Who is calling: a bearer token or a session cookie, read without a write lock unless
    something must be written (auth/sessions.py, auth/tokens.py)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return Auth(scope=tokens.resume_token(db, header[7:].strip()), via="token")
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotAuthenticated("Please log in.")
    try:
        live = sessions.resume(db, token)
    except sessions.SessionExpired as exc:
        raise NotAuthenticated(exc.message, exc.notice) from None
    return Auth(
        scope=live.scope,
        via="session",
        csrf_token=live.csrf_token,
        must_change_password=live.must_change_password,
    )


async def authenticate(request: Request) -> Auth:
    """Who the caller is (session cookie or bearer token), without the CSRF check and without
    caching: for the body-size middleware, which must know before a large body is read."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_authenticate, request, request.app.state.db)


async def current_auth(request: Request) -> Auth:
    cached = getattr(request.state, "auth", None)
    if cached is not None:
        return cached
    db: Database = request.app.state.db
    from starlette.concurrency import run_in_threadpool

    auth = await run_in_threadpool(_authenticate, request, db)
    if auth.via == "session" and request.method in UNSAFE:
        await _check_csrf(request, auth.csrf_token or "")
    request.state.auth = auth
    if auth.must_change_password and not request.url.path.startswith(PASSWORD_CHANGE_PATHS):
        raise PasswordChangeRequired(
            "Your password was set by an administrator: choose your own password first."
        )
    return auth


async def _check_csrf(request: Request, expected: str) -> None:
    supplied = request.headers.get("x-csrf-token")
    if supplied is None:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf_token")
            supplied = value if isinstance(value, str) else None
    if not supplied or not hmac.compare_digest(supplied.encode(), expected.encode()):
        raise CsrfFailed(
            "The form could not be verified (missing or stale security token). "
            "Reload the page and try again; nothing was changed."
        )


AuthDep = Annotated[Auth, Depends(current_auth)]


def require(perm: Perm | None) -> Any:
    """Route dependency that declares and checks the route's permission.

    Every route declares exactly one: ``require(Perm.X)`` (the caller's role must hold it),
    ``require(None)`` (any logged-in user: home, own account) or :func:`public` (log-in, health,
    assets). ``tests/e2e/test_route_permissions.py`` fails on a route without one and checks the
    declared permission against the roles table.

    On a route that names a record (a path parameter), a sponsor's user who lacks the permission
    is refused by the service *after* it has looked the record up in the caller's scope: another
    client's record is then "not found" (as an absent one), the caller's own record "forbidden".
    Refusing here, before the look-up, would have to answer one or the other for both. The
    route-permissions test requests every such route as every role lacking its permission, so a
    service that forgets the check fails there. Everywhere else the check is made here.
    """

    async def dependency(request: Request, auth: AuthDep) -> Auth:
        if perm is not None and not auth.scope.can(perm):
            if request.path_params and not auth.scope.is_cdmo:
                return auth  # the service refuses after the scoped look-up (see above)
            auth.scope.require(perm)
        return auth

    dependency.v2v_permission = perm  # type: ignore[attr-defined]
    return Depends(dependency)


async def _public() -> None:
    """Marks a route that answers without log-in (its handler reveals no record)."""


_public.v2v_public = True  # type: ignore[attr-defined]


def public() -> Any:
    """Route dependency that declares a route open without log-in (log-in page, health, assets)."""
    return Depends(_public)
