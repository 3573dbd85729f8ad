"""CPV records: frozen control-chart baselines (migration 0018; docs/cpv.md)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vein2vein.auth.tables import Site
from vein2vein.core.clock import utcnow
from vein2vein.programs.tables import Program
from vein2vein.store.base import Base, UTCDateTime


class CpvBaseline(Base):
    """The control limits of one product's attribute or process parameter at one site (named
    in ``test_code``: a QC test code, or ``record:STEP.entry`` / ``derived:quantity``,
    ``cpv_domain.source_of``), frozen from the batches of a period and signed by the person
    who froze them (record type ``cpv_baseline``, meaning ``approved``). ``content`` is the
    canonical JSON that was signed (``cpv_domain.baseline_content``: every batch, result or
    record entry and value, the limits, the method). Status ``effective`` until a later freeze
    of the same series supersedes it (``superseded_at``; the later one names it in
    ``supersedes_id``); at most one effective per series (a partial unique index), and the
    database refuses any other change and every DELETE (migration 0018). The row belongs to
    the program's sponsor, as the batches do."""

    __tablename__ = "cpv_baseline"
    __table_args__ = (
        Index(
            "uq_cpv_baseline_effective",
            "program_id",
            "site_id",
            "test_code",
            unique=True,
            sqlite_where=text("status = 'effective'"),
            postgresql_where=text("status = 'effective'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    test_code: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str | None] = mapped_column(String(40))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    n: Mapped[int] = mapped_column(Integer)
    center: Mapped[float] = mapped_column(Float)
    sigma: Mapped[float] = mapped_column(Float)
    lcl: Mapped[float] = mapped_column(Float)
    ucl: Mapped[float] = mapped_column(Float)
    mr_center: Mapped[float] = mapped_column(Float)
    mr_ucl: Mapped[float] = mapped_column(Float)
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    frozen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    frozen_by: Mapped[str] = mapped_column(String(150))
    frozen_by_name: Mapped[str] = mapped_column(String(200))
    #: the baseline that was effective when this one was frozen (None: the first)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("cpv_baseline.id"))
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    program: Mapped[Program] = relationship()
    site: Mapped[Site] = relationship()
