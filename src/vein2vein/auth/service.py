"""Use cases of organisations, sites, users, log-in, sessions and API tokens.

Every function takes the caller's unit of work, writes its change and audit entry, and leaves the
commit to the caller, except where a failed attempt must itself be recorded (log-in failures,
lock-outs): those commit the record of the attempt and then raise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.passwords import hash_password, policy_problems, verify_password
from vein2vein.auth.roles import ROLE_KIND, OrgKind, Role, parse_kind, parse_role
from vein2vein.auth.scope import Scope
from vein2vein.auth.tables import (
    ApiToken,
    Organisation,
    PasswordHistory,
    Site,
    User,
    WebSession,
)
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import AuthenticationFailed, Conflict, InputError, NotFound
from vein2vein.core.settings import Settings
from vein2vein.core.text import clean_text
from vein2vein.store.uow import Actor, UnitOfWork


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- organisations and sites ---------------------------------------------------------------


def create_organisation(uow: UnitOfWork, name: str, kind: str) -> Organisation:
    name = clean_text(name, "name", 200)
    if not name:
        raise InputError("an organisation needs a name", field="name")
    org_kind = parse_kind(kind)
    s = uow.session
    if s.scalar(select(Organisation.id).where(func.lower(Organisation.name) == name.lower())):
        raise Conflict(f"an organisation named '{name}' already exists")
    org = Organisation(name=name, kind=org_kind.value, created_at=utcnow())
    s.add(org)
    s.flush()
    uow.record(
        "organisation.create", "organisation", org.id, after=org.public(), organisation_id=org.id
    )
    return org


def organisation_by_name(session: Session, name: str) -> Organisation:
    org = session.scalar(
        select(Organisation).where(func.lower(Organisation.name) == name.strip().lower())
    )
    if org is None:
        raise NotFound(f"no organisation named '{name}'")
    return org


def cdmo_organisation_id(session: Session, name: str | None = None) -> int | None:
    """The CDMO's organisation id (the one named, when there are several); None when the store
    has no CDMO yet."""
    stmt = select(Organisation.id).where(Organisation.kind == OrgKind.CDMO.value)
    if name:
        stmt = stmt.where(Organisation.name == name)
    found = list(session.scalars(stmt))
    if name and not found:
        raise NotFound(f"no CDMO organisation {name!r}")
    if len(found) > 1:
        raise InputError("several CDMO organisations: name one with --org", field="org")
    return found[0] if found else None


def add_site(
    uow: UnitOfWork,
    organisation: Organisation,
    name: str,
    city: str = "",
    country: str = "",
    purpose: str = "MANUFACTURING",
) -> Site:
    name = clean_text(name, "name", 200)
    city = clean_text(city, "city", 120)
    if not name:
        raise InputError("a site needs a name", field="name")
    if country and len(country) != 2:
        raise InputError("use the two-letter ISO 3166 country code", field="country")
    exists = uow.session.scalar(
        select(Site.id).where(Site.organisation_id == organisation.id, Site.name == name)
    )
    if exists:
        raise Conflict(f"{organisation.name} already has a site named '{name}'")
    site = Site(
        organisation_id=organisation.id,
        name=name,
        city=city,
        country=country.upper(),
        purpose=purpose,
    )
    uow.session.add(site)
    uow.session.flush()
    uow.record("site.create", "site", site.id, after=site.public(), organisation_id=organisation.id)
    return site


def _reason(reason: str, why: str) -> str:
    text = clean_text(reason, "reason", 2000, multiline=True)
    if not text:
        raise InputError(f"a reason is required to {why}", field="reason")
    return text


# --- users ---------------------------------------------------------------------------------


def _check_username(username: str) -> str:
    username = username.strip()
    if not username:
        raise InputError("a user needs a user name", field="username")
    if len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        raise InputError(
            "use at most 64 letters, digits, dots, dashes or underscores", field="username"
        )
    return username


def _check_new_password(settings: Settings, username: str, password: str) -> None:
    problems = policy_problems(password, username, settings.password_min_length)
    if problems:
        raise InputError("the password " + "; ".join(problems), field="password")


def create_user(
    uow: UnitOfWork,
    settings: Settings,
    *,
    username: str,
    full_name: str,
    organisation: Organisation,
    role: str,
    password: str,
    email: str = "",
    must_change_password: bool = False,
) -> User:
    username = _check_username(username)
    full_name = clean_text(full_name, "full_name", 200)
    email = clean_text(email, "email", 200)
    if not full_name:
        raise InputError(
            "the printed name (full name) is required for signatures", field="full_name"
        )
    role_enum = parse_role(role)
    _check_role_fits(role_enum, organisation)
    _check_new_password(settings, username, password)
    s = uow.session
    if s.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise Conflict(f"the user name '{username}' is taken")
    pw_hash = hash_password(password, settings.argon2_profile)
    user = User(
        username=username,
        full_name=full_name,
        email=email,
        organisation_id=organisation.id,
        role=role_enum.value,
        password_hash=pw_hash,
        password_changed_at=utcnow(),
        created_at=utcnow(),
        must_change_password=must_change_password,
    )
    s.add(user)
    s.flush()
    s.add(PasswordHistory(user_id=user.id, password_hash=pw_hash, created_at=utcnow()))
    user.organisation = organisation
    uow.record("user.create", "user", user.id, after=user.public(), organisation_id=organisation.id)
    return user


def _check_role_fits(role: Role, organisation: Organisation) -> None:
    if ROLE_KIND[role] != OrgKind(organisation.kind):
        raise InputError(
            f"the role {role.value} belongs to {ROLE_KIND[role].value} organisations, "
            f"and {organisation.name} is a {organisation.kind}",
            field="role",
        )


def user_by_username(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None:
        raise NotFound(f"no user named '{username}'")
    return user


def set_role(uow: UnitOfWork, user: User, role: str, reason: str) -> User:
    reason = _reason(reason, "change a role")
    role_enum = parse_role(role)
    _check_role_fits(role_enum, user.organisation)
    before = user.public()
    user.role = role_enum.value
    uow.record(
        "user.role_change",
        "user",
        user.id,
        before=before,
        after=user.public(),
        reason=reason,
        organisation_id=user.organisation_id,
    )
    _end_sessions(uow.session, user, "role changed")
    return user


def disable_user(uow: UnitOfWork, user: User, reason: str) -> User:
    reason = _reason(reason, "disable a user")
    if user.disabled_at is not None:
        raise Conflict(f"{user.username} is already disabled")
    before = user.public()
    user.disabled_at = utcnow()
    _end_sessions(uow.session, user, "user disabled")
    _revoke_tokens(uow.session, user)
    uow.record(
        "user.disable",
        "user",
        user.id,
        before=before,
        after=user.public(),
        reason=reason,
        organisation_id=user.organisation_id,
    )
    return user


def unlock_user(uow: UnitOfWork, user: User, reason: str) -> User:
    reason = _reason(reason, "unlock a user")
    if user.locked_at is None:
        raise Conflict(f"{user.username} is not locked")
    before = user.public()
    user.locked_at = None
    user.failed_logins = 0
    uow.record(
        "user.unlock",
        "user",
        user.id,
        before=before,
        after=user.public(),
        reason=reason,
        organisation_id=user.organisation_id,
    )
    return user


def change_password(
    uow: UnitOfWork,
    settings: Settings,
    user: User,
    current: str,
    new: str,
    keep_session: str | None = None,
) -> None:
    """Change one's own password; a wrong current password counts towards lock-out.

    Every other session of the user ends (``keep_session``: the cookie value of the session the
    change was made from).
    """
    if not verify_password(user.password_hash, current):
        record_failed_password(uow, settings, user, "user.password_change_failed")
        uow.commit()
        if user.locked_at is not None:
            raise AuthenticationFailed(_locked_message(settings))
        raise InputError("the current password is not correct", field="current_password")
    _set_password(uow, settings, user, new, action="user.password_change")
    user.must_change_password = False
    _end_sessions(
        uow.session, user, "password changed", keep=_sha256(keep_session) if keep_session else None
    )


def reset_password(uow: UnitOfWork, settings: Settings, user: User, new: str, reason: str) -> None:
    """An administrator sets a new password (for example after a lock-out)."""
    reason = _reason(reason, "reset a password")
    _set_password(uow, settings, user, new, action="user.password_reset", reason=reason)
    user.must_change_password = True  # a password someone else chose: replaced at next log-in
    _end_sessions(uow.session, user, "password reset")
    _revoke_tokens(uow.session, user)


def _set_password(
    uow: UnitOfWork,
    settings: Settings,
    user: User,
    new: str,
    *,
    action: str,
    reason: str | None = None,
) -> None:
    _check_new_password(settings, user.username, new)
    history = uow.session.scalars(
        select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc())
        .limit(settings.password_history)
    ).all()
    if any(verify_password(h, new) for h in history):
        raise InputError(
            f"the password must differ from your last {settings.password_history} passwords",
            field="password",
        )
    user.password_hash = hash_password(new, settings.argon2_profile)
    user.password_changed_at = utcnow()
    uow.session.add(
        PasswordHistory(user_id=user.id, password_hash=user.password_hash, created_at=utcnow())
    )
    # the hash itself never goes into the audit trail
    uow.record(
        action,
        "user",
        user.id,
        after={"password_changed_at": user.password_changed_at},
        reason=reason,
        organisation_id=user.organisation_id,
    )


def list_users(session: Session, scope: Scope | None = None) -> list[User]:
    stmt = select(User).order_by(User.username)
    if scope is not None:
        stmt = scope.filter(stmt, User)
    return list(session.scalars(stmt))


# --- log-in, sessions, tokens --------------------------------------------------------------


INVALID_LOGIN = "Invalid user name or password."


def authenticate(uow: UnitOfWork, settings: Settings, username: str, password: str) -> User:
    """Check a user name and password; failures are audited and committed before raising.

    The password is checked before anything about the account is revealed: unknown, disabled
    and locked accounts all answer "invalid user name or password" to a wrong password, and an
    unknown user name costs the same Argon2 work as a known one. The user row is locked for the
    check (SELECT ... FOR UPDATE on PostgreSQL) so that parallel guesses are all counted.
    """
    s = uow.session
    typed = username.strip()
    if not typed or len(typed) > 64 or any(ord(c) < 32 for c in typed):
        user = None
    else:
        user = s.scalar(
            select(User).where(func.lower(User.username) == typed.lower()).with_for_update()
        )
    if user is None:
        verify_password(_dummy_hash(settings.argon2_profile), password)
        uow.record(
            "auth.login_failed",
            "login_attempt",
            "".join(c for c in typed if c.isprintable())[:64] or "(blank)",
            after={"reason": "unknown user"},
        )
        uow.commit()
        raise AuthenticationFailed(INVALID_LOGIN)
    if not verify_password(user.password_hash, password):
        if user.disabled_at is None and user.locked_at is None:
            record_failed_password(uow, settings, user, "auth.login_failed")
            uow.commit()
            if user.locked_at is not None:  # this attempt reached the threshold
                raise AuthenticationFailed(_locked_message(settings))
        else:
            uow.record(
                "auth.login_failed",
                "user",
                user.id,
                after={"reason": user.status},
                organisation_id=user.organisation_id,
            )
            uow.commit()
        raise AuthenticationFailed(INVALID_LOGIN)
    if user.disabled_at is not None or user.locked_at is not None:
        uow.record(
            "auth.login_refused",
            "user",
            user.id,
            after={"reason": user.status},
            organisation_id=user.organisation_id,
        )
        uow.commit()
        if user.disabled_at is not None:
            raise AuthenticationFailed("This account is disabled. Ask an administrator.")
        raise AuthenticationFailed(_locked_message(settings))
    user.failed_logins = 0
    user.last_login_at = utcnow()
    uow.actor = Actor(user.username, user.id, user.organisation_id)
    uow.record("auth.login", "user", user.id, organisation_id=user.organisation_id)
    return user


@lru_cache(maxsize=2)
def _dummy_hash(profile: str) -> str:
    """Verified against when the user name is unknown, so that the answer takes as long as for a
    known user (no user-name discovery by timing)."""
    return hash_password("timing-equaliser-not-a-password", profile)


def _locked_message(settings: Settings) -> str:
    return (
        f"This account is locked after {settings.lockout_threshold} failed attempts. "
        "Ask an administrator to unlock it."
    )


def record_failed_password(uow: UnitOfWork, settings: Settings, user: User, action: str) -> None:
    """Count a wrong password (log-in or signature) and lock the account at the threshold."""
    user.failed_logins += 1
    uow.record(
        action,
        "user",
        user.id,
        after={"failed_logins": user.failed_logins},
        organisation_id=user.organisation_id,
    )
    if user.failed_logins >= settings.lockout_threshold and user.locked_at is None:
        user.locked_at = utcnow()
        _end_sessions(uow.session, user, "locked")
        uow.record(
            "auth.lockout",
            "user",
            user.id,
            after={"failed_logins": user.failed_logins},
            organisation_id=user.organisation_id,
        )


@dataclass(frozen=True)
class NewSession:
    token: str
    csrf_token: str


def start_session(uow: UnitOfWork, user: User) -> NewSession:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    uow.session.add(
        WebSession(
            token_hash=_sha256(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
        )
    )
    return NewSession(token, csrf)


class SessionExpired(AuthenticationFailed):
    """``notice``: why, as a code the log-in page turns into its own words (required, idle,
    max-age, inactive)."""

    def __init__(self, message: str, notice: str = "required") -> None:
        super().__init__(message)
        self.notice = notice


def resume_session(uow: UnitOfWork, settings: Settings, token: str) -> WebSession:
    """Find a live session for a cookie value, ending it when idle or too old."""
    ws = uow.session.scalar(select(WebSession).where(WebSession.token_hash == _sha256(token)))
    if ws is None or ws.ended_at is not None:
        raise SessionExpired("Please log in.")
    now = utcnow()
    idle = dt.timedelta(minutes=settings.session_idle_minutes)
    if now - ws.last_seen_at > idle:
        _end(uow, ws, "idle timeout")
        raise SessionExpired(
            f"Your session ended after {settings.session_idle_minutes} minutes without activity. "
            "Please log in again.",
            "idle",
        )
    if now - ws.created_at > dt.timedelta(hours=settings.session_max_hours):
        _end(uow, ws, "maximum age")
        raise SessionExpired(
            "Your session reached its maximum length. Please log in again.", "max-age"
        )
    if not ws.user.is_active:
        _end(uow, ws, "user not active")
        raise SessionExpired("Your account is no longer active.", "inactive")
    if now - ws.last_seen_at > dt.timedelta(seconds=30):
        ws.last_seen_at = now
    return ws


def _end(uow: UnitOfWork, ws: WebSession, reason: str) -> None:
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
    ws = uow.session.scalar(select(WebSession).where(WebSession.token_hash == _sha256(token)))
    if ws is not None and ws.ended_at is None:
        ws.ended_at = utcnow()
        ws.end_reason = "logout"
        uow.record("auth.logout", "user", ws.user_id, organisation_id=ws.user.organisation_id)


def _end_sessions(session: Session, user: User, reason: str, keep: str | None = None) -> None:
    for ws in session.scalars(
        select(WebSession).where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
    ):
        if keep is not None and ws.token_hash == keep:
            continue
        ws.ended_at = utcnow()
        ws.end_reason = reason


def _revoke_tokens(session: Session, user: User) -> None:
    for tok in session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ):
        tok.revoked_at = utcnow()


TOKEN_PREFIX = "v2v"


def create_token(uow: UnitOfWork, user: User, name: str, days: int = 90) -> tuple[ApiToken, str]:
    """Issue an API token; the plain value is returned once and only its hash is kept.

    Every token expires: between 1 and 366 days after it is issued.
    """
    name = clean_text(name, "name", 100)
    if not name:
        raise InputError("give the token a name that says what it is for", field="name")
    if not isinstance(days, int) or not 1 <= days <= 366:
        raise InputError("a token lives between 1 and 366 days", field="days")
    prefix = secrets.token_hex(4)
    plain = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    now = utcnow()
    tok = ApiToken(
        user_id=user.id,
        name=name,
        prefix=prefix,
        token_hash=_sha256(plain),
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
        organisation_id=user.organisation_id,
    )
    return tok, plain


def revoke_token(uow: UnitOfWork, user: User, token_id: int) -> ApiToken:
    tok = uow.session.get(ApiToken, token_id)
    if tok is None or tok.user_id != user.id:
        raise NotFound(f"api token {token_id} not found")
    if tok.revoked_at is not None:
        raise Conflict("this token is already revoked")
    before = tok.public()
    tok.revoked_at = utcnow()
    uow.record(
        "token.revoke",
        "api_token",
        tok.id,
        before=before,
        after=tok.public(),
        organisation_id=user.organisation_id,
    )
    return tok


def user_for_token(uow: UnitOfWork, plain: str) -> User:
    tok = uow.session.scalar(select(ApiToken).where(ApiToken.token_hash == _sha256(plain)))
    now = utcnow()
    if tok is None or tok.revoked_at is not None or (tok.expires_at and tok.expires_at < now):
        raise AuthenticationFailed("The API token is unknown, revoked or expired.")
    if not tok.user.is_active:
        raise AuthenticationFailed("The token's user is disabled or locked.")
    if tok.last_used_at is None or now - tok.last_used_at > dt.timedelta(minutes=1):
        tok.last_used_at = now
    return tok.user


def scope_of(user: User) -> Scope:
    return Scope(
        user_id=user.id,
        username=user.username,
        full_name=user.full_name,
        organisation_id=user.organisation_id,
        organisation_kind=user.organisation.kind,
        role=user.role,
        organisation_name=user.organisation.name,
    )
