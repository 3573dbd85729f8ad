"""Pages: log-in, log-out, the account page (password, API tokens), organisations and users."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from vein2vein.auth import service
from vein2vein.auth.roles import Perm, Role
from vein2vein.auth.scope import get_scoped
from vein2vein.auth.signatures import signatures_for
from vein2vein.auth.tables import ApiToken, Organisation, User
from vein2vein.core.errors import AuthenticationFailed, Conflict, InputError, NotFound
from vein2vein.store import audit
from vein2vein.store.uow import Actor
from vein2vein.web.context import (
    PRELOGIN_COOKIE,
    SESSION_COOKIE,
    AuthDep,
    CsrfFailed,
    DbDep,
)
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)

NOTICES = {
    "idle": "Your session ended after a period without activity. Please log in again.",
    "max-age": "Your session reached its maximum length. Please log in again.",
    "inactive": "Your account is no longer active.",
    "required": "Please log in to continue.",
    "logout": "You are logged out.",
}


def _safe_next(value: str | None) -> str:
    if not value:
        return "/"
    parsed = urlparse(value)
    if parsed.scheme or parsed.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


def _cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name, value, httponly=True, secure=True, samesite="lax", path="/", max_age=max_age
    )


def _login_page(
    request: Request,
    next_: str,
    error: str | None = None,
    notice: str | None = None,
    username: str = "",
    status: int = 200,
) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"next": next_, "error": error, "notice": notice, "prelogin": token, "username": username},
        status_code=status,
    )
    _cookie(response, PRELOGIN_COOKIE, token, max_age=3600)
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/", notice: str = "") -> Response:
    return _login_page(request, _safe_next(next), notice=NOTICES.get(notice))


@router.post("/login")
def login(
    request: Request,
    db: DbDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    next_ = _safe_next(next)
    cookie = request.cookies.get(PRELOGIN_COOKIE, "")
    if (
        not cookie
        or not csrf_token
        or not hmac.compare_digest(cookie.encode(), csrf_token.encode())
    ):
        return _login_page(
            request,
            next_,
            error=CsrfFailed("").title + ": reload the page and try again.",
            username=username,
            status=403,
        )
    if not username.strip() or not password:
        return _login_page(
            request,
            next_,
            error="Enter your user name and password.",
            username=username,
            status=422,
        )
    try:
        with db.uow(Actor.anonymous(username.strip()[:64])) as uow:
            user = service.authenticate(uow, db.settings, username, password)
            new = service.start_session(uow, user)
            uow.commit()
    except AuthenticationFailed as exc:
        return _login_page(request, next_, error=exc.message, username=username, status=401)
    response = RedirectResponse(next_, status_code=303)
    _cookie(response, SESSION_COOKIE, new.token)
    response.delete_cookie(PRELOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, auth: AuthDep, db: DbDep) -> Response:
    with db.uow(auth.actor) as uow:
        service.end_session(uow, request.cookies.get(SESSION_COOKIE, ""))
        uow.commit()
    response = RedirectResponse("/login?notice=logout", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- account -------------------------------------------------------------------------------


def _account(request: Request, auth: AuthDep, db: DbDep, **extra: object) -> Response:
    with db.read() as session:
        tokens = [
            t.public()
            for t in session.scalars(
                select(ApiToken).where(ApiToken.user_id == auth.scope.user_id).order_by(ApiToken.id)
            )
        ]
    status = int(extra.pop("status", 200))  # type: ignore[call-overload]
    return render(request, "account.html", {"tokens": tokens, **extra}, status_code=status)


@router.get("/account")
def account(request: Request, auth: AuthDep, db: DbDep, notice: str = "") -> Response:
    return _account(
        request, auth, db, must_change=auth.must_change_password or notice == "change-password"
    )


@router.post("/account/password")
def account_password(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    confirm_password: Annotated[str, Form()] = "",
) -> Response:
    try:
        if new_password != confirm_password:
            raise InputError("the two new passwords differ", field="confirm_password")
        with db.uow(auth.actor) as uow:
            user = uow.session.get_one(User, auth.scope.user_id, with_for_update=True)
            service.change_password(
                uow,
                db.settings,
                user,
                current_password,
                new_password,
                keep_session=request.cookies.get(SESSION_COOKIE),
            )
            uow.commit()
    except InputError as exc:
        return _account(request, auth, db, password_error=exc.message, status=422)
    return _account(request, auth, db, password_done=True)


@router.post("/account/tokens")
def account_token_create(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    name: Annotated[str, Form()] = "",
    days: Annotated[str, Form()] = "90",
) -> Response:
    try:
        try:
            lifetime = int(days)
        except ValueError:
            raise InputError("enter a whole number of days", field="days") from None
        with db.uow(auth.actor) as uow:
            user = uow.session.get_one(User, auth.scope.user_id)
            _, plain = service.create_token(uow, user, name, lifetime)
            uow.commit()
    except InputError as exc:
        return _account(request, auth, db, token_error=exc.message, status=422)
    return _account(request, auth, db, new_token=plain)


@router.post("/account/tokens/{token_id}/revoke")
def account_token_revoke(request: Request, token_id: int, auth: AuthDep, db: DbDep) -> Response:
    with db.uow(auth.actor) as uow:
        user = uow.session.get_one(User, auth.scope.user_id)
        service.revoke_token(uow, user, token_id)
        uow.commit()
    return RedirectResponse("/account", status_code=303)


# --- organisations and users ---------------------------------------------------------------


@router.get("/orgs")
def orgs_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    auth.scope.require(Perm.ORG_READ)
    with db.read() as session:
        stmt = auth.scope.filter(select(Organisation), Organisation, "id").order_by(
            Organisation.name
        )
        orgs = [o.public() | {"sites": len(o.sites)} for o in session.scalars(stmt)]
    return render(request, "orgs.html", {"orgs": orgs})


@router.get("/orgs/{org_id}")
def org_page(request: Request, org_id: int, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        org = get_scoped(session, auth.scope, Organisation, org_id, "id")
        auth.scope.require(Perm.ORG_READ)
        users = []
        if auth.scope.can(Perm.USER_READ):
            users = [
                u.public()
                for u in session.scalars(
                    select(User).where(User.organisation_id == org.id).order_by(User.username)
                )
            ]
        return render(
            request,
            "org.html",
            {
                "org": org.public(),
                "sites": [s.public() for s in org.sites],
                "users": users,
            },
        )


@router.get("/users")
def users_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    auth.scope.require(Perm.USER_READ)
    return _users(request, auth, db)


def _users(
    request: Request, auth: AuthDep, db: DbDep, status: int = 200, **extra: object
) -> Response:
    with db.read() as session:
        users = [u.public() for u in service.list_users(session, auth.scope)]
        orgs = [
            o.public()
            for o in session.scalars(
                auth.scope.filter(select(Organisation), Organisation, "id").order_by(
                    Organisation.name
                )
            )
        ]
    return render(
        request,
        "users.html",
        {"users": users, "orgs": orgs, "roles": [r.value for r in Role], **extra},
        status_code=status,
    )


@router.post("/users")
def users_create(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    username: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form()] = "",
    organisation_id: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    auth.scope.require(Perm.USER_MANAGE)
    form = {
        "username": username,
        "full_name": full_name,
        "organisation_id": organisation_id,
        "role": role,
    }
    try:
        with db.uow(auth.actor) as uow:
            try:
                org = get_scoped(uow.session, auth.scope, Organisation, organisation_id, "id")
            except NotFound:
                raise InputError("choose an organisation", field="organisation_id") from None
            user = service.create_user(
                uow,
                db.settings,
                username=username,
                full_name=full_name,
                organisation=org,
                role=role,
                password=password,
                must_change_password=True,
            )
            uow.commit()
            new_id = user.id
    except (InputError, Conflict) as exc:
        return _users(request, auth, db, status=422, error=exc.message, form=form)
    return RedirectResponse(f"/users/{new_id}", status_code=303)


@router.get("/users/{user_id}")
def user_page(request: Request, user_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _user(request, user_id, auth, db)


def _user(
    request: Request, user_id: int, auth: AuthDep, db: DbDep, status: int = 200, **extra: object
) -> Response:
    with db.read() as session:
        user = get_scoped(session, auth.scope, User, user_id)
        auth.scope.require(Perm.USER_READ)
        history = []
        if auth.scope.can(Perm.AUDIT_READ):
            history = [
                e.to_dict()
                for e in audit.query(
                    session,
                    entity_type="user",
                    entity_id=str(user.id),
                    organisation_ids=auth.scope.organisation_ids,
                    newest_first=True,
                    limit=50,
                )
            ]
        return render(
            request,
            "user.html",
            {
                "user": user.public(),
                "roles": [r.value for r in Role],
                "history": history,
                "signatures": [s.public() for s in signatures_for(session, "user", user.id)],
                **extra,
            },
            status_code=status,
        )


@router.post("/users/{user_id}/{action}")
def user_action(
    request: Request,
    user_id: int,
    action: str,
    auth: AuthDep,
    db: DbDep,
    reason: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
) -> Response:
    try:
        with db.uow(auth.actor) as uow:
            user = get_scoped(uow.session, auth.scope, User, user_id)
            auth.scope.require(Perm.USER_MANAGE)
            if action == "disable":
                service.disable_user(uow, user, reason)
            elif action == "unlock":
                service.unlock_user(uow, user, reason)
            elif action == "role":
                service.set_role(uow, user, role, reason)
            else:
                raise InputError(f"unknown action '{action}'", field="action")
            uow.commit()
    except (InputError, Conflict) as exc:
        return _user(request, user_id, auth, db, status=422, error=exc.message)
    return RedirectResponse(f"/users/{user_id}", status_code=303)
