"""Human names of the insights feature's records for the audit trail (``auth/names.py``):
comparability protocol versions and runs, frozen CPV baselines and product-outcome links, for
the callers who may see them (a record outside the caller's scope gets no name)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy.orm import Session

from vein2vein.auth.names import Labels, Ref, scoped_labels
from vein2vein.auth.scope import Scope
from vein2vein.clinical.tables import Study
from vein2vein.insights.comparability_tables import CmpProtocol, CmpRun
from vein2vein.insights.cpv_tables import CpvBaseline
from vein2vein.insights.outcome_tables import OutcomeLink
from vein2vein.programs.tables import Program


def _baseline(code: str, test: str, start: dt.date, end: dt.date) -> str:
    return f"CPV baseline {code} {test} ({start:%Y-%m-%d} to {end:%Y-%m-%d})"


def entity_labels(session: Session, scope: Scope, refs: Collection[Ref]) -> Labels:
    """Protocols (``Comparability protocol NUMBER vN: title``), runs, CPV baselines and
    outcome links the caller may see."""
    out = scoped_labels(
        session,
        scope,
        refs,
        "cmp_protocol",
        CmpProtocol,
        lambda number, version, title: f"Comparability protocol {number} v{version}: {title}",
        CmpProtocol.number,
        CmpProtocol.version,
        CmpProtocol.title,
    )
    out |= scoped_labels(
        session,
        scope,
        refs,
        "cmp_run",
        CmpRun,
        lambda number, version: f"Comparability run of {number} v{version}",
        CmpProtocol.number,
        CmpProtocol.version,
        owner=CmpProtocol,
    )
    out |= scoped_labels(
        session,
        scope,
        refs,
        "cpv_baseline",
        CpvBaseline,
        _baseline,
        Program.code,
        CpvBaseline.test_code,
        CpvBaseline.period_start,
        CpvBaseline.period_end,
        owner=Program,
    )
    out |= scoped_labels(
        session,
        scope,
        refs,
        "outcome_link",
        OutcomeLink,
        lambda code, subject: f"Outcome link of subject {subject} (study {code})",
        Study.code,
        OutcomeLink.subject_id,
        owner=Study,
    )
    return out
