"""Comparability protocols and their runs: ORM models (migration 0017; docs/comparability.md)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vein2vein.core.clock import utcnow
from vein2vein.programs.tables import Program
from vein2vein.store.base import Base, UTCDateTime


class CmpProtocol(Base):
    """One version of a comparability protocol of a program (``number``, versions 1, 2, ...).
    ``content`` is the canonical JSON of the protocol (``comparability_domain.validate``) and
    ``content_hash`` its SHA-256, which both signatures sign. Status: draft, authored,
    approved, superseded (``comparability_domain``). The row belongs to the sponsor whose
    program it is; once signed its content never changes (the database refuses it, migration
    0017)."""

    __tablename__ = "cmp_protocol"
    __table_args__ = (UniqueConstraint("program_id", "number", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"), index=True)
    number: Mapped[str] = mapped_column(String(48))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    #: the version this one changes (None for version 1)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("cmp_protocol.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150))
    authored_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    authored_by: Mapped[str | None] = mapped_column(String(150))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(150))
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    program: Mapped[Program] = relationship()


class CmpRun(Base):
    """One run of an approved protocol version on the stored, approved results at that time:
    the values it used with the record each came from (``inputs``, canonical JSON, and its
    SHA-256), and the engine's result (``result``, JSON with method, options and library
    versions). Never changed or deleted (migration 0017)."""

    __tablename__ = "cmp_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("cmp_protocol.id"), index=True)
    run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    run_by: Mapped[str] = mapped_column(String(150))
    inputs: Mapped[str] = mapped_column(Text)
    inputs_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(Text)
    conclusion: Mapped[str] = mapped_column(String(32))

    protocol: Mapped[CmpProtocol] = relationship()
