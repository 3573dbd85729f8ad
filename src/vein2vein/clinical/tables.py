"""Records of the clinical readout: a sponsor's study and the dataset versions uploaded to it.

A study belongs to a program and its sponsor organisation. Every upload is a new, immutable
dataset version that keeps the raw files exactly as received (bytes and SHA-256), so a readout
can be recomputed from the same bytes years later; a correction is a new version, never an
overwrite (the database refuses UPDATE and DELETE on versions and files, see migration 0003).

Subjects are linked to the chain of identity by their natural key, not by a column: a study's
``subject_id`` is the subject id under which the patient was enrolled in the same program
(``coi_patient.program_id`` + ``subject_id``), so no identifier is copied here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vein2vein.auth.tables import Organisation
from vein2vein.core.clock import utcnow
from vein2vein.programs.tables import Program
from vein2vein.store.base import Base, UTCDateTime


class Study(Base):
    __tablename__ = "clinical_study"
    __table_args__ = (UniqueConstraint("organisation_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    #: default readout options of the study (``schemas.ReadoutParams`` as JSON)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150))

    organisation: Mapped[Organisation] = relationship()
    program: Mapped[Program] = relationship()
    versions: Mapped[list[DatasetVersion]] = relationship(
        back_populates="study", order_by="DatasetVersion.version"
    )

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "organisation_id": self.organisation_id,
            "program_id": self.program_id,
            "code": self.code,
            "title": self.title,
            "description": self.description,
            "options": dict(self.options or {}),
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


class DatasetVersion(Base):
    """One upload: immutable. ``sha256`` is the dataset hash that readouts cite as their input
    hash (SHA-256 over ``name:sha256`` lines of the files, sorted by name)."""

    __tablename__ = "clinical_dataset_version"
    __table_args__ = (UniqueConstraint("study_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("clinical_study.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(8))  # csv | sdtm
    evaluator: Mapped[str | None] = mapped_column(String(64), nullable=True)  # SDTM only
    sha256: Mapped[str] = mapped_column(String(64))
    n_subjects: Mapped[int] = mapped_column(Integer)
    n_lesions: Mapped[int] = mapped_column(Integer)
    n_assessments: Mapped[int] = mapped_column(Integer)
    n_new_lesions: Mapped[int] = mapped_column(Integer)
    n_investigator_responses: Mapped[int] = mapped_column(Integer)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    ignored_files: Mapped[list[str]] = mapped_column(JSON, default=list)
    comment: Mapped[str] = mapped_column(Text, default="")
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by: Mapped[str] = mapped_column(String(150))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)

    study: Mapped[Study] = relationship(back_populates="versions")
    files: Mapped[list[DatasetFile]] = relationship(
        back_populates="dataset_version", order_by="DatasetFile.name"
    )

    def counts(self) -> dict[str, int]:
        return {
            "subjects": self.n_subjects,
            "lesions": self.n_lesions,
            "assessments": self.n_assessments,
            "new_lesions": self.n_new_lesions,
            "investigator_responses": self.n_investigator_responses,
        }

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "study_id": self.study_id,
            "organisation_id": self.organisation_id,
            "version": self.version,
            "format": self.format,
            "evaluator": self.evaluator,
            "sha256": self.sha256,
            "counts": self.counts(),
            "warnings": list(self.warnings or []),
            "ignored_files": list(self.ignored_files or []),
            "comment": self.comment,
            "uploaded_at": self.uploaded_at,
            "uploaded_by": self.uploaded_by,
            "files": [f.public() for f in self.files],
        }


class DatasetFile(Base):
    """A raw file of a dataset version, stored as received."""

    __tablename__ = "clinical_dataset_file"
    __table_args__ = (UniqueConstraint("dataset_version_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_version_id: Mapped[int] = mapped_column(
        ForeignKey("clinical_dataset_version.id"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)

    dataset_version: Mapped[DatasetVersion] = relationship(back_populates="files")

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "size": self.size}


class ReportVersion(Base):
    """A version of a study's signed readout report: generated from a stored dataset version
    and the study's settings, with the steering-committee members named to sign it.

    Immutable once written (the database refuses UPDATE and DELETE, migration 0020): its
    ``content`` (canonical JSON: the readout's numbers, options, dataset hash, signatories,
    generation time and the audit head then) is what the members sign (``content_hash``), and
    the PDF is rendered again from it, byte for byte. A new dataset version, a change of the
    settings or of the named members makes the next version; the old one stays readable,
    marked superseded (derived: a higher ``number`` of the same study exists)."""

    __tablename__ = "clinical_report_version"
    __table_args__ = (UniqueConstraint("study_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("clinical_study.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    dataset_version_id: Mapped[int] = mapped_column(ForeignKey("clinical_dataset_version.id"))
    #: SHA-256 of the canonical JSON of (options, signatories): same inputs, same version
    inputs_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    generated_by: Mapped[str] = mapped_column(String(150))

    study: Mapped[Study] = relationship()
    dataset_version: Mapped[DatasetVersion] = relationship()

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "organisation_id": self.organisation_id,
            "study_id": self.study_id,
            "number": self.number,
            "dataset_version_id": self.dataset_version_id,
            "inputs_hash": self.inputs_hash,
            "content_hash": self.content_hash,
            "generated_at": self.generated_at,
            "generated_by": self.generated_by,
        }
