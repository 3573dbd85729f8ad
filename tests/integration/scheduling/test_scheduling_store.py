"""Capacity scheduling in the store, on SQLite and PostgreSQL: mapping of orders in flight to the
pure model, drafts and published versions (greedy and CP-SAT), what-if re-planning with minimal
changes, refusals (invalid plan, stale inputs, concurrent publication, hypothetical events),
tenant scope, immutability and the audit trail. Every published plan is re-validated."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from tests.integration.scheduling import world as S

from vein2vein.core.errors import Conflict, NotFound, PermissionDenied, RuleViolation
from vein2vein.scheduling import planning, settings, views
from vein2vein.scheduling.tables import Downtime, PlanDraft, PublishedPlan
from vein2vein.store.database import Database

TODAY = dt.date.today()


def _three_orders(w: S.World) -> dict[str, int]:
    a1 = S.place(w, subject="HLX-001", apheresis_in_days=2, required_in_days=30)
    a2 = S.place(w, subject="HLX-002", material="fresh", positive="hbv", required_in_days=25)
    b1 = S.place(w, "b", subject="CRV-001", apheresis_in_days=-6, required_in_days=30)
    S.start_manufacturing(w, b1, "CRV-001", "b", days_ago=3)
    return {"a1": a1, "a2": a2, "b1": b1}


def test_store_orders_map_onto_the_model_and_publish_on_both_engines(db: Database) -> None:
    w = S.build(db)
    _three_orders(w)
    draft_id = S.draft(w, method="greedy")
    with db.read() as session:
        d = views.draft_detail(session, w.scopes["admin"], draft_id)
        problem = planning.current_problem(session, w.ids["cdmo"]).problem
    orders = problem.order_by_id
    # receipt = planned apheresis + inbound day (1); cryopreserved hold 180, fresh hold 3
    assert orders["HLX-1-0001"].receipt_date == TODAY + dt.timedelta(days=3)
    assert orders["HLX-1-0001"].max_hold_days == 180
    assert orders["HLX-1-0002"].max_hold_days == 3 and orders["HLX-1-0002"].infectious
    assert orders["HLX-1-0001"].qc_days == 3  # rapid QC chosen for the product
    started = orders["CRV-1-0001"]
    assert started.fixed is not None and started.fixed.start == TODAY - dt.timedelta(days=3)
    assert any("CRV-1-0001" in note for note in d["assumptions"])
    by_order = {a["order_id"]: a for a in d["assignments"]}
    assert by_order["HLX-1-0002"]["suite"].startswith("LEI-X")  # segregated suite
    assert d["validation"]["ok"] and d["before"] is None
    assert {c["kind"] for c in d["changes"]} == {"new"}

    plan_id = S.publish(w, draft_id, comment="first plan")
    assert S.assert_published_plans_valid(db) == 1
    with db.read() as session:
        a_slots = views.sponsor_slots(session, w.scopes["a.clinical"])
        b_slots = views.sponsor_slots(session, w.scopes["b.clinical"])
        history = views.plan_history(session, w.scopes["operator"])
    assert sorted(s["order_number"] for s in a_slots) == ["HLX-1-0001", "HLX-1-0002"]
    assert [(s["order_number"], s["status"]) for s in b_slots] == [("CRV-1-0001", "started")]
    assert history[0]["version"] == 1 and history[0]["id"] == plan_id
    published = [e for e in S.audit_actions(db) if e["action"] == "schedule.plan_publish"]
    assert published[0]["organisation_id"] == w.ids["cdmo"]
    assert published[0]["reason"] == "first plan"

    # once planned, the started batch stays in its published suite (no assumption any more)
    again = S.draft(w, method="greedy")
    with db.read() as session:
        d2 = views.draft_detail(session, w.scopes["admin"], again)
    assert d2["assumptions"] == [] and d2["changes"] == []
    assert d2["before"]["version"] == 1


def test_cpsat_replan_after_a_suite_goes_down_moves_only_what_it_must(db: Database) -> None:
    w = S.build(db)
    for n in range(4):
        S.place(w, subject=f"HLX-{n:03d}", apheresis_in_days=1 + n, required_in_days=40)
    S.publish(w, S.draft(w, method="cpsat", time_limit=1.0, mode="plan"))
    admin = w.scopes["admin"]
    with db.read() as session:
        v1 = views.plan_detail(session, admin, views.latest_plan_id(session, admin))
    hit = v1["assignments"][0]
    event = {
        "kind": "suite_down",
        "suite": hit["suite"],
        "first_day": TODAY.isoformat(),
        "last_day": (TODAY + dt.timedelta(days=60)).isoformat(),
        "reason": "HVAC failure",
    }
    draft_id = S.draft(w, method="cpsat", time_limit=1.0, events=[event])
    with db.read() as session:
        d = views.draft_detail(session, w.scopes["admin"], draft_id)
    changed = {c["order_id"] for c in d["changes"]}
    in_that_suite = {a["order_id"] for a in v1["assignments"] if a["suite"] == hit["suite"]}
    assert changed == in_that_suite  # only the batches of the closed suite move
    assert all(a["suite"] != hit["suite"] for a in d["assignments"])
    assert d["validation"]["ok"]
    S.publish(w, draft_id, comment="HVAC")
    assert S.assert_published_plans_valid(db) == 2
    with db.read() as session:
        windows = session.scalars(select(Downtime)).all()
        versions = session.scalars(select(PublishedPlan).order_by(PublishedPlan.version)).all()
    assert any("HVAC failure" in w_.reason and "version 2" in w_.reason for w_ in windows)
    assert [p.version for p in versions] == [1, 2] and versions[1].based_on_id == versions[0].id
    assert versions[0].plan["assignments"] == v1["assignments"]  # v1 kept as it was


def test_publishing_refuses_invalid_stale_concurrent_and_hypothetical_plans(db: Database) -> None:
    w = S.build(db)
    _three_orders(w)
    admin = w.scopes["admin"]
    tampered = S.draft(w)
    with db.uow(S.cdmo_actor()) as uow:  # a solver bug: two batches in one suite at once
        d = uow.session.get_one(PlanDraft, tampered)
        payload = dict(d.payload)
        plan = dict(payload["plan"])
        rows = [dict(a) for a in plan["assignments"]]
        rows[1].update(suite=rows[0]["suite"], start=rows[0]["start"])
        rows[1].update(end=rows[0]["end"], release=rows[0]["release"], ship=rows[0]["ship"])
        plan["assignments"] = rows
        payload["plan"] = plan
        d.payload = payload
        uow.commit()
    with db.uow(S.cdmo_actor()) as uow, pytest.raises(RuleViolation) as refused:
        planning.publish(uow, admin, tampered)
    assert "cannot be published" in refused.value.message
    assert "suite_overlap" in refused.value.message

    with db.uow(S.cdmo_actor()) as uow, pytest.raises(RuleViolation, match="order_arrived"):
        planning.publish(
            uow,
            admin,
            planning.compute_draft(
                uow,
                admin,
                events=[
                    {
                        "kind": "order_arrived",
                        "product_code": "S1234",
                        "required_by": (TODAY + dt.timedelta(days=30)).isoformat(),
                    }
                ],
            ).id,
        )

    first, second = S.draft(w), S.draft(w)
    S.publish(w, first)
    with pytest.raises(Conflict, match="published after this draft"):
        S.publish(w, second)
    with pytest.raises(Conflict, match="already been published"):
        S.publish(w, first)

    stale = S.draft(w)
    with db.uow(S.cdmo_actor()) as uow:
        settings.add_downtime(
            uow, admin, w.ids["suite_1"], first_day=TODAY, last_day=TODAY, reason="cleaning fault"
        )
        uow.commit()
    with pytest.raises(Conflict, match="changed since"):
        S.publish(w, stale)

    fresh = S.draft(w)
    with pytest.raises(NotFound):
        S.publish(w, fresh, who="a.clinical")  # a sponsor: the draft does not exist for them
    with pytest.raises(PermissionDenied):
        S.publish(w, fresh, who="operator")  # CDMO operators read the plan, QA/admin publish
    S.publish(w, fresh, who="qa")
    assert S.assert_published_plans_valid(db) == 2


def test_published_plans_are_immutable_in_the_database(db: Database) -> None:
    w = S.build(db)
    _three_orders(w)
    S.publish(w, S.draft(w))
    for statement in (
        "UPDATE sched_plan SET comment = 'rewritten'",
        "DELETE FROM sched_plan_slot",
    ):
        with db.engine.connect() as conn, pytest.raises(DBAPIError):
            conn.execute(text(statement))
            conn.commit()


def test_orders_without_product_settings_are_listed_not_planned(db: Database) -> None:
    w = S.build(db)
    S.place(w, subject="HLX-001")
    pid = S.W.enrol(w, "a.clinical", "HLX-009", "a")
    S.W.order(w, pid, "a.clinical", product_code="S9999100")
    with db.read() as session:
        store = planning.current_problem(session, w.ids["cdmo"])
    assert [(k.number, k.reason) for k in store.skipped] == [
        ("HLX-1-0002", "no process settings for product S9999")
    ]
    assert list(store.problem.order_by_id) == ["HLX-1-0001"]


def test_suite_and_settings_changes_are_validated_and_audited(db: Database) -> None:
    w = S.build(db)
    admin = w.scopes["admin"]
    with db.uow(S.cdmo_actor()) as uow:
        settings.update_suite(uow, admin, w.ids["suite_1"], reason="new isolator", decon_days=2)
        uow.commit()
    entry = next(e for e in S.audit_actions(db) if e["action"] == "schedule.suite_update")
    assert entry["before"]["decon_days"] == 0 and entry["after"]["decon_days"] == 2
    assert entry["reason"] == "new isolator"
    from vein2vein.core.errors import InputError

    with db.uow(S.cdmo_actor()) as uow, pytest.raises(InputError) as bad:
        settings.add_suite(uow, admin, site_id=w.ids["site_a"], code="X-1")  # a sponsor's site
    assert bad.value.field == "site_id"
    with db.uow(S.cdmo_actor()) as uow, pytest.raises(Conflict):
        settings.add_suite(uow, admin, site_id=w.ids["mfg_a"], code="lei-01")
    with db.uow(S.cdmo_actor()) as uow, pytest.raises(InputError) as bad:
        settings.add_downtime(
            uow, admin, w.ids["suite_1"], first_day="2030-01-05", last_day="2030-01-01", reason="x"
        )
    assert bad.value.field == "last_day"
    with db.uow(S.cdmo_actor()) as uow, pytest.raises(NotFound):
        settings.add_downtime(
            uow,
            w.scopes["b.clinical"],
            w.ids["suite_1"],
            first_day=TODAY,
            last_day=TODAY,
            reason="x",
        )


def test_far_off_dates_are_refused_where_they_enter(db: Database) -> None:
    """9999-12-31 is valid ISO but would break every plan of the CDMO (review finding)."""
    from vein2vein.core.errors import InputError

    w = S.build(db)
    with pytest.raises(InputError) as err:
        S.place(w, subject="HLX-FAR", apheresis_in_days=365 * 7000)
    assert err.value.field == "planned_apheresis"
    with db.uow(S.cdmo_actor()) as uow, pytest.raises(InputError) as err:
        settings.add_downtime(
            uow, w.scopes["admin"], 1, first_day="9999-12-31", last_day="9999-12-31", reason="x"
        )
    assert err.value.field == "first_day"
    S.draft(w, method="greedy")  # planning still works


def test_two_publishers_at_once_get_one_version_and_one_conflict(db: Database) -> None:
    import threading

    w = S.build(db)
    _three_orders(w)
    first, second = S.draft(w, method="greedy"), S.draft(w, method="greedy")
    outcomes: list[object] = []
    start = threading.Barrier(2)

    def go(draft_id: int) -> None:
        start.wait()
        try:
            outcomes.append(S.publish(w, draft_id))
        except Exception as exc:  # collected for the assertions
            outcomes.append(exc)

    threads = [threading.Thread(target=go, args=(d,)) for d in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], Conflict), outcomes
    with db.read() as session:
        assert [p.version for p in session.scalars(select(PublishedPlan))] == [1]


def test_a_suite_down_that_restarts_a_running_batch_is_not_publishable(db: Database) -> None:
    """The published plan must not assume a batch failure the store has not recorded."""
    w = S.build(db)
    ids = _three_orders(w)  # CRV-1-0001 is in manufacturing
    S.publish(w, S.draft(w, method="greedy"))
    admin = w.scopes["admin"]
    with db.read() as session:
        v1 = views.plan_detail(session, admin, views.latest_plan_id(session, admin))
    running = next(a for a in v1["assignments"] if a["order_id"] == "CRV-1-0001")
    event = {
        "kind": "suite_down",
        "suite": running["suite"],
        "first_day": TODAY.isoformat(),
        "reason": "HVAC failure",
    }
    draft_id = S.draft(w, method="greedy", events=[event])
    with pytest.raises(RuleViolation, match="CRV-1-0001"):
        S.publish(w, draft_id)
    assert ids["b1"]
