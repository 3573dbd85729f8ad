"""Reads of organisations, sites, users and the caller's tokens for pages, the API and the
command line (no change, no audit entry); everything within the caller's scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from vein2vein.audittrail.views import history
from vein2vein.auth import lookup
from vein2vein.auth.roles import ROLE_PERMISSIONS, Perm, Role
from vein2vein.auth.scope import Scope
from vein2vein.auth.signatures import signatures_for
from vein2vein.auth.tables import ApiToken, Organisation, Site, User


def home_counts(session: Session, scope: Scope) -> dict[str, int]:
    """Organisations, sites and (for roles that read users) users the caller may see."""

    def count(model: type, column: str = "organisation_id") -> int:
        stmt = scope.filter(select(func.count()).select_from(model), model, column)
        return int(session.scalar(stmt) or 0)

    counts = {"organisations": count(Organisation, "id"), "sites": count(Site)}
    if scope.can(Perm.USER_READ):
        counts["users"] = count(User)
    return counts


def me(scope: Scope) -> dict[str, Any]:
    """Who the caller is and what their role allows."""
    return {
        "user_id": scope.user_id,
        "username": scope.username,
        "full_name": scope.full_name,
        "organisation_id": scope.organisation_id,
        "organisation_kind": scope.organisation_kind,
        "role": scope.role,
        "permissions": sorted(p.value for p in ROLE_PERMISSIONS[Role(scope.role)]),
    }


# --- organisations -------------------------------------------------------------------------


def organisations(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Organisations the caller may see (a sponsor sees only itself), with their site count."""
    stmt = (
        scope.filter(select(Organisation), Organisation, "id")
        .options(selectinload(Organisation.sites))
        .order_by(Organisation.name)
    )
    return [o.public() | {"sites": len(o.sites)} for o in session.scalars(stmt)]


def organisation(session: Session, scope: Scope, org_id: int) -> dict[str, Any]:
    """One organisation with its sites and (for roles that read users) its users."""
    org = lookup.organisation(session, scope, org_id)
    users: list[dict[str, Any]] = []
    if scope.can(Perm.USER_READ):
        users = [
            u.public()
            for u in session.scalars(
                select(User).where(User.organisation_id == org.id).order_by(User.username)
            )
        ]
    return org.public() | {"sites": [s.public() for s in org.sites], "users": users}


# --- users ---------------------------------------------------------------------------------


def users(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Users the caller may see, with organisation, role and status."""
    stmt = scope.filter(select(User), User).order_by(User.username)
    return [u.public() for u in session.scalars(stmt.options(selectinload(User.organisation)))]


def user(session: Session, scope: Scope, user_id: int) -> dict[str, Any]:
    return lookup.user(session, scope, user_id).public()


def user_page(session: Session, scope: Scope, user_id: int) -> dict[str, Any]:
    """A user with their recent history (for roles that read the trail) and signatures."""
    found = lookup.user(session, scope, user_id)
    return {
        "user": found.public(),
        # the password pause (auth/lockout.py): an administrator may end it, or reset the count
        # of a pause that has ended, while no successful log-in has done so
        "pause": {
            "until": found.locked_until if found.password_locked else None,
            "failed": found.failed_logins,
            "unlockable": found.locked_at is not None,
        },
        "history": history(session, scope, "user", found.id, limit=50),
        "signatures": [s.public() for s in signatures_for(session, "user", found.id)],
    }


def own_tokens(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """The caller's own API tokens (never their values: only hashes are kept)."""
    stmt = select(ApiToken).where(ApiToken.user_id == scope.user_id).order_by(ApiToken.id)
    return [t.public() for t in session.scalars(stmt)]
