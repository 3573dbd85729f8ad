"""Work queues of user administration, and the filters of the user list their counts link to.

- **accounts locked** (admin): enabled users whose password is paused now
  (``auth/lockout.py``); ``/users?locked=1``;
- **API tokens expiring** (admin): users holding a token, neither revoked nor expired, that
  expires within 14 days; ``/users?tokens=expiring``.

Counts and filtered lists come from the same functions, within the caller's scope.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm, Role
from vein2vein.auth.scope import Scope
from vein2vein.auth.tables import ApiToken, User
from vein2vein.core.errors import InputError
from vein2vein.web.queues import QueueItem, wanted

#: a token expiring within this many days is in the queue
TOKEN_WARNING_DAYS: Final = 14
_ADMIN = frozenset({Role.ADMIN})


def locked_user_ids(session: Session, scope: Scope, now: dt.datetime) -> set[int]:
    """Enabled users whose password is paused at ``now`` (status "locked" on the list)."""
    scope.require(Perm.USER_READ)
    stmt = scope.filter(select(User.id), User).where(
        User.disabled_at.is_(None), User.locked_until.is_not(None), User.locked_until > now
    )
    return set(session.scalars(stmt))


def expiring_token_user_ids(session: Session, scope: Scope, now: dt.datetime) -> set[int]:
    """Enabled users with a live token (not revoked, not yet expired) that expires within
    ``TOKEN_WARNING_DAYS`` days of ``now``."""
    scope.require(Perm.USER_READ)
    horizon = now + dt.timedelta(days=TOKEN_WARNING_DAYS)
    stmt = scope.filter(
        select(User.id)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            User.disabled_at.is_(None),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at.is_not(None),
            ApiToken.expires_at > now,
            ApiToken.expires_at <= horizon,
        ),
        User,
    )
    return set(session.scalars(stmt))


#: the filters of ``/users``: query parameter → (value, heading of the filtered list)
USER_FILTERS: Final = {
    "locked": ("1", "Accounts locked (password paused)"),
    "tokens": ("expiring", f"Users with API tokens expiring within {TOKEN_WARNING_DAYS} days"),
}


def user_filter(
    session: Session, scope: Scope, now: dt.datetime, locked: str = "", tokens: str = ""
) -> tuple[str, set[int]] | None:
    """The filter the user list was asked for (its heading and the users), or None for all."""
    if locked.strip():
        if locked.strip() != "1":
            raise InputError("locked takes the value 1", field="locked")
        return USER_FILTERS["locked"][1], locked_user_ids(session, scope, now)
    if tokens.strip():
        if tokens.strip().lower() != "expiring":
            raise InputError("tokens takes the value 'expiring'", field="tokens")
        return USER_FILTERS["tokens"][1], expiring_token_user_ids(session, scope, now)
    return None


def work_queues(session: Session, scope: Scope, now: dt.datetime) -> list[QueueItem]:
    """User administration's queues (administrators only)."""
    if not wanted(scope, _ADMIN) or not scope.can(Perm.USER_READ):
        return []
    return [
        QueueItem(
            "auth.locked",
            "Accounts locked",
            len(locked_user_ids(session, scope, now)),
            "/users?locked=1",
            _ADMIN,
            "passwords paused after wrong guesses: unlock once the user is known",
        ),
        QueueItem(
            "auth.tokens_expiring",
            "API tokens expiring",
            len(expiring_token_user_ids(session, scope, now)),
            "/users?tokens=expiring",
            _ADMIN,
            f"users whose API token expires within {TOKEN_WARNING_DAYS} days",
        ),
    ]
