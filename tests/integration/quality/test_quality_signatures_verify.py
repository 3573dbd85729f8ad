"""``v2v audit verify`` re-checks the QC release signatures against their records now
(quality/signed_content.py): on the demo all match; a specification's content, an
investigation's justification and a release's stored decision, each changed behind the
application's back, are each named."""

from __future__ import annotations

import json

from sqlalchemy import select
from tests import factories
from tests.integration.manufacturing.test_signed_content_verify import _bad, _tamper

from vein2vein.audittrail import views
from vein2vein.core.canonical import canonical_json
from vein2vein.features import signed_contents
from vein2vein.quality.tables import QcInvestigation, QcRelease, QcSpec
from vein2vein.store.database import Database


def _verify(db: Database) -> dict[str, object]:
    with db.read() as session:
        return views.verification(session, factories.SERVER)


def test_quality_signatures_are_checked_against_their_records(demo_db: Database) -> None:
    db = demo_db
    assert {"qc_spec", "qc_investigation", "qc_exception", "qc_release"} <= set(signed_contents())
    result = _verify(db)
    assert result["ok"] and result["bad_signatures"] == [], result["problem"]
    with db.read() as s:
        spec = s.scalars(select(QcSpec)).one()
        inv = s.scalars(select(QcInvestigation)).one()
        rel = s.scalars(select(QcRelease).order_by(QcRelease.id)).first()
        assert rel is not None
        spec_id, inv_id, batch_id = spec.id, inv.id, rel.batch_id
        content = json.loads(spec.content)
        decision = json.loads(rel.content)
    content["tests"][2]["criterion"]["limit"] = 60  # viability ≥ 60 % instead of 70 %
    _tamper(
        db, "UPDATE qc_spec SET content = :c WHERE id = :id",
        triggers=("qc_spec_locked",), c=canonical_json(content).decode(), id=spec_id,
    )  # fmt: skip
    _tamper(db, "UPDATE qc_investigation SET justification = 'none' WHERE id = :id", id=inv_id)
    decision["state"] = "released" if decision["state"] != "released" else "conditional"
    _tamper(
        db, "UPDATE qc_release SET content = :c WHERE batch_id = :b",
        c=canonical_json(decision).decode(), b=batch_id,
    )  # fmt: skip
    bad = _bad(_verify(db))
    assert {(b[0], b[1], b[2]) for b in bad} == {
        ("qc_spec", str(spec_id), "approved"),
        ("qc_investigation", str(inv_id), "reviewed"),
        ("qc_release", str(batch_id), "released"),
    }
