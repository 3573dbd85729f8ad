"""The scheduling forms on the ``web/forms.py`` kit: odd numbers are a clear 4xx on the form,
never a 500, and each route's declared permission refuses the roles that lack it."""

from __future__ import annotations

import pytest
from tests.factories import PASSWORD
from tests.integration.scheduling import world as S
from tests.webclient import logged_in

from vein2vein.store.database import Database

ODD = ("²", "٣", "1e400", "NaN", "-1", str(10**30), "1_0", "x")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template) -> S.World:  # type: ignore[no-untyped-def]
    from tests.conftest import _sqlite_db

    db = _sqlite_db(sqlite_template, tmp_path_factory.mktemp("forms"))
    w = S.build(db)
    S.place(w, subject="HLX-001")
    return w


@pytest.mark.parametrize("odd", ODD)
def test_odd_numbers_are_refused_on_the_form(world: S.World, odd: str) -> None:
    c, csrf = logged_in(world.db, "qa", PASSWORD)
    forms = {
        "/schedule/lab": {"qc_capacity": odd, "risk_margin_days": odd},
        "/schedule/suites": {"site_id": odd, "code": "ODD-1", "changeover_days": odd},
        "/schedule/products": {"product_code": "S1234", "process_days": odd},
        "/schedule/whatif": {"kind": "none", "method": "cpsat", "time_limit": odd},
    }
    for url, data in forms.items():
        r = c.post(url, data=data | {"csrf_token": csrf})
        assert r.status_code == 422, (url, odd, r.status_code)
        assert 'class="error"' in r.text, url
    event = {"kind": "batch_failed", "order": "HLX-1-0001", "retry_max_hold_days": odd}
    r = c.post("/schedule/whatif", data=event | {"csrf_token": csrf})
    assert r.status_code == 422, odd
    for query in (odd, "9" * 400, "366"):
        assert c.get("/schedule", params={"margin_days": query}).status_code == 200


def test_each_route_refuses_the_roles_without_its_permission(world: S.World) -> None:
    db: Database = world.db
    operator, csrf = logged_in(db, "operator", PASSWORD)  # reads the plan, does not keep it
    assert operator.get("/schedule/suites").status_code == 200
    assert operator.get("/schedule/whatif").status_code == 200
    for url in ("/schedule/lab", "/schedule/suites", "/schedule/whatif", "/schedule/products"):
        assert operator.post(url, data={"csrf_token": csrf}).status_code == 403, url
    sponsor, csrf = logged_in(db, "a.viewer", PASSWORD)  # own slots only
    assert sponsor.get("/schedule").status_code == 200
    assert sponsor.get("/schedule/whatif").status_code == 403
    assert sponsor.post("/schedule/lab", data={"csrf_token": csrf}).status_code == 403
    assert sponsor.get("/schedule/drafts/1").status_code == 404  # names a record: not found
    assert sponsor.get("/api/schedule/at-risk").status_code == 403
    # the API bounds the at-risk margin (0-365 days)
    assert operator.get("/api/schedule/at-risk", params={"margin_days": 366}).status_code == 422
    assert operator.get("/api/schedule/at-risk", params={"margin_days": 365}).status_code == 404
