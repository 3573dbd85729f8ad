"""API tokens: per user, named, always expiring, stored as SHA-256 only.

A token is issued to the caller (or, by an administrator at the command line, to a named user),
never while the user still has a password an administrator chose (``must_change_password``): a
token made then would outlive the password change. Changing or resetting a password, and
disabling a user, revoke every token of that user.

Looking a token up is a read in the common case (``resume_token``); ``last_used_at`` is written
at most once a minute.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.auth import lookup
from vein2vein.auth.lookup import Ref
from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope, scope_of
from vein2vein.auth.sessions import token_hash
from vein2vein.auth.tables import ApiToken, User
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import (
    AuthenticationFailed,
    Conflict,
    InputError,
    NotFound,
    PermissionDenied,
)
from vein2vein.core.text import clean_text, parse_id
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor, UnitOfWork

TOKEN_PREFIX = "v2v"
#: how stale ``last_used_at`` may get before a request refreshes it
USE_INTERVAL = dt.timedelta(minutes=1)


def create_token(
    uow: UnitOfWork,
    scope: Scope,
    name: str,
    days: int = 90,
    *,
    user: Ref | None = None,
) -> tuple[ApiToken, str]:
    """Issue an API token; the plain value is returned once and only its hash is kept.

    ``user`` (an id or a user name): issue it to that user, which needs ``user.manage`` (an
    administrator at the command line); by default the token is the caller's own. Every token
    expires, between 1 and 366 days after it is issued.
    """
    name = clean_text(name, "name", 100)
    if not name:
        raise InputError("give the token a name that says what it is for", field="name")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 366:
        raise InputError("a token lives between 1 and 366 days", field="days")
    holder = _holder(uow.session, scope, user)
    if holder.must_change_password:
        raise PermissionDenied(
            "the password of this account was set by an administrator: choose your own "
            "password before creating API tokens"
        )
    prefix = secrets.token_hex(4)
    plain = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    now = utcnow()
    tok = ApiToken(
        user_id=holder.id,
        name=name,
        prefix=prefix,
        token_hash=token_hash(plain),
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
    )
    uow.session.add(tok)
    uow.session.flush()
    uow.record(
        "token.create",
        "api_token",
        tok.id,
        after=tok.public(),
        organisation_id=holder.organisation_id,
    )
    return tok, plain


def _holder(session: Session, scope: Scope, user: Ref | None) -> User:
    """The user a token is for, locked: a concurrent password change waits or is waited for."""
    if user is None or user == scope.user_id:
        return lookup.user(session, scope, scope.user_id, lock=True)
    scope.require(Perm.USER_MANAGE)
    return lookup.user(session, scope, user, lock=True)


def revoke_token(uow: UnitOfWork, scope: Scope, token_id: int | str) -> ApiToken:
    """Revoke one of the caller's own tokens (another user's token is not found)."""
    key = parse_id(token_id)
    tok = uow.session.get(ApiToken, key, with_for_update=True) if key is not None else None
    if tok is None or tok.user_id != scope.user_id:
        raise NotFound(f"api token {token_id} not found")
    if tok.revoked_at is not None:
        raise Conflict("this token is already revoked")
    _revoke(uow, tok, None)
    return tok


def revoke_user_tokens(uow: UnitOfWork, user: User, reason: str) -> None:
    """Revoke every live token of a user (password changed or reset, user disabled)."""
    for tok in uow.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ):
        _revoke(uow, tok, reason)


def _revoke(uow: UnitOfWork, tok: ApiToken, reason: str | None) -> None:
    before = tok.public()
    tok.revoked_at = utcnow()
    uow.record(
        "token.revoke",
        "api_token",
        tok.id,
        before=before,
        after=tok.public(),
        reason=reason,
        organisation_id=tok.user.organisation_id,
    )


# --- authenticating with a token -----------------------------------------------------------


def resume_token(db: Database, plain: str) -> Scope:
    """The scope of a bearer token, read without a write lock unless ``last_used_at`` is due."""
    with db.read() as session:
        tok = _usable(session, plain)
        used = tok.last_used_at
        if used is not None and utcnow() - used <= USE_INTERVAL:
            return scope_of(tok.user)
    with db.uow(Actor.anonymous("api-token")) as uow:
        scope = scope_of(user_for_token(uow, plain))
        uow.commit()
    return scope


def user_for_token(uow: UnitOfWork, plain: str) -> User:
    """The user of a bearer token (refreshing ``last_used_at`` at most once a minute)."""
    tok = _usable(uow.session, plain)
    now = utcnow()
    if tok.last_used_at is None or now - tok.last_used_at > USE_INTERVAL:
        tok.last_used_at = now
    return tok.user


def _usable(session: Session, plain: str) -> ApiToken:
    tok = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(plain)))
    if tok is None or tok.revoked_at is not None or (tok.expires_at and tok.expires_at < utcnow()):
        raise AuthenticationFailed("The API token is unknown, revoked or expired.")
    if not tok.user.enabled:  # a paused password does not stop a token (auth/lockout.py)
        raise AuthenticationFailed("The token's user is disabled.")
    return tok
