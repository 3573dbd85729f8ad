"""Executed batch records in the store, on SQLite and PostgreSQL: a whole batch of the demo
EpCAM v1 MBR with an out-of-range value (its deviation opened in the same unit of work), a
correction, second-person verifications, QA hold decisions, signed step sign-offs, QA approval
only once the deviation is closed, then the record locked (by the service and the database);
a refused lot writes nothing; a QA hold not released fails the batch; the batch keeps the MBR
version it was made from; two operators signing off the same step at once make one sign-off."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from tests import batch_world as BW
from tests import factories
from tests.factories import PASSWORD
from tests.integration.identity import world as W
from tests.unit.manufacturing.test_execution import NOMINAL

from vein2vein.auth import service as auth
from vein2vein.auth.tables import Signature
from vein2vein.core.errors import (
    AuthenticationFailed,
    Conflict,
    InputError,
    NotFound,
    PermissionDenied,
    RecordLocked,
    RuleViolation,
)
from vein2vein.manufacturing import batch_views, batches, deviations, execution, lots, mbrs
from vein2vein.manufacturing.materials import LotRefused
from vein2vein.manufacturing.tables import Batch, BatchEvent, Deviation
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor


def act(w: W.World, who: str, fn: Any, *args: Any, **kw: Any) -> Any:
    with w.db.uow(w.actor(who)) as uow:
        out = fn(uow, w.scopes[who], *args, **kw)
        uow.commit()
        return out.id if hasattr(out, "id") else out


def signed(w: W.World, who: str, fn: Any, *args: Any, **kw: Any) -> Any:
    with w.db.uow(w.actor(who)) as uow:
        out = fn(
            uow, w.scopes[who], w.db.settings, *args,
            username=w.scopes[who].username, password=PASSWORD, **kw,
        )  # fmt: skip
        uow.commit()
        return out.id


def record(w: W.World, batch_id: int) -> execution.BatchRecord:
    with w.db.read() as session:
        return batches.record_of(batches.get_batch(session, w.scopes["qa"], batch_id))


def new_batch(w: W.World, order_id: int) -> int:
    return act(
        w, "operator", batches.create_batch,
        order_id=order_id, site=BW.SITE, suite=BW.SUITE, dose_per_kg=2e6,
    )  # fmt: skip


def run_step(
    w: W.World,
    batch_id: int,
    step: str,
    values: dict[str, tuple[float, str]] | None = None,
    *,
    sign: bool = True,
) -> None:
    """Start, enter nominal (or given) values, scan released lots (the apheresis by its DIN),
    record the instruments, verify what needs a second person, sign off, and QA releases the
    hold."""
    act(w, "operator", batches.start_step, batch_id, step)
    for entry, (value, unit) in (NOMINAL[step] | (values or {})).items():
        act(w, "operator", batches.enter_value, batch_id, step, entry, value, unit)
    rec = record(w, batch_id)
    for material in rec.mbr.operation(step).materials:
        scanned = rec.din if material == "APH" else BW.MATERIALS[material][2]
        act(w, "operator", batches.scan_lot, batch_id, step, material, scanned)
    BW.use_equipment(w, batch_id, step)
    rec = record(w, batch_id)
    for e in rec.events:
        if e.step == step and isinstance(
            e, execution.ValueEntered | execution.LotScanned | execution.EquipmentUsed
        ):
            current = not isinstance(e, execution.ValueEntered) or (
                rec.current(e.step, e.entry).seq == e.seq
            )
            if current and execution.unverified(rec, e):
                act(w, "qa", batches.verify, batch_id, e.seq)
    if not sign:
        return
    signed(w, "operator", batches.sign_off_step, batch_id, step)
    if rec.mbr.operation(step).hold is not None:
        act(
            w, "approver", batches.decide_hold, batch_id, step, released=True, reason="criteria met"
        )


def test_whole_batch_with_deviation_correction_approval_and_lock(db: Database) -> None:
    w = BW.build(db)
    order_id = BW.order_with_din(w)
    batch_id = new_batch(w, order_id)
    with pytest.raises(Conflict, match="a new batch needs the earlier one to have failed"):
        new_batch(w, order_id)
    # RECEIPT with a transit temperature of 12 °C: outside the PAR (1-10 °C) → a deviation
    act(w, "operator", batches.start_step, batch_id, "RECEIPT")
    act(w, "operator", batches.enter_value, batch_id, "RECEIPT", "transit_temperature", 12, "°C")
    with db.read() as session:
        devs = batches.batch_deviations(session, batch_id)
        assert [(d.source, d.status, d.step_id, d.entry_id) for d in devs] == [
            ("process_limit", "open", 1, 2)
        ]
        assert devs[0].order_id == order_id
    act(
        w, "operator", batches.correct, batch_id, "RECEIPT", "transit_temperature", 5, "°C",
        reason="logger read in the wrong column; the logger shows 5 °C",
    )  # fmt: skip
    rec = record(w, batch_id)
    assert [e.value for e in rec.history("RECEIPT", "transit_temperature")] == [12.0, 5.0]
    # the rest of RECEIPT (its own transit temperature is already entered) and every other step
    rest = {k: v for k, v in NOMINAL["RECEIPT"].items() if k != "transit_temperature"}
    for entry, (value, unit) in rest.items():
        act(w, "operator", batches.enter_value, batch_id, "RECEIPT", entry, value, unit)
    # the apheresis is identified by its DIN: another DIN is refused
    with pytest.raises(RuleViolation, match="not this batch's apheresis DIN"):
        act(w, "operator", batches.scan_lot, batch_id, "RECEIPT", "APH", "A999926999990")
    act(w, "operator", batches.scan_lot, batch_id, "RECEIPT", "APH", rec.din)
    rec = record(w, batch_id)
    # the verifier must be another person
    tnc = rec.current("RECEIPT", "tnc")
    with pytest.raises(RuleViolation, match="another person"), db.uow(w.actor("operator")) as uow:
        batches.verify(uow, w.scopes["operator"], batch_id, tnc.seq)
    for e in rec.events:
        if isinstance(e, execution.ValueEntered | execution.LotScanned) and execution.unverified(
            rec, e
        ):
            act(w, "qa", batches.verify, batch_id, e.seq)
    with pytest.raises(RuleViolation, match="missing instrument of COUNTER"):
        signed(w, "operator", batches.sign_off_step, batch_id, "RECEIPT")
    BW.use_equipment(w, batch_id, "RECEIPT")
    signed(w, "operator", batches.sign_off_step, batch_id, "RECEIPT")
    act(w, "approver", batches.decide_hold, batch_id, "RECEIPT", released=True, reason="accepted")
    for op in rec.mbr.operations[1:]:
        run_step(w, batch_id, op.code)
    with db.read() as session:
        assert session.get_one(Batch, batch_id).status == batches.COMPLETE
    act(w, "operator", batches.submit, batch_id)
    # approval waits for the deviation to be closed
    with pytest.raises(RuleViolation, match="deviations not closed"):
        signed(w, "approver", batches.approve, batch_id)
    dev_id = devs[0].id
    act(
        w, "qa", deviations.classify, dev_id, classification="minor",
        root_cause="transcription error from the logger print-out", capa="",
    )  # fmt: skip
    signed(w, "qa", deviations.close, dev_id)
    # the operator cannot approve; the QA approver can
    with pytest.raises(PermissionDenied):
        signed(w, "operator", batches.approve, batch_id)
    signed(w, "approver", batches.approve, batch_id)
    with db.read() as session:
        batch = session.get_one(Batch, batch_id)
        assert (batch.status, batch.approved_by) == ("APPROVED", "approver")
        rec = batches.record_of(batch)
        assert rec.complete
        assert all(execution.signature_intact(rec, op.code) for op in rec.mbr.operations)
        steps = session.scalar(
            select(func.count())
            .select_from(Signature)
            .where(Signature.record_type == batches.STEP_RECORD)
        )
        assert steps == len(rec.mbr.operations)
        assert audit.verify(session).ok
    # locked: the service refuses edits, and so does the database
    with pytest.raises(RecordLocked):
        act(w, "operator", batches.submit, batch_id)
    for sql in (
        "UPDATE mfg_batch SET planned_suite = 'Suite 9'",
        "DELETE FROM mfg_batch_event",
        "UPDATE mfg_batch_event SET value = 1",
        f"INSERT INTO mfg_batch_event (batch_id, seq, kind, step, by, at, reason, payload) "
        f"VALUES ({batch_id}, 999, 'Verified', 'FREEZE', 'x', '2026-01-01', '', '{{}}')",
    ):
        with pytest.raises((IntegrityError, DBAPIError)), db.uow(w.actor("qa")) as uow:
            uow.session.execute(text(sql))
            uow.session.flush()
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(BatchEvent)) == len(rec.events)


def test_a_refused_lot_writes_nothing_and_sponsors_only_read(db: Database) -> None:
    w = BW.build(db)
    batch_id = new_batch(w, BW.order_with_din(w))
    run_step(w, batch_id, "RECEIPT")
    run_step(w, batch_id, "SELECT", sign=False)
    with db.uow(w.actor("qa")) as uow:
        lot = lots.receive_lot(
            uow, w.scopes["qa"], material="CD4CD8", lot_number="CD4CD8-Q", supplier="s",
            expiry="2030-01-01", quantity="1",
        )  # fmt: skip
        uow.commit()
    before = len(record(w, batch_id).events)
    with pytest.raises(LotRefused, match="not released by QA"):
        act(w, "operator", batches.scan_lot, batch_id, "SELECT", "CD4CD8", "CD4CD8-Q")
    with pytest.raises(LotRefused, match="needs material CD4CD8, not MEDIUM"):
        act(w, "operator", batches.scan_lot, batch_id, "SELECT", "CD4CD8", "MEDIUM-L1")
    assert len(record(w, batch_id).events) == before and lot.id
    # sponsor A reads its batch but changes nothing; sponsor B does not find it
    with db.read() as session:
        assert batches.get_batch(session, w.scopes["a.viewer"], batch_id).id == batch_id
        with pytest.raises(NotFound):
            batches.get_batch(session, w.scopes["b.clinical"], batch_id)
    with pytest.raises(PermissionDenied):
        act(w, "a.clinical", batches.start_step, batch_id, "ACTIVATE")
    with pytest.raises(PermissionDenied):
        act(w, "admin", batches.start_step, batch_id, "ACTIVATE")


def test_a_hold_not_released_fails_the_batch_and_the_order_may_start_again(db: Database) -> None:
    w = BW.build(db)
    order_id = BW.order_with_din(w)
    batch_id = new_batch(w, order_id)
    run_step(w, batch_id, "RECEIPT", sign=False)
    signed(w, "operator", batches.sign_off_step, batch_id, "RECEIPT")
    with db.read() as session:
        assert session.get_one(Batch, batch_id).status == batches.ON_HOLD
    with pytest.raises(RuleViolation, match="waits for QA's decision"):
        act(w, "operator", batches.start_step, batch_id, "SELECT")
    act(
        w, "approver", batches.decide_hold, batch_id, "RECEIPT",
        released=False, reason="bag damaged in transit",
    )  # fmt: skip
    with db.read() as session:
        batch = session.get_one(Batch, batch_id)
        assert (batch.status, batch.failed_step) == ("FAILED", "RECEIPT")
    with pytest.raises(RuleViolation, match="FAILED"):
        act(w, "operator", batches.start_step, batch_id, "SELECT")
    # the failed batch used the apheresis material: a new batch needs a new apheresis (DIN)
    with pytest.raises(RuleViolation, match="record a new apheresis"):
        new_batch(w, order_id)
    din = BW.new_apheresis(w, order_id, "bag damaged in transit")
    later = new_batch(w, order_id)
    assert later != batch_id
    with db.read() as session:
        assert session.get_one(Batch, later).din == din != session.get_one(Batch, batch_id).din


def test_a_batch_keeps_the_mbr_version_it_was_made_from(db: Database) -> None:
    w = BW.build(db)
    batch_id = new_batch(w, BW.order_with_din(w))
    with db.uow(w.actor("operator")) as uow:
        v2 = mbrs.new_version(uow, w.scopes["operator"], w.ids["mbr"], "new IL-2 supplier")
        uow.commit()
        v2_id = v2.id
    for who, meaning in (("operator", "authored"), ("qa", "reviewed"), ("approver", "approved")):
        with db.uow(w.actor(who)) as uow:
            mbrs.sign_mbr(
                uow, w.scopes[who], db.settings, v2_id, meaning,
                username=w.scopes[who].username, password=PASSWORD,
            )  # fmt: skip
            uow.commit()
    run_step(w, batch_id, "RECEIPT")
    with db.read() as session:
        batch = session.get_one(Batch, batch_id)
        assert (batch.mbr_id, batch.mbr_version) == (w.ids["mbr"], 1)
        assert batch.mbr.status == mbrs.SUPERSEDED
        assert batches.record_of(batch).mbr_version == 1
    # a new batch is made from version 2
    other = new_batch(w, BW.order_with_din(w, subject="HLX-002"))
    with db.read() as session:
        assert session.get_one(Batch, other).mbr_version == 2


def test_two_operators_signing_off_the_same_step_make_one_sign_off(db: Database) -> None:
    w = BW.build(db)
    op2 = factories.user(db, db_org(w), "operator", username="operator2")
    with db.uow(Actor("t")) as uow:
        w.scopes["operator2"] = auth.scope_of(auth.user_by_username(uow.session, op2.username))
    batch_id = new_batch(w, BW.order_with_din(w))
    run_step(w, batch_id, "RECEIPT", sign=False)
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def signer(who: str) -> None:
        try:
            with db.uow(w.actor(who)) as uow:
                start.wait()
                batches.sign_off_step(
                    uow, w.scopes[who], db.settings, batch_id, "RECEIPT",
                    username=w.scopes[who].username, password=PASSWORD,
                )  # fmt: skip
                uow.commit()
            outcomes[who] = "signed"
        except Exception as exc:  # reported below
            outcomes[who] = exc

    threads = [threading.Thread(target=signer, args=(who,)) for who in ("operator", "operator2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [who for who, o in outcomes.items() if o == "signed"]
    refused = [o for o in outcomes.values() if o != "signed"]
    assert len(done) == 1, outcomes
    assert len(refused) == 1 and isinstance(refused[0], RuleViolation), outcomes
    assert "is signed off" in str(refused[0])
    with db.read() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(BatchEvent)
                .where(BatchEvent.kind == "StepSignedOff")
            )
            == 1
        )
        assert (
            session.scalar(
                select(func.count())
                .select_from(Signature)
                .where(Signature.record_type == batches.STEP_RECORD)
            )
            == 1
        )
        assert session.scalar(select(func.count()).select_from(Deviation)) == 0


def db_org(w: W.World) -> Any:
    from vein2vein.auth.tables import Organisation

    with w.db.read() as session:
        return session.get_one(Organisation, w.ids["cdmo"])


def test_a_failure_is_signed_and_another_suite_needs_a_reason(db: Database) -> None:
    w = BW.build(db)
    order_id = BW.order_with_din(w)
    batch_id = new_batch(w, order_id)
    run_step(w, batch_id, "RECEIPT")
    with pytest.raises(RuleViolation, match="give the reason"):
        act(w, "operator", batches.start_step, batch_id, "SELECT", suite="Suite 4")
    act(
        w, "operator", batches.start_step, batch_id, "SELECT",
        suite="Suite 4", reason="Suite 2 under maintenance after a HEPA alarm",
    )  # fmt: skip
    with db.read() as session:
        listed = batch_views.list_batches(session, w.scopes["qa"])
    assert [(b["id"], b["suite"]) for b in listed] == [(batch_id, "Suite 4")]
    rec = record(w, batch_id)
    assert [i.kind for i in execution.review_by_exception(rec)] == ["suite_override"]
    # the failure: a reason and the operator's signature; a wrong password records nothing
    with pytest.raises(AuthenticationFailed), db.uow(w.actor("operator")) as uow:
        batches.record_failure(
            uow, w.scopes["operator"], db.settings, batch_id, "SELECT",
            reason="selection column clogged", username="operator", password="wrong-pass-1",
        )  # fmt: skip
    with db.read() as session:
        assert session.get_one(Batch, batch_id).status == batches.IN_PROGRESS
    signed(
        w, "operator", batches.record_failure, batch_id, "SELECT",
        reason="selection column clogged; cells lost",
    )  # fmt: skip
    with db.read() as session:
        batch = session.get_one(Batch, batch_id)
        assert (batch.status, batch.failed_step) == ("FAILED", "SELECT")
        sig = session.scalars(
            select(Signature).where(Signature.record_type == batches.FAILURE_RECORD)
        ).one()
        assert (sig.record_id, sig.username, sig.meaning) == (str(batch_id), "operator", "authored")
        actions = [e.action for e in audit.query(session, entity_type="mfg_batch")]
        assert actions[-1] == "mfg.batch_fail"
    with pytest.raises(RuleViolation, match="FAILED"):
        act(w, "operator", batches.enter_value, batch_id, "SELECT", "input_tnc", 3.0, "10^9 cells")
    # the order gets a new batch, from a new apheresis
    BW.new_apheresis(w, order_id)
    assert new_batch(w, order_id) != batch_id


def test_instruments_with_their_calibration_are_recorded_traced_and_reviewed(db: Database) -> None:
    w = BW.build(db)
    batch_id = new_batch(w, BW.order_with_din(w))
    run_step(w, batch_id, "RECEIPT")
    act(w, "operator", batches.start_step, batch_id, "SELECT")
    today = dt.datetime.now(dt.UTC).date()  # the day of use (utcnow in the service)
    before = len(record(w, batch_id).events)
    # refused, nothing written: equipment of another step, a due date that is not a date
    with pytest.raises(RuleViolation, match=r"does not use equipment CRF \(it uses: PRODIGY\)"):
        act(w, "operator", batches.record_equipment, batch_id, "SELECT", "CRF", "CRF-1", today)
    with pytest.raises(InputError, match="YYYY-MM-DD") as err:
        act(w, "operator", batches.record_equipment, batch_id, "SELECT", "PRODIGY", "P-7",
            "31/12/2030")  # fmt: skip
    assert err.value.field == "calibration_due"
    with pytest.raises(PermissionDenied):
        act(w, "a.clinical", batches.record_equipment, batch_id, "SELECT", "PRODIGY", "P-7", today)
    with pytest.raises(NotFound):
        act(w, "b.clinical", batches.record_equipment, batch_id, "SELECT", "PRODIGY", "P-7", today)
    with pytest.raises(PermissionDenied):
        act(w, "admin", batches.record_equipment, batch_id, "SELECT", "PRODIGY", "P-7", today)
    assert len(record(w, batch_id).events) == before
    # the Prodigy's calibration was due yesterday: recorded, flagged and a deviation opens
    yesterday = today - dt.timedelta(days=1)
    act(w, "operator", batches.record_equipment, batch_id, "SELECT", "prodigy", "PRD-0113",
        yesterday.isoformat())  # fmt: skip
    overdue = record(w, batch_id).instrument("SELECT", "PRODIGY")
    assert (overdue.seq, overdue.calibration_due, overdue.verdict) == (
        before + 1, yesterday, execution.Verdict.DEVIATION,
    )  # fmt: skip
    with db.read() as session:
        [dev] = batches.batch_deviations(session, batch_id)
        assert (dev.source, dev.status, dev.step_id, dev.entry_id) == (
            "equipment", "open", 2, overdue.seq,
        )  # fmt: skip
        assert dev.title == "SELECT: CliniMACS Prodigy (PRODIGY) used past its calibration due date"
        made = [
            json.loads(e.after)["events"][0] for e in audit.query(session, entity_type="mfg_batch")
            if e.action == "mfg.batch_equipment"
        ]  # fmt: skip
        assert {(m["step"], m["instrument"], m["calibration_due"]) for m in made} == {
            ("RECEIPT", "COUNTER-0001", BW.instrument("COUNTER")[1].isoformat()),
            ("SELECT", "PRD-0113", yesterday.isoformat()),
        }
    # another Prodigy in calibration, with the reason; the first stays in the record
    due = today + dt.timedelta(days=90)
    with pytest.raises(InputError, match="give the reason") as no_reason:
        act(w, "operator", batches.record_equipment, batch_id, "SELECT", "PRODIGY", "PRD-0120",
            due)  # fmt: skip
    assert no_reason.value.field == "reason"
    act(w, "operator", batches.record_equipment, batch_id, "SELECT", "PRODIGY", "PRD-0120", due,
        reason="PRD-0113 overdue: moved to PRD-0120")  # fmt: skip
    # sign-off, the instruments signed with the step (stored and read back: dates intact)
    for entry, (value, unit) in NOMINAL["SELECT"].items():
        act(w, "operator", batches.enter_value, batch_id, "SELECT", entry, value, unit)
    act(w, "operator", batches.scan_lot, batch_id, "SELECT", "CD4CD8", "CD4CD8-L1")
    signed(w, "operator", batches.sign_off_step, batch_id, "SELECT")
    rec = record(w, batch_id)
    assert execution.signature_intact(rec, "SELECT")
    assert [(e.instrument, e.calibration_due, e.replaces) for e in rec.of(
        execution.EquipmentUsed, "SELECT")] == [("PRD-0113", yesterday, None),
                                                ("PRD-0120", due, overdue.seq)]  # fmt: skip
    # QA's review lists the overdue instrument and the replacement
    with db.read() as session:
        detail = batch_views.batch_detail(session, w.scopes["qa"], batch_id)
        trace = batch_views.trace_batch(session, w.scopes["qa"], batch_id)
    review = [(i["kind"], i["subject"]) for i in detail["review"] if i["step"] == "SELECT"]
    assert review == [("calibration_overdue", "PRODIGY"), ("correction", "PRODIGY")]
    # the trace: each instrument with its calibration due date and step
    rows = [
        (q["step"], q["code"], q["instrument"], q["calibration_due"], q["calibration"],
         q["current"])
        for q in trace["equipment"]
    ]  # fmt: skip
    assert rows == [
        ("RECEIPT", "COUNTER", "COUNTER-0001", BW.instrument("COUNTER")[1], "ok", True),
        ("SELECT", "PRODIGY", "PRD-0113", yesterday, "overdue", False),
        ("SELECT", "PRODIGY", "PRD-0120", due, "ok", True),
    ]
