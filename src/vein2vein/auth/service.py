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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vein2vein.auth import lookup, usernames
from vein2vein.auth.lockout import pause_length
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
    username = usernames.check_new(username)
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
    try:
        s.flush()
    except IntegrityError as exc:  # created at the same moment by another administrator
        raise Conflict(f"the user name '{username}' is taken") from exc
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
    if target.locked_at is None:  # never paused since the password was last used
        raise Conflict(f"{target.username} is not locked")
    before = target.public()
    clear_failures(target)
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
    if user.password_locked:
        raise AuthenticationFailed(_locked_message(settings, user, sessions_ended=False))
    if not verify_password(user.password_hash, current):
        record_failed_password(
            uow, settings, user, "user.password_change_failed", end_sessions=True
        )
        uow.commit()
        if user.password_locked:  # this attempt paused the password
            raise AuthenticationFailed(_locked_message(settings, user, sessions_ended=True))
        raise InputError("the current password is not correct", field="current_password")
    clear_failures(user)
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


#: the one answer to a log-in that does not succeed, whatever the reason: unknown user name, wrong
#: password, password paused (docs/security.md, "Decisions on the probe's findings")
INVALID_LOGIN = (
    "Invalid user name or password. After repeated failures the password of an account is "
    "paused for a while: wait and try again, or ask an administrator."
)
#: the actor of every entry a log-in attempt writes until it succeeds (never the typed text)
LOGIN_ACTOR = Actor.anonymous("login")


def authenticate(uow: UnitOfWork, settings: Settings, username: str, password: str) -> User:
    """Check a user name and password; failures are audited and committed before raising.

    Nothing about the account is told to whoever fails: an unknown user name, a wrong password
    and a paused password (``auth/lockout.py``) all answer :data:`INVALID_LOGIN` with status
    401 after the same work (one Argon2 verification: of the account's hash, or of a dummy hash
    with the same parameters). While the password is paused it is not checked at all, so a
    guess made then cannot be told right or wrong. Only the right password of a disabled
    account hears that it is disabled. The user row is locked for the check (SELECT ... FOR
    UPDATE on PostgreSQL) so that parallel guesses are all counted.

    What was typed as the user name is kept nowhere unless it names an account (it may be a
    password typed in the wrong field): a failure for an unknown name is recorded without it.
    """
    uow.actor = LOGIN_ACTOR
    user = _account(uow.session, username)
    if user is None:
        verify_password(_dummy_hash(settings.argon2_profile), password)
        uow.record(
            "auth.login_failed",
            "login_attempt",
            "unknown user name",
            after={"reason": "unknown user name"},
        )
        uow.commit()
        raise AuthenticationFailed(INVALID_LOGIN)
    if user.password_locked:
        verify_password(_dummy_hash(settings.argon2_profile), password)  # the same work
        uow.record(
            "auth.login_refused",
            "user",
            user.id,
            after={"reason": "password paused", "locked_until": user.locked_until},
            organisation_id=user.organisation_id,
        )
        uow.commit()
        raise AuthenticationFailed(INVALID_LOGIN)
    if not verify_password(user.password_hash, password):
        record_failed_password(uow, settings, user, "auth.login_failed", end_sessions=False)
        uow.commit()
        raise AuthenticationFailed(INVALID_LOGIN)
    if user.disabled_at is not None:
        uow.record(
            "auth.login_refused",
            "user",
            user.id,
            after={"reason": "disabled"},
            organisation_id=user.organisation_id,
        )
        uow.commit()
        raise AuthenticationFailed("This account is disabled. Ask an administrator.")
    clear_failures(user)
    user.last_login_at = utcnow()
    uow.actor = Actor(user.username, user.id, user.organisation_id)
    uow.record("auth.login", "user", user.id, organisation_id=user.organisation_id)
    return user


def _account(session: Session, typed: str) -> User | None:
    """The account a typed user name names, its row locked; None for a name of no account."""
    key = usernames.lookup_key(typed)
    if key is None:
        return None
    return session.scalar(select(User).where(func.lower(User.username) == key).with_for_update())


@lru_cache(maxsize=2)
def _dummy_hash(profile: str) -> str:
    """Verified against when the user name is unknown or the password paused, so that the
    answer takes as long as a check of a real password (no user-name discovery by timing)."""
    return hash_password("timing-equaliser-not-a-password", profile)


def _locked_message(settings: Settings, user: User, *, sessions_ended: bool) -> str:
    """Told to a signed-in user (who knows the account exists) whose password is paused."""
    until = f"{user.locked_until:%Y-%m-%d %H:%M} UTC" if user.locked_until else "later"
    ended = "; the account's sessions were ended" if sessions_ended else ""
    return (
        f"The password of this account is locked after {settings.lockout_threshold} or more "
        f"wrong passwords, until {until}{ended}. An administrator can unlock it sooner."
    )


def clear_failures(user: User) -> None:
    """The password was used successfully (or an administrator unlocked it): count from zero."""
    user.failed_logins = 0
    user.locked_at = None
    user.locked_until = None


def record_failed_password(
    uow: UnitOfWork, settings: Settings, user: User, action: str, *, end_sessions: bool
) -> None:
    """Count a wrong password (log-in, signature, current password) and pause the password at
    the threshold, and again, twice as long, at each wrong password after a pause
    (``auth/lockout.py``).

    ``end_sessions``: the wrong password was typed inside a session (signing, changing the
    password): a pause then ends the user's sessions. A pause caused by log-in attempts, which
    anyone can make, leaves the user's sessions and API tokens alone.
    """
    user.failed_logins += 1
    uow.record(
        action,
        "user",
        user.id,
        after={"failed_logins": user.failed_logins},
        organisation_id=user.organisation_id,
    )
    if user.failed_logins < settings.lockout_threshold:
        return
    now = utcnow()
    pause = pause_length(user.failed_logins, settings.lockout_threshold)
    user.locked_at = now
    user.locked_until = now + pause
    if end_sessions:
        end_user_sessions(uow.session, user.id, "locked")
    uow.record(
        "auth.lockout",
        "user",
        user.id,
        after={
            "failed_logins": user.failed_logins,
            "locked_until": user.locked_until,
            "pause_minutes": int(pause.total_seconds() // 60),
            "sessions_ended": end_sessions,
            "cause": action,
        },
        organisation_id=user.organisation_id,
    )
