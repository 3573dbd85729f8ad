"""ORM models of capacity scheduling: GMP suites, their downtime, per-product process settings,
the QC laboratory's limits, plan drafts and published plans.

Everything here belongs to the CDMO (``organisation_id`` is the CDMO's): sponsors never read these
rows. The one exception is ``sched_plan_slot``: one row per batch of a published plan, carrying the
**sponsor's** organisation, so that the ordinary tenant scope lets a sponsor see the slots of their
own orders and nothing else. Published plans and their slots are immutable (database triggers
refuse UPDATE and DELETE): a new plan is a new version, never an overwrite.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vein2vein.auth.tables import Site
from vein2vein.core.clock import utcnow
from vein2vein.store.base import Base, UTCDateTime


class Suite(Base):
    """A GMP clean-room suite of one of the CDMO's manufacturing sites."""

    __tablename__ = "sched_suite"
    __table_args__ = (UniqueConstraint("organisation_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200), default="")
    infectious: Mapped[bool] = mapped_column(Boolean, default=False)
    changeover_days: Mapped[int] = mapped_column(Integer)
    decon_days: Mapped[int] = mapped_column(Integer)
    available_from: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150))

    site: Mapped[Site] = relationship()
    downtime: Mapped[list[Downtime]] = relationship(
        back_populates="suite", order_by="Downtime.first_day"
    )

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "site_id": self.site_id,
            "site": self.site.name if self.site else None,
            "infectious": self.infectious,
            "changeover_days": self.changeover_days,
            "decon_days": self.decon_days,
            "available_from": self.available_from.isoformat(),
        }


class Downtime(Base):
    """A maintenance or downtime window of a suite, first to last day down (both included).

    Never deleted: a window that is called off is cancelled with a reason.
    """

    __tablename__ = "sched_downtime"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    suite_id: Mapped[int] = mapped_column(ForeignKey("sched_suite.id"), index=True)
    first_day: Mapped[dt.date] = mapped_column(Date)
    last_day: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(150))
    cancel_reason: Mapped[str | None] = mapped_column(String(300))

    suite: Mapped[Suite] = relationship(back_populates="downtime")

    @property
    def active(self) -> bool:
        return self.cancelled_at is None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "suite_id": self.suite_id,
            "suite": self.suite.code if self.suite else None,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "reason": self.reason,
            "active": self.active,
            "cancel_reason": self.cancel_reason,
        }


class ReceivingSite(Base):
    """Which of the CDMO's manufacturing sites receives the starting material of the orders
    bound to one of its facilities (ICCBBA FIN): where the material is, for planning."""

    __tablename__ = "sched_receiving_site"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("coi_facility.id"), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(150))

    site: Mapped[Site] = relationship()

    def public(self) -> dict[str, Any]:
        return {
            "facility_id": self.facility_id,
            "site_id": self.site_id,
            "site": self.site.name if self.site else None,
        }


class SiteTransfer(Base):
    """A shipping route for starting material from one of the CDMO's manufacturing sites to
    another: ``days`` from receipt at the first to receipt at the second (``None``: closed, no
    material goes that way)."""

    __tablename__ = "sched_site_transfer"
    __table_args__ = (UniqueConstraint("organisation_id", "from_site_id", "to_site_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    from_site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    to_site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(150))

    from_site: Mapped[Site] = relationship(foreign_keys=[from_site_id])
    to_site: Mapped[Site] = relationship(foreign_keys=[to_site_id])

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from_site_id": self.from_site_id,
            "from_site": self.from_site.name if self.from_site else None,
            "to_site_id": self.to_site_id,
            "to_site": self.to_site.name if self.to_site else None,
            "days": self.days,
        }


class ProductSettings(Base):
    """How the CDMO makes one product: durations, start days, QC method, holds and shipping.

    ``product_code`` is the ISBT 128 product description code (``αoooo``, the first five
    characters of an order's product code), so every collection type and division of a product
    shares its settings.
    """

    __tablename__ = "sched_product"
    __table_args__ = (UniqueConstraint("organisation_id", "product_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    product_code: Mapped[str] = mapped_column(String(5))
    name: Mapped[str] = mapped_column(String(200), default="")
    process_days: Mapped[int] = mapped_column(Integer)
    start_weekdays: Mapped[str] = mapped_column(String(40))  # e.g. "Mon,Tue,Wed,Thu"
    qc_method: Mapped[str] = mapped_column(String(16))  # rapid | compendial
    qc_days_rapid: Mapped[int] = mapped_column(Integer)
    qc_days_compendial: Mapped[int] = mapped_column(Integer)
    fresh_hold_days: Mapped[int] = mapped_column(Integer)
    cryo_hold_days: Mapped[int] = mapped_column(Integer)
    inbound_days: Mapped[int] = mapped_column(Integer)  # apheresis -> receipt at the CDMO
    ship_days: Mapped[int] = mapped_column(Integer)  # release -> product at the treatment site
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(150))

    @property
    def qc_days(self) -> int:
        return self.qc_days_rapid if self.qc_method == "rapid" else self.qc_days_compendial

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "product_code": self.product_code,
            "name": self.name,
            "process_days": self.process_days,
            "start_weekdays": self.start_weekdays,
            "qc_method": self.qc_method,
            "qc_days_rapid": self.qc_days_rapid,
            "qc_days_compendial": self.qc_days_compendial,
            "qc_days": self.qc_days,
            "fresh_hold_days": self.fresh_hold_days,
            "cryo_hold_days": self.cryo_hold_days,
            "inbound_days": self.inbound_days,
            "ship_days": self.ship_days,
        }


class LabSettings(Base):
    """The QC laboratory's and the floor's limits, one row per CDMO."""

    __tablename__ = "sched_lab"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), unique=True)
    qc_capacity: Mapped[int | None] = mapped_column(Integer)  # batches in release testing at once
    max_starts_per_day: Mapped[int | None] = mapped_column(Integer)
    risk_margin_days: Mapped[int] = mapped_column(Integer, default=2)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(150))

    def public(self) -> dict[str, Any]:
        return {
            "qc_capacity": self.qc_capacity,
            "max_starts_per_day": self.max_starts_per_day,
            "risk_margin_days": self.risk_margin_days,
        }


class PlanDraft(Base):
    """A computed plan awaiting review: exactly what is published if a planner publishes it.

    ``payload`` holds the problem snapshot (events applied), the plan, the solver's account and
    the diff against the plan it was based on; ``inputs_sha256`` is the hash of the store's
    inputs when it was computed (publishing refuses if they changed since).
    """

    __tablename__ = "sched_plan_draft"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("sched_plan.id"))
    kind: Mapped[str] = mapped_column(String(16))  # plan | replan
    method: Mapped[str] = mapped_column(String(16))
    inputs_sha256: Mapped[str] = mapped_column(String(64))
    plan_sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150))
    published_plan_id: Mapped[int | None] = mapped_column(ForeignKey("sched_plan.id"))


class PublishedPlan(Base):
    """One published version of the capacity plan (immutable)."""

    __tablename__ = "sched_plan"
    __table_args__ = (UniqueConstraint("organisation_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("sched_plan.id"))
    kind: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    plan_day: Mapped[dt.date] = mapped_column(Date)
    problem: Mapped[dict[str, Any]] = mapped_column(JSON)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    solver: Mapped[dict[str, Any]] = mapped_column(JSON)
    validation: Mapped[dict[str, Any]] = mapped_column(JSON)
    changes: Mapped[list[Any]] = mapped_column(JSON)
    events: Mapped[list[Any]] = mapped_column(JSON)
    inputs_sha256: Mapped[str] = mapped_column(String(64))
    plan_sha256: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str] = mapped_column(String(150))
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class PlanSlot(Base):
    """One batch of a published plan, owned by the order's sponsor (immutable)."""

    __tablename__ = "sched_plan_slot"
    __table_args__ = (UniqueConstraint("plan_id", "order_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("sched_plan.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("coi_order.id"), index=True)
    order_number: Mapped[str] = mapped_column(String(40))
    suite_code: Mapped[str | None] = mapped_column(String(32))
    start: Mapped[dt.date | None] = mapped_column(Date)
    end: Mapped[dt.date | None] = mapped_column(Date)
    release: Mapped[dt.date | None] = mapped_column(Date)
    ship: Mapped[dt.date | None] = mapped_column(Date)
    required_by: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # planned | started | unscheduled
    note: Mapped[str] = mapped_column(String(300), default="")
