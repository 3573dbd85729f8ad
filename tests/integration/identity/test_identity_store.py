"""Chain of identity in the store, on SQLite and PostgreSQL: enrolment, orders, DIN issuing
(including parallel issuers), custody events through the state machine, hand-off hard stops and
their clearance by QA, timeline and dashboard, tenant scope and personal data."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import select
from tests.factories import PASSWORD
from tests.integration.identity import world as W

from vein2vein.core.errors import Conflict, InputError, NotFound, PermissionDenied, RuleViolation
from vein2vein.identity import custody, intake, orders, views
from vein2vein.identity.domain import Step
from vein2vein.identity.isbt128 import Din, check_character
from vein2vein.identity.tables import IssuedDin, Order
from vein2vein.store import audit
from vein2vein.store.database import Database


def _clear(w: W.World, who: str, mismatch_id: int, reason: str, password: str = PASSWORD):
    """QA's signed clearance (the signer's own user name and password)."""
    with w.db.uow(w.actor(who)) as uow:
        cleared = custody.clear_mismatch(
            uow,
            w.scopes[who],
            w.db.settings,
            mismatch_id,
            reason,
            username=w.scopes[who].username,
            password=password,
        )
        uow.commit()
        return cleared


def _audit(db: Database, action: str) -> list[dict]:
    with db.read() as session:
        return [e.to_dict() for e in audit.query(session) if e.action == action]


def test_enrol_and_order_are_audited_without_personal_data(db: Database) -> None:
    w = W.build(db)
    pid = W.enrol(w)
    oid = W.order(w, pid, markers=W.MARKERS_NEG | {"htlv": "positive"})
    enrol = _audit(db, "coi.patient_enrol")[0]
    assert enrol["after"]["subject_id"] == "HLX-001"
    assert len(enrol["after"]["personal_data_sha256"]) == 64
    placed = _audit(db, "coi.order_place")[0]
    assert placed["after"]["segregated"] is True  # a positive marker routes to a segregated suite
    assert placed["after"]["number"] == "HLX-1-0001"
    with db.read() as session:
        everything = json.dumps([e.to_dict() for e in audit.query(session)])
    assert W.DOB not in everything and W.INITIALS not in everything
    with db.read() as session:
        detail = views.order_detail(session, w.scopes["a.clinical"], oid)
    assert detail["coi"].startswith(W.FIN) and detail["product_code"] == "S1234100"


def test_order_input_errors_name_the_field(db: Database) -> None:
    w = W.build(db)
    pid = W.enrol(w)
    cases = {
        "markers.hiv": {"markers": {k: v for k, v in W.MARKERS_NEG.items() if k != "hiv"}},
        "product_code": {"product_code": "S12341"},
        "weight_kg": {"weight_kg": "heavy"},
        "required_by": {"required_by": dt.date(2000, 1, 1)},
        "starting_material": {"starting_material": "frozen"},
    }
    for field, change in cases.items():
        with pytest.raises(InputError) as err:
            W.order(w, pid, **change)
        assert err.value.field == field
    with pytest.raises(Conflict):
        W.enrol(w)  # same subject id twice


def test_din_issuing_is_sequential_with_valid_check_characters(db: Database) -> None:
    w = W.build(db)
    dins = []
    for _ in range(3):
        with db.uow(w.actor("operator")) as uow:
            dins.append(orders.issue_din(uow, w.scopes["operator"], W.FIN).din)
            uow.commit()
    year = dt.datetime.now(dt.UTC).year % 100
    assert dins == [f"A9999{year:02d}{n:06d}" for n in (1, 2, 3)]
    assert all(len(check_character(d)) == 1 for d in dins)
    with db.uow(w.actor("a.clinical")) as uow, pytest.raises(PermissionDenied):
        orders.issue_din(uow, w.scopes["a.clinical"], W.FIN)
    # a failed unit of work gives its number back: nothing skipped
    with db.uow(w.actor("operator")) as uow:
        orders.issue_din(uow, w.scopes["operator"], W.FIN)
    with db.uow(w.actor("operator")) as uow:
        assert orders.issue_din(uow, w.scopes["operator"], W.FIN).sequence == 4
        uow.commit()


def test_parallel_issuers_never_duplicate_or_skip(db: Database) -> None:
    w = W.build(db)
    threads_n, each = 4, 8
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def issuer() -> None:
        try:
            start.wait()
            for _ in range(each):
                with db.uow(w.actor("operator")) as uow:
                    results.append(orders.issue_din(uow, w.scopes["operator"], W.FIN).din)
                    uow.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=issuer) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    sequences = sorted(Din.from_code(d).sequence for d in results)
    assert sequences == list(range(1, threads_n * each + 1))
    with db.read() as session:
        stored = session.scalars(select(IssuedDin.sequence).order_by(IssuedDin.sequence)).all()
        assert list(stored) == sequences
        assert audit.verify(session).ok


def test_orders_placed_at_once_get_consecutive_numbers(db: Database) -> None:
    w = W.build(db)
    patients = [W.enrol(w, subject=f"HLX-{i:03d}") for i in range(6)]
    numbers: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(patients))

    def place(pid: int) -> None:
        try:
            start.wait()
            oid = W.order(w, pid)
            with db.read() as session:
                numbers.append(session.get_one(Order, oid).number)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=place, args=(p,)) for p in patients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(int(n.rsplit("-", 1)[1]) for n in numbers) == list(range(1, 7))


def test_full_chain_timeline_and_dashboard(db: Database) -> None:
    w = W.build(db)
    pid = W.enrol(w)
    oid = W.order(w, pid)
    W.assign_din(w, oid)
    W.walk(w, oid, Step.INFUSED)
    with db.read() as session:
        tl = views.patient_timeline(session, w.scopes["a.viewer"], pid)
        board = views.dashboard(session, w.scopes["operator"])
        board_all = views.dashboard(session, w.scopes["operator"], include_complete=True)
        detail = views.order_detail(session, w.scopes["operator"], oid)
    order = tl["orders"][0]
    steps = order["timeline"]["steps"]
    assert steps[0]["label"] == "Apheresis" and steps[-1]["label"] == "Infusion"
    # every custody step from apheresis to infusion is listed; the walk skips the two storages
    assert [s["step"] for s in steps if not s["actual"]] == ["stored", "product_stored"]
    # 12 events recorded 20 hours apart: 11 intervals from apheresis to infusion
    assert order["timeline"]["vein_to_vein_days"] == pytest.approx(11 * 20 / 24, abs=0.05)
    assert board == [] and board_all[0]["current_step"] == "infused"
    # delivered (product received at the site) before the required-by day, 20 days ahead
    assert board_all[0]["projection"]["state"] == "met"
    assert board_all[0]["projection"]["delivered"] is True
    assert detail["batch_number"] == "B-0001" and len(detail["bags"]) == 2
    assert detail["bags"][1]["product_code"] == "S12341B0"
    assert "patient.date_of_birth" in detail["events"][-1]["identifiers_verified"]


def test_out_of_order_is_refused_with_the_expected_step(db: Database) -> None:
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    W.assign_din(w, oid)
    at = W.walk(w, oid, Step.PACKED)
    with pytest.raises(RuleViolation) as err:
        W.record(w, oid, Step.RECEIVED, at)
    assert "the next step is 'shipped'" in err.value.message
    with pytest.raises(PermissionDenied):  # the site does not record receipt at the CDMO
        W.record(w, oid, Step.SHIPPED, at, who="operator")
    with pytest.raises(InputError) as missing:
        W.record(w, oid, Step.SHIPPED, at, details={"courier": "X"})
    assert missing.value.field == "shipper_id"


def test_mismatch_is_a_recorded_hard_stop_until_qa_clears_it(db: Database) -> None:
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    other = W.order(w, W.enrol(w, subject="HLX-002"))
    W.assign_din(w, oid)
    wrong_din = W.assign_din(w, other)
    at = W.walk(w, oid, Step.SHIPPED)
    with db.read() as session:
        from vein2vein.identity.tables import Order

        coi = session.get_one(Order, oid).coi
    with pytest.raises(custody.HandoffStopped) as stop:
        W.record(w, oid, Step.RECEIVED, at, scans=W.label_scans(wrong_din, coi))
    assert "din: expected" in stop.value.message
    entries = _audit(db, "coi.handoff_mismatch")
    assert entries and entries[0]["after"]["problems"][0]["field"] == "din"
    # blocked, even with the right label
    with pytest.raises(RuleViolation, match="on hold"):
        W.record(w, oid, Step.RECEIVED, at)
    mid = stop.value.mismatch_id
    for who in ("operator", "a.clinical"):
        with pytest.raises(PermissionDenied):
            _clear(w, who, mid, "label re-checked")
    with pytest.raises(InputError):
        _clear(w, "qa", mid, "")
    _clear(w, "qa", mid, "wrong bag picked up; correct bag found")
    assert _audit(db, "coi.handoff_mismatch_clear")[0]["reason"].startswith("wrong bag")
    W.record(w, oid, Step.RECEIVED, at)
    with db.read() as session:
        assert views.list_mismatches(session, w.scopes["qa"]) == []
        assert views.list_mismatches(session, w.scopes["qa"], open_only=False)[0]["status"] == (
            "cleared"
        )


def test_patient_identifier_mismatch_never_carries_values(db: Database) -> None:
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    W.assign_din(w, oid)
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    with pytest.raises(custody.HandoffStopped) as stop:
        W.record(
            w,
            oid,
            Step.COLLECTED,
            at,
            patient={"subject_id": "HLX-001", "date_of_birth": "1961-03-08"},
        )
    assert "date of birth" in stop.value.message
    assert "1961" not in stop.value.message
    assert "1961" not in json.dumps(_audit(db, "coi.handoff_mismatch"))


def test_sponsor_scope_and_personal_data(db: Database) -> None:
    w = W.build(db)
    pa = W.enrol(w)
    pb = W.enrol(w, who="b.clinical", subject="CRV-SECRET-1", sponsor="b")
    ob = W.order(w, pb, who="b.clinical")
    with db.read() as session:
        listed = views.list_patients(session, w.scopes["a.clinical"])
        assert [p["subject_id"] for p in listed] == ["HLX-001"]
        for who in ("a.clinical", "a.viewer"):
            with pytest.raises(NotFound):
                views.patient_detail(session, w.scopes[who], pb)
            with pytest.raises(NotFound):
                views.order_detail(session, w.scopes[who], ob)
        own = views.patient_detail(session, w.scopes["a.clinical"], pa)
        qa = views.patient_detail(session, w.scopes["qa"], pa)
        operator = views.patient_detail(session, w.scopes["operator"], pa)
        cdmo_list = views.list_patients(session, w.scopes["qa"])
    assert "personal_data" not in own and "personal_data" not in operator
    assert qa["personal_data"] == {"date_of_birth": W.DOB, "initials": W.INITIALS}
    assert W.DOB not in json.dumps(cdmo_list) and W.INITIALS not in json.dumps(cdmo_list)
    with db.uow(w.actor("a.clinical")) as uow, pytest.raises(NotFound):
        orders.place_order(
            uow,
            w.scopes["a.clinical"],
            intake.OrderRequest(
                patient_id=pb,
                product_code="S1234100",
                dose_level="DL1",
                weight_kg=70,
                planned_apheresis="2026-01-01",
                required_by="2026-02-01",
                starting_material="fresh",
                markers=W.MARKERS_NEG,
            ),
        )


def test_scan_lookup_finds_only_orders_in_scope(db: Database) -> None:
    w = W.build(db)
    ob = W.order(w, W.enrol(w, who="b.clinical", subject="CRV-9", sponsor="b"), who="b.clinical")
    din = W.assign_din(w, ob)
    scan = Din.from_code(din).barcode_data()
    with db.read() as session:
        cdmo = views.lookup_scan(session, w.scopes["operator"], scan)
        sponsor_a = views.lookup_scan(session, w.scopes["a.clinical"], scan)
        wrong_flags = "61" if scan.endswith("60") else "60"
        bad = views.lookup_scan(session, w.scopes["operator"], scan[:-2] + wrong_flags)
    assert cdmo["ok"] and cdmo["order"]["subject_id"] == "CRV-9"
    assert not sponsor_a["ok"] and sponsor_a["order"] is None and "CRV" not in json.dumps(sponsor_a)
    assert not bad["ok"] and bad["din_check_failed"]  # check flags do not match: misread


def _at_once(n: int, fn) -> tuple[list[object], list[BaseException]]:  # type: ignore[no-untyped-def]
    results: list[object] = []
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run() -> None:
        try:
            start.wait()
            results.append(fn())
        except BaseException as exc:  # collected for the assertions
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_the_same_step_sent_at_once_is_recorded_once(db: Database) -> None:
    """Two-writer rule: the order row is held, so the state machine sees the first step."""
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    W.assign_din(w, oid)
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    results, errors = _at_once(4, lambda: W.record(w, oid, Step.COLLECTED, at))
    assert len(results) == 1 and len(errors) == 3
    assert all(isinstance(e, RuleViolation) for e in errors), errors
    with db.read() as session:
        assert [e.step for e in session.get_one(Order, oid).events] == ["collected"]


def test_apheresis_din_assigned_at_once_binds_one_din(db: Database) -> None:
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    results, errors = _at_once(2, lambda: W.assign_din(w, oid))
    assert len(results) == 1 and len(errors) == 1 and isinstance(errors[0], Conflict)
    with db.read() as session:
        assert session.get_one(Order, oid).apheresis_din == results[0][:13]


def test_an_unknown_time_zone_is_refused_even_with_an_offset(db: Database) -> None:
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    W.assign_din(w, oid)
    req = intake.EventRequest(
        step="collected",
        occurred_at="2026-01-05T09:00+01:00",
        location="Ward 3",
        time_zone="Mars/Olympus",
        scans=[],
    )
    with db.uow(w.actor("a.clinical")) as uow, pytest.raises(InputError) as err:
        custody.record_event(uow, w.scopes["a.clinical"], oid, req)
    assert err.value.field == "time_zone"
    with db.read() as session:
        assert session.get_one(Order, oid).events == []


def test_release_needs_the_final_product_registered(db: Database) -> None:
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    W.assign_din(w, oid)
    at = W.walk(w, oid, Step.MANUFACTURING_STARTED)
    with pytest.raises(RuleViolation, match="before release"):
        W.record(w, oid, Step.RELEASED, at, scans=[])


def _stopped_at_receipt(w: W.World, who: str | None = None) -> tuple[int, int, dt.datetime]:
    """An order whose receipt was scanned with another order's DIN: (order, mismatch, time)."""
    oid = W.order(w, W.enrol(w))
    other = W.order(w, W.enrol(w, subject="HLX-002"))
    W.assign_din(w, oid)
    wrong = W.assign_din(w, other)
    at = W.walk(w, oid, Step.SHIPPED)
    with w.db.read() as session:
        coi = session.get_one(Order, oid).coi
    with pytest.raises(custody.HandoffStopped) as stop:
        W.record(w, oid, Step.RECEIVED, at, scans=W.label_scans(wrong, coi), who=who)
    return oid, stop.value.mismatch_id, at


def test_whoever_was_stopped_cannot_clear_their_own_mismatch(db: Database) -> None:
    w = W.build(db)
    _, mismatch_id, _ = _stopped_at_receipt(w, who="qa")
    with pytest.raises(PermissionDenied, match="second QA"):
        _clear(w, "qa", mismatch_id, "it was fine really")
    _clear(w, "approver", mismatch_id, "bag swapped back")


@pytest.mark.parametrize(
    "temperature",
    [
        {"min_c": -196, "max_c": -150, "allowed_excursion_minutes": 1e300, "readings": []},
        {"min_c": "nan", "max_c": -150, "readings": []},
        {"min_c": -196, "max_c": -150, "readings": [{"at": "2026-01-05T10:00", "celsius": -180}]},
    ],
)
def test_malformed_logger_data_is_bad_input_and_records_nothing(
    db: Database, temperature: dict
) -> None:
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    W.assign_din(w, oid)
    at = W.walk(w, oid, Step.SHIPPED)
    with pytest.raises(InputError) as err:
        W.record(
            w, oid, Step.RECEIVED, at, details={"condition": "intact", "temperature": temperature}
        )
    assert err.value.field == "temperature"
    with db.read() as session:
        assert [e.step for e in session.get_one(Order, oid).events][-1] == "shipped"


def test_custody_records_are_append_only_in_the_database(db: Database) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError, IntegrityError

    w = W.build(db)
    _, mismatch_id, _ = _stopped_at_receipt(w)
    _clear(w, "qa", mismatch_id, "bag swapped back")
    for sql in (
        "DELETE FROM coi_custody_event",
        "UPDATE coi_custody_event SET location = 'elsewhere'",
        "DELETE FROM coi_din",
        "UPDATE coi_din SET sequence = 99",
        "DELETE FROM coi_handoff_mismatch",
        "UPDATE coi_handoff_mismatch SET clear_reason = 'rewritten'",
    ):
        with (
            pytest.raises((DBAPIError, IntegrityError), match=r"append-only|only its clearance"),
            db.engine.begin() as conn,
        ):
            conn.execute(text(sql))
