"""Capacity scheduling over HTTP: API (OpenAPI, problem documents), the plan page with its
Plotly Gantt (plotly.js served locally), the what-if page through to publication, history, and
what sponsors see (their own orders' slots only). Every published plan is re-validated."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from tests.factories import PASSWORD
from tests.integration.scheduling import world as S
from tests.webclient import client, logged_in

from vein2vein.auth import service as auth
from vein2vein.auth import tokens
from vein2vein.scheduling.tables import PlanDraft
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

TODAY = dt.date.today()


def _api(db: Database, username: str):  # type: ignore[no-untyped-def]
    with db.uow(Actor("t")) as uow:
        scope = auth.scope_of(auth.user_by_username(uow.session, username))
        _, token = tokens.create_token(uow, scope, "t", 1)
        uow.commit()
    c = client(db)
    c.headers["authorization"] = f"Bearer {token}"
    return c


@pytest.fixture
def world(sqlite_db: Database) -> S.World:
    w = S.build(sqlite_db)
    S.place(w, subject="HLX-001", required_in_days=30)
    S.place(w, subject="HLX-002", material="fresh", positive="hbv")
    b1 = S.place(w, "b", subject="CRV-001", apheresis_in_days=-6)
    S.start_manufacturing(w, b1, "CRV-001", "b")
    return w


def test_api_draft_publish_history_gantt_and_scope(world: S.World) -> None:
    db = world.db
    qa, sponsor, operator = _api(db, "qa"), _api(db, "a.clinical"), _api(db, "operator")
    spec = qa.get("/api/openapi.json").json()
    assert "/api/schedule/drafts/{draft_id}/publish" in spec["paths"]
    assert operator.post("/api/schedule/drafts", json={}).status_code == 403
    r = qa.post("/api/schedule/drafts", json={"method": "cpsat", "time_limit": 1})
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["validation"]["ok"] and draft["after"]["scheduled"] == 3
    assert qa.post("/api/schedule/drafts", json={"time_limit": 30}).status_code == 422
    r = qa.post(f"/api/schedule/drafts/{draft['id']}/publish", json={"comment": "v1"})
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["version"] == 1 and plan["valid"] and plan["solver"]["method"] == "cpsat"
    assert S.assert_published_plans_valid(db) == 1
    history = operator.get("/api/schedule/plans").json()
    assert [p["version"] for p in history] == [1]
    figure = operator.get(f"/api/schedule/plans/{plan['id']}/gantt").json()
    assert figure["data"] and figure["layout"]["xaxis"]["type"] == "date"
    risk = operator.get("/api/schedule/at-risk", params={"margin_days": 60}).json()
    assert {r["order_id"] for r in risk["at_risk"]} >= {"HLX-1-0001"}
    # the sponsor: own slots only, the plan itself is not theirs
    slots = sponsor.get("/api/schedule/slots")
    assert sorted(s["order_number"] for s in slots.json()) == ["HLX-1-0001", "HLX-1-0002"]
    assert "CRV" not in slots.text and "LEI-" not in slots.text
    assert sponsor.get(f"/api/schedule/plans/{plan['id']}").status_code == 404
    assert sponsor.get(f"/api/schedule/drafts/{draft['id']}").status_code == 404
    assert sponsor.get("/api/schedule/plans").status_code == 403


def test_api_refuses_an_invalid_plan_with_the_violations(world: S.World) -> None:
    qa = _api(world.db, "qa")
    draft = qa.post("/api/schedule/drafts", json={}).json()
    with world.db.uow(Actor("t")) as uow:  # as if a solver returned a plan with a late start
        d = uow.session.scalars(select(PlanDraft).where(PlanDraft.id == draft["id"])).one()
        payload = dict(d.payload)
        plan = dict(payload["plan"])
        plan["assignments"] = [dict(a) for a in plan["assignments"]]
        first = next(a for a in plan["assignments"] if a["order_id"] == "HLX-1-0002")
        day = dt.date.fromisoformat(first["start"]) + dt.timedelta(days=30)
        first.update(start=str(day), end=str(day + dt.timedelta(days=10)))
        first.update(release=str(day + dt.timedelta(days=13)))
        first.update(ship=str(day + dt.timedelta(days=15)))
        payload["plan"] = plan
        d.payload = payload
        uow.commit()
    r = qa.post(f"/api/schedule/drafts/{draft['id']}/publish", json={})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "hold_exceeded" in r.json()["detail"]
    assert S.assert_published_plans_valid(world.db) == 0


def test_pages_whatif_to_publication_and_sponsor_view(world: S.World) -> None:
    db = world.db
    c, csrf = logged_in(db, "qa", PASSWORD)
    page = c.get("/schedule")
    assert page.status_code == 200 and "No plan has been published yet" in page.text
    assert 'href="/schedule"' in page.text  # navigation item
    r = c.post("/schedule/whatif", data={"csrf_token": csrf, "kind": "none", "method": "greedy"})
    assert r.status_code == 200 and "/schedule/drafts/" in str(r.url)
    assert '<script src="/assets/plotly.min.js"></script>' in r.text
    assert "cdn" not in r.text.lower()
    draft_id = int(re.search(r"/schedule/drafts/(\d+)", str(r.url)).group(1))  # type: ignore[union-attr]
    r = c.post(f"/schedule/drafts/{draft_id}/publish", data={"csrf_token": csrf, "comment": "x"})
    assert r.status_code == 200 and "/schedule/plans/" in str(r.url)
    assert "version 1" in r.text and 'id="gantt"' in r.text
    # what-if: a suite goes down, preview shows before/after and the diff, then publish
    suite = re.search(r"<td>(LEI-X\d)</td>", r.text).group(1)  # type: ignore[union-attr]
    form = {
        "csrf_token": csrf,
        "kind": "suite_down",
        "suite": suite,
        "first_day": str(TODAY),
        "last_day": str(TODAY + dt.timedelta(days=40)),
        "reason": "isolator leak",
        "method": "cpsat",
        "time_limit": "1",
    }
    r = c.post("/schedule/whatif", data=form)
    assert r.status_code == 200, r.text[:300]
    assert "Published v1" in r.text and "This preview" in r.text
    assert 'data-kind="moved"' in r.text
    r = c.post(r.url.path + "/publish", data={"csrf_token": csrf, "comment": "leak"})
    assert "version 2" in r.text
    history = c.get("/schedule/plans")
    assert "v2" in history.text and "v1" in history.text
    suites = c.get("/schedule/suites")
    assert "isolator leak" in suites.text
    assert S.assert_published_plans_valid(db) == 2
    # a bad what-if is shown on the form, nothing computed
    bad = c.post("/schedule/whatif", data=form | {"time_limit": "60"})
    assert bad.status_code == 422 and "time limit" in bad.text
    # the sponsor sees their own slots, nothing of the suites or other clients
    s, _ = logged_in(db, "a.viewer", PASSWORD)
    mine = s.get("/schedule")
    assert mine.status_code == 200 and "HLX-1-0001" in mine.text
    assert "CRV-1" not in mine.text and "LEI-" not in mine.text and "plotly" not in mine.text
    assert s.get("/schedule/plans").status_code == 403
    assert s.get("/schedule/suites").status_code == 403


def test_odd_numbers_in_forms_and_queries_are_not_errors(world: S.World) -> None:
    c, csrf = logged_in(world.db, "qa", PASSWORD)
    for url in ("/schedule?margin_days=%C2%B2", "/schedule?margin_days=" + "9" * 5000):
        assert c.get(url).status_code == 200, url
    r = c.post("/schedule/suites", data={"site_id": "²", "code": "X-1", "csrf_token": csrf})
    assert r.status_code < 500


def test_suites_page_forms_add_a_suite_and_downtime_and_show_errors(world: S.World) -> None:
    from vein2vein.scheduling.tables import Downtime, Suite

    c, csrf = logged_in(world.db, "qa", PASSWORD)
    with world.db.read() as session:
        site_id = session.scalars(select(Suite.site_id)).first()
    r = c.post(
        "/schedule/suites",
        data={
            "site_id": str(site_id),
            "code": "NEW-01",
            "csrf_token": csrf,
            "available_from": "2026-01-01",
        },
    )
    assert r.status_code == 200 and "NEW-01" in r.text
    with world.db.read() as session:
        suite = session.scalars(select(Suite).where(Suite.code == "NEW-01")).one()
    bad = c.post(
        f"/schedule/suites/{suite.id}/downtime",
        data={
            "first_day": "9999-12-31",
            "last_day": "9999-12-31",
            "reason": "x",
            "csrf_token": csrf,
        },
    )
    assert bad.status_code == 422 and "plausible range" in bad.text
    ok = c.post(
        f"/schedule/suites/{suite.id}/downtime",
        data={
            "first_day": "2027-01-04",
            "last_day": "2027-01-05",
            "reason": "PM",
            "csrf_token": csrf,
        },
    )
    assert ok.status_code == 200
    with world.db.read() as session:
        assert session.scalars(select(Downtime).where(Downtime.suite_id == suite.id)).one()
