"""Work queues of the audit trail for CDMO QA.

- **audit reviews to sign** (QA reviewer, QA approver): reviews started and not yet signed;
  ``/audit/reviews?signed=no``;
- **entries since the last review** (QA reviewer, QA approver): audit entries after the last
  review's range; ``/audit/reviews`` (where a review is started).

Reviews cover the whole system, so only CDMO staff have these queues.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.audittrail.service import REVIEW
from vein2vein.audittrail.tables import AuditReview
from vein2vein.auth.roles import Perm, Role
from vein2vein.auth.scope import Scope
from vein2vein.auth.tables import Signature
from vein2vein.store import audit
from vein2vein.web.queues import QueueItem, wanted

_QA = frozenset({Role.QA_REVIEWER, Role.QA_APPROVER})


def unsigned_review_ids(session: Session, scope: Scope) -> set[int]:
    """Reviews without any signature (none for a sponsor's user)."""
    if not scope.is_cdmo or not scope.can(Perm.AUDIT_READ):
        return set()
    signed = session.scalars(select(Signature.record_id).where(Signature.record_type == REVIEW))
    return set(session.scalars(select(AuditReview.id))) - {int(r) for r in signed}


def unreviewed_entries(session: Session, scope: Scope) -> int:
    """Audit entries after the range of the latest review (sequence numbers are dense)."""
    if not scope.is_cdmo or not scope.can(Perm.AUDIT_READ):
        return 0
    last = session.scalar(select(func.max(AuditReview.to_seq))) or 0
    stmt = select(func.count()).select_from(audit.AuditEntry).where(audit.AuditEntry.seq > last)
    return int(session.scalar(stmt) or 0)


def work_queues(session: Session, scope: Scope, now: dt.datetime) -> list[QueueItem]:
    if not wanted(scope, _QA) or not scope.is_cdmo:
        return []
    return [
        QueueItem(
            "audit.reviews_to_sign",
            "Audit reviews to sign",
            len(unsigned_review_ids(session, scope)),
            "/audit/reviews?signed=no",
            _QA,
            "reviews started but not yet signed",
        ),
        QueueItem(
            "audit.unreviewed",
            "Audit entries since the last review",
            unreviewed_entries(session, scope),
            "/audit/reviews",
            _QA,
            "start a review of the trail up to now",
        ),
    ]
