"""Human names of audit-trail reviews for the trail itself (``auth/names.py``). Reviews cover
the whole system and are the CDMO's: a sponsor's user gets no name (as ``service.get_review``
finds none for them)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.audittrail.service import REVIEW
from vein2vein.audittrail.tables import AuditReview
from vein2vein.auth.names import Labels, Ref, ids_of
from vein2vein.auth.scope import Scope


def entity_labels(session: Session, scope: Scope, refs: Collection[Ref]) -> Labels:
    ids = ids_of(refs, REVIEW)
    if not scope.is_cdmo or not ids:
        return {}
    rows = session.execute(
        select(AuditReview.id, AuditReview.from_seq, AuditReview.to_seq).where(
            AuditReview.id.in_(ids)
        )
    )
    return {(REVIEW, str(i)): f"Audit-trail review of entries {lo} to {hi}" for i, lo, hi in rows}
