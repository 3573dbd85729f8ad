"""Readouts of a dataset version: compute the readout with the study's options, and produce the
steering-committee report anchored to the dataset hash and the audit trail's head (whose
hand-out is audited). Reading needs ``program.read`` (``access.py``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from vein2vein.auth.scope import Scope
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import InputError
from vein2vein.store import audit
from vein2vein.store.uow import UnitOfWork

from .datasets import get_version, load_dataset
from .readout import ReadoutResult, readout
from .schemas import ReadoutParams
from .tables import DatasetVersion


def compute_readout(
    session: Session, scope: Scope, version_id: int | str, params: ReadoutParams
) -> tuple[DatasetVersion, ReadoutResult]:
    version = get_version(session, scope, version_id)
    return version, readout(load_dataset(session, version), params.to_options())


# ------------------------------------------------------------------ reports

MEDIA_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


@dataclass(frozen=True)
class Report:
    content: bytes
    fmt: str
    filename: str
    sha256: str
    head: audit.Head
    version_id: int
    organisation_id: int
    options: dict[str, Any]

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.fmt]


def build_report(
    session: Session, scope: Scope, version_id: int | str, params: ReadoutParams, fmt: str
) -> Report:
    """The steering-committee report of a version, anchored to the dataset hash and the audit
    trail's head at the time it is produced (docs/audit-trail.md, "Anchoring the head")."""
    from .report import to_html, to_pdf

    if fmt not in MEDIA_TYPES:
        raise InputError("the report format is html or pdf", field="format")
    version, result = compute_readout(session, scope, version_id, params)
    study = version.study
    head = audit.head(session)
    now = utcnow().isoformat(timespec="seconds")
    anchors = {
        "Study": f"{study.code} - {study.title} ({study.organisation.name}, "
        f"program {study.program.code})",
        "Dataset": f"version {version.version} ({version.format.upper()}), uploaded "
        f"{version.uploaded_at.isoformat(timespec='seconds')} by {version.uploaded_by}",
        "Dataset SHA-256": version.sha256,
        "Audit trail head": f"#{head.seq} {head.hash}",
        "Generated": f"{now} by {scope.username}",
    }
    title = f"Clinical readout - {study.code}, dataset version {version.version}"
    if fmt == "pdf":
        content = to_pdf(result, title, anchors=anchors)
    else:
        content = to_html(result, title, anchors=anchors).encode("utf-8")
    stamp = utcnow().date().isoformat()
    return Report(
        content=content,
        fmt=fmt,
        filename=f"{study.code}-v{version.version}-readout-{stamp}.{fmt}",
        sha256=hashlib.sha256(content).hexdigest(),
        head=head,
        version_id=version.id,
        organisation_id=version.organisation_id,
        options=params.model_dump(mode="json"),
    )


def record_report(uow: UnitOfWork, report: Report) -> None:
    """Audit the hand-out of a report: which file (SHA-256) anchored which head."""
    uow.record(
        "clinical.report.export",
        "clinical_dataset_version",
        report.version_id,
        after={
            "format": report.fmt,
            "filename": report.filename,
            "report_sha256": report.sha256,
            "anchored_head_seq": report.head.seq,
            "anchored_head_hash": report.head.hash,
            "options": report.options,
        },
        organisation_id=report.organisation_id,
    )
