"""ORM models of the chain of identity: facilities and their DIN counters, issued DINs, patients,
manufacturing orders, final-product bags, custody events and hand-off mismatches.

Every row that belongs to a client carries ``organisation_id`` (the sponsor). Facilities and
their counters belong to the organisation that runs the facility (the CDMO). Custody events and
mismatches are never edited or deleted; clearing a mismatch fills its clearance columns once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vein2vein.auth.tables import Organisation, Site
from vein2vein.core.clock import utcnow
from vein2vein.programs.tables import Program
from vein2vein.store.base import Base, UTCDateTime

MARKERS = ("hbv", "hcv", "hiv", "htlv", "syphilis")


class Facility(Base):
    """A facility registered with ICCBBA under a facility identification number (FIN)."""

    __tablename__ = "coi_facility"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    fin: Mapped[str] = mapped_column(String(5), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")

    def public(self) -> dict[str, object]:
        return {"id": self.id, "fin": self.fin, "name": self.name, "time_zone": self.time_zone}


class DinCounter(Base):
    """Last sequence number issued per facility and year (locked while a DIN is issued)."""

    __tablename__ = "coi_din_counter"
    __table_args__ = (UniqueConstraint("facility_id", "year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("coi_facility.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)  # in full, e.g. 2026
    last_sequence: Mapped[int] = mapped_column(Integer, default=0)


class IssuedDin(Base):
    """Every DIN vein2vein issued: the unique constraint is the last line against duplicates."""

    __tablename__ = "coi_din"
    __table_args__ = (UniqueConstraint("facility_id", "year", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    din: Mapped[str] = mapped_column(String(13), unique=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("coi_facility.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("coi_order.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # apheresis | product | unassigned
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by: Mapped[str] = mapped_column(String(150))

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "din": self.din,
            "year": self.year,
            "sequence": self.sequence,
            "purpose": self.purpose,
            "order_id": self.order_id,
            "issued_at": self.issued_at.isoformat(),
        }


class Patient(Base):
    """A sponsor's subject. Date of birth and initials are personal data (written by
    ``orders.enrol_patient``, read by ``views.patient_detail``)."""

    __tablename__ = "coi_patient"
    __table_args__ = (UniqueConstraint("organisation_id", "subject_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"), index=True)
    subject_id: Mapped[str] = mapped_column(String(64))
    treatment_site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    initials: Mapped[str | None] = mapped_column(String(4))
    personal_data_salt: Mapped[str] = mapped_column(String(32))
    enrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    enrolled_by: Mapped[str] = mapped_column(String(150))

    organisation: Mapped[Organisation] = relationship()
    program: Mapped[Program] = relationship()
    treatment_site: Mapped[Site] = relationship()
    orders: Mapped[list[Order]] = relationship(back_populates="patient", order_by="Order.id")


class Order(Base):
    """A manufacturing order: one therapy of one patient, bound together by its CoI identifier."""

    __tablename__ = "coi_order"
    __table_args__ = (UniqueConstraint("organisation_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("coi_patient.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("coi_facility.id"), index=True)
    number: Mapped[str] = mapped_column(String(40))
    coi: Mapped[str] = mapped_column(String(40), unique=True)
    product_code: Mapped[str] = mapped_column(String(8))
    product_name: Mapped[str] = mapped_column(String(200), default="")
    dose_level: Mapped[str] = mapped_column(String(40))
    weight_kg: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    planned_apheresis: Mapped[dt.date] = mapped_column(Date)
    required_by: Mapped[dt.date] = mapped_column(Date)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    starting_material: Mapped[str] = mapped_column(String(16))  # fresh | cryopreserved
    marker_hbv: Mapped[str] = mapped_column(String(8))
    marker_hcv: Mapped[str] = mapped_column(String(8))
    marker_hiv: Mapped[str] = mapped_column(String(8))
    marker_htlv: Mapped[str] = mapped_column(String(8))
    marker_syphilis: Mapped[str] = mapped_column(String(8))
    segregated: Mapped[bool] = mapped_column(Boolean, default=False)
    apheresis_din: Mapped[str | None] = mapped_column(String(13), unique=True)
    product_din: Mapped[str | None] = mapped_column(String(13), unique=True)
    batch_number: Mapped[str | None] = mapped_column(String(64))
    current_step: Mapped[str | None] = mapped_column(String(32))
    current_step_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: the apheresis collection the order is in: 1, then 2 after a failed batch needed a new
    #: apheresis (``orders.new_apheresis``); custody steps of earlier collections are history
    collection: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    placed_by: Mapped[str] = mapped_column(String(150))

    organisation: Mapped[Organisation] = relationship()
    program: Mapped[Program] = relationship()
    patient: Mapped[Patient] = relationship(back_populates="orders")
    facility: Mapped[Facility] = relationship()
    events: Mapped[list[CustodyEventRow]] = relationship(
        back_populates="order", order_by="CustodyEventRow.id"
    )
    bags: Mapped[list[Bag]] = relationship(order_by="Bag.number")
    mismatches: Mapped[list[HandoffMismatch]] = relationship(
        back_populates="order", order_by="HandoffMismatch.id"
    )

    def markers(self) -> dict[str, str]:
        return {m: getattr(self, f"marker_{m}") for m in MARKERS}

    @property
    def current_events(self) -> list[CustodyEventRow]:
        """The custody steps of the order's current apheresis collection (the chain the step
        order, the schedule and the delivery projection follow)."""
        return [e for e in self.events if e.collection == self.collection]


class Bag(Base):
    """A final-product bag: the product DIN and the product code with its division."""

    __tablename__ = "coi_bag"
    __table_args__ = (UniqueConstraint("order_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("coi_order.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    din: Mapped[str] = mapped_column(String(13))
    product_code: Mapped[str] = mapped_column(String(8))

    def public(self) -> dict[str, object]:
        return {"number": self.number, "din": self.din, "product_code": self.product_code}


class CustodyEventRow(Base):
    """One recorded custody step (append-only)."""

    __tablename__ = "coi_custody_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("coi_order.id"), index=True)
    step: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    time_zone: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(String(200))
    performed_by: Mapped[str] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    scanned: Mapped[str | None] = mapped_column(Text)
    identifiers_verified: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[str | None] = mapped_column(Text)  # canonical JSON
    #: the GMP suite the step happened in (``custody.SUITE_STEPS``), else None
    suite: Mapped[str | None] = mapped_column(String(64))
    #: the order's apheresis collection the step belongs to (1, 2, ...)
    collection: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    order: Mapped[Order] = relationship(back_populates="events")


class HandoffMismatch(Base):
    """A hand-off stopped because the scan did not match the order; open until QA clears it."""

    __tablename__ = "coi_handoff_mismatch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("coi_order.id"), index=True)
    step: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    location: Mapped[str] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(150))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    scanned: Mapped[str | None] = mapped_column(Text)
    problems: Mapped[str] = mapped_column(Text)  # canonical JSON list of mismatches
    cleared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cleared_by: Mapped[str | None] = mapped_column(String(150))
    clear_reason: Mapped[str | None] = mapped_column(Text)

    order: Mapped[Order] = relationship(back_populates="mismatches")

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None
