"""QC release records: ORM models (specifications, results, OOS investigations, releases,
exceptional releases, issued certificates). Migration 0016; docs/quality.md."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vein2vein.core.clock import utcnow
from vein2vein.manufacturing.tables import Batch
from vein2vein.programs.tables import Program
from vein2vein.store.base import Base, UTCDateTime


class QcSpec(Base):
    """One version of a release specification of a program's product, for one stage and
    phase. ``content`` is the canonical JSON of the specification (``domain.to_data``) and
    ``content_hash`` its SHA-256, which the approval signs. Status: ``draft`` (editable, not
    used), ``effective`` (approved: batches made from ``effective_at`` on are judged against
    it), ``superseded`` (a later version became effective at ``superseded_at``). An effective
    or superseded version is never changed (the database refuses it, migration 0016)."""

    __tablename__ = "qc_spec"
    __table_args__ = (UniqueConstraint("program_id", "stage", "phase", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"), index=True)
    product: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150))
    effective_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    effective_by: Mapped[str | None] = mapped_column(String(150))
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    program: Mapped[Program] = relationship()


class QcResult(Base):
    """One result of one test of a batch, as entered, imported or calculated; never changed
    except to mark it invalid (with the investigation that invalidated it). ``value_text`` and
    ``unit`` are as given; ``value``, ``rounded`` and ``outcome`` are the judgement against the
    specification version the batch is judged by (``spec_id``)."""

    __tablename__ = "qc_result"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("mfg_batch.id"), index=True)
    spec_id: Mapped[int] = mapped_column(ForeignKey("qc_spec.id"), index=True)
    test_code: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    value_text: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(40))
    value: Mapped[str | None] = mapped_column(String(64))
    rounded: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(24))
    message: Mapped[str] = mapped_column(Text)
    analyst: Mapped[str] = mapped_column(String(150))
    analyst_name: Mapped[str] = mapped_column(String(200))
    tested_on: Mapped[dt.date | None] = mapped_column(Date)
    instrument: Mapped[str | None] = mapped_column(String(64))
    method_ref: Mapped[str | None] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(16))
    source_file: Mapped[str | None] = mapped_column(String(255))
    source_row: Mapped[int | None] = mapped_column(Integer)
    inputs: Mapped[str | None] = mapped_column(Text)  # calculated: formula and inputs (JSON)
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    entered_by: Mapped[str] = mapped_column(String(150))
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    invalidated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    invalidated_by: Mapped[str | None] = mapped_column(String(150))
    retest_of_id: Mapped[int | None] = mapped_column(ForeignKey("qc_result.id"))

    batch: Mapped[Batch] = relationship()
    spec: Mapped[QcSpec] = relationship()


class QcInvestigationCounter(Base):
    """Last OOS investigation number issued per year (locked while a number is issued)."""

    __tablename__ = "qc_investigation_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(Integer, default=0)


class QcInvestigation(Base):
    """The investigation of one out-of-specification result (``release_rules.OosStatus``)."""

    __tablename__ = "qc_investigation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("mfg_batch.id"), index=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("qc_result.id"), unique=True)
    test_code: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    after_release: Mapped[bool] = mapped_column(Boolean, default=False)
    escalation: Mapped[str | None] = mapped_column(Text)  # actions after a late failure (JSON)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_by: Mapped[str] = mapped_column(String(150))
    finding: Mapped[str | None] = mapped_column(Text)
    assignable: Mapped[bool | None] = mapped_column(Boolean)
    justification: Mapped[str | None] = mapped_column(Text)
    phase_i_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    phase_i_by: Mapped[str | None] = mapped_column(String(150))
    conclusion: Mapped[str | None] = mapped_column(Text)
    impact: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(150))

    result: Mapped[QcResult] = relationship()
    batch: Mapped[Batch] = relationship()


class QcException(Base):
    """An exceptional release requested for one out-of-specification batch, for its own
    patient (``dose.ExceptionalRelease``). The treating physician's written request is
    recorded by reference; QA and (in a trial) the sponsor sign it electronically (record
    type ``qc_exception``, meaning ``approved``)."""

    __tablename__ = "qc_exception"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("mfg_batch.id"), unique=True)
    nonconformities: Mapped[str] = mapped_column(Text)  # JSON list
    physician: Mapped[str] = mapped_column(String(200))
    physician_request: Mapped[str] = mapped_column(String(200))
    requested_on: Mapped[dt.date] = mapped_column(Date)
    no_alternative: Mapped[str] = mapped_column(Text)
    risk_assessment: Mapped[str] = mapped_column(Text)
    authority_notification: Mapped[str] = mapped_column(Text)
    in_clinical_trial: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150))


class QcRelease(Base):
    """QA's decision on one batch: released, conditional, exceptional or rejected (one per
    batch, signed with meaning ``released``; record type ``qc_release``). A conditional
    release is completed (``completed_at``) when its last pending result conforms, or
    escalated (``escalated_at``) when one does not."""

    __tablename__ = "qc_release"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("mfg_batch.id"), unique=True)
    spec_id: Mapped[int | None] = mapped_column(ForeignKey("qc_spec.id"))
    state: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)  # what was signed (canonical JSON)
    pending: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of test codes
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str] = mapped_column(String(150))
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    batch: Mapped[Batch] = relationship()
    spec: Mapped[QcSpec | None] = relationship()


class QcCoa(Base):
    """A Certificate of Analysis as issued: its content (canonical JSON, ``quality.coa``),
    the content's hash printed on every page, and the SHA-256 of the PDF file handed out, by
    which ``v2v coa verify`` recognises it."""

    __tablename__ = "qc_coa"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("mfg_batch.id"), index=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    file_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by: Mapped[str] = mapped_column(String(150))
