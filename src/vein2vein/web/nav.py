"""Navigation: features register their pages here; the layout shows what the caller may use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vein2vein.auth.roles import Perm

if TYPE_CHECKING:
    from vein2vein.auth.scope import Scope


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    permission: Perm | None = None
    section: str = "Records"


class Navigation:
    def __init__(self) -> None:
        self._items: list[NavItem] = []

    def add(self, item: NavItem) -> None:
        self._items.append(item)

    def for_scope(self, scope: Scope | None) -> list[NavItem]:
        if scope is None:
            return []
        return [i for i in self._items if i.permission is None or scope.can(i.permission)]
