"""Comparability on stored batches (insights/comparability_*), on the demo, both engines.

The issue's test: a protocol is written and signed before the test arm's results are shown
(checked: the reads of an unapproved version carry no value of a test-arm batch, and a run is
refused), then runs on the stored demo batches of both sites (Ghent MBR v1 against Leiden MBR
v1, manufacturing/batch_demo.py), and its numbers are checked against the pure statistics
engine (``stats.equivalence.tost``, ``stats.ranges.quality_range``) on the same values, read
here by a query of our own, and the TOST interval against the Welch formula computed with scipy
(Schuirmann 1987; docs/stats.md; shared/references/statistics.md §2.1). A change after signing
makes version 2 and the report of version 1 says it was superseded. Two QA approvers approving
the same version at once make one approval (a race, on PostgreSQL for real).
"""

from __future__ import annotations

import json
import math

import pytest
import scipy
from scipy import stats as sps
from sqlalchemy import select, text
from tests import factories
from tests.integration.quality.test_quality_races import _one_done, _race, _user
from tests.integration.quality.test_release_store import Demo

from vein2vein.audittrail import views as trail
from vein2vein.auth.tables import Site
from vein2vein.core.errors import RecordLocked, RuleViolation
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.features import signed_contents
from vein2vein.insights import comparability_data as data
from vein2vein.insights import comparability_report as report
from vein2vein.insights import comparability_service as service
from vein2vein.insights import comparability_views as views
from vein2vein.manufacturing.tables import Batch
from vein2vein.quality.tables import QcResult
from vein2vein.stats.equivalence import tost
from vein2vein.stats.errors import SmallSampleWarning
from vein2vein.stats.ranges import quality_range
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

GHENT, LEIDEN = "Site B — Ghent", "Site A — Leiden"
PROTOCOL = """\
title: Transfer check, viability and CAR+ (test)
program: HLX-EPC-01
change: technology transfer (test protocol)
alpha: 0.05
reference: {label: Ghent v1, site: "Site B — Ghent", mbr_version: 1}
test: {label: Leiden v1, site: "Site A — Leiden", mbr_version: 1}
attributes:
  - {name: viability, source: "qc:viability", tier: 1, method: tost, margin: MARGIN}
  - {name: car_positive, source: "qc:car_positive", tier: 2, method: quality_range, k: 3}
  - {name: harvest_viability, source: "record:HARVEST.viability", tier: 3}
"""


def _stored_qc(db: Database, site: str, test_code: str) -> list[float]:
    """The valid results of the approved batches of a site, by our own query (the definition
    of approved results in docs/comparability.md; the demo has no open investigation)."""
    with db.read() as s:
        rows = s.execute(
            select(QcResult.value)
            .join(Batch, Batch.id == QcResult.batch_id)
            .join(Site, Site.id == Batch.site_id)
            .where(
                Site.name == site,
                Batch.status == "APPROVED",
                Batch.gmp.is_(True),
                QcResult.valid.is_(True),
                QcResult.test_code == test_code,
            )
            .order_by(Batch.id)
        )
        return [float(v) for (v,) in rows]


def _test_batch_ids(db: Database) -> set[int]:
    with db.read() as s:
        return set(
            s.scalars(
                select(Batch.id)
                .join(Site, Site.id == Batch.site_id)
                .where(Site.name == LEIDEN, Batch.status == "APPROVED")
            )
        )


def _welch_ci(test: list[float], ref: list[float], alpha: float) -> tuple[float, float]:
    """The (1 - 2 alpha) interval of mean(test) - mean(ref), Welch, with scipy's t quantile."""
    vt, vr = sps.tvar(test) / len(test), sps.tvar(ref) / len(ref)
    df = (vt + vr) ** 2 / (vt**2 / (len(test) - 1) + vr**2 / (len(ref) - 1))
    d = sum(test) / len(test) - sum(ref) / len(ref)
    half = sps.t.ppf(1 - alpha, df) * math.sqrt(vt + vr)
    return d - half, d + half


def test_protocol_signed_before_the_test_arm_is_shown_then_run_on_stored_batches(
    demo_db: Database,
) -> None:
    d = Demo(demo_db)
    row = d.act("qa.reviewer", service.create, PROTOCOL.replace("MARGIN", "5"), "t.yaml")
    pid = row.id
    leiden = _test_batch_ids(demo_db)
    # HLX-EPC-01-0001 and -0002 (batch_demo.py), -0014 to -0017 (insights/outcome_demo.py)
    assert len(leiden) == 6

    # --- blinded: the draft shows the reference arm only, and cannot run ------------------
    with demo_db.read() as s:
        page = views.protocol_detail(s, d.scope("qa.reviewer"), pid)
    assert page["test_arm_visible"] is False and page["runs"] == []
    assert {b["batch_id"] for b in page["test_batches"]} == leiden
    assert all(set(b) == {"batch_id", "order"} for b in page["test_batches"])
    shown = [v for a in page["reference_preview"] for v in a["values"]]
    assert shown and not {v["batch_id"] for v in shown} & leiden
    viability = next(a for a in page["reference_preview"] if a["name"] == "viability")
    assert sorted(v["value"] for v in viability["values"]) == sorted(
        _stored_qc(demo_db, GHENT, "viability")
    )
    with pytest.raises(RuleViolation, match="only on an approved"):
        d.act("qa.reviewer", service.run, pid)

    # --- the author signs; the content is locked, in the service and in the database --------
    with pytest.raises(RuleViolation, match="author of the version signs"):
        d.signed("qa.approver", service.sign_authored, pid)
    d.signed("qa.reviewer", service.sign_authored, pid)
    with pytest.raises(RecordLocked):
        d.act("qa.reviewer", service.edit, pid, PROTOCOL.replace("MARGIN", "50"))
    with pytest.raises(Exception, match="never changed"), demo_db.uow(Actor("t")) as uow:
        uow.session.execute(
            text("UPDATE cmp_protocol SET content = '{}' WHERE id = :i"), {"i": pid}
        )
    with demo_db.read() as s:
        assert views.protocol_detail(s, d.scope("qa.reviewer"), pid)["test_arm_visible"] is False

    # --- a second person approves; then the study runs on the stored, approved results -------
    d.signed("qa.approver", service.approve, pid)
    run_id = d.act("qa.reviewer", service.run, pid).id
    with demo_db.read() as s:
        detail = views.run_detail(s, d.scope("helixa.viewer"), run_id)
    stored = detail["stored_result"]
    by_name = {a["name"]: a for a in stored["attributes"]}

    ref_v, test_v = (
        _stored_qc(demo_db, GHENT, "viability"),
        _stored_qc(demo_db, LEIDEN, "viability"),
    )
    assert len(ref_v) == 5 and len(test_v) == 6
    assert sorted(by_name["viability"]["reference"]["values"]) == sorted(ref_v)
    assert sorted(by_name["viability"]["test"]["values"]) == sorted(test_v)
    engine = tost(test_v, ref_v, margin=5.0, variance="welch", alpha=0.05)
    got = by_name["viability"]["result"]
    for key in ("difference", "se", "df", "p_lower", "p_upper", "p_value", "ci_low", "ci_high"):
        assert got[key] == pytest.approx(getattr(engine, key), rel=1e-12), key
    assert got["equivalent"] == engine.equivalent
    low, high = _welch_ci(test_v, ref_v, 0.05)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((low, high), rel=1e-9)

    ref_c, test_c = (_stored_qc(demo_db, site, "car_positive") for site in (GHENT, LEIDEN))
    with pytest.warns(SmallSampleWarning, match="5 reference lots"):
        qr = quality_range(test_c, ref_c, k=3.0)
    got = by_name["car_positive"]["result"]
    assert (got["lower"], got["upper"], got["n_inside"]) == pytest.approx(
        (qr.lower, qr.upper, qr.n_inside), rel=1e-12
    )
    assert stored["provenance"]["library_versions"]["scipy"] == scipy.__version__
    assert stored["provenance"]["input_hash"] and detail["superseded"] is False
    assert any("reference lots" in w for w in stored["warnings"])  # the small-n warning
    # the record of every value used is named, and the page's rows agree with the stored result
    assert all(v[6].startswith(("qc_result ", "mfg_batch ")) for v in detail["inputs"]["values"])
    # a QC value carries its specification's unit, the unit its stored value is in, not the
    # unit the analyst typed (0.90 typed in "1" is stored as 90 %)
    assert {v[5] for v in detail["inputs"]["values"] if v[1] == "viability"} == {"%"}
    with demo_db.read() as s:
        typed = s.scalars(select(QcResult).where(QcResult.test_code == "viability")).first()
        s.expunge(typed)
        typed.unit = "1"
        assert data._spec_unit(s, typed) == "%"
    rows = {r["name"]: r for r in report.attribute_rows(detail["result"])}
    assert rows["viability"]["mean_test"] == pytest.approx(sum(test_v) / 6, rel=1e-12)
    assert report.render_pdf(detail).startswith(b"%PDF")

    # --- a change after signing makes version 2; the report of version 1 says so ------------
    v2 = d.act("qa.reviewer", service.revise, pid, PROTOCOL.replace("MARGIN", "6")).id
    with pytest.raises(RuleViolation, match="later version"):
        d.act("qa.reviewer", service.revise, pid, PROTOCOL.replace("MARGIN", "7"))
    d.signed("qa.reviewer", service.sign_authored, v2)
    d.signed("qa.approver", service.approve, v2)
    with demo_db.read() as s:
        old = views.run_detail(s, d.scope("qa.reviewer"), run_id)
        new = views.protocol_detail(s, d.scope("qa.reviewer"), v2)
    assert old["superseded"] and old["superseded_by"] == [f"{row.number} v2"]
    assert any(line.startswith("SUPERSEDED") for line in report.headline(old))
    assert new["version"] == 2 and new["written_after_unblinding"]
    assert json.loads(json.dumps(views.run_json(old), default=str))["protocol"]["version"] == 1
    # `v2v audit verify` checks the protocol signatures against the versions' content now
    assert service.RECORD in signed_contents()
    with demo_db.read() as s:
        verdict = trail.verification(s, factories.SERVER)
    assert verdict["ok"] and verdict["bad_signatures"] == [], verdict["problem"]


def test_two_approvers_at_once_make_one_approval(demo_db: Database) -> None:
    d = Demo(demo_db)
    _user(d, "qa.two", "qa_approver")
    pid = d.act("qa.reviewer", service.create, PROTOCOL.replace("MARGIN", "5"), "t.yaml").id
    d.signed("qa.reviewer", service.sign_authored, pid)

    def approve_demo(uow, scope):  # type: ignore[no-untyped-def]
        service.approve(
            uow, scope, demo_db.settings, pid, username=scope.username, password=DEMO_PASSWORD
        )

    _one_done(_race(d, ("qa.approver", "qa.two"), approve_demo), "already approved")
    with demo_db.read() as s:
        sigs = views.protocol_detail(s, d.scope("qa.reviewer"), pid)["signatures"]
    assert [x["meaning"] for x in sigs] == ["authored", "approved"]
