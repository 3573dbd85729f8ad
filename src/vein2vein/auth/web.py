"""Pages: log-in, log-out, the account page (password, API tokens), organisations and users."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlparse

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vein2vein.auth import queues, service, sessions, tokens, views
from vein2vein.auth.roles import Perm, Role
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import InputError, NotFound
from vein2vein.store.uow import Actor, UnitOfWork
from vein2vein.web.context import (
    PRELOGIN_COOKIE,
    SESSION_COOKIE,
    AuthDep,
    CsrfFailed,
    DbDep,
    public,
    require,
)
from vein2vein.web.forms import FormError, Text, apply_change, choice_id, parse_int
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
    try:
        parsed = urlparse(value)
    except ValueError:  # e.g. a malformed IPv6 host: not one of our pages either
        return "/"
    if parsed.scheme or parsed.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


def _to(path: str) -> Response:
    """Where a change done on a page leads (303: see the result with a GET)."""
    return RedirectResponse(path, status_code=303)


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


@dataclass(frozen=True)
class _Visitor:
    """Who posts the log-in form: nobody yet. What was typed as the user name is not kept: it may
    be a password typed in the wrong field (``service.authenticate``)."""

    actor: Actor


@router.get("/login", dependencies=[public()])
def login_form(request: Request, next: str = "/", notice: str = "") -> Response:
    return _login_page(request, _safe_next(next), notice=NOTICES.get(notice))


@router.post("/login", dependencies=[public()])
def login(
    request: Request,
    db: DbDep,
    username: Text = "",
    password: Text = "",
    csrf_token: Text = "",
    next: Text = "/",
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

    def change(uow: UnitOfWork) -> sessions.NewSession:
        if not username.strip() or not password:
            raise InputError("Enter your user name and password.")
        user = service.authenticate(uow, db.settings, username, password)
        return sessions.start_session(uow, user)

    def done(new: sessions.NewSession) -> Response:
        response = RedirectResponse(next_, status_code=303)
        _cookie(response, SESSION_COOKIE, new.token)
        response.delete_cookie(PRELOGIN_COOKIE, path="/")
        return response

    def failed(error: FormError) -> Response:
        return _login_page(request, next_, error.message, username=username, status=error.status)

    visitor = _Visitor(service.LOGIN_ACTOR)
    return apply_change(db, visitor, change, done=done, failed=failed)


@router.post("/logout", dependencies=[require(None)])
def logout(request: Request, auth: AuthDep, db: DbDep) -> Response:
    def done(_: None) -> Response:
        response = RedirectResponse("/login?notice=logout", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    def change(uow: UnitOfWork) -> None:
        sessions.end_session(uow, request.cookies.get(SESSION_COOKIE, ""))

    return apply_change(db, auth, change, done=done, failed=partial(_account, request, auth, db))


# --- account -------------------------------------------------------------------------------


def _account(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    error: FormError | None = None,
    error_key: str = "password_error",
    **extra: object,
) -> Response:
    """The account page; ``error`` is shown at its form (``password_error``, ``token_error``)."""
    with db.read() as session:
        own = views.own_tokens(session, auth.scope)
    context = {"tokens": own, **extra} | ({error_key: error.message} if error else {})
    return render(request, "account.html", context, status_code=error.status if error else 200)


@router.get("/account", dependencies=[require(None)])
def account(request: Request, auth: AuthDep, db: DbDep, notice: str = "") -> Response:
    return _account(
        request, auth, db, must_change=auth.must_change_password or notice == "change-password"
    )


@router.post("/account/password", dependencies=[require(None)])
def account_password(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    current_password: Text = "",
    new_password: Text = "",
    confirm_password: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        if new_password != confirm_password:
            raise InputError("the two new passwords differ", field="confirm_password")
        service.change_password(
            uow,
            auth.scope,
            db.settings,
            current_password,
            new_password,
            keep_session=request.cookies.get(SESSION_COOKIE),
        )

    page = partial(_account, request, auth, db, error_key="password_error")
    return apply_change(db, auth, change, done=lambda _: page(password_done=True), failed=page)


@router.post("/account/tokens", dependencies=[require(None)])
def account_token_create(
    request: Request, auth: AuthDep, db: DbDep, name: Text = "", days: Text = "90"
) -> Response:
    def change(uow: UnitOfWork) -> str:
        lifetime = parse_int(days, "days", "Days")
        _, plain = tokens.create_token(uow, auth.scope, name, lifetime or 0)
        return plain

    page = partial(_account, request, auth, db, error_key="token_error")
    return apply_change(db, auth, change, done=lambda plain: page(new_token=plain), failed=page)


@router.post("/account/tokens/{token_id}/revoke", dependencies=[require(None)])
def account_token_revoke(request: Request, token_id: int, auth: AuthDep, db: DbDep) -> Response:
    def change(uow: UnitOfWork) -> None:
        tokens.revoke_token(uow, auth.scope, token_id)

    failed = partial(_account, request, auth, db, error_key="token_error")
    return apply_change(db, auth, change, done=lambda _: _to("/account"), failed=failed)


# --- organisations and users ---------------------------------------------------------------


@router.get("/orgs", dependencies=[require(Perm.ORG_READ)])
def orgs_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        orgs = views.organisations(session, auth.scope)
    return render(request, "orgs.html", {"orgs": orgs})


@router.get("/orgs/{org_id}", dependencies=[require(Perm.ORG_READ)])
def org_page(request: Request, org_id: int, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        org = views.organisation(session, auth.scope, org_id)
    return render(request, "org.html", {"org": org, "sites": org["sites"], "users": org["users"]})


@router.get("/users", dependencies=[require(Perm.USER_READ)])
def users_page(
    request: Request, auth: AuthDep, db: DbDep, locked: str = "", tokens: str = ""
) -> Response:
    return _users(request, auth, db, filters={"locked": locked, "tokens": tokens})


def _users(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    error: FormError | None = None,
    form: dict[str, str] | None = None,
    filters: dict[str, str] | None = None,
) -> Response:
    with db.read() as session:
        users = views.users(session, auth.scope)
        orgs = views.organisations(session, auth.scope)
        # a home-page queue: exactly the users it counted (auth/queues.py)
        chosen = queues.user_filter(session, auth.scope, utcnow(), **(filters or {}))
    if chosen is not None:
        users = [u for u in users if u["id"] in chosen[1]]
    context = {"users": users, "orgs": orgs, "roles": [r.value for r in Role], "form": form}
    context["filter_label"] = chosen[0] if chosen else None
    return render(
        request,
        "users.html",
        context | (error.context() if error else {}),
        status_code=error.status if error else 200,
    )


@router.post("/users", dependencies=[require(Perm.USER_MANAGE)])
def users_create(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    username: Text = "",
    full_name: Text = "",
    organisation_id: Text = "",
    role: Text = "",
    password: Text = "",
) -> Response:
    # what was typed comes back on the form when refused, except the password
    form = {
        "username": username,
        "full_name": full_name,
        "organisation_id": organisation_id,
        "role": role,
    }

    def change(uow: UnitOfWork) -> int:
        org = choice_id(organisation_id, "organisation_id", "an organisation")
        try:
            user = service.create_user(
                uow,
                auth.scope,
                db.settings,
                username=username,
                full_name=full_name,
                organisation=org,
                role=role,
                password=password,
                must_change_password=True,
            )
        except NotFound:  # absent or another client's: the same answer
            raise InputError("choose an organisation", field="organisation_id") from None
        return user.id

    failed = partial(_users, request, auth, db, form=form)
    return apply_change(
        db, auth, change, done=lambda new_id: _to(f"/users/{new_id}"), failed=failed
    )


@router.get("/users/{user_id}", dependencies=[require(Perm.USER_READ)])
def user_page(request: Request, user_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _user(request, user_id, auth, db)


def _user(
    request: Request, user_id: int, auth: AuthDep, db: DbDep, error: FormError | None = None
) -> Response:
    with db.read() as session:
        page = views.user_page(session, auth.scope, user_id)
    context = page | {"roles": [r.value for r in Role]} | (error.context() if error else {})
    return render(request, "user.html", context, status_code=error.status if error else 200)


@router.post("/users/{user_id}/{action}", dependencies=[require(Perm.USER_MANAGE)])
def user_action(
    request: Request,
    user_id: int,
    action: str,
    auth: AuthDep,
    db: DbDep,
    reason: Text = "",
    role: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        if action == "disable":
            service.disable_user(uow, auth.scope, user_id, reason)
        elif action == "unlock":
            service.unlock_user(uow, auth.scope, user_id, reason)
        elif action == "role":
            service.set_role(uow, auth.scope, user_id, role, reason)
        else:
            raise InputError(f"unknown action '{action}'", field="action")

    failed = partial(_user, request, user_id, auth, db)
    return apply_change(db, auth, change, done=lambda _: _to(f"/users/{user_id}"), failed=failed)
