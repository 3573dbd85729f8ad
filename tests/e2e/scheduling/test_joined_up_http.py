"""Scheduling joined up over HTTP (issue 12): after a batch fails, the order page and the API
show the order blocked ("Re-apheresis needed") with the failure, the page's form and the API
issue a new apheresis DIN (collection 2) once, a sponsor may not, a wrong date is refused naming
the field; custody steps carry their GMP suite in the API and the page; the plan page marks a
started batch as pinned."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from tests.e2e.identity.test_identity_http import _api
from tests.factories import PASSWORD
from tests.integration.identity import world as W
from tests.integration.scheduling import test_batches_in_plan as J
from tests.integration.scheduling import world as SW
from tests.webclient import logged_in

from vein2vein.identity.domain import Step
from vein2vein.manufacturing import batches
from vein2vein.manufacturing.tables import Batch
from vein2vein.store.database import Database


@pytest.fixture
def world(sqlite_db: Database) -> W.World:
    return J.build(sqlite_db)


def test_failed_batch_new_apheresis_and_suites_over_http(world: W.World) -> None:
    db = world.db
    oid = J.received(world, "HLX-001", batch_suite="GHE-01")
    with db.read() as session:
        batch_id = session.scalars(select(Batch.id).where(Batch.order_id == oid)).one()
    J.act(world, "operator", batches.start_step, batch_id, "RECEIPT")
    J.record(world, oid, Step.MANUFACTURING_STARTED, batch_number="B-1")
    SW.publish(world, J.draft(world, mode="plan")["id"])
    page, csrf = logged_in(db, "operator", PASSWORD)
    plan = page.get("/schedule")
    assert plan.status_code == 200 and "started: pinned" in plan.text
    site, ops = _api(db, "a.clinical"), _api(db, "operator")
    events = ops.get(f"/api/coi/orders/{oid}").json()["events"]
    assert [(e["step"], e["suite"]) for e in events][-2:] == [
        ("received", "GHE-01"),
        ("manufacturing_started", "GHE-01"),
    ]
    assert "data-suite>GHE-01<" in page.get(f"/coi/orders/{oid}").text

    J.fail(world, batch_id, "RECEIPT", "bag leaked; cells lost")
    shown = page.get(f"/coi/orders/{oid}").text
    assert "Re-apheresis needed: batch" in shown and f"/coi/orders/{oid}/new-apheresis" in shown
    order = site.get(f"/api/coi/orders/{oid}").json()
    assert order["summary"]["projection"]["state"] == "blocked"
    assert order["summary"]["projection"]["delivery"] is None
    assert (
        order["new_apheresis_needed"]
        == f"batch {batch_id} failed at RECEIPT (bag leaked; cells lost)"
    )

    body = {"planned_apheresis": str(dt.date.today() + dt.timedelta(days=4)), "reason": "failed"}
    assert site.post(f"/api/coi/orders/{oid}/new-apheresis", json=body).status_code == 403
    refused = page.post(
        f"/coi/orders/{oid}/new-apheresis",
        data={"csrf_token": csrf, "planned_apheresis": "4 March", "reason": "batch failed"},
    )
    assert refused.status_code == 422 and "planned_apheresis" in refused.text
    done = ops.post(f"/api/coi/orders/{oid}/new-apheresis", json=body)
    assert done.status_code == 200, done.text
    assert done.json()["collection"] == 2
    assert done.json()["apheresis_din"] != order["apheresis_din"]
    again = ops.post(f"/api/coi/orders/{oid}/new-apheresis", json=body)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    after = site.get(f"/api/coi/orders/{oid}").json()
    assert after["summary"]["projection"]["state"] != "blocked"
    assert after["summary"]["next_steps"] == ["collected"]
    assert after["new_apheresis_needed"] is None


def test_cli_new_apheresis_only_after_a_failed_batch(
    cli_db: Database, cli_env: dict[str, str]
) -> None:
    """`v2v coi new-apheresis ORDER --planned DAY --reason R`: refused while no batch failed
    (nothing issued), then after the failure a new DIN on the same CoI, collection 2."""
    from tests import batch_world as BW
    from tests.integration.manufacturing import test_batches as T
    from typer.testing import CliRunner

    from vein2vein.features import create_cli
    from vein2vein.identity.tables import IssuedDin, Order

    w = BW.build(cli_db)
    order_id = BW.order_with_din(w)
    bid = T.new_batch(w, order_id)
    T.run_step(w, bid, "RECEIPT")
    with cli_db.read() as session:
        order = session.get_one(Order, order_id)
        number, coi, old_din = order.number, order.coi, order.apheresis_din
        issued = session.query(IssuedDin).count()
    runner, cli = CliRunner(), create_cli()
    planned = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    args = ["coi", "new-apheresis", number, "--planned", planned, "--reason", "batch failed"]
    refused = runner.invoke(cli, [*args, "--json"], env=cli_env)
    assert refused.exit_code != 0
    assert f"order {number} needs no new apheresis" in refused.output
    with cli_db.read() as session:
        assert session.query(IssuedDin).count() == issued  # nothing issued
    J.fail(w, bid, "RECEIPT", "bag leaked in transit")
    done = runner.invoke(cli, [*args, "--json"], env=cli_env)
    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    assert (out["order"], out["coi"], out["collection"]) == (number, coi, 2)
    assert out["apheresis_din"] != old_din and out["planned_apheresis"] == planned
    again = runner.invoke(cli, args, env=cli_env)  # the new DIN's batch has not failed
    assert again.exit_code != 0 and "needs no new apheresis" in again.output
