"""The audit trail names the insights feature's records (insights/names.py, wired on the
feature as ``labels="names:entity_labels"``): comparability protocol versions and runs, frozen
CPV baselines and outcome links of the demo, for the callers who may see them; another client's
user gets no name (the trail then shows the bare ``type:id``). On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from vein2vein import features
from vein2vein.auth import service as auth
from vein2vein.auth.scope import Scope
from vein2vein.insights.comparability_tables import CmpProtocol, CmpRun
from vein2vein.insights.cpv_tables import CpvBaseline
from vein2vein.insights.outcome_tables import OutcomeLink
from vein2vein.store.database import Database


def _scope(db: Database, who: str) -> Scope:
    with db.read() as s:
        return auth.scope_of(auth.user_by_username(s, who))


def test_insights_records_are_named_only_for_those_who_may_see_them(demo_db: Database) -> None:
    db = demo_db
    with db.read() as s:
        protocol = s.scalars(select(CmpProtocol).order_by(CmpProtocol.id)).first()
        run = s.scalars(select(CmpRun).order_by(CmpRun.id)).first()
        baseline = s.scalars(select(CpvBaseline).order_by(CpvBaseline.id)).first()
        link = s.scalars(select(OutcomeLink).order_by(OutcomeLink.id)).first()
        assert protocol and run and baseline and link
        assert protocol.organisation_id == link.organisation_id == baseline.organisation_id
        refs = {
            ("cmp_protocol", str(protocol.id)),
            ("cmp_run", str(run.id)),
            ("cpv_baseline", str(baseline.id)),
            ("outcome_link", str(link.id)),
        }
        expected = {
            ("cmp_protocol", str(protocol.id)): (
                f"Comparability protocol {protocol.number} v{protocol.version}: {protocol.title}"
            ),
            ("cmp_run", str(run.id)): f"Comparability run of {protocol.number} v1",
            ("outcome_link", str(link.id)): f"Outcome link of subject {link.subject_id} "
            "(study HLX-EPC-01-IIT)",
        }
        as_qa = features.entity_labels(s, _scope(db, "qa.approver"), refs)
        as_sponsor = features.entity_labels(s, _scope(db, "helixa.viewer"), refs)
        as_other = features.entity_labels(s, _scope(db, "corvane.clinical"), refs)
    assert as_qa == as_sponsor and set(as_qa) == refs
    assert {k: as_qa[k] for k in expected} == expected
    assert as_qa[("cpv_baseline", str(baseline.id))].startswith(
        f"CPV baseline HLX-EPC-01 {baseline.test_code} ({baseline.period_start:%Y-%m-%d} to "
    )
    assert as_other == {}
