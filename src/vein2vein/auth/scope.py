"""The one tenant scope helper: every query of client-owned records goes through it.

CDMO staff see every client's records (their role decides what they may do); a sponsor user sees
only records of their own organisation. A record outside the caller's scope is reported as not
found, never as forbidden, so its existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import OrgKind, Perm, Role, has_permission
from vein2vein.core.errors import NotFound, PermissionDenied
from vein2vein.core.text import parse_id

if TYPE_CHECKING:
    from vein2vein.auth.tables import User

T = TypeVar("T")


@dataclass(frozen=True)
class Scope:
    user_id: int
    username: str
    full_name: str
    organisation_id: int
    organisation_kind: str
    role: str
    organisation_name: str = ""

    @property
    def is_cdmo(self) -> bool:
        return self.organisation_kind == OrgKind.CDMO

    @property
    def organisation_ids(self) -> set[int] | None:
        """Organisations whose records the caller may see (None: all of them)."""
        return None if self.is_cdmo else {self.organisation_id}

    def can(self, perm: Perm) -> bool:
        return has_permission(self.role, perm)

    def require(self, perm: Perm) -> None:
        if not self.can(perm):
            raise PermissionDenied(f"your role ({self.role}) does not allow this ({perm.value})")

    def filter(self, stmt: Select[Any], model: Any, column: str = "organisation_id") -> Select[Any]:
        ids = self.organisation_ids
        return stmt if ids is None else stmt.where(getattr(model, column).in_(ids))

    def sees(self, organisation_id: int | None) -> bool:
        ids = self.organisation_ids
        return ids is None or organisation_id in ids


def scope_of(user: User) -> Scope:
    """The scope of a signed-in user (their organisation, its kind and their role)."""
    return Scope(
        user_id=user.id,
        username=user.username,
        full_name=user.full_name,
        organisation_id=user.organisation_id,
        organisation_kind=user.organisation.kind,
        role=user.role,
        organisation_name=user.organisation.name,
    )


def administration_scope(actor: str, organisation_id: int | None = None) -> Scope:
    """The server acting for itself (command line, demo loader, test factories): an
    administrator of the CDMO (``organisation_id``, 0 before one exists) who sees every client's
    records and is no user (user id 0: it cannot sign, hold tokens or change a password)."""
    return Scope(
        0,
        actor,
        "server administration",
        organisation_id or 0,
        OrgKind.CDMO.value,
        Role.ADMIN.value,
    )


def scoped_select(scope: Scope, model: type[T], column: str = "organisation_id") -> Select[Any]:
    return scope.filter(select(model), model, column)


def get_scoped(
    session: Session, scope: Scope, model: type[T], ident: Any, column: str = "organisation_id"
) -> T:
    """Fetch one record by primary key within the caller's scope, or raise ``NotFound``."""
    label = getattr(model, "__tablename__", model.__name__).replace("_", " ")
    key = parse_id(ident)
    if key is None:
        raise NotFound(f"{label} {ident} not found")
    row = session.scalars(scoped_select(scope, model, column).where(model.id == key)).first()  # type: ignore[attr-defined]
    if row is None:
        raise NotFound(f"{label} {ident} not found")
    return row
