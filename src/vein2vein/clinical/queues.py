"""Work queue of the clinical readout, and the filter of the study list its count links to.

- **datasets awaiting upload** (sponsor clinical): studies in scope with no dataset version
  yet; ``/clinical?datasets=none``.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Role
from vein2vein.auth.scope import Scope
from vein2vein.core.errors import InputError
from vein2vein.web.queues import QueueItem, wanted

from .access import can_read, require_read
from .tables import DatasetVersion, Study

_CLINICAL = frozenset({Role.SPONSOR_CLINICAL})
#: the ``datasets`` filter of ``/clinical``: value → heading of the filtered list
STUDY_FILTERS: Final = {"none": "Studies awaiting their first dataset upload"}


def awaiting_upload_ids(session: Session, scope: Scope) -> set[int]:
    """Studies in scope that have no dataset version."""
    require_read(scope)
    uploaded = select(DatasetVersion.study_id)
    stmt = scope.filter(select(Study.id), Study).where(Study.id.not_in(uploaded))
    return set(session.scalars(stmt))


def study_filter(session: Session, scope: Scope, datasets: str) -> tuple[str, set[int]] | None:
    """The ``datasets`` filter of the study list (its heading and studies), None for all."""
    key = datasets.strip().lower()
    if not key:
        return None
    if key not in STUDY_FILTERS:
        known = ", ".join(STUDY_FILTERS)
        raise InputError(f"unknown datasets filter '{datasets}'; use: {known}", field="datasets")
    return STUDY_FILTERS[key], awaiting_upload_ids(session, scope)


def work_queues(session: Session, scope: Scope, now: dt.datetime) -> list[QueueItem]:
    if not wanted(scope, _CLINICAL) or not can_read(scope):
        return []
    return [
        QueueItem(
            "clinical.awaiting_upload",
            "Clinical datasets awaiting upload",
            len(awaiting_upload_ids(session, scope)),
            "/clinical?datasets=none",
            _CLINICAL,
            "studies created with no lesion-measurement dataset uploaded yet",
        )
    ]
