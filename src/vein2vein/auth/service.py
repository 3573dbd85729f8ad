"""Use cases of organisations, sites and users, and the log-in check of a user name and password.

Changes take the caller's unit of work and scope (``(uow, scope, ids)``): the service looks the
record up through the scope (another client's is *not found*), checks the permission of the
action, writes the change and its audit entry, and leaves the commit to the caller, except where a
failed attempt must itself be recorded (log-in failures, lock-outs): those commit the record of
the attempt and then raise. Sessions are in ``sessions.py``, API tokens in ``tokens.py``.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth import lookup
from vein2vein.auth.lookup import Ref
from vein2vein.auth.passwords import hash_password, policy_problems, verify_password
from vein2vein.auth.roles import ROLE_KIND, OrgKind, Perm, Role, parse_kind, parse_role
from vein2vein.auth.scope import Scope
from vein2vein.auth.scope import scope_of as scope_of  # callers name it ``service.scope_of``
from vein2vein.auth.sessions import end_user_sessions
from vein2vein.auth.tables import Organisation, PasswordHistory, Site, User
from vein2vein.auth.tokens import revoke_user_tokens
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import AuthenticationFailed, Conflict, InputError, NotFound
from vein2vein.core.settings import Settings
from vein2vein.core.text import clean_text
from vein2vein.store.uow import Actor, UnitOfWork

# --- organisations and sites ---------------------------------------------------------------


def create_organisation(uow: UnitOfWork, scope: Scope, name: str, kind: str) -> Organisation:
    scope.require(Perm.ORG_MANAGE)
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
    """Any organisation by its name, for the server's own use (command line, demo loader);
    callers acting for a user go through ``lookup.organisation`` and their scope."""
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
    scope: Scope,
    organisation: Ref,
    name: str,
    city: str = "",
    country: str = "",
    purpose: str = "MANUFACTURING",
) -> Site:
    """Add a site to an organisation (its id, or its name at the command line)."""
    org = lookup.organisation(uow.session, scope, organisation, lock=True)
    scope.require(Perm.ORG_MANAGE)
    name = clean_text(name, "name", 200)
    city = clean_text(city, "city", 120)
    if not name:
        raise InputError("a site needs a name", field="name")
    if country and len(country) != 2:
        raise InputError("use the two-letter ISO 3166 country code", field="country")
    exists = uow.session.scalar(
        select(Site.id).where(Site.organisation_id == org.id, Site.name == name)
    )
    if exists:
        raise Conflict(f"{org.name} already has a site named '{name}'")
    site = Site(
        organisation_id=org.id,
        name=name,
        city=city,
        country=country.upper(),
        purpose=purpose,
    )
    uow.session.add(site)
    uow.session.flush()
    uow.record("site.create", "site", site.id, after=site.public(), organisation_id=org.id)
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
    scope: Scope,
    settings: Settings,
    *,
    username: str,
    full_name: str,
    organisation: Ref,
    role: str,
    password: str,
    email: str = "",
    must_change_password: bool = False,
) -> User:
    """Create a user of an organisation (its id, or its name at the command line)."""
    scope.require(Perm.USER_MANAGE)
    username = _check_username(username)
    full_name = clean_text(full_name, "full_name", 200)
    email = clean_text(email, "email", 200)
    if not full_name:
        raise InputError(
            "the printed name (full name) is required for signatures", field="full_name"
        )
    role_enum = parse_role(role)
    org = lookup.organisation(uow.session, scope, organisation)
    _check_role_fits(role_enum, org)
    _check_new_password(settings, username, password)
    s = uow.session
    if s.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise Conflict(f"the user name '{username}' is taken")
    pw_hash = hash_password(password, settings.argon2_profile)
    user = User(
        username=username,
        full_name=full_name,
        email=email,
        organisation_id=org.id,
        role=role_enum.value,
        password_hash=pw_hash,
        password_changed_at=utcnow(),
        created_at=utcnow(),
        must_change_password=must_change_password,
    )
    s.add(user)
    s.flush()
    s.add(PasswordHistory(user_id=user.id, password_hash=pw_hash, created_at=utcnow()))
    user.organisation = org
    uow.record("user.create", "user", user.id, after=user.public(), organisation_id=org.id)
    return user


def _check_role_fits(role: Role, organisation: Organisation) -> None:
    if ROLE_KIND[role] != OrgKind(organisation.kind):
        raise InputError(
            f"the role {role.value} belongs to {ROLE_KIND[role].value} organisations, "
            f"and {organisation.name} is a {organisation.kind}",
            field="role",
        )


def user_by_username(session: Session, username: str) -> User:
    """Any user by user name, for the server's own use (demo loader, tests acting as a user);
    callers acting for a user go through ``lookup.user`` and their scope."""
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None:
        raise NotFound(f"no user named '{username}'")
    return user


def _managed_user(uow: UnitOfWork, scope: Scope, user: Ref) -> User:
    """A user an administrator changes: found through the scope, locked, permission checked."""
    found = lookup.user(uow.session, scope, user, lock=True)
    scope.require(Perm.USER_MANAGE)
    return found


def set_role(uow: UnitOfWork, scope: Scope, user: Ref, role: str, reason: str) -> User:
    target = _managed_user(uow, scope, user)
    reason = _reason(reason, "change a role")
    role_enum = parse_role(role)
    _check_role_fits(role_enum, target.organisation)
    before = target.public()
    target.role = role_enum.value
    uow.record(
        "user.role_change",
        "user",
        target.id,
        before=before,
        after=target.public(),
        reason=reason,
        organisation_id=target.organisation_id,
    )
    end_user_sessions(uow.session, target.id, "role changed")
    return target


def disable_user(uow: UnitOfWork, scope: Scope, user: Ref, reason: str) -> User:
    target = _managed_user(uow, scope, user)
    reason = _reason(reason, "disable a user")
    if target.disabled_at is not None:
        raise Conflict(f"{target.username} is already disabled")
    before = target.public()
    target.disabled_at = utcnow()
    end_user_sessions(uow.session, target.id, "user disabled")
    uow.record(
        "user.disable",
        "user",
        target.id,
        before=before,
        after=target.public(),
        reason=reason,
        organisation_id=target.organisation_id,
    )
    revoke_user_tokens(uow, target, "user disabled")
    return target


def unlock_user(uow: UnitOfWork, scope: Scope, user: Ref, reason: str) -> User:
    target = _managed_user(uow, scope, user)
    reason = _reason(reason, "unlock a user")
    if target.locked_at is None:
        raise Conflict(f"{target.username} is not locked")
    before = target.public()
    target.locked_at = None
    target.failed_logins = 0
    uow.record(
        "user.unlock",
        "user",
        target.id,
        before=before,
        after=target.public(),
        reason=reason,
        organisation_id=target.organisation_id,
    )
    return target


def change_password(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    current: str,
    new: str,
    keep_session: str | None = None,
) -> None:
    """Change one's own password; a wrong current password counts towards lock-out.

    Every other session of the user ends (``keep_session``: the cookie value of the session the
    change was made from) and every API token of the user is revoked: a token made with the old
    password (or with one an administrator chose) must not outlive it.
    """
    user = lookup.user(uow.session, scope, scope.user_id, lock=True)
    if not verify_password(user.password_hash, current):
        record_failed_password(uow, settings, user, "user.password_change_failed")
        uow.commit()
        if user.locked_at is not None:
            raise AuthenticationFailed(_locked_message(settings))
        raise InputError("the current password is not correct", field="current_password")
    _set_password(uow, settings, user, new, action="user.password_change")
    user.must_change_password = False
    end_user_sessions(uow.session, user.id, "password changed", keep_token=keep_session)
    revoke_user_tokens(uow, user, "password changed")


def reset_password(
    uow: UnitOfWork, scope: Scope, settings: Settings, user: Ref, new: str, reason: str
) -> User:
    """An administrator sets a new password (for example after a lock-out)."""
    target = _managed_user(uow, scope, user)
    reason = _reason(reason, "reset a password")
    _set_password(uow, settings, target, new, action="user.password_reset", reason=reason)
    target.must_change_password = True  # a password someone else chose: replaced at next log-in
    end_user_sessions(uow.session, target.id, "password reset")
    revoke_user_tokens(uow, target, "password reset")
    return target


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


# --- log-in --------------------------------------------------------------------------------


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
        end_user_sessions(uow.session, user.id, "locked")
        uow.record(
            "auth.lockout",
            "user",
            user.id,
            after={"failed_logins": user.failed_logins},
            organisation_id=user.organisation_id,
        )
