"""Scheduling joined up with the executed batch record and custody (issue 12), on SQLite and
PostgreSQL, through the real services:

- a batch started in another suite than planned is pinned in the next plan on the day it
  started, in the suite its record says, and shown as started;
- a batch that fails (signed, at a step) keeps its suite until the failure plus cleaning (nothing
  freed retroactively), its order is blocked ("a new apheresis is needed", no delivery day) and
  left out of the plan while other started batches stay pinned; after a new apheresis (a new
  DIN, collection 2) the next re-plan schedules the new batch from the new apheresis date, and
  the custody chain starts again at collection with the new DIN;
- custody steps in a suite carry it (by default the batch's current suite), and an infectious
  donor's material only enters a designated suite (batch creation, batch start, custody);
- two people asking for a new apheresis at once: one new DIN, the other refused.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from tests import batch_world as BW
from tests import factories
from tests.factories import PASSWORD
from tests.integration.identity import world as W
from tests.integration.scheduling import world as SW

from vein2vein.auth import service as auth
from vein2vein.auth.tables import Organisation, Site
from vein2vein.core.errors import Conflict, InputError, PermissionDenied, RuleViolation
from vein2vein.identity import custody, intake, orders, views
from vein2vein.identity.domain import Step
from vein2vein.identity.isbt128 import Din
from vein2vein.identity.tables import IssuedDin, Order
from vein2vein.manufacturing import batches
from vein2vein.manufacturing.tables import Batch
from vein2vein.scheduling import delivery, settings
from vein2vein.scheduling import views as plan_views
from vein2vein.scheduling.planner import plan_from_json
from vein2vein.scheduling.snapshot import problem_from_json
from vein2vein.scheduling.tables import PlanDraft
from vein2vein.scheduling.validator import validate_plan
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

ZONE = ZoneInfo("Europe/Amsterdam")  # the facility's zone: a batch's day is its local day
SUITES = {"GHE-01": False, "GHE-02": False, "GHE-X1": True}  # code: infectious-capable


def build(db: Database) -> W.World:
    """The batch world (MBR effective at Ghent, released lots) plus Ghent's planning suites
    (cleaning 2 days, decontamination 3), the product's settings and the QC laboratory."""
    w = BW.build(db)
    with db.read() as session:
        site_id = session.scalars(select(Site.id).where(Site.name == BW.SITE)).one()
    since = dt.date.today() - dt.timedelta(days=100)
    with db.uow(w.actor("admin")) as uow:
        for code, infectious in SUITES.items():
            settings.add_suite(
                uow,
                w.scopes["admin"],
                site_id=site_id,
                code=code,
                infectious=infectious,
                changeover_days=2,
                decon_days=3,
                available_from=since,
            )
        settings.set_product(
            uow,
            w.scopes["admin"],
            product_code="S1234100",
            name="HLX-101",
            process_days=10,
            start_weekdays="Mon-Sun",
            qc_method="rapid",
            qc_days_rapid=3,
            qc_days_compendial=14,
            fresh_hold_days=3,
            cryo_hold_days=180,
            inbound_days=1,
            ship_days=2,
        )
        settings.set_lab(uow, w.scopes["admin"], qc_capacity=4, max_starts_per_day=3)
        uow.commit()
    return w


def record(
    w: W.World, oid: int, step: Step, *, suite: str | None = None, **details: object
) -> None:
    """A custody step recorded now by the CDMO operator, with the right scans."""
    with w.db.read() as session:
        o = session.get_one(Order, oid)
        scans = W.label_scans(str(o.apheresis_din), o.coi)
    req = intake.EventRequest(
        step=step.value,
        occurred_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
        location="Ghent GMP",
        time_zone="Europe/Brussels",
        scans=scans,
        details=details or W.DETAILS.get(step, {}),
        suite=suite,
    )
    with w.db.uow(w.actor("operator")) as uow:
        custody.record_event(uow, w.scopes["operator"], oid, req)
        uow.commit()


def received(
    w: W.World, subject: str, positive: str | None = None, batch_suite: str | None = None
) -> int:
    """An order whose fresh material was received yesterday (collected two days ago); with
    ``batch_suite`` its batch is made (planned in that suite) before the receipt."""
    markers = dict(W.MARKERS_NEG) | ({positive: "positive"} if positive else {})
    today = dt.date.today()
    oid = W.order(
        w,
        W.enrol(w, subject=subject),
        planned_apheresis=today - dt.timedelta(days=2),
        required_by=today + dt.timedelta(days=30),
        markers=markers,
    )
    W.assign_din(w, oid)
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    patient = {"subject_id": subject, "date_of_birth": W.DOB}
    for step in (Step.COLLECTED, Step.PACKED, Step.SHIPPED, Step.RECEIVED):
        if step is Step.RECEIVED and batch_suite:
            new_batch(w, oid, batch_suite)
        W.record(w, oid, step, at, patient=patient if step is Step.COLLECTED else None)
        at += dt.timedelta(hours=10)
    return oid


def act(w: W.World, who: str, fn: Any, *args: Any, **kw: Any) -> Any:
    with w.db.uow(w.actor(who)) as uow:
        out = fn(uow, w.scopes[who], *args, **kw)
        uow.commit()
        return out.id if hasattr(out, "id") else out


def new_batch(w: W.World, order_id: int, suite: str) -> int:
    return act(
        w, "operator", batches.create_batch,
        order_id=order_id, site=BW.SITE, suite=suite, dose_per_kg=2e6,
    )  # fmt: skip


def fail(w: W.World, batch_id: int, step: str, reason: str) -> None:
    with w.db.uow(w.actor("operator")) as uow:
        batches.record_failure(
            uow, w.scopes["operator"], w.db.settings, batch_id, step,
            reason=reason, username="operator", password=PASSWORD,
        )  # fmt: skip
        uow.commit()


def draft(w: W.World, mode: str = "replan") -> dict[str, Any]:
    draft_id = SW.draft(w, method="greedy", mode=mode)
    with w.db.read() as session:
        payload = dict(session.get_one(PlanDraft, draft_id).payload)
    payload["id"] = draft_id
    # every draft is valid by the independent validator
    report = validate_plan(problem_from_json(payload["problem"]), plan_from_json(payload["plan"]))
    assert report.ok, report.summary()
    return payload


def assignment(payload: dict[str, Any], number: str) -> dict[str, Any]:
    return next(a for a in payload["plan"]["assignments"] if a["order_id"] == number)


def number(w: W.World, order_id: int) -> str:
    with w.db.read() as session:
        return session.get_one(Order, order_id).number


def local_today() -> dt.date:
    return dt.datetime.now(ZONE).date()


def test_a_batch_started_in_another_suite_is_pinned_there_and_custody_records_the_suite(
    db: Database,
) -> None:
    w = build(db)
    # receipt into manufacturing: the suite defaults from the batch (planned, not yet started)
    oid = received(w, "HLX-001", batch_suite="GHE-01")
    key = number(w, oid)
    with db.read() as session:
        batch_id = session.scalars(select(Batch.id).where(Batch.order_id == oid)).one()
    SW.publish(w, draft(w, mode="plan")["id"])
    act(
        w, "operator", batches.start_step, batch_id, "RECEIPT",
        suite="GHE-02", reason="GHE-01 under maintenance after a HEPA alarm",
    )  # fmt: skip
    # custody at the start of manufacturing: the batch works in GHE-02, nowhere else
    with pytest.raises(InputError, match="works in suite GHE-02") as wrong:
        record(w, oid, Step.MANUFACTURING_STARTED, suite="GHE-01", batch_number="B-1")
    assert wrong.value.field == "suite"
    with pytest.raises(InputError, match="does not happen in a GMP suite"):
        record(w, oid, Step.STORED, suite="GHE-02")
    record(w, oid, Step.MANUFACTURING_STARTED, batch_number="B-1")
    with db.read() as session:
        detail = views.order_detail(session, w.scopes["a.clinical"], oid)
    suites = {e["step"]: e["suite"] for e in detail["events"]}
    assert suites == {
        "collected": None, "packed": None, "shipped": None,
        "received": "GHE-01", "manufacturing_started": "GHE-02",
    }  # fmt: skip
    # the next plan pins it in GHE-02 on the day its first step started
    payload = draft(w)
    pinned = next(o for o in payload["problem"]["orders"] if o["order_id"] == key)
    assert pinned["fixed"] == {"suite": "GHE-02", "start": local_today().isoformat()}
    a = assignment(payload, key)
    assert (a["suite"], a["start"]) == ("GHE-02", local_today().isoformat())
    assert payload["refs"][key]["started"] is True
    plan_id = SW.publish(w, payload["id"])
    with db.read() as session:
        shown = plan_views.plan_detail(session, w.scopes["admin"], plan_id)
        chart = plan_views.plan_chart(session, w.scopes["admin"], plan_id)
    row = next(r for r in shown["assignments"] if r["order_id"] == key)
    assert row["suite"] == "GHE-02" and shown["started"] == [key]
    bar = next(b for b in chart["bars"] if b["order_id"] == key and b["kind"] == "batch")
    assert (bar["suite"], bar["status"]) == ("GHE-02", "started")


def _events_of(w: W.World, oid: int) -> list[dict[str, Any]]:
    with w.db.read() as session:
        return views.order_detail(session, w.scopes["qa"], oid)["events"]


def test_a_failed_batch_blocks_its_order_keeps_its_suite_and_is_replanned_after_apheresis(
    db: Database,
) -> None:
    w = build(db)
    failing, other, waiting = (received(w, s) for s in ("HLX-001", "HLX-002", "HLX-003"))
    keys = {o: number(w, o) for o in (failing, other, waiting)}
    first = new_batch(w, failing, "GHE-01")
    second = new_batch(w, other, "GHE-02")
    for b in (first, second):
        act(w, "operator", batches.start_step, b, "RECEIPT")
    SW.publish(w, draft(w, mode="plan")["id"])
    fail(w, first, "RECEIPT", "bag leaked during thaw; cells lost")
    today = local_today()

    # the order shows it: blocked, with the failure, no delivery day; never on track
    with db.read() as session:
        projected = delivery.project_orders(session, w.scopes["a.clinical"], [failing])[failing]
        detail = views.order_detail(session, w.scopes["qa"], failing)
        dashboard = views.dashboard(session, w.scopes["qa"])
    assert projected.state.value == "blocked"
    assert projected.delivery is None and projected.days_to_spare is None
    assert [b.text for b in projected.blockers] == [
        f"batch {first} failed at RECEIPT (bag leaked during thaw; cells lost): "
        "a new apheresis is needed"
    ]
    assert detail["new_apheresis_needed"].startswith(f"batch {first} failed at RECEIPT")
    assert next(r for r in dashboard if r["id"] == failing)["projection"]["state"] == "blocked"
    assert dashboard[0]["id"] == failing  # the worst first

    # the re-plan: the failed order waits for its apheresis, the other started batch stays
    # pinned, and the failed batch's suite stays used to the failure plus 2 days of cleaning
    payload = draft(w)
    assert {s["order_id"]: s["reason"] for s in payload["skipped"]} == {
        keys[failing]: f"batch {first} failed at RECEIPT (bag leaked during thaw; cells lost): "
        "a new apheresis is needed"
    }
    other_a = assignment(payload, keys[other])
    assert (other_a["suite"], other_a["start"]) == ("GHE-02", today.isoformat())
    ghe01 = next(s for s in payload["problem"]["suites"] if s["suite_id"] == "GHE-01")
    assert [d for d in ghe01["downtime"] if "failed batch" in d["reason"]] == [
        {
            "start": today.isoformat(),
            "end": (today + dt.timedelta(days=2)).isoformat(),
            "reason": f"failed batch {first} of {keys[failing]} and cleaning",
        }
    ]
    in_ghe01 = [a for a in payload["plan"]["assignments"] if a["suite"] == "GHE-01"]
    assert all(a["start"] >= (today + dt.timedelta(days=2)).isoformat() for a in in_ghe01)
    assert keys[failing] not in {a["order_id"] for a in payload["plan"]["assignments"]}
    SW.publish(w, payload["id"])

    # a new apheresis: a new DIN on the same CoI, collection 2, planned in five days
    with db.read() as session:
        old = session.get_one(Order, failing)
        old_din, coi = old.apheresis_din, old.coi
    with pytest.raises(InputError, match="before the batch failed") as early:
        act(
            w, "operator", orders.new_apheresis, failing,
            planned_apheresis=today - dt.timedelta(days=3), reason="batch failed",
        )  # fmt: skip
    assert early.value.field == "planned_apheresis"
    act(
        w, "operator", orders.new_apheresis, failing,
        planned_apheresis=today + dt.timedelta(days=5), reason="batch failed at receipt",
    )  # fmt: skip
    with db.read() as session:
        renewed = session.get_one(Order, failing)
        assert (renewed.coi, renewed.collection, renewed.current_step) == (coi, 2, None)
        assert renewed.apheresis_din != old_din
        assert session.get_one(Batch, first).din == old_din  # the failed batch keeps it
        projected = delivery.project_orders(session, w.scopes["qa"], [failing])[failing]
        # a bag of the first collection scanned later still names its order, and says stop
        looked = views.lookup_scan(
            session, w.scopes["operator"], Din.from_code(old_din).barcode_data()
        )
        new_scan = Din.from_code(renewed.apheresis_din or "").barcode_data()
        current = views.lookup_scan(session, w.scopes["operator"], new_scan)
    assert looked["order"]["id"] == failing and looked["ok"] is False
    assert "earlier_din" in looked["order"]["matched_on"]
    assert "earlier collection" in looked["verdict"]
    assert current["ok"] is True and current["order"]["matched_on"] == ["apheresis_din"]
    assert projected.state.value != "blocked" and not projected.blockers

    # the next re-plan schedules the new batch from the new apheresis (+1 day inbound)
    payload = draft(w)
    assert payload["skipped"] == []
    new_a = assignment(payload, keys[failing])
    assert new_a["start"] >= (today + dt.timedelta(days=6)).isoformat()
    change = next(c for c in payload["changes"] if c["order_id"] == keys[failing])
    assert change["kind"] == "new"  # the published plan had left it out
    assert (assignment(payload, keys[other])["suite"], payload["refs"][keys[other]]["started"]) == (
        "GHE-02",
        True,
    )
    assert any("failed batch" in d["reason"] for d in next(
        s for s in payload["problem"]["suites"] if s["suite_id"] == "GHE-01"
    )["downtime"])  # fmt: skip
    SW.publish(w, payload["id"])

    # custody starts again at collection, with the new DIN; the first collection is history
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    W.record(
        w, failing, Step.COLLECTED, at, patient={"subject_id": "HLX-001", "date_of_birth": W.DOB}
    )
    events = _events_of(w, failing)
    assert [(e["step"], e["collection"]) for e in events][-1] == ("collected", 2)
    assert [e["step"] for e in events if e["collection"] == 1] == [
        "collected", "packed", "shipped", "received"
    ]  # fmt: skip
    with db.read() as session:
        assert session.get_one(Order, failing).current_step == "collected"
    # a new batch of the order is made from the new DIN
    later = new_batch(w, failing, "GHE-01")
    with db.read() as session:
        assert session.get_one(Batch, later).din == renewed.apheresis_din


def test_a_failure_replans_a_published_batch_as_replaced(db: Database) -> None:
    """The published plan had the failed order's batch: after the new apheresis the re-plan
    lists it as replaced (not moved), from the new material's receipt."""
    w = build(db)
    oid = received(w, "HLX-001")
    key = number(w, oid)
    batch_id = new_batch(w, oid, "GHE-01")
    act(w, "operator", batches.start_step, batch_id, "RECEIPT")
    SW.publish(w, draft(w, mode="plan")["id"])
    fail(w, batch_id, "RECEIPT", "sterility sample positive")
    act(
        w, "operator", orders.new_apheresis, oid,
        planned_apheresis=dt.date.today() + dt.timedelta(days=3), reason="sterility failure",
    )  # fmt: skip
    payload = draft(w)
    change = next(c for c in payload["changes"] if c["order_id"] == key)
    assert change["kind"] == "replaced"
    assert change["after"]["start"] >= (dt.date.today() + dt.timedelta(days=4)).isoformat()
    assert payload["refs"][key]["started"] is False
    SW.publish(w, payload["id"])  # nothing restarted that the store does not know


def test_infectious_material_only_in_designated_suites(db: Database) -> None:
    w = build(db)
    oid = received(w, "HLX-009", positive="hbv")
    with pytest.raises(RuleViolation, match="GHE-01 is not designated"):
        new_batch(w, oid, "GHE-01")
    with pytest.raises(RuleViolation, match="not a GMP suite of the plan"):
        new_batch(w, oid, "Suite 9")
    batch_id = new_batch(w, oid, "GHE-X1")
    with pytest.raises(RuleViolation, match="GHE-02 is not designated"):
        act(
            w, "operator", batches.start_step, batch_id, "RECEIPT",
            suite="GHE-02", reason="X1 busy with another batch",
        )  # fmt: skip
    with pytest.raises(RuleViolation, match="GHE-01 is not designated"):
        record(w, oid, Step.MANUFACTURING_STARTED, suite="GHE-01", batch_number="B-1")
    act(w, "operator", batches.start_step, batch_id, "RECEIPT")
    record(w, oid, Step.MANUFACTURING_STARTED, batch_number="B-1")
    assert _events_of(w, oid)[-1]["suite"] == "GHE-X1"


def test_no_new_apheresis_without_a_failed_batch(db: Database) -> None:
    w = build(db)
    oid = received(w, "HLX-001")
    with pytest.raises(Conflict, match="needs no new apheresis"):
        act(
            w, "operator", orders.new_apheresis, oid,
            planned_apheresis=dt.date.today(), reason="just in case",
        )  # fmt: skip
    batch_id = new_batch(w, oid, "GHE-01")
    with pytest.raises(Conflict, match="needs no new apheresis"):  # the batch is live
        act(
            w, "operator", orders.new_apheresis, oid,
            planned_apheresis=dt.date.today(), reason="just in case",
        )  # fmt: skip
    fail(w, batch_id, "RECEIPT", "bag damaged in transit")
    with pytest.raises(PermissionDenied):
        act(
            w, "a.clinical", orders.new_apheresis, oid,
            planned_apheresis=dt.date.today(), reason="batch failed",
        )  # fmt: skip


def test_two_people_asking_for_a_new_apheresis_at_once_get_one_new_din(db: Database) -> None:
    w = build(db)
    with db.read() as session:
        cdmo = session.get_one(Organisation, w.ids["cdmo"])
    factories.user(db, cdmo, "operator", username="operator2")
    with db.uow(Actor("t")) as uow:
        w.scopes["operator2"] = auth.scope_of(auth.user_by_username(uow.session, "operator2"))
    oid = received(w, "HLX-001")
    batch_id = new_batch(w, oid, "GHE-01")
    fail(w, batch_id, "RECEIPT", "bag damaged in transit")
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def ask(who: str) -> None:
        try:
            with db.uow(w.actor(who)) as uow:
                start.wait()
                orders.new_apheresis(
                    uow, w.scopes[who], oid,
                    # tomorrow: just before midnight UTC the failure's local day (Europe)
                    # is already tomorrow
                    planned_apheresis=dt.date.today() + dt.timedelta(days=1),
                    reason="batch failed at receipt",
                )  # fmt: skip
                uow.commit()
            outcomes[who] = "done"
        except Exception as exc:  # reported below
            outcomes[who] = exc

    threads = [threading.Thread(target=ask, args=(who,)) for who in ("operator", "operator2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [o for o in outcomes.values() if o != "done"]
    assert len(refused) == 1 and isinstance(refused[0], Conflict), outcomes
    with db.read() as session:
        assert session.get_one(Order, oid).collection == 2
        issued = session.scalar(
            select(func.count())
            .select_from(IssuedDin)
            .where(IssuedDin.order_id == oid, IssuedDin.purpose == "apheresis")
        )
        assert issued == 2  # the first collection's and one new one
