"""Human names of records for the audit trail, looked up through the caller's scope.

Each feature says how to name its own records (``features.py``: ``labels="names:entity_labels"``,
a function ``(session, scope, refs) -> {(entity_type, entity_id): name}``); the composition root
asks every feature (``features.entity_labels``). A record outside the caller's scope gets no name,
so a sponsor's user never learns another client's names through the trail: the page then shows
the bare ``type:id`` it would show anyway. ``scoped_labels`` is the one query shape they share.

This module names the records of ``auth``: users, organisations, sites and API tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.auth.scope import Scope
from vein2vein.auth.tables import ApiToken, Organisation, Site, User

#: (entity type, entity id as recorded in the audit trail)
Ref = tuple[str, str]
Labels = dict[Ref, str]
_CHUNK = 500


def ids_of(refs: Iterable[Ref], entity_type: str) -> list[int]:
    """The whole-number ids among ``refs`` of one entity type (others cannot name a row)."""
    out = {int(i) for t, i in refs if t == entity_type and i.isascii() and i.isdigit()}
    return sorted(i for i in out if i < 2**31)


def scoped_labels(
    session: Session,
    scope: Scope,
    refs: Collection[Ref],
    entity_type: str,
    model: Any,
    fmt: Callable[..., str],
    *columns: Any,
    column: str = "organisation_id",
    owner: Any = None,
) -> Labels:
    """Names of the ``entity_type`` records among ``refs`` that the caller may see:
    ``fmt(*columns)`` of each row of ``model`` within the scope. The row's organisation is
    ``column`` of ``model``, or of ``owner`` (a table joined to ``model``) when given."""
    ids = ids_of(refs, entity_type)
    out: Labels = {}
    for start in range(0, len(ids), _CHUNK):
        stmt = select(model.id, *columns)
        if owner is not None:
            stmt = stmt.join(owner)
        stmt = scope.filter(stmt, owner if owner is not None else model, column)
        stmt = stmt.where(model.id.in_(ids[start : start + _CHUNK]))
        for row in session.execute(stmt):
            out[(entity_type, str(row[0]))] = fmt(*row[1:])
    return out


def entity_labels(session: Session, scope: Scope, refs: Collection[Ref]) -> Labels:
    """Users, organisations, sites and API tokens the caller may see."""
    out = scoped_labels(
        session,
        scope,
        refs,
        "user",
        User,
        lambda full, name: f"User {full} ({name})",
        User.full_name,
        User.username,
    )
    out |= scoped_labels(
        session,
        scope,
        refs,
        "organisation",
        Organisation,
        lambda name: f"Organisation {name}",
        Organisation.name,
        column="id",
    )
    out |= scoped_labels(session, scope, refs, "site", Site, lambda name: f"Site {name}", Site.name)
    out |= scoped_labels(
        session,
        scope,
        refs,
        "api_token",
        ApiToken,
        lambda name, owner: f"API token {name} of {owner}",
        ApiToken.name,
        User.username,
        owner=User,
    )
    return out
