"""Material lots and deviations through HTTP (API and pages) and the CLI; the administrator (IT)
refused on every custody route and service; the hand-off form offering only the next legal
step and the fields it needs."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from tests.factories import PASSWORD
from tests.integration.identity import world as W
from tests.openapi_examples import example_body
from tests.route_declarations import declaration
from tests.webclient import client, logged_in
from typer.testing import CliRunner

from vein2vein.auth import tokens
from vein2vein.auth.roles import NOT_FOR_ADMINISTRATORS, Perm
from vein2vein.core.errors import PermissionDenied
from vein2vein.features import create_cli
from vein2vein.identity import custody, intake
from vein2vein.identity.domain import Step
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor
from vein2vein.web.app import registered_routes

EXPIRY = (dt.date.today() + dt.timedelta(days=300)).isoformat()


def _api(db: Database, w: W.World, who: str):  # type: ignore[no-untyped-def]
    with db.uow(Actor("t")) as uow:
        _, token = tokens.create_token(uow, w.scopes[who], "t", 1)
        uow.commit()
    c = client(db)
    c.headers["authorization"] = f"Bearer {token}"
    return c


def test_api_lot_receipt_release_and_scan_check(sqlite_db: Database) -> None:
    db = sqlite_db
    w = W.build(db)
    qa, ops, sponsor = (_api(db, w, who) for who in ("qa", "operator", "a.clinical"))
    made = qa.post(
        "/api/materials",
        json={
            "code": "LV-EPCAM",
            "name": "LV anti-EpCAM",
            "kind": "lentiviral_vector",
            "unit": "mL",
        },
    )
    assert made.status_code == 201, made.text
    body = {
        "material": "LV-EPCAM",
        "lot_number": "LV-001",
        "supplier": "Vector CDMO",
        "expiry": EXPIRY,
        "quantity": "40",
    }
    assert ops.post("/api/materials", json=made.json() | {"code": "X"}).status_code == 403
    lot = ops.post("/api/lots", json=body)
    assert lot.status_code == 201 and lot.json()["status"] == "quarantine", lot.text
    lot_id = lot.json()["id"]
    check = {"lot": "LV-001", "material": "LV-EPCAM"}
    refused = ops.post("/api/lots/check", json=check).json()
    assert refused["ok"] is False and refused["reason"] == "not_released"
    assert "lot LV-001 of LV-EPCAM" in refused["message"]
    no_titer = qa.post(f"/api/lots/{lot_id}/release", json={"reason": "CoA reviewed"})
    assert no_titer.status_code == 422 and "functional titer" in no_titer.json()["detail"]
    bad = ops.post(f"/api/lots/{lot_id}/titer", json={"titer_tu_per_ml": "5000"})
    assert bad.status_code == 422 and bad.json().get("field") in (None, "titer")
    assert (
        ops.post(f"/api/lots/{lot_id}/titer", json={"titer_tu_per_ml": "3.2E8"}).status_code == 200
    )
    released = qa.post(f"/api/lots/{lot_id}/release", json={"reason": "CoA and titer reviewed"})
    assert released.status_code == 200 and released.json()["status"] == "released"
    assert ops.post("/api/lots/check", json=check).json()["ok"] is True
    wrong = ops.post("/api/lots/check", json=check | {"material": "CD4-MB"}).json()
    assert wrong["reason"] == "wrong_material"
    # lots are the CDMO's
    assert sponsor.get("/api/lots").status_code == 403
    assert sponsor.get(f"/api/lots/{lot_id}").status_code == 404
    assert [r["lot_number"] for r in qa.get("/api/lots?status=released").json()] == ["LV-001"]
    assert qa.get(f"/api/lots/{lot_id}").json()["history"][-1]["action"] == "mfg.lot_release"


def test_api_deviation_lifecycle(sqlite_db: Database) -> None:
    db = sqlite_db
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    qa, ops, sponsor = (_api(db, w, who) for who in ("qa", "operator", "a.viewer"))
    opened = ops.post(
        "/api/deviations",
        json={
            "title": "Door interlock failed",
            "description": "Suite door opened during fill",
            "order_id": oid,
        },
    )
    assert opened.status_code == 201, opened.text
    dev = opened.json()
    assert sponsor.get(f"/api/deviations/{dev['id']}").json()["number"] == dev["number"]
    assert (
        sponsor.post(
            f"/api/deviations/{dev['id']}/classify",
            json={"classification": "minor", "root_cause": "interlock relay worn out"},
        ).status_code
        == 403
    )
    classified = qa.post(
        f"/api/deviations/{dev['id']}/classify",
        json={
            "classification": "major",
            "root_cause": "interlock relay worn out",
            "capa": "relay replaced; preventive maintenance added",
        },
    )
    assert classified.status_code == 200 and classified.json()["classification"] == "major"
    stale = qa.post(
        f"/api/deviations/{dev['id']}/close",
        json={"username": "qa", "password": PASSWORD, "shown_hash": dev["shown_hash"]},
    )
    assert stale.status_code == 409  # signed content changed since it was shown
    shown = classified.json()["shown_hash"]
    closed = qa.post(
        f"/api/deviations/{dev['id']}/close",
        json={"username": "qa", "password": PASSWORD, "shown_hash": shown},
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed", closed.text
    again = qa.post(
        f"/api/deviations/{dev['id']}/classify",
        json={"classification": "minor", "root_cause": "interlock relay worn out"},
    )
    assert again.status_code == 409
    assert [d["status"] for d in sponsor.get("/api/deviations?status=closed").json()] == ["closed"]


def test_pages_lots_and_deviations(sqlite_db: Database) -> None:
    db = sqlite_db
    W.build(db)
    qa, qa_csrf = logged_in(db, "qa", PASSWORD)
    ops, ops_csrf = logged_in(db, "operator", PASSWORD)
    r = qa.post(
        "/materials",
        data={
            "csrf_token": qa_csrf,
            "code": "CD4-MB",
            "name": "CD4 beads",
            "kind": "selection_reagent",
            "unit": "vial",
        },
    )
    assert r.status_code == 200 and "CD4-MB" in r.text  # followed to the lot list
    page = ops.post(
        "/lots",
        data={
            "csrf_token": ops_csrf,
            "material": "CD4-MB",
            "lot_number": "CD4-1",
            "supplier": "S",
            "expiry": EXPIRY,
            "quantity": "10",
        },
    )
    assert page.status_code == 200 and 'data-status="quarantine"' in page.text
    bad = ops.post(
        "/lots",
        data={
            "csrf_token": ops_csrf,
            "material": "CD4-MB",
            "lot_number": "CD4-2",
            "supplier": "S",
            "expiry": "2026-13-01",
            "quantity": "10",
        },
    )
    assert bad.status_code == 422 and 'data-field="expiry"' in bad.text
    refused = ops.post(
        "/lots/check", data={"csrf_token": ops_csrf, "lot": "CD4-1", "material": "CD4-MB"}
    )
    assert 'data-verdict="refused"' in refused.text and "quarantine" in refused.text
    decided = qa.post(
        "/lots/1/decision",
        data={"csrf_token": qa_csrf, "decision": "released", "reason": "CoA reviewed"},
    )
    assert decided.status_code == 200 and 'data-status="released"' in decided.text
    assert (
        ops.post(
            "/lots/1/decision",
            data={"csrf_token": ops_csrf, "decision": "rejected", "reason": "x" * 6},
        ).status_code
        == 403
    )
    ok = ops.post(
        "/lots/check", data={"csrf_token": ops_csrf, "lot": "CD4-1", "material": "CD4-MB"}
    )
    assert 'data-verdict="ok"' in ok.text
    assert 'action="/lots/1/decision"' not in ops.get("/lots/1").text  # operators do not decide
    # deviations: open, classify, close with a signature; then no form is offered
    opened = ops.post(
        "/deviations",
        data={
            "csrf_token": ops_csrf,
            "title": "Spill in suite 2",
            "description": "Medium spilled during feed",
            "order_id": "",
            "batch_id": "",
        },
    )
    assert opened.status_code == 200 and "DEV-" in opened.text
    dev_path = "/deviations/1"
    no_root = qa.post(
        f"{dev_path}/classify",
        data={"csrf_token": qa_csrf, "classification": "minor", "root_cause": "?"},
    )
    assert no_root.status_code == 422 and 'data-field="root_cause"' in no_root.text
    qa.post(
        f"{dev_path}/classify",
        data={
            "csrf_token": qa_csrf,
            "classification": "minor",
            "root_cause": "bottle cap not tightened",
            "capa": "",
        },
    )
    form = qa.get(dev_path).text
    shown = re.search(r'name="shown_hash" value="([0-9a-f]{64})"', form)[1]  # type: ignore[index]
    wrong = qa.post(
        f"{dev_path}/close",
        data={"csrf_token": qa_csrf, "username": "qa", "password": "nope", "shown_hash": shown},
    )
    assert wrong.status_code == 401 and 'data-status="open"' in wrong.text
    closed = qa.post(
        f"{dev_path}/close",
        data={"csrf_token": qa_csrf, "username": "qa", "password": PASSWORD, "shown_hash": shown},
    )
    assert closed.status_code == 200 and 'data-status="closed"' in closed.text
    assert (
        "Sign and close" not in closed.text and 'action="/deviations/1/classify"' not in closed.text
    )
    listing = qa.get("/deviations?status=closed&classification=minor")
    assert 'data-deviation="DEV-' in listing.text
    assert "data-deviation" not in qa.get("/deviations?status=open").text
    assert qa.get("/deviations?status=pending").status_code == 422


def test_cli_lists_and_decisions(cli_db: Database, cli_env: dict[str, str]) -> None:
    w = W.build(cli_db)
    runner, cli = CliRunner(), create_cli()

    def run(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), env=cli_env, input=stdin)

    from vein2vein.manufacturing import lots

    with cli_db.uow(w.actor("qa")) as uow:
        lots.add_material(
            uow, w.scopes["qa"], code="MED-TEX", name="Medium", kind="medium", unit="L"
        )
        uow.commit()
    got = run(
        "lots",
        "receive",
        "--material",
        "MED-TEX",
        "--lot",
        "TEX-1",
        "--supplier",
        "S",
        "--expiry",
        EXPIRY,
        "--quantity",
        "5",
        "--user",
        "operator",
        stdin=PASSWORD + "\n",
    )
    assert got.exit_code == 0, got.output
    refused = run("lots", "check", "TEX-1", "--material", "MED-TEX")
    assert refused.exit_code == 1 and "quarantine" in refused.output
    no = run(
        "lots",
        "release",
        "TEX-1",
        "--reason",
        "CoA reviewed",
        "--user",
        "operator",
        stdin=PASSWORD + "\n",
    )
    assert no.exit_code == 1 and "lot.release" in no.output
    yes = run(
        "lots",
        "release",
        "TEX-1",
        "--reason",
        "CoA reviewed",
        "--user",
        "qa",
        stdin=PASSWORD + "\n",
    )
    assert yes.exit_code == 0, yes.output
    listed = json.loads(run("lots", "list", "--json").output)
    assert [(r["lot_number"], r["status"]) for r in listed] == [("TEX-1", "released")]
    from vein2vein.manufacturing import deviations

    with cli_db.uow(w.actor("operator")) as uow:
        deviations.open_deviation(
            uow, w.scopes["operator"], title="Label misprint", description="Bag label printed twice"
        )
        uow.commit()
    rows = json.loads(run("deviations", "list", "--json").output)
    assert [(d["title"], d["status"]) for d in rows] == [("Label misprint", "open")]
    number = rows[0]["number"]
    assert (
        run(
            "deviations",
            "classify",
            number,
            "--classification",
            "minor",
            "--root-cause",
            "printer queue resent the job",
            "--user",
            "qa",
            stdin=PASSWORD + "\n",
        ).exit_code
        == 0
    )
    closed = run("deviations", "close", number, "--user", "qa", stdin=PASSWORD + "\n")
    assert closed.exit_code == 0, closed.output
    assert (
        json.loads(run("deviations", "list", "--json", "--status", "closed").output)[0]["number"]
        == number
    )


def test_the_administrator_is_refused_on_every_custody_route_and_service(
    sqlite_db: Database,
) -> None:
    db = sqlite_db
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    W.assign_din(w, oid)
    admin, csrf = logged_in(db, "admin", PASSWORD)
    api = _api(db, w, "admin")
    guarded = [
        (route, perm)
        for route in registered_routes(admin.app)
        for perm in declaration(route)
        if isinstance(perm, Perm) and perm in NOT_FOR_ADMINISTRATORS
    ]
    spec = api.get("/api/openapi.json").json()
    defs = spec.get("components", {}).get("schemas", {})
    paths = {r.path for r, _ in guarded}
    assert "/api/coi/orders/{order_id}/events" in paths and "/coi/orders/{order_id}/events" in paths
    for route, _ in guarded:
        path = re.sub(r"{\w+}", str(oid), route.path)
        for method in route.methods - {"HEAD", "OPTIONS"}:
            c = api if route.path.startswith("/api/") else admin
            data = None if route.path.startswith("/api/") else {"csrf_token": csrf}
            op = spec["paths"].get(route.path, {}).get(method.lower(), {})
            content = op.get("requestBody", {}).get("content", {})
            body = (
                example_body(content["application/json"]["schema"], defs, {})
                if data is None and "application/json" in content
                else None
            )
            r = c.request(method, path, json=body, data=data)
            assert r.status_code == 403, (route.path, method, r.status_code)
    # the services refuse every custody step, whatever the body
    for step in Step:
        with pytest.raises(PermissionDenied), db.uow(w.actor("admin")) as uow:
            custody.record_event(
                uow,
                w.scopes["admin"],
                oid,
                intake.EventRequest(
                    step=step.value, occurred_at=dt.datetime.now(dt.UTC), location="x"
                ),
            )
    # the hand-off page offers the administrator no step to record
    page = admin.get(f"/coi/orders/{oid}/scan")
    assert page.status_code == 200 and 'id="handoff"' not in page.text


def test_the_handoff_form_offers_only_the_next_legal_step_and_its_fields(
    sqlite_db: Database,
) -> None:
    db = sqlite_db
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    W.assign_din(w, oid)
    site, _ = logged_in(db, "a.clinical", PASSWORD)
    ops, _ = logged_in(db, "operator", PASSWORD)

    def form(c, step: str = "") -> str:  # type: ignore[no-untyped-def]
        text = c.get(f"/coi/orders/{oid}/scan" + (f"?step={step}" if step else "")).text
        return text

    first = form(site)  # collection: the patient is present
    assert 'data-step="collected"' in first and 'name="subject_id"' in first
    assert 'name="courier"' not in first and 'name="batch_number"' not in first
    assert (
        first.count('name="step"') == 1 and 'type="hidden" name="step" value="collected"' in first
    )
    assert 'id="handoff"' not in form(ops)  # the operator records no step at the site
    at = W.walk(w, oid, Step.PACKED)
    shipped = form(site)
    assert 'data-step="shipped"' in shipped and 'name="courier"' in shipped
    assert 'name="subject_id"' not in shipped and 'name="condition"' not in shipped
    W.record(w, oid, Step.SHIPPED, at)
    W.record(w, oid, Step.RECEIVED, at + dt.timedelta(hours=20))
    both = form(ops)  # after receipt: storage or straight into manufacturing
    assert "data-step-choice" in both and 'data-step="stored"' in both
    assert 'name="storage_location"' in both and 'name="batch_number"' not in both
    chosen = form(ops, "manufacturing_started")
    assert 'data-step="manufacturing_started"' in chosen and 'name="batch_number"' in chosen
    assert 'name="storage_location"' not in chosen and 'name="courier"' not in chosen
    # a step that is not next is not offered even when asked for
    assert 'data-step="stored"' in form(ops, "released")
