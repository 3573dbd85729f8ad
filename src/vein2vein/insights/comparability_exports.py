"""Handing out a comparability run's report: the PDF rendered from the stored run, and an audit
entry naming which bytes went out (``comparability.report_export``), in one unit of work, as the
CTD tables and the clinical readout report do."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from vein2vein.auth.scope import Scope
from vein2vein.insights import comparability_report as report
from vein2vein.insights import comparability_service as service
from vein2vein.insights import comparability_views as views
from vein2vein.store.uow import UnitOfWork


@dataclass(frozen=True)
class ExportedReport:
    data: bytes
    filename: str
    sha256: str


def export_report(uow: UnitOfWork, scope: Scope, run_id: int | str) -> ExportedReport:
    """The run's report as PDF, its hand-out audited."""
    run = service.get_run(uow.session, scope, run_id)
    data = report.render_pdf(views.run_detail(uow.session, scope, run.id))
    out = ExportedReport(data, f"comparability-run-{run.id}.pdf", hashlib.sha256(data).hexdigest())
    uow.record(
        "comparability.report_export",
        service.RUN_RECORD,
        run.id,
        after={"filename": out.filename, "report_sha256": out.sha256},
        organisation_id=run.organisation_id,
    )
    return out
