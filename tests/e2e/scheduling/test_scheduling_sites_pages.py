"""The plan respects the site where the material is, through the pages: the receiving site and
the shipping route are set on the suites page; material received at Leiden goes to Ghent only
with the shipping days added and a visible warning; a what-if that moves a batch to the other
site flags it; the what-if form labels every field with its unit, keeps what was typed on an
error and names the batch (order, suite, start of manufacturing) a change would restart.

Worked example (world of ``tests/integration/scheduling/world.py`` with one suite at each site):
the order's apheresis is in 2 days and the product's inbound time is 1 day, so the material is
received at Leiden on today + 3; fresh, it may wait 3 days (until today + 6); with a 2-day route
it can start at Ghent on today + 5 at the earliest (the product starts any weekday)."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select
from tests.factories import PASSWORD
from tests.integration.scheduling import world as S
from tests.webclient import logged_in

from vein2vein.identity.tables import Facility
from vein2vein.scheduling import settings
from vein2vein.scheduling.tables import PublishedPlan
from vein2vein.store.database import Database

TODAY = dt.date.today()


@pytest.fixture
def world(sqlite_db: Database) -> S.World:
    return S.build(sqlite_db, suites=(1, 0))  # LEI-01 at Site A (Leiden), GHE-01 at Site B


def _set_sites(w: S.World, c, csrf: str, route_days: str) -> None:  # type: ignore[no-untyped-def]
    with w.db.read() as session:
        facility = session.scalars(select(Facility)).one()
    r = c.post(
        "/schedule/receiving-sites",
        data={"csrf_token": csrf, "facility_id": str(facility.id), "site_id": str(w.ids["mfg_a"])},
    )
    assert r.status_code == 200 and "/schedule/suites" in str(r.url), r.text[:300]
    r = c.post(
        "/schedule/transfers",
        data={
            "csrf_token": csrf,
            "from_site_id": str(w.ids["mfg_a"]),
            "to_site_id": str(w.ids["mfg_b"]),
            "days": route_days,
        },
    )
    assert r.status_code == 200, r.text[:300]
    row = re.search(r'<tr data-facility="A9999">.*?</tr>', r.text, re.S)
    assert row is not None and "Site A" in row.group(0)


def _compute(c, csrf: str, **form: str):  # type: ignore[no-untyped-def]
    r = c.post("/schedule/whatif", data={"csrf_token": csrf, "method": "greedy"} | form)
    assert r.status_code == 200 and "/schedule/drafts/" in str(r.url), r.text[:500]
    return r


def _down(w: S.World, suite: str, days: int = 60) -> None:
    with w.db.uow(w.actor("admin")) as uow:
        settings.add_downtime(
            uow,
            w.scopes["admin"],
            w.ids[suite],
            first_day=TODAY,
            last_day=TODAY + dt.timedelta(days=days),
            reason="requalification",
        )
        uow.commit()


def test_material_goes_to_the_other_site_only_with_shipping_days_and_a_warning(
    world: S.World,
) -> None:
    c, csrf = logged_in(world.db, "qa", PASSWORD)
    # fresh material: 3 days' hold, so it cannot wait at Leiden for the suite to come back
    S.place(world, subject="HLX-001", apheresis_in_days=2, required_in_days=40, material="fresh")
    _set_sites(world, c, csrf, route_days="")  # the route is closed
    assert "closed: no material goes this way" in c.get("/schedule/suites").text
    _down(world, "suite_1")  # Leiden's only suite is down for 60 days
    r = _compute(c, csrf, kind="none")
    assert 'id="site-warnings"' not in r.text
    at_risk = r.text[r.text.index('id="at-risk"') :]
    assert "HLX-1-0001" in at_risk, at_risk[:1500]
    assert "no shipping route to Site B" in at_risk  # unscheduled, and why

    _set_sites(world, c, csrf, route_days="2")
    r = _compute(c, csrf, kind="none")
    warning = re.search(
        r'<div class="warning" role="status" id="site-warnings".*?</div>', r.text, re.S
    )
    assert warning is not None, r.text[:2000]
    assert "HLX-1-0001 in GHE-01: received at Site A, made at Site B, 2 days of shipping" in (
        re.sub(r"\s+", " ", warning.group(0))
    )
    r = c.post(r.url.path + "/publish", data={"csrf_token": csrf, "comment": "shipped"})
    assert "version 1" in r.text and 'id="site-warnings"' in r.text
    assert S.assert_published_plans_valid(world.db) == 1
    with world.db.read() as session:
        plan = session.scalars(select(PublishedPlan)).one()
        (row,) = plan.plan["assignments"]
    receipt = TODAY + dt.timedelta(days=3)
    assert row["suite"] == "GHE-01"
    assert row["start"] == (receipt + dt.timedelta(days=2)).isoformat()
    assert row["transfer"] == {"from_site": "Site A", "to_site": "Site B", "days": 2}


def test_a_whatif_that_moves_a_batch_to_the_other_site_flags_it(world: S.World) -> None:
    c, csrf = logged_in(world.db, "qa", PASSWORD)
    S.place(world, subject="HLX-001", apheresis_in_days=2, required_in_days=40)
    _set_sites(world, c, csrf, route_days="1")
    r = _compute(c, csrf, kind="none")
    assert 'id="site-warnings"' not in r.text  # the material stays at Leiden
    assert re.search(r"<td>HLX-1-0001</td><td>LEI-01</td>", r.text)
    c.post(r.url.path + "/publish", data={"csrf_token": csrf, "comment": "v1"})
    r = _compute(
        c,
        csrf,
        kind="suite_down",
        suite="LEI-01",
        first_day=str(TODAY),
        last_day=str(TODAY + dt.timedelta(days=60)),
        reason="isolator leak",
    )
    assert 'data-site-moved="Site A -> Site B"' in r.text
    assert "moved to another site: Site A → Site B" in r.text
    assert 'data-shipped="HLX-1-0001"' in r.text


class _Controls(HTMLParser):
    """The what-if form's controls, and whether each is inside a label or named by one."""

    def __init__(self) -> None:
        super().__init__()
        self.in_form = self.labels = 0
        self.label_for: set[str] = set()
        self.controls: list[tuple[str, str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and a.get("id") == "whatif":
            self.in_form = 1
        elif tag == "label" and self.in_form:
            self.labels += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag in ("input", "select") and self.in_form and a.get("type") != "hidden":
            self.controls.append((str(a.get("name")), str(a.get("id") or ""), self.labels > 0))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self.labels:
            self.labels -= 1
        elif tag == "form":
            self.in_form = 0


def _form_values(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input[^>]*name="([a-z_]+)"[^>]*value="([^"]*)"', html))


def test_whatif_form_is_labelled_keeps_its_values_and_names_the_batch(world: S.World) -> None:
    c, csrf = logged_in(world.db, "qa", PASSWORD)
    page = c.get("/schedule/whatif").text
    parser = _Controls()
    parser.feed(page)
    names = {n for n, _, _ in parser.controls}
    assert {"suite", "first_day", "last_day", "reason", "order", "on", "retry_receipt"} <= names
    assert {"retry_max_hold_days", "product_code", "receipt_date", "required_by"} <= names
    assert {"starting_material", "infectious", "time_limit", "method", "mode"} <= names
    unlabelled = [n for n, i, inside in parser.controls if not inside and i not in parser.label_for]
    assert unlabelled == []
    for unit in ("(days)", "(date)", "(seconds, at most 8)", "(order number)"):
        assert unit in page

    # a refused what-if: the message names the suite, the form keeps what was typed
    form = {
        "csrf_token": csrf,
        "kind": "suite_down",
        "suite": "GHE-01",
        "first_day": str(TODAY + dt.timedelta(days=5)),
        "last_day": str(TODAY + dt.timedelta(days=1)),
        "reason": "isolator leak",
        "method": "cpsat",
        "time_limit": "3",
    }
    r = c.post("/schedule/whatif", data=form)
    assert r.status_code == 422
    assert "suite GHE-01: the last day down" in r.text
    kept = _form_values(r.text)
    assert kept["first_day"] == form["first_day"] and kept["last_day"] == form["last_day"]
    assert kept["reason"] == "isolator leak" and kept["time_limit"] == "3"
    assert re.search(r'<input type="radio" name="kind" value="suite_down" checked>', r.text)
    assert re.search(r'<option value="GHE-01" selected>', r.text)
    assert re.search(r'<option value="cpsat" selected>', r.text)
    assert re.search(r'name="last_day"[^>]*aria-invalid="true"', r.text)

    # a suite taken down under a started batch: the preview and the refusal name the batch
    b1 = S.place(world, "b", subject="CRV-001", apheresis_in_days=-6)
    S.start_manufacturing(world, b1, "CRV-001", "b")
    r = _compute(c, csrf, kind="none")
    c.post(r.url.path + "/publish", data={"csrf_token": csrf, "comment": "v1"})
    with world.db.read() as session:
        plan = session.scalars(select(PublishedPlan)).one()
        started = next(a for a in plan.plan["assignments"] if a["order_id"] == "CRV-1-0001")
    down = form | {"suite": started["suite"], "first_day": str(TODAY), "last_day": ""}
    r = c.post("/schedule/whatif", data=down)
    assert r.status_code == 200, re.findall(r'id="whatif-error">([^<]*)', r.text)
    assert 'data-restarted="CRV-1-0001"' in r.text
    named = (
        f"order CRV-1-0001 in suite {started['suite']}, manufacturing started {started['start']}"
    )
    assert named in re.sub(r"\s+", " ", r.text)
    refused = c.post(r.url.path + "/publish", data={"csrf_token": csrf, "comment": "x"})
    assert refused.status_code == 422 and named in refused.text
