"""The record of product ↔ outcome: which clinical subject of a study received the product of
which order (its chain-of-identity identifier).

A link is never edited or deleted: unlinking fills its ``unlinked_*`` columns once and a new
link is a new row, so the history of a subject's links is the rows themselves (and the audit
trail). At most one *current* link per subject of a study and per order (partial unique
indexes; the service also takes the study's row lock, so two people linking the same subject
are taken one after the other). The database refuses DELETE, and any UPDATE but the one that
unlinks (migration 0019).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vein2vein.clinical.tables import Study
from vein2vein.core.clock import utcnow
from vein2vein.identity.tables import Order
from vein2vein.store.base import Base, UTCDateTime

_CURRENT = text("unlinked_at IS NULL")


class OutcomeLink(Base):
    __tablename__ = "outcome_link"
    __table_args__ = (
        Index(
            "uq_outcome_link_current_subject",
            "study_id",
            "subject_id",
            unique=True,
            sqlite_where=_CURRENT,
            postgresql_where=_CURRENT,
        ),
        Index(
            "uq_outcome_link_current_order",
            "order_id",
            unique=True,
            sqlite_where=_CURRENT,
            postgresql_where=_CURRENT,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("clinical_study.id"), index=True)
    subject_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int] = mapped_column(ForeignKey("coi_order.id"), index=True)
    coi: Mapped[str] = mapped_column(String(40))
    #: what was compared at link time (identifiers, year of birth) and the warnings shown
    checks: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    linked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    linked_by: Mapped[str] = mapped_column(String(150))
    unlinked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unlinked_by: Mapped[str | None] = mapped_column(String(150), nullable=True)
    unlink_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    study: Mapped[Study] = relationship()
    order: Mapped[Order] = relationship()

    @property
    def current(self) -> bool:
        return self.unlinked_at is None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "study_id": self.study_id,
            "subject_id": self.subject_id,
            "order_id": self.order_id,
            "order_number": self.order.number if self.order is not None else None,
            "coi": self.coi,
            "checks": dict(self.checks or {}),
            "reason": self.reason,
            "linked_at": self.linked_at,
            "linked_by": self.linked_by,
            "unlinked_at": self.unlinked_at,
            "unlinked_by": self.unlinked_by,
            "unlink_reason": self.unlink_reason,
        }
