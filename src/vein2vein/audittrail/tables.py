"""Audit-trail reviews: a QA reviewer's signed statement that the trail up to a head was reviewed.

Each review stores the head (sequence and hash) it covered, so its signature anchors the chain
outside the rows it protects: ``v2v audit verify`` checks the chain against the heads of every
signed review (``service.verify_trail``). It also stores the digest of the entries it covers
(``entries_sha256``), and its signature is made over the digest of those entries as shown to
the reviewer (``service.review_content``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vein2vein.core.clock import utcnow
from vein2vein.store.base import Base, UTCDateTime


class AuditReview(Base):
    __tablename__ = "audit_review"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_seq: Mapped[int] = mapped_column(Integer)
    to_seq: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))
    chain_ok: Mapped[bool] = mapped_column(Boolean)
    entries: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: SHA-256 of the covered entries' ``SEQ:HASH`` lines when the review was made (None for
    #: reviews made before reviews covered their entries, migration 0008)
    entries_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)

    def public(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "from_seq": self.from_seq,
            "to_seq": self.to_seq,
            "head_hash": self.head_hash,
            "chain_ok": self.chain_ok,
            "entries": self.entries,
            "comment": self.comment,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }
        if self.entries_sha256 is not None:
            out["entries_sha256"] = self.entries_sha256
        return out
