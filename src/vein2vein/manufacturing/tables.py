"""Manufacturing records: ORM models (one section per record family)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vein2vein.auth.tables import Site
from vein2vein.core.clock import utcnow
from vein2vein.programs.tables import Program
from vein2vein.store.base import Base, UTCDateTime

# --- master batch records ---------------------------------------------------------------------


class MasterBatchRecord(Base):
    """One version of the master batch record of a product (program) at a CDMO site.

    ``content`` is the canonical JSON of ``domain.to_data`` and ``content_hash`` its SHA-256:
    what the author, reviewer and approver sign (signatures of record type ``mbr``). The record
    belongs to the CDMO (``organisation_id``); the program's sponsor may read it.
    """

    __tablename__ = "mbr"
    __table_args__ = (UniqueConstraint("program_id", "site_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    #: DRAFT | IN_REVIEW | EFFECTIVE | SUPERSEDED | RETIRED
    status: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("mbr.id"))
    source_file: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150))
    effective_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    program: Mapped[Program] = relationship()
    site: Mapped[Site] = relationship()

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "organisation_id": self.organisation_id,
            "program_id": self.program_id,
            "site_id": self.site_id,
            "version": self.version,
            "status": self.status,
            "title": self.title,
            "content_hash": self.content_hash,
            "based_on_id": self.based_on_id,
            "source_file": self.source_file,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "effective_at": self.effective_at.isoformat() if self.effective_at else None,
            "superseded_at": self.superseded_at.isoformat() if self.superseded_at else None,
        }
