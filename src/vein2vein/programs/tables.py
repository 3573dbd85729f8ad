"""A sponsor's product program (for example an EpCAM-targeted CAR-T in gastric cancer).

Programs are the root that a client's orders, batches, specifications and studies hang from.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vein2vein.auth.tables import Organisation
from vein2vein.core.clock import utcnow
from vein2vein.store.base import Base, UTCDateTime


class Program(Base):
    __tablename__ = "program"
    __table_args__ = (UniqueConstraint("organisation_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(String(200), default="")
    target: Mapped[str] = mapped_column(String(64), default="")
    indication: Mapped[str] = mapped_column(String(200), default="")
    phase: Mapped[str] = mapped_column(String(32), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship()

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "organisation_id": self.organisation_id,
            "code": self.code,
            "name": self.name,
            "product": self.product,
            "target": self.target,
            "indication": self.indication,
            "phase": self.phase,
            "description": self.description,
        }
