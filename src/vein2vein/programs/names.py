"""Human names of the records of ``programs`` for the audit trail (``auth/names.py``)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.orm import Session

from vein2vein.auth.names import Labels, Ref, scoped_labels
from vein2vein.auth.scope import Scope
from vein2vein.programs.tables import Program


def entity_labels(session: Session, scope: Scope, refs: Collection[Ref]) -> Labels:
    """Programs the caller may see: ``Program CODE: name``."""
    return scoped_labels(
        session,
        scope,
        refs,
        "program",
        Program,
        lambda code, name: f"Program {code}: {name}",
        Program.code,
        Program.name,
    )
