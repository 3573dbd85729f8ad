"""Human names of clinical studies and dataset versions for the audit trail
(``auth/names.py``)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.orm import Session

from vein2vein.auth.names import Labels, Ref, scoped_labels
from vein2vein.auth.scope import Scope
from vein2vein.clinical.tables import DatasetVersion, ReportVersion, Study


def entity_labels(session: Session, scope: Scope, refs: Collection[Ref]) -> Labels:
    """Studies (``Study CODE: title``), dataset versions and readout report versions the
    caller may see."""
    out = scoped_labels(
        session,
        scope,
        refs,
        "clinical_study",
        Study,
        lambda code, title: f"Study {code}: {title}",
        Study.code,
        Study.title,
    )
    out |= scoped_labels(
        session,
        scope,
        refs,
        "clinical_dataset_version",
        DatasetVersion,
        lambda code, version: f"Dataset of study {code}, version {version}",
        Study.code,
        DatasetVersion.version,
        owner=Study,
    )
    out |= scoped_labels(
        session,
        scope,
        refs,
        "clinical_report_version",
        ReportVersion,
        lambda code, number: f"Readout report of study {code}, version {number}",
        Study.code,
        ReportVersion.number,
        owner=Study,
    )
    return out
