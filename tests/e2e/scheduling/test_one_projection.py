"""Issue 11, "Done when": one order on hold and one in a published plan give the same delivery,
days to spare and state on the Orders page, the order page, the plan page and the sponsor's
view (and the API), and those equal the values worked independently from the published plan's
slot (delivery = the slot's delivery day; days to spare = required-by minus delivery)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from tests.factories import PASSWORD
from tests.integration.identity import world as W
from tests.integration.scheduling import world as S
from tests.webclient import logged_in

from vein2vein.identity import custody
from vein2vein.identity.domain import Step
from vein2vein.identity.tables import Order
from vein2vein.scheduling.tables import PlanSlot
from vein2vein.store.database import Database

ATTRS = ("state", "delivery", "spare")


def _attrs(html: str) -> tuple[str, str, str]:
    found = [re.search(rf'data-{a}="([^"]*)"', html) for a in ATTRS]
    assert all(found), html[:600]
    return tuple(m.group(1) for m in found)  # type: ignore[union-attr,return-value]


def _row(html: str, number: str, table: str | None = None) -> tuple[str, str, str]:
    if table is not None:
        html = html[html.index(f'id="{table}"') :]
    m = re.search(rf'<tr data-order="{re.escape(number)}".*?</tr>', html, re.S)
    assert m, f"{number} not on the page"
    return _attrs(m.group(0))


@pytest.fixture
def world(sqlite_db: Database) -> tuple[S.World, dict[str, int]]:
    w = S.build(sqlite_db)
    held = S.place(w, subject="HLX-001", apheresis_in_days=2, required_in_days=30)
    planned = S.place(w, subject="HLX-002", apheresis_in_days=2, required_in_days=30)
    # the held order's receipt is scanned with the other order's DIN: a hand-off mismatch
    W.assign_din(w, held)
    wrong = W.assign_din(w, planned)
    at = W.walk(w, held, Step.SHIPPED, start=dt.datetime.now(dt.UTC) - dt.timedelta(hours=70))
    with w.db.read() as session:
        coi = session.get_one(Order, held).coi
    with pytest.raises(custody.HandoffStopped):
        W.record(w, held, Step.RECEIVED, at, scans=W.label_scans(wrong, coi))
    S.publish(w, S.draft(w))
    return w, {"planned": planned, "held": held}


def test_every_screen_gives_the_same_projection(world) -> None:  # type: ignore[no-untyped-def]
    w, ids = world
    with w.db.read() as session:
        numbers = {k: session.get_one(Order, v).number for k, v in ids.items()}
        slots = {
            s.order_id: s
            for s in session.scalars(select(PlanSlot).where(PlanSlot.order_id.in_(ids.values())))
        }
    # independent values: the published plan's slot of the planned order
    slot = slots[ids["planned"]]
    assert slot.status == "planned" and slot.ship is not None
    spare = (slot.required_by - slot.ship).days
    expected_state = "on_track" if spare > 2 else "at_risk" if spare >= 0 else "late"
    expected = {"planned": (expected_state, slot.ship.isoformat(), str(spare))}

    operator, _ = logged_in(w.db, "operator", PASSWORD)
    sponsor, _ = logged_in(w.db, "a.clinical", PASSWORD)
    seen: dict[str, dict[str, tuple[str, str, str]]] = {k: {} for k in ids}
    for who, c in (("cdmo", operator), ("sponsor", sponsor)):
        orders = c.get("/coi")
        assert orders.status_code == 200
        for key, number in numbers.items():
            seen[key][f"orders page ({who})"] = _row(orders.text, number, "orders")
            page = c.get(f"/coi/orders/{ids[key]}").text
            block = page[page.index('id="projection"') :]
            seen[key][f"order page ({who})"] = _attrs(block[: block.index("</dd>")])
            api = c.get("/api/coi/orders").json()
            p = next(o["projection"] for o in api if o["id"] == ids[key])
            seen[key][f"API ({who})"] = (p["state"], p["delivery"], str(p["days_to_spare"]))
    plan = operator.get("/schedule").text
    slots_page = sponsor.get("/schedule").text
    for key, number in numbers.items():
        seen[key]["plan page"] = _row(plan, number, "batches")
        seen[key]["sponsor's slots"] = _row(slots_page, number, "slots")
    for key, views in seen.items():
        assert len(set(views.values())) == 1, f"{key}: {views}"
    assert seen["planned"]["plan page"] == expected["planned"]
    held = seen["held"]["plan page"]
    assert held[0] == "on_hold"  # never on track, whatever its days to spare
    # the sources are named: the plan for both (the held order is in the plan too)
    assert "Source: published plan v1" in operator.get(f"/coi/orders/{ids['planned']}").text
    assert "hand-off mismatch #" in sponsor.get("/coi").text


def test_the_gantt_colours_the_latest_plan_by_the_same_projection(world) -> None:  # type: ignore[no-untyped-def]
    """The Gantt is a screen too: the held order's bar is "on hold", not "on time" by the plan's
    own days (before, its colour came from the plan's slack alone)."""
    w, ids = world
    with w.db.read() as session:
        numbers = {k: session.get_one(Order, v).number for k, v in ids.items()}
        plan_id = session.scalars(select(PlanSlot.plan_id)).first()
    operator, _ = logged_in(w.db, "operator", PASSWORD)
    figure = operator.get(f"/api/schedule/plans/{plan_id}/gantt").json()
    legend_of = {}
    for trace in figure["data"]:
        for label in trace.get("text") or []:
            legend_of[label] = trace["name"]
    assert legend_of[numbers["held"][:12]].startswith("on hold")
    assert legend_of[numbers["planned"][:12]].startswith(("on time", "at risk"))
    page = operator.get("/schedule").text
    assert "coloured by their order's delivery projection" in page


def test_an_open_deviation_blocks_the_order_on_every_screen(world) -> None:  # type: ignore[no-untyped-def]
    """Issue 11: an order with an open deviation is never "on track"; the blocker names the
    deviation's number only (its title may name another client's order)."""
    from vein2vein.manufacturing import deviations

    w, ids = world
    with w.db.uow(w.actor("qa")) as uow:
        dev = deviations.open_deviation(
            uow,
            w.scopes["qa"],
            title="Incubator CO2 alarm",
            description="CO2 below 4.5 % for 40 min during expansion",
            order_id=ids["planned"],
        )
        number = dev.number
        uow.commit()
    with w.db.read() as session:
        planned = session.get_one(Order, ids["planned"]).number
    operator, _ = logged_in(w.db, "operator", PASSWORD)
    sponsor, _ = logged_in(w.db, "a.clinical", PASSWORD)
    states = {
        "orders (cdmo)": _row(operator.get("/coi").text, planned, "orders")[0],
        "orders (sponsor)": _row(sponsor.get("/coi").text, planned, "orders")[0],
        "plan page": _row(operator.get("/schedule").text, planned, "batches")[0],
        "sponsor's slots": _row(sponsor.get("/schedule").text, planned, "slots")[0],
    }
    api = sponsor.get("/api/coi/orders").json()
    states["API (sponsor)"] = next(
        o["projection"]["state"] for o in api if o["id"] == ids["planned"]
    )
    assert set(states.values()) == {"blocked"}, states
    page = sponsor.get("/coi").text
    assert f"deviation {number} open" in page and "Incubator" not in page
