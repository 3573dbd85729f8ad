"""Web sessions: started at log-in, resumed on every request, ended at log-out or expiry.

A session is a server-side row; the cookie holds a random value of which only the SHA-256 is
stored. Resuming a session is a **read** in the common case (``resume``): a page waits behind no
writer. It writes only when something must be written:

- the session must end (idle, maximum age, user no longer active): it is ended and audited;
- its ``last_seen_at`` is older than :data:`TOUCH_INTERVAL`: it is refreshed.

``last_seen_at`` therefore lags the latest request by less than ``TOUCH_INTERVAL``, and the idle
time-out is kept to that granularity: a session ends between ``idle - TOUCH_INTERVAL`` and
``idle`` after its last request, never later (docs/security.md, "Sessions").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.auth.scope import Scope, scope_of
from vein2vein.auth.tables import User, WebSession
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import AuthenticationFailed
from vein2vein.core.settings import Settings
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor, UnitOfWork

#: how stale ``last_seen_at`` may get before a request refreshes it (the only write of a resume)
TOUCH_INTERVAL = dt.timedelta(minutes=1)


def token_hash(value: str) -> str:
    """What is stored of a cookie or token value: its SHA-256."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewSession:
    token: str
    csrf_token: str


@dataclass(frozen=True)
class LiveSession:
    """A resumed session: who the caller is and what the session's forms must carry."""

    scope: Scope
    csrf_token: str
    must_change_password: bool


class SessionExpired(AuthenticationFailed):
    """``notice``: why, as a code the log-in page turns into its own words (required, idle,
    max-age, inactive)."""

    def __init__(self, message: str, notice: str = "required") -> None:
        super().__init__(message)
        self.notice = notice


def start_session(uow: UnitOfWork, user: User) -> NewSession:
    """A new session for a user who has just authenticated (``service.authenticate``)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    uow.session.add(
        WebSession(
            token_hash=token_hash(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
        )
    )
    return NewSession(token, csrf)


# --- resuming ------------------------------------------------------------------------------


def resume(db: Database, token: str) -> LiveSession:
    """The live session of a cookie value, read without a write lock when nothing is to be
    written; otherwise :func:`resume_session` in a unit of work (ends or refreshes it)."""
    with db.read() as session:
        ws = _find(session, token)
        now = utcnow()
        if _expiry(db.settings, ws, now) is None and now - ws.last_seen_at <= TOUCH_INTERVAL:
            return _live(ws)
    with db.uow(Actor.anonymous("session")) as uow:
        live = _live(resume_session(uow, db.settings, token))
        uow.commit()
    return live


def resume_session(uow: UnitOfWork, settings: Settings, token: str) -> WebSession:
    """The write path of a resume: end the session (audited, committed) and raise
    ``SessionExpired`` when it has expired, else refresh ``last_seen_at`` when stale."""
    ws = _find(uow.session, token)
    now = utcnow()
    expired = _expiry(settings, ws, now)
    if expired is not None:
        _end(uow, ws, expired.reason)
        raise SessionExpired(expired.message, expired.notice)
    if now - ws.last_seen_at > TOUCH_INTERVAL:
        ws.last_seen_at = now
    return ws


@dataclass(frozen=True)
class _Expiry:
    reason: str  # recorded in the session row and the audit entry
    message: str  # told to the user
    notice: str  # the log-in page's code


def _find(session: Session, token: str) -> WebSession:
    ws = session.scalar(select(WebSession).where(WebSession.token_hash == token_hash(token)))
    if ws is None or ws.ended_at is not None:
        raise SessionExpired("Please log in.")
    return ws


def _expiry(settings: Settings, ws: WebSession, now: dt.datetime) -> _Expiry | None:
    if now - ws.last_seen_at > dt.timedelta(minutes=settings.session_idle_minutes):
        return _Expiry(
            "idle timeout",
            f"Your session ended after {settings.session_idle_minutes} minutes without activity. "
            "Please log in again.",
            "idle",
        )
    if now - ws.created_at > dt.timedelta(hours=settings.session_max_hours):
        return _Expiry(
            "maximum age",
            "Your session reached its maximum length. Please log in again.",
            "max-age",
        )
    if not ws.user.enabled:  # a paused password leaves sessions alone (auth/lockout.py)
        return _Expiry("user not active", "Your account is no longer active.", "inactive")
    return None


def _live(ws: WebSession) -> LiveSession:
    return LiveSession(scope_of(ws.user), ws.csrf_token, ws.user.must_change_password)


# --- ending --------------------------------------------------------------------------------


def _end(uow: UnitOfWork, ws: WebSession, reason: str) -> None:
    """End an expired session; committed at once, since the caller then raises."""
    ws.ended_at = utcnow()
    ws.end_reason = reason
    uow.record(
        "auth.session_end",
        "user",
        ws.user_id,
        after={"reason": reason},
        organisation_id=ws.user.organisation_id,
    )
    uow.commit()


def end_session(uow: UnitOfWork, token: str) -> None:
    """Log out: end the session of a cookie value (nothing happens for an unknown value)."""
    ws = uow.session.scalar(select(WebSession).where(WebSession.token_hash == token_hash(token)))
    if ws is not None and ws.ended_at is None:
        ws.ended_at = utcnow()
        ws.end_reason = "logout"
        uow.record("auth.logout", "user", ws.user_id, organisation_id=ws.user.organisation_id)


def end_user_sessions(
    session: Session, user_id: int, reason: str, keep_token: str | None = None
) -> None:
    """End every open session of a user (role change, password change, disabling, a lock-out
    caused inside a session),
    except the one of ``keep_token`` (the cookie value a password was changed from)."""
    keep = token_hash(keep_token) if keep_token else None
    for ws in session.scalars(
        select(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
    ):
        if keep is not None and ws.token_hash == keep:
            continue
        ws.ended_at = utcnow()
        ws.end_reason = reason
