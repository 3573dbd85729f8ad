"""The orders in flight (``/coi``) in pages, worst first, filtered by text and delivery state
(identity/web.py ``dashboard_page``, identity/views.py ``filter_orders``), on the demo: every
order in flight appears exactly once across the pages, in the dashboard's order; the filters
keep to the caller's scope."""

from __future__ import annotations

import re

import pytest
from tests.webclient import logged_in

from vein2vein.auth import service as auth
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.identity import views, web
from vein2vein.store.database import Database

ORDER_ROW = re.compile(r'data-order="([^"]+)" data-state="([^"]+)"')


def _dashboard(db: Database, username: str) -> list[dict]:
    with db.read() as s:
        return views.dashboard(s, auth.scope_of(auth.user_by_username(s, username)))


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
def test_pages_filters_and_scope(demo_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    db = demo_db
    expected = [(r["number"], r["projection"]["state"]) for r in _dashboard(db, "operator")]
    assert len(expected) > 6
    monkeypatch.setattr(web, "PAGE_SIZE", 3)
    c, _ = logged_in(db, "operator", DEMO_PASSWORD)

    # every order in flight once, in the dashboard's order (worst first), 3 to a page
    pages = -(-len(expected) // 3)
    seen = []
    for n in range(1, pages + 1):
        html = c.get(f"/coi?page={n}").text
        rows = ORDER_ROW.findall(html)
        assert f"{3 * n - 2}–{3 * n - 3 + len(rows)} of {len(expected)} orders" in html
        assert f"page {n} of {pages}" in html
        seen += rows
    assert seen == expected
    assert ORDER_ROW.findall(c.get("/coi?page=999").text) == expected[3 * (pages - 1) :]

    # text: an order number typed with spaces and lower case finds that order only
    number = expected[-1][0]
    found = ORDER_ROW.findall(c.get("/coi", params={"q": " " + number.lower() + " "}).text)
    assert found == [expected[-1]]

    # state: only the orders in that state, and the option counts them
    state = expected[0][1]
    in_state = [e for e in expected if e[1] == state]
    html = c.get("/coi", params={"state": state}).text
    shown = ORDER_ROW.findall(html)
    assert shown == in_state[:3]
    assert re.search(rf'value="{state}" selected>[^<]+\({len(in_state)}\)', html)
    # the pager keeps the filter
    if len(in_state) > 3:
        assert f"state={state}&amp;page=2" in html

    # an unknown state is named, and the list is shown unfiltered
    html = c.get("/coi", params={"state": "nonsense"}).text
    assert "&#39;nonsense&#39; is not a delivery state" in html
    assert ORDER_ROW.findall(html) == expected[:3]
    assert "No order in flight matches." in c.get("/coi", params={"q": "no-such-order"}).text

    # a sponsor's search never finds another sponsor's orders, nor counts them
    helixa = {r["number"] for r in _dashboard(db, "helixa.clinical")}
    other = [n for n, _ in expected if n not in helixa]
    assert other, "the demo has orders of another sponsor in flight"
    sponsor, _ = logged_in(db, "helixa.clinical", DEMO_PASSWORD)
    html = sponsor.get("/coi", params={"q": other[0]}).text
    assert ORDER_ROW.findall(html) == [] and "Any (0)" in html
