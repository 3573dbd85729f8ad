"""The demo's executed batches (``manufacturing/batch_demo.py``), loaded on SQLite and
PostgreSQL: each batch with its order, site, MBR (Ghent's from epcam_v1.yaml, Leiden's from
epcam_v2.yaml), status and deviations; the failed batch's step, reason and signature; the
in-progress batch's steps; who did what (operator, second person, QA: three people); times
inside the order's custody; values inside the MBR's limits; and ``v2v batches list --json``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select
from tests import batch_world as BW
from tests.integration.manufacturing.test_batches import act, new_batch, record
from tests.unit.manufacturing.test_execution import NOMINAL

from vein2vein.auth import service as auth
from vein2vein.auth.tables import Signature
from vein2vein.core.clock import as_utc
from vein2vein.core.errors import RuleViolation
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.identity.domain import Step
from vein2vein.identity.tables import CustodyEventRow
from vein2vein.manufacturing import batch_views, batches, execution
from vein2vein.manufacturing.tables import Batch, Deviation
from vein2vein.quality.tables import QcRelease
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

GHENT, LEIDEN = "Site B — Ghent", "Site A — Leiden"
#: order → (site, status, suite, deviations open, closed), as docs/manufacturing.md lists them
PROMISED = {
    "HLX-EPC-01-0007": (GHENT, "APPROVED", "GHE-01", 0, 0),
    "HLX-EPC-01-0008": (GHENT, "APPROVED", "GHE-02", 0, 0),
    "HLX-EPC-01-0009": (GHENT, "APPROVED", "GHE-01", 0, 0),
    "HLX-EPC-01-0010": (GHENT, "APPROVED", "GHE-02", 0, 0),
    "HLX-EPC-01-0011": (GHENT, "APPROVED", "GHE-01", 0, 0),
    "HLX-EPC-01-0012": (GHENT, "IN_REVIEW", "GHE-03", 1, 1),
    "HLX-EPC-01-0001": (LEIDEN, "APPROVED", "LEI-01", 0, 0),
    "HLX-EPC-01-0002": (LEIDEN, "APPROVED", "LEI-02", 0, 0),
    "HLX-EPC-01-0003": (LEIDEN, "IN_PROGRESS", "LEI-02", 0, 0),
    "HLX-EPC-01-0013": (LEIDEN, "FAILED", "LEI-03", 0, 0),
    # the product and outcome demo's orders at the IIT cohorts' dose levels (insights)
    "HLX-EPC-01-0014": (LEIDEN, "APPROVED", "LEI-01", 0, 0),
    "HLX-EPC-01-0015": (LEIDEN, "APPROVED", "LEI-02", 0, 0),
    "HLX-EPC-01-0016": (LEIDEN, "APPROVED", "LEI-03", 0, 0),
    "HLX-EPC-01-0017": (LEIDEN, "APPROVED", "LEI-02", 0, 0),
}
LIST_FIELDS = [
    "id", "order", "product", "site", "mbr_version", "status", "suite",
    "deviations_open", "deviations_closed", "gmp", "run_label",
]  # fmt: skip


def _qa(session: Any) -> Any:
    return auth.scope_of(auth.user_by_username(session, "qa.approver"))


def _by_order(session: Any) -> dict[str, Batch]:
    return {b.order.number: b for b in session.scalars(select(Batch))}


def test_demo_batches_at_both_sites_with_their_stories(demo_db: Database) -> None:
    db = demo_db  # the demo as load_demo loads it, once per test run and engine (conftest)
    with db.read() as s:
        listed = {r["order"]: r for r in batch_views.list_batches(s, _qa(s))}
        assert {
            o: (r["site"], r["status"], r["suite"], r["deviations_open"], r["deviations_closed"])
            for o, r in listed.items()
        } == PROMISED
        rows = _by_order(s)
        # Ghent's batches come from epcam_v1.yaml, Leiden's from epcam_v2.yaml (the version 1
        # of each site's MBR: versions are numbered per product and site)
        for number, b in rows.items():
            model = batches.record_of(b).mbr
            assert (model.site, b.mbr_version, b.mbr.status) == (b.site.name, 1, "EFFECTIVE")
            moi_target = next(
                p.target for p in model.operation("TRANSDUCE").parameters if p.code == "moi"
            )
            has_vcn = any(c.code == "vcn" for c in model.operation("HARVEST").controls)
            assert (moi_target, has_vcn) == ((3, False) if b.site.name == GHENT else (2.5, True))
            assert listed[number]["mbr_version"] == 1 and listed[number]["product"] == "HLX-EPC-01"

        # the batch in review: two values outside the PAR opened two deviations; QA classified
        # both with root cause and CAPA and closed the minor one with its signature
        review = rows["HLX-EPC-01-0012"]
        devs = s.scalars(
            select(Deviation).where(Deviation.batch_id == review.id).order_by(Deviation.id)
        ).all()
        assert [(d.source, d.step_id, d.classification, d.status, d.order_id) for d in devs] == [
            ("process_limit", 1, "minor", "closed", review.order_id),
            ("process_limit", 7, "major", "open", review.order_id),
        ]
        assert all(d.root_cause and d.capa and d.classified_by == "qa.reviewer" for d in devs)
        rec = batches.record_of(review)
        for d in devs:
            entry = rec.event(d.entry_id)
            assert isinstance(entry, execution.ValueEntered)
            assert entry.verdict.value == "deviation"
        assert [(rec.event(d.entry_id).entry, rec.event(d.entry_id).value) for d in devs] == [
            ("transit_temperature", 11.2),
            ("time_to_freeze", 68),
        ]
        closing = s.scalars(
            select(Signature).where(
                Signature.record_type == "mfg_deviation", Signature.record_id == str(devs[0].id)
            )
        ).one()
        assert (closing.username, closing.meaning) == ("qa.reviewer", "reviewed")
        review_id = review.id
    with db.uow(Actor("qa.approver")) as uow, pytest.raises(RuleViolation, match="not closed"):
        batches.approve(
            uow, _qa(uow.session), db.settings, review_id,
            username="qa.approver", password=DEMO_PASSWORD,
        )  # fmt: skip
    with db.read() as s:
        rows = _by_order(s)
        review = rows["HLX-EPC-01-0012"]
        rec = batches.record_of(review)
        # the review lists both deviations; five earlier Ghent batches give the trend limits
        detail = batch_views.batch_detail(s, _qa(s), review.id)
        kinds = [(i["kind"], i["subject"]) for i in detail["review"]]
        assert ("deviation", "transit_temperature") in kinds
        assert ("deviation", "time_to_freeze") in kinds
        assert ("out_of_trend", "time_to_freeze") in kinds

        # the failed batch: step, reason, the operator's signature
        failed = rows["HLX-EPC-01-0013"]
        assert failed.failed_step == "TRANSDUCE" and "sterility" in failed.failed_reason
        sig = s.scalars(
            select(Signature).where(
                Signature.record_type == "mfg_batch_failure", Signature.record_id == str(failed.id)
            )
        ).one()
        assert (sig.username, sig.meaning) == ("operator", "authored")

        # the batch in progress: four steps signed off, EXPAND open with the day-5 count
        running = batches.record_of(rows["HLX-EPC-01-0003"])
        assert [running.step_status(c).value for c in BW_STEPS] == [
            "signed_off", "signed_off", "signed_off", "signed_off", "in_progress",
            "not_started", "not_started", "not_started",
        ]  # fmt: skip
        assert running.current("EXPAND", "viable_cells_d5") is not None
        assert running.current("EXPAND", "feed_volume").calculated  # type: ignore[union-attr]
        assert running.current("EXPAND", "viability_d5") is None

        for number, b in rows.items():
            rec = batches.record_of(b)
            _check_people(s, b, rec)
            _check_times(s, b, rec)
            if b.status == "APPROVED":
                # inside every NOR, everything verified: nothing for QA to look at but trends
                assert execution.review_by_exception(rec) == [], number
                kin = execution.record_kinetics(rec)
                assert 20 <= kin.fold_expansion <= 60 and 1.3 <= kin.doubling_time_days <= 2.2
                harvest = rec.current("HARVEST", "viable_cells")
                assert harvest is not None and 1.0 <= harvest.value <= 5.0  # 10^9 cells
        assert audit.verify(s).ok


BW_STEPS = (
    "RECEIPT", "SELECT", "ACTIVATE", "TRANSDUCE", "EXPAND", "HARVEST", "FORMULATE", "FREEZE",
)  # fmt: skip


def _check_people(s: Any, b: Batch, rec: execution.BatchRecord) -> None:
    """The operator works the steps, the QA reviewer verifies, the QA approver decides holds
    and approves: three people."""
    by_kind: dict[str, set[str]] = {}
    for e in rec.events:
        by_kind.setdefault(type(e).__name__, set()).add(e.by)
    assert by_kind["StepStarted"] == {"operator"} and by_kind["StepSignedOff"] <= {"operator"}
    assert {e.by for e in rec.of(execution.ValueEntered) if not e.calculated} == {"operator"}
    assert by_kind.get("Verified", {"qa.reviewer"}) == {"qa.reviewer"}
    assert by_kind.get("QaDecision", {"qa.approver"}) == {"qa.approver"}
    if b.status == "APPROVED":
        assert b.approved_by == "qa.approver"


def _check_times(s: Any, b: Batch, rec: execution.BatchRecord) -> None:
    """Every event after the order's start of manufacturing and before now; approval before
    QA's release of the batch, and that before the order's release to custody."""
    custody = dict(
        s.execute(
            select(CustodyEventRow.step, CustodyEventRow.occurred_at).where(
                CustodyEventRow.order_id == b.order_id
            )
        ).all()
    )
    start = as_utc(custody[Step.MANUFACTURING_STARTED.value])
    now = dt.datetime.now(dt.UTC)
    assert start <= as_utc(b.created_at) <= rec.events[0].at
    assert rec.events[-1].at < now
    days = (rec.events[-1].at - start).total_seconds() / 86400
    assert days < 10.5
    if b.status == "APPROVED":
        assert rec.complete
        if b.order.number == "HLX-EPC-01-0011":  # awaiting QC release (quality/demo.py)
            assert Step.RELEASED.value not in custody
        else:  # approval, then QA's release of the batch, then the release to custody
            released = s.scalar(select(QcRelease.decided_at).where(QcRelease.batch_id == b.id))
            assert as_utc(b.approved_at) < as_utc(released) < as_utc(custody[Step.RELEASED.value])


def test_v2v_batches_list_json_lists_the_demo_batches(cli_demo_env: Any) -> None:
    from typer.testing import CliRunner

    from vein2vein.features import create_cli

    out = CliRunner().invoke(create_cli(), ["batches", "list", "--json"], env=cli_demo_env)
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [list(r) for r in rows] == [LIST_FIELDS] * len(PROMISED)
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    assert {
        r["order"]: (
            r["site"],
            r["status"],
            r["suite"],
            r["deviations_open"],
            r["deviations_closed"],
        )
        for r in rows
    } == PROMISED
    assert all(r["gmp"] is True and not r["run_label"] for r in rows)  # no PD runs


# --- the bulk paths the demo uses (a step's form sent whole) ------------------------------


def test_enter_values_checks_each_value_and_opens_a_deviation_in_one_change(db: Database) -> None:
    w = BW.build(db)
    bid = new_batch(w, BW.order_with_din(w))
    act(w, "operator", batches.start_step, bid, "RECEIPT")
    with db.read() as s:
        before = audit.head(s).seq
    values = [(e, v, u) for e, (v, u) in NOMINAL["RECEIPT"].items()]
    values[0] = ("transit_temperature", 12, "°C")  # PAR 1-10 °C
    act(w, "operator", batches.enter_values, bid, "RECEIPT", values)
    rec = record(w, bid)
    entered = rec.of(execution.ValueEntered, "RECEIPT")
    assert [(e.entry, e.value, e.verdict.value) for e in entered] == [
        ("transit_temperature", 12, "deviation"),
        ("age_at_receipt", 20, "ok"),
        ("tnc", 3.2, "ok"),
        ("viability", 95, "ok"),
    ]
    assert len({e.at for e in entered}) == 1
    with db.read() as s:
        devs = batches.batch_deviations(s, bid)
        assert [(d.step_id, d.entry_id) for d in devs] == [(1, entered[0].seq)]
        entries = audit.query(s, entity_type="mfg_batch", entity_id=str(bid), newest_first=True)
        enter = next(e for e in entries if e.action == "mfg.batch_enter")
        assert [ev["entry"] for ev in enter.to_dict()["after"]["events"]] == [
            "transit_temperature", "age_at_receipt", "tnc", "viability",
        ]  # fmt: skip
        assert audit.head(s).seq > before
    # a value refused refuses them all: nothing of the step's form is written
    with pytest.raises(RuleViolation, match="viability"):
        act(
            w, "operator", batches.enter_values, bid, "RECEIPT",
            [("viability", 96, "%")],  # typed once already: only a correction changes it
        )  # fmt: skip
    assert len(record(w, bid).events) == len(rec.events)


def test_verify_entries_needs_another_person_for_each(db: Database) -> None:
    w = BW.build(db)
    bid = new_batch(w, BW.order_with_din(w))
    act(w, "operator", batches.start_step, bid, "RECEIPT")
    values = [(e, v, u) for e, (v, u) in NOMINAL["RECEIPT"].items()]
    act(w, "operator", batches.enter_values, bid, "RECEIPT", values)
    rec = record(w, bid)
    act(w, "operator", batches.scan_lot, bid, "RECEIPT", "APH", rec.din)
    rec = record(w, bid)
    tnc = rec.current("RECEIPT", "tnc")
    scan = rec.lot("RECEIPT", "APH")
    assert tnc is not None and scan is not None
    with pytest.raises(RuleViolation, match="another person"):
        act(w, "operator", batches.verify_entries, bid, [tnc.seq, scan.seq])
    with pytest.raises(RuleViolation, match="needs no second-person"):
        act(w, "qa", batches.verify_entries, bid, [tnc.seq, tnc.seq - 1])  # transit: no
    assert record(w, bid).of(execution.Verified) == []
    act(w, "qa", batches.verify_entries, bid, [tnc.seq, scan.seq])
    done = record(w, bid).of(execution.Verified)
    assert [(v.target, v.by) for v in done] == [
        (tnc.seq, w.scopes["qa"].username),
        (scan.seq, w.scopes["qa"].username),
    ]
