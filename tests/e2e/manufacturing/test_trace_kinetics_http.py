"""Kinetics on the batch page and in ``GET /api/batches/{id}``, and the genealogy pages
(``/trace``, ``/trace/batch/{id}``, ``/trace/lot/{lot}`` and their CSV files), through HTTP with
batches of the demo EpCAM v1 MBR made through the real services.

Kinetics, worked: three earlier complete batches harvest 2, 3 and 5 × 10^9 cells (day 5: 6, 8
and 10 × 10^8); the fourth is seeded with 1.0 × 10^8 on day 0 and harvests 4.0 × 10^9 on day 9:
FE 40, PD log₂ 40 = 5.3219, DT 216 h / 5.3219 = 40.59 h; at the harvest the envelope is lowest
2, median 3, highest 5 × 10^9 (n = 3). The first batch has no earlier batch and the third two:
no envelope yet."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterator
from typing import Any

import pytest
from tests import batch_world as BW
from tests.factories import PASSWORD
from tests.integration.identity import world as W
from tests.integration.manufacturing import test_batches as T
from tests.webclient import client, logged_in

from vein2vein.auth import tokens
from vein2vein.core.clock import set_clock
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

#: process day of each step of epcam_v1.yaml
DAY = {"TRANSDUCE": 1, "EXPAND": 5, "HARVEST": 9, "FORMULATE": 9, "FREEZE": 9}
STEPS = ("RECEIPT", "SELECT", "ACTIVATE", "TRANSDUCE", "EXPAND", "HARVEST", "FORMULATE", "FREEZE")


class StepClock:
    """A second per reading, jumping to the process day of the step being worked."""

    def __init__(self, start: dt.datetime) -> None:
        self.start = self.now = start

    def day(self, step: str) -> None:
        self.now = max(self.now, self.start + dt.timedelta(days=DAY.get(step, 0)))

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture
def step_clock() -> Iterator[StepClock]:
    clock = StepClock(dt.datetime.now(dt.UTC) - dt.timedelta(days=40))
    set_clock(clock)
    yield clock
    set_clock(None)


def run_batch(w: W.World, clock: StepClock, subject: str, day5: float, harvest: float,
              upto: str = "FREEZE") -> int:  # fmt: skip
    """A batch of a new order worked through ``upto`` on its process days; ``day5`` in 10^8
    cells, ``harvest`` in 10^9 cells."""
    clock.start = clock.now = clock.now + dt.timedelta(days=12)
    batch_id = T.new_batch(w, BW.order_with_din(w, subject=subject))
    values = {
        "EXPAND": {"viable_cells_d5": (day5, "10^8 cells")},
        "HARVEST": {"viable_cells": (harvest, "10^9 cells")},
    }
    for step in STEPS:
        clock.day(step)
        T.run_step(w, batch_id, step, values.get(step))
        if step == upto:
            break
    return batch_id


def _api(db: Database, w: W.World, who: str):  # type: ignore[no-untyped-def]
    with db.uow(Actor("t")) as uow:
        _, token = tokens.create_token(uow, w.scopes[who], "t", 1)
        uow.commit()
    c = client(db)
    c.headers["authorization"] = f"Bearer {token}"
    return c


def test_kinetics_against_the_envelope_of_earlier_batches(
    sqlite_db: Database, step_clock: StepClock
) -> None:
    db = sqlite_db
    w = BW.build(db)
    first = run_batch(w, step_clock, "HLX-001", 6.0, 2.0)
    run_batch(w, step_clock, "HLX-002", 8.0, 3.0)
    third = run_batch(w, step_clock, "HLX-003", 10.0, 5.0)
    fourth = run_batch(w, step_clock, "HLX-004", 9.0, 4.0, upto="HARVEST")
    set_clock(None)
    ops, sponsor = _api(db, w, "operator"), _api(db, w, "a.viewer")

    k = ops.get(f"/api/batches/{fourth}").json()["kinetics"]
    assert math.isclose(k["fold_expansion"], 40.0)
    assert math.isclose(k["doublings"], math.log2(40))
    # seeded a few seconds after day 0, harvested a few seconds after day 9
    assert math.isclose(k["elapsed_days"], 9.0, abs_tol=0.01)
    assert math.isclose(k["doubling_time_h"], 216 / math.log2(40), abs_tol=0.05)  # 40.59 h
    assert math.isclose(k["doubling_time_h"], k["doubling_time_days"] * 24)
    assert (k["earlier_batches"], k["envelope_drawn"], k["counts_used"]) == (3, True, 4)
    by = {p["point"]: p for p in k["points"]}
    harvest = by["HARVEST.viable_cells"]
    assert (harvest["day"], harvest["cells"], harvest["n"]) == (9, 4.0e9, 3)
    assert (harvest["low"], harvest["median"], harvest["high"]) == pytest.approx((2e9, 3e9, 5e9))
    day5 = by["EXPAND.viable_cells_d5"]
    assert (day5["day"], day5["low"], day5["median"], day5["high"]) == (
        5, pytest.approx(6e8), pytest.approx(8e8), pytest.approx(1e9),
    )  # fmt: skip
    assert [p["day"] for p in k["points"]] == [0, 1, 5, 9]

    pages, _ = logged_in(db, "operator", PASSWORD)
    text = pages.get(f"/batches/{fourth}").text
    assert '<h2 id="kinetics">Kinetics</h2>' in text
    assert "40.0-fold" in text and "5.32 doublings" in text and "40.6 h (1.69 days)" in text
    assert 'data-envelope="drawn" data-earlier="3"' in text
    assert "Envelope of 3 earlier batches of the same MBR version" in text
    assert 'id="growth-chart"' in text and "/assets/plotly.min.js" in text
    assert "earlier batches: median" in text  # the band and median are in the figure
    row = text.split('data-point="HARVEST.viable_cells"')[1].split("</tr>")[0]
    for shown in ("4.00 × 10⁹", "2.00 × 10⁹", "3.00 × 10⁹", "5.00 × 10⁹", "<td>3</td>"):
        assert shown in row

    # the first batch has no earlier batch, the third two: no envelope yet
    early = ops.get(f"/api/batches/{first}").json()["kinetics"]
    assert (early["earlier_batches"], early["envelope_drawn"]) == (0, False)
    assert early["points"][-1]["low"] is None and math.isclose(early["fold_expansion"], 20.0)
    text = pages.get(f"/batches/{third}").text
    assert 'data-envelope="none" data-earlier="2"' in text
    assert "No envelope yet: 2 earlier batches of the same MBR version (at least 3 needed)" in text
    assert "earlier batches: median" not in text

    # the sponsor reads its batch's status, not its kinetics
    assert sponsor.get(f"/api/batches/{fourth}").json()["kinetics"] is None
    sponsor_page, _ = logged_in(db, "a.viewer", PASSWORD)
    assert "Kinetics" not in sponsor_page.get(f"/batches/{fourth}").text

    # documented in OpenAPI
    spec = ops.get("/api/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "kinetics" in schemas["BatchDetail"]["properties"]
    assert {"fold_expansion", "doublings", "doubling_time_h", "envelope_drawn", "points"} <= set(
        schemas["BatchKinetics"]["properties"]
    )
    assert "median" in schemas["KineticsPoint"]["properties"]


def test_a_batch_with_one_count_has_no_growth_numbers(sqlite_db: Database) -> None:
    db = sqlite_db
    w = BW.build(db)
    bid = T.new_batch(w, BW.order_with_din(w))
    for step in ("RECEIPT", "SELECT", "ACTIVATE"):
        T.run_step(w, bid, step)
    pages, _ = logged_in(db, "operator", PASSWORD)
    text = pages.get(f"/batches/{bid}").text
    assert "No growth numbers: kinetics need at least two cell counts entered." in text
    assert "1 of 4 viable cell counts entered" in text
    assert "No envelope yet: 0 earlier batches" in text
    assert 'id="growth-chart"' in text  # one count is drawn


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.text)))


def test_genealogy_pages_links_csv_and_who_may_see_them(sqlite_db: Database) -> None:
    db = sqlite_db
    w = BW.build(db)
    b1 = T.new_batch(w, BW.order_with_din(w, subject="HLX-001"))
    for step in ("RECEIPT", "SELECT", "ACTIVATE", "TRANSDUCE"):
        T.run_step(w, b1, step)
    o2 = BW.order_with_din(w, subject="HLX-002")
    b2 = T.new_batch(w, o2)
    T.run_step(w, b2, "RECEIPT")
    T.run_step(w, b2, "SELECT", sign=False)
    r1, r2 = T.record(w, b1), T.record(w, b2)
    ops, _ = logged_in(db, "operator", PASSWORD)

    # backward trace of batch 1: lots with status, expiry, quantities; equipment
    page = ops.get(f"/trace/batch/{b1}")
    assert page.status_code == 200, page.text
    text = page.text
    assert f'href="/batches/{b1}"' in text and r1.coi in text and r1.din in text
    vector = text.split('data-lot="LV-EPC-2026-001"')[1].split("</tr>")[0]
    assert 'href="/trace/lot/LV-EPCAM:LV-EPC-2026-001"' in vector
    assert f'href="/lots/{w.ids["lot:LV-EPCAM"]}"' in vector
    assert "Released" in vector and "10.000 mL" in vector and "by operator" in vector
    expiry = dt.date.today() + dt.timedelta(days=300)
    assert expiry.strftime("%d\u00a0%b\u00a0%Y") in vector
    counter = text.split('data-instrument="COUNTER-0001"')[1].split("</tr>")[0]
    assert "RECEIPT" in text and "by operator" in counter
    assert BW.instrument("COUNTER")[1].strftime("%d\u00a0%b\u00a0%Y") in counter
    assert f'href="/trace/batch/{b1}/csv"' in text

    rows = _csv(ops.get(f"/trace/batch/{b1}/csv"))
    assert ops.get(f"/trace/batch/{b1}/csv").headers["content-disposition"] == (
        f'attachment; filename="trace-batch-{b1}.csv"'
    )
    lots_ = [r for r in rows if r["kind"] == "lot"]
    assert [(r["step"], r["code"], r["lot_number"]) for r in lots_][:2] == [
        ("RECEIPT", "APH", r1.din),
        ("SELECT", "CD4CD8", "CD4CD8-L1"),
    ]
    lv = next(r for r in lots_ if r["code"] == "LV-EPCAM")
    assert (lv["lot_status"], lv["expiry"], lv["scanned_by"], lv["coi"]) == (
        "released", expiry.isoformat(), "operator", r1.coi,
    )  # fmt: skip
    assert lv["scanned_at"].endswith("Z") and lv["batch"] == str(b1)
    equipment = [
        (r["step"], r["code"], r["instrument"], r["calibration_due"], r["calibration"])
        for r in rows
        if r["kind"] == "equipment"
    ]
    due = BW.instrument("COUNTER")[1].isoformat()
    assert ("RECEIPT", "COUNTER", "COUNTER-0001", due, "ok") in equipment
    assert ("SELECT", "PRODIGY", "PRODIGY-0001", due, "ok") in equipment

    # forward trace of the selection reagent lot: both batches, orders, CoI, sites
    page = ops.get("/trace/lot/CD4CD8-L1")
    assert page.status_code == 200, page.text
    text = page.text
    for bid, rec in ((b1, r1), (b2, r2)):
        row = text.split(f'<tr data-batch="{bid}">')[1].split("</tr>")[0]
        assert rec.coi in row and f'href="/trace/batch/{bid}"' in row and "SELECT" in row
        assert BW.SITE in row and "In progress" in row
    assert f'href="/coi/orders/{o2}"' in text
    assert 'data-received="2"' in text  # two patients received the lot
    assert 'href="/trace/lot/CD4CD8:CD4CD8-L1/csv"' in text
    same = ops.get("/trace/lot/CD4CD8:CD4CD8-L1")
    assert same.status_code == 200 and f'<tr data-batch="{b2}">' in same.text
    rows = _csv(ops.get("/trace/lot/CD4CD8:CD4CD8-L1/csv"))
    assert [(r["batch"], r["coi"], r["step"], r["batch_status"]) for r in rows] == [
        (str(b1), r1.coi, "SELECT", "IN_PROGRESS"),
        (str(b2), r2.coi, "SELECT", "IN_PROGRESS"),
    ]
    assert {r["lot_number"] for r in rows} == {"CD4CD8-L1"}
    assert {r["manufacturing_site"] for r in rows} == {BW.SITE}
    # a lot no batch used: the file still names the lot
    unused = _csv(ops.get("/trace/lot/CS10-L1/csv"))
    assert [(r["lot_number"], r["batch"]) for r in unused] == [("CS10-L1", "")]

    # the search box and the lists
    found = ops.get("/trace", params={"lot": " CD4CD8-L1 "}, follow_redirects=False)
    assert (found.status_code, found.headers["location"]) == (303, "/trace/lot/CD4CD8:CD4CD8-L1")
    missing = ops.get("/trace", params={"lot": "NO-SUCH-LOT"})
    assert missing.status_code == 404 and "lot NO-SUCH-LOT not found" in missing.text
    assert 'name="lot"' in missing.text
    bad = ops.get("/trace", params={"lot": "CD4\x00CD8"})  # a NUL would fail on PostgreSQL
    assert bad.status_code == 422 and "control characters are not allowed" in bad.text
    assert ops.get("/trace/lot/CD4%00CD8").status_code == 422
    index = ops.get("/trace").text
    assert 'data-trace-lot="LV-EPC-2026-001"' in index and f'href="/trace/batch/{b2}"' in index
    assert 'href="/trace"' in index  # in the menu

    # links both ways: batch page → its trace; lot page → its trace
    assert f'href="/trace/batch/{b1}"' in ops.get(f"/batches/{b1}").text
    lot_page = ops.get(f"/lots/{w.ids['lot:CD4CD8']}").text
    assert 'href="/trace/lot/CD4CD8:CD4CD8-L1"' in lot_page

    # a sponsor: its own batch's trace is refused, another client's not found; no lot trace
    own, _ = logged_in(db, "a.viewer", PASSWORD)
    assert own.get(f"/trace/batch/{b1}").status_code == 403
    assert own.get(f"/trace/batch/{b1}/csv").status_code == 403
    assert own.get("/trace/lot/CD4CD8-L1").status_code == 404
    assert own.get("/trace/lot/CD4CD8-L1/csv").status_code == 404
    assert own.get("/trace").status_code == 403
    batch_page = own.get(f"/batches/{b1}").text
    assert "/trace/" not in batch_page and "Kinetics" not in batch_page
    other, _ = logged_in(db, "b.clinical", PASSWORD)
    assert other.get(f"/trace/batch/{b1}").status_code == 404
    assert other.get(f"/trace/batch/{b1}/csv").status_code == 404
    assert r1.coi not in other.get(f"/trace/batch/{b1}").text
