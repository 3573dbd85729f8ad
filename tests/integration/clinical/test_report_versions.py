"""The signed readout report on SQLite and PostgreSQL (``clinical/report_versions.py``):
a version generated from the demo study's stored dataset and settings with its named
steering-committee members, generated again with nothing changed (the same version), signed
by each member (final when all have), refused to whoever is not a named member of the
sponsor, immutable in the database, superseded by a settings change and no longer signable
then, and every signature checked by ``v2v audit verify``'s signature check."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from tests.integration.clinical.report_world import BIOSTAT, ReportDemo

from vein2vein import features
from vein2vein.auth.signatures import find_bad_signatures
from vein2vein.clinical import names, studies
from vein2vein.clinical import report_versions as rv
from vein2vein.clinical.tables import ReportVersion
from vein2vein.core.errors import (
    Conflict,
    InputError,
    NotFound,
    PermissionDenied,
    RecordLocked,
    RuleViolation,
)
from vein2vein.store import audit
from vein2vein.store.database import Database

MEMBERS = ["helixa.clinical", BIOSTAT]


def _version(d: ReportDemo, who: str, report_id: int) -> dict:
    with d.db.read() as s:
        return rv.report_version(s, d.scope(who), report_id)


def _actions(db: Database, action: str) -> int:
    with db.read() as s:
        return sum(1 for e in audit.query(s, entity_type=rv.RECORD) if e.action == action)


def test_generate_sign_final_and_supersede(demo_db: Database) -> None:
    d = ReportDemo(demo_db)
    # who may be named: the sponsor's clinical users only
    with pytest.raises(InputError, match=r"helixa\.viewer"):
        d.act("helixa.clinical", rv.generate, d.study_id, ["helixa.viewer"])
    with pytest.raises(InputError, match="name the steering-committee members"):
        d.act("helixa.clinical", rv.generate, d.study_id)
    with pytest.raises(NotFound):
        d.act("corvane.clinical", rv.generate, d.study_id, MEMBERS)
    with pytest.raises(PermissionDenied):
        d.act("helixa.viewer", rv.generate, d.study_id, MEMBERS)

    first = d.act("helixa.clinical", rv.generate, d.study_id, MEMBERS)
    assert first.new and first.report.number == 1
    again = d.act("helixa.clinical", rv.generate, d.study_id)  # same members as last time
    assert not again.new and again.report.id == first.report.id
    rid = first.report.id
    v1 = _version(d, "helixa.viewer", rid)
    assert v1["status"] == "draft (0 of 2 signatures)" and v1["missing"] == MEMBERS
    assert v1["dataset_version"] == 1 and v1["options"]["cutoff"] == "2025-03-01"

    # signing: only a named member of the sponsor holding clinical.report_sign
    with pytest.raises(PermissionDenied):
        d.signed("helixa.viewer", rv.sign_report, rid)
    with pytest.raises(PermissionDenied):
        d.signed("qa.approver", rv.sign_report, rid)  # CDMO QA sees it, does not sign it
    with pytest.raises(NotFound):
        d.signed("corvane.clinical", rv.sign_report, rid)
    with pytest.raises(Conflict, match="changed after it was shown"):
        d.signed("helixa.clinical", rv.sign_report, rid, shown_hash="0" * 64)

    def to_sign(who: str) -> list[int]:
        with demo_db.read() as s:
            return [r["id"] for r in rv.awaiting_signature(s, d.scope(who))]

    assert to_sign("helixa.clinical") == to_sign(BIOSTAT) == [rid]
    assert to_sign("helixa.viewer") == to_sign("corvane.clinical") == []
    d.signed("helixa.clinical", rv.sign_report, rid, shown_hash=v1["content_hash"])
    assert to_sign("helixa.clinical") == [] and to_sign(BIOSTAT) == [rid]
    with pytest.raises(RecordLocked, match="already signed"):
        d.signed("helixa.clinical", rv.sign_report, rid)
    assert _version(d, "helixa.clinical", rid)["status"] == "draft (1 of 2 signatures)"
    assert _actions(demo_db, "clinical.report.final") == 0
    d.signed(BIOSTAT, rv.sign_report, rid)
    v1 = _version(d, "qa.approver", rid)
    assert v1["final"] and v1["status"] == "final (signed by all named members)"
    assert [s["printed_name"] for s in v1["signatures"]] == ["Dr. Samuel Reyes", "Dr. Ana Costa"]
    assert _actions(demo_db, "clinical.report.final") == 1

    # the row is immutable in the database
    with pytest.raises(DBAPIError, match="immutable"), demo_db.engine.begin() as conn:
        conn.execute(text("UPDATE clinical_report_version SET content = '{}'"))
    with pytest.raises(DBAPIError, match="immutable"), demo_db.engine.begin() as conn:
        conn.execute(text("DELETE FROM clinical_report_version"))

    # a settings change makes version 2; version 1 stays readable, superseded, unsignable
    def change(uow, scope):  # type: ignore[no-untyped-def]
        options = dict(v1["options"]) | {"population": "infused"}
        return studies.update_study(uow, scope, d.study_id, {"options": options}, "mITT")

    d.act("helixa.clinical", change)
    second = d.act("helixa.clinical", rv.generate, d.study_id)
    assert second.new and second.report.number == 2
    v1 = _version(d, "helixa.clinical", rid)
    assert v1["superseded_by"] == 2 and v1["final"]
    assert v1["status"] == "final (signed by all named members) - superseded by version 2"
    v2 = _version(d, "helixa.clinical", second.report.id)
    assert v2["options"]["population"] == "infused" and v2["missing"] == MEMBERS
    with pytest.raises(RuleViolation, match="superseded by version 2"):
        d.signed("helixa.clinical", rv.sign_report, rid)  # (already signed: superseded first)
    with demo_db.read() as s:
        assert s.scalar(select(func.count()).select_from(ReportVersion)) == 2
        assert audit.verify(s).ok
        assert find_bad_signatures(s, features.signed_contents()) == []
        listed = rv.report_versions(s, d.scope("helixa.viewer"), d.study_id)
        assert [r["number"] for r in listed] == [2, 1]
        # the audit trail names the versions, for those who may see them
        ref = (rv.RECORD, str(rid))
        label = "Readout report of study HLX-EPC-01-IIT, version 1"
        assert names.entity_labels(s, d.scope("helixa.viewer"), [ref]) == {ref: label}
        assert names.entity_labels(s, d.scope("corvane.clinical"), [ref]) == {}
