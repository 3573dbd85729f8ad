"""Manufacturing records: ORM models (one section per record family)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vein2vein.auth.tables import Site
from vein2vein.core.clock import utcnow
from vein2vein.identity.tables import HandoffMismatch, Order
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


# ============================================================================================
# Material lots and deviations (materials.py, deviation_rules.py; services lots.py,
# deviations.py)
# ============================================================================================


class Material(Base):
    """A material the CDMO buys and uses (reagents, vector, media): the CDMO's own record."""

    __tablename__ = "mfg_material"
    __table_args__ = (UniqueConstraint("organisation_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150))

    lots: Mapped[list[MaterialLot]] = relationship(
        back_populates="material", order_by="MaterialLot.id"
    )


class MaterialLot(Base):
    """A received lot of a material. ``status`` is QA's decision (quarantine, released,
    rejected); expiry is derived from ``expiry`` when read."""

    __tablename__ = "mfg_lot"
    __table_args__ = (UniqueConstraint("material_id", "lot_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("mfg_material.id"), index=True)
    lot_number: Mapped[str] = mapped_column(String(64), index=True)
    supplier: Mapped[str] = mapped_column(String(200))
    supplier_lot: Mapped[str | None] = mapped_column(String(64))
    expiry: Mapped[dt.date] = mapped_column(Date)
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    titer_tu_per_ml: Mapped[Decimal | None] = mapped_column(Numeric(20, 0))
    status: Mapped[str] = mapped_column(String(16), default="quarantine")
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_by: Mapped[str | None] = mapped_column(String(150))
    status_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_by: Mapped[str] = mapped_column(String(150))

    material: Mapped[Material] = relationship(back_populates="lots")


class DeviationCounter(Base):
    """Last deviation number issued per year (locked while a number is issued)."""

    __tablename__ = "mfg_deviation_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(Integer, default=0)


class Deviation(Base):
    """A deviation: linked to an order (and, for an identity mismatch, the other order the
    wrong identifier belongs to), to a batch, step and entry (plain ids: batches are recorded
    by the executed batch record), classified and closed by QA with an e-signature.

    ``organisation_id`` is the client whose order it concerns (its sponsor may read it), or the
    CDMO's own for a deviation of no order."""

    __tablename__ = "mfg_deviation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("coi_order.id"), index=True)
    related_order_id: Mapped[int | None] = mapped_column(ForeignKey("coi_order.id"), index=True)
    mismatch_id: Mapped[int | None] = mapped_column(
        ForeignKey("coi_handoff_mismatch.id"), index=True
    )
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("mfg_lot.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(Integer, index=True)
    step_id: Mapped[int | None] = mapped_column(Integer)
    entry_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(8), default="open")
    classification: Mapped[str | None] = mapped_column(String(8))
    root_cause: Mapped[str] = mapped_column(Text, default="")
    capa: Mapped[str] = mapped_column(Text, default="")
    classified_by: Mapped[str | None] = mapped_column(String(150))
    classified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_by: Mapped[str] = mapped_column(String(150))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(150))

    order: Mapped[Order | None] = relationship(foreign_keys=[order_id])
    related_order: Mapped[Order | None] = relationship(foreign_keys=[related_order_id])
    mismatch: Mapped[HandoffMismatch | None] = relationship()
    lot: Mapped[MaterialLot | None] = relationship()


# ============================================================================================
# Executed batch records (rules: execution.py; service: batches.py)
# ============================================================================================


class Batch(Base):
    """One executed batch record: an order's batch made from one effective MBR version.

    Bound at creation to the order's chain-of-identity identifier and apheresis DIN, and to the
    MBR's id, version and content hash (a later version does not change it). What happened is in
    :class:`BatchEvent` (append-only); ``status`` is derived from the events by the service and
    stored for lists: IN_PROGRESS, ON_HOLD, COMPLETE, IN_REVIEW, APPROVED, FAILED. The row
    belongs to the client whose order it is (``organisation_id``), as the order does; an
    APPROVED row is locked by the database (migration 0013).

    A **process-development run** (``gmp`` false, migration 0014) is the same record flagged
    non-GMP: no order, CoI identifier or DIN but a ``run_label`` unique in its ``program``,
    which belongs to the program's sponsor. The database keeps the two apart (CHECK
    constraints): a GMP batch has its order, CoI and DIN; a non-GMP run has a label and a
    program and no order, and is never IN_REVIEW or APPROVED (it can never be released)."""

    __tablename__ = "mfg_batch"
    __table_args__ = (
        UniqueConstraint("program_id", "run_label"),
        CheckConstraint(
            "NOT gmp OR (order_id IS NOT NULL AND coi IS NOT NULL AND din IS NOT NULL)",
            name="gmp_has_order",
        ),
        CheckConstraint(
            "gmp OR (run_label IS NOT NULL AND program_id IS NOT NULL AND order_id IS NULL)",
            name="pd_has_label",
        ),
        CheckConstraint("gmp OR status NOT IN ('IN_REVIEW', 'APPROVED')", name="pd_never_approved"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("coi_order.id"), index=True)
    coi: Mapped[str | None] = mapped_column(String(40))
    din: Mapped[str | None] = mapped_column(String(13))
    gmp: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    run_label: Mapped[str | None] = mapped_column(String(64))
    program_id: Mapped[int | None] = mapped_column(ForeignKey("program.id"), index=True)
    mbr_id: Mapped[int] = mapped_column(ForeignKey("mbr.id"), index=True)
    mbr_version: Mapped[int] = mapped_column(Integer)
    mbr_hash: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    planned_suite: Mapped[str] = mapped_column(String(64))
    #: the order's facts the calculations use, as canonical JSON [[field, value, unit], ...]
    order_facts: Mapped[str] = mapped_column(Text, default="[]")
    status: Mapped[str] = mapped_column(String(16))
    failed_step: Mapped[str | None] = mapped_column(String(32))
    failed_reason: Mapped[str | None] = mapped_column(Text)
    #: when the failure was recorded (or QA did not release a hold): the suite stays used
    #: until then, plus its cleaning
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_by: Mapped[str | None] = mapped_column(String(150))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(150))

    order: Mapped[Order | None] = relationship()
    program: Mapped[Program | None] = relationship()
    mbr: Mapped[MasterBatchRecord] = relationship()
    site: Mapped[Site] = relationship()
    events: Mapped[list[BatchEvent]] = relationship(
        back_populates="batch", order_by="BatchEvent.seq"
    )


class BatchEvent(Base):
    """One event of an executed batch record (``execution.Event``), append-only: the database
    refuses UPDATE and DELETE (migration 0013). ``seq`` is the event's number in the record
    (1, 2, ...; corrections and verifications point at it); ``payload`` is the whole event as
    canonical JSON (what the record is rebuilt from); the other columns repeat it for queries
    (``lot_id``: the lot scanned, for genealogy)."""

    __tablename__ = "mfg_batch_event"
    __table_args__ = (UniqueConstraint("batch_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("mfg_batch.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    item: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(32))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("mfg_lot.id"), index=True)
    by: Mapped[str] = mapped_column(String(150))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[str] = mapped_column(Text)

    batch: Mapped[Batch] = relationship(back_populates="events")
    lot: Mapped[MaterialLot | None] = relationship()
