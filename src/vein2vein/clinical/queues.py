"""Work queue of the clinical readout, and the filter of the study list its count links to.

- **datasets awaiting upload** (sponsor clinical): studies in scope with no dataset version
  yet; ``/clinical?datasets=none``.
- **readout reports awaiting your signature** (a named steering-committee member): report
  versions, not superseded, that name the caller and that the caller has not signed;
  ``/clinical?reports=to_sign`` lists their studies.
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


def study_filter(
    session: Session, scope: Scope, datasets: str, reports: str = ""
) -> tuple[str, set[int]] | None:
    """The ``datasets`` (or ``reports``) filter of the study list (its heading and studies),
    None for all."""
    if reports.strip():
        if reports.strip().lower() != "to_sign":
            raise InputError(f"unknown reports filter '{reports}'; use: to_sign", field="reports")
        from .report_versions import awaiting_signature

        studies = {r["study_id"] for r in awaiting_signature(session, scope)}
        return "Studies with a readout report awaiting your signature", studies
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
    from .report_versions import awaiting_signature

    return [
        QueueItem(
            "clinical.reports_to_sign",
            "Readout reports awaiting your signature",
            len(awaiting_signature(session, scope)),
            "/clinical?reports=to_sign",
            _CLINICAL,
            "report versions naming you as a steering-committee member, not yet signed by you",
        ),
        QueueItem(
            "clinical.awaiting_upload",
            "Clinical datasets awaiting upload",
            len(awaiting_upload_ids(session, scope)),
            "/clinical?datasets=none",
            _CLINICAL,
            "studies created with no lesion-measurement dataset uploaded yet",
        ),
    ]
