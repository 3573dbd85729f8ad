"""Work queues of manufacturing: batch records awaiting QA review (QA reviewer and approver),
linking to the batch list filtered to exactly them (``/batches?status=IN_REVIEW``). The count
and the list use the same scope and status, so they cannot disagree."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm, Role
from vein2vein.auth.scope import Scope
from vein2vein.manufacturing import batches
from vein2vein.manufacturing.tables import Batch
from vein2vein.web.queues import QueueItem, wanted

_REVIEW_ROLES = frozenset({Role.QA_REVIEWER, Role.QA_APPROVER})


def work_queues(session: Session, scope: Scope, now: dt.datetime) -> list[QueueItem]:
    """The manufacturing queues meant for the caller's role."""
    if not (scope.is_cdmo and scope.can(Perm.BATCH_READ) and wanted(scope, _REVIEW_ROLES)):
        return []
    stmt = scope.filter(select(func.count()).select_from(Batch), Batch)
    count = session.scalar(stmt.where(Batch.status == batches.IN_REVIEW)) or 0
    return [
        QueueItem(
            "mfg.batches_in_review",
            "Batch records awaiting QA review",
            int(count),
            f"/batches?status={batches.IN_REVIEW}",
            _REVIEW_ROLES,
            "complete records submitted to QA: review by exception, then approve",
        )
    ]
