"""Chain of identity over HTTP: API (OpenAPI, problem documents), pages (dashboard, hand-off form
with the scan field, label lookup, QA clearance) and personal data that never leaks."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from tests.factories import PASSWORD
from tests.integration.identity import world as W
from tests.webclient import client, logged_in

from vein2vein.auth import service as auth
from vein2vein.auth import tokens
from vein2vein.identity.domain import Step
from vein2vein.identity.isbt128 import Din
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor


def _api(db: Database, username: str):  # type: ignore[no-untyped-def]
    with db.uow(Actor("t")) as uow:
        scope = auth.scope_of(auth.user_by_username(uow.session, username))
        _, token = tokens.create_token(uow, scope, "t", 1)
        uow.commit()
    c = client(db)
    c.headers["authorization"] = f"Bearer {token}"
    return c


@pytest.fixture
def world(sqlite_db: Database) -> W.World:
    return W.build(sqlite_db)


def _order_body(patient_id: int) -> dict:
    today = dt.date.today()
    return {
        "patient_id": patient_id,
        "product_code": "S1234100",
        "dose_level": "DL1",
        "weight_kg": "68.2",
        "planned_apheresis": str(today - dt.timedelta(days=5)),
        "required_by": str(today + dt.timedelta(days=30)),
        "starting_material": "cryopreserved",
        "markers": dict.fromkeys(["hbv", "hcv", "hiv", "htlv", "syphilis"], "negative"),
        "time_zone": "Europe/Amsterdam",
    }


def test_api_flow_with_hard_stop_and_qa_clearance(world: W.World) -> None:
    db = world.db
    site, ops, qa = _api(db, "a.clinical"), _api(db, "operator"), _api(db, "qa")
    spec = site.get("/api/openapi.json").json()
    assert "/api/coi/orders/{order_id}/events" in spec["paths"]
    r = site.post(
        "/api/coi/patients",
        json={
            "program_id": world.ids["program_a"],
            "subject_id": "hlx-001",
            "treatment_site_id": world.ids["site_a"],
            "date_of_birth": W.DOB,
            "initials": W.INITIALS,
        },
    )
    assert r.status_code == 201, r.text
    patient = r.json()
    assert patient["subject_id"] == "HLX-001" and W.DOB not in r.text
    order = site.post("/api/coi/orders", json=_order_body(patient["id"])).json()
    oid = order["id"]
    din = ops.post(f"/api/coi/orders/{oid}/apheresis-din").json()["apheresis_din"]
    assert site.post(f"/api/coi/orders/{oid}/apheresis-din").status_code == 403
    coi = order["coi"]
    good = [Din.from_code(din).barcode_data(), "&c" + coi.replace("-", "")]
    at = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).isoformat()
    event = {"step": "collected", "occurred_at": at, "location": "Apheresis unit", "scans": good}
    # the patient's identifiers are required at collection: missing -> hard stop
    stop = site.post(f"/api/coi/orders/{oid}/events", json=event)
    assert stop.status_code == 409, stop.text
    assert stop.headers["content-type"].startswith("application/problem+json")
    assert "patient date of birth: expected but not scanned" in stop.json()["detail"]
    open_ = qa.get("/api/coi/mismatches").json()
    assert [m["order_id"] for m in open_] == [oid]
    held = site.post(
        f"/api/coi/orders/{oid}/events",
        json=event | {"patient_identifiers": {"subject_id": "HLX-001", "date_of_birth": W.DOB}},
    )
    assert held.status_code == 422 and "on hold" in held.json()["detail"]
    mid = open_[0]["id"]
    signed = {"username": "qa", "password": PASSWORD}
    assert (
        ops.post(f"/api/coi/mismatches/{mid}/clear", json={"reason": "ok now"} | signed).status_code
        == 403
    )
    wrong_password = qa.post(
        f"/api/coi/mismatches/{mid}/clear",
        json={"reason": "wristband read at the bedside", "username": "qa", "password": "nope"},
    )
    assert wrong_password.status_code == 401  # nothing signed, nothing cleared
    assert qa.get("/api/coi/mismatches").json()[0]["status"] == "open"
    cleared = qa.post(
        f"/api/coi/mismatches/{mid}/clear",
        json={"reason": "wristband read at the bedside"} | signed,
    )
    assert cleared.status_code == 200 and cleared.json()["status"] == "cleared"
    # the clearance is a deviation of its own, on the order's page
    devs = qa.get(f"/api/coi/orders/{oid}").json()["deviations"]
    assert [d["source"] for d in devs] == ["coi_mismatch"]
    ok = site.post(
        f"/api/coi/orders/{oid}/events",
        json=event | {"patient_identifiers": {"subject_id": "hlx-001", "date_of_birth": W.DOB}},
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["identifiers_verified"] == [
        "din",
        "coi",
        "patient.subject_id",
        "patient.date_of_birth",
    ]
    late = site.post(f"/api/coi/orders/{oid}/events", json=event | {"step": "shipped"})
    assert late.status_code == 422
    assert "the next step is 'packed'" in late.json()["detail"]
    board = site.get("/api/coi/orders").json()
    assert board[0]["current_step"] == "collected" and W.DOB not in str(board)
    tl = site.get(f"/api/coi/patients/{patient['id']}/timeline").json()
    assert tl["orders"][0]["timeline"]["steps"][0]["actual"]  # apheresis recorded
    assert "personal_data" not in site.get(f"/api/coi/patients/{patient['id']}").json() or (
        site.get(f"/api/coi/patients/{patient['id']}").json()["personal_data"] is None
    )
    assert qa.get(f"/api/coi/patients/{patient['id']}").json()["personal_data"] == {
        "date_of_birth": W.DOB,
        "initials": W.INITIALS,
    }
    issued = ops.post("/api/coi/dins", json={"fin": W.FIN})
    assert issued.status_code == 201 and issued.json()["sequence"] == 2


def test_pages_dashboard_handoff_scan_and_clearance(world: W.World) -> None:
    db = world.db
    oid = W.order(world, W.enrol(world))
    din = W.assign_din(world, oid)
    site, csrf = logged_in(db, "a.clinical", PASSWORD)
    page = site.get(f"/coi/orders/{oid}/scan")
    assert page.status_code == 200 and 'name="scan"' in page.text and "autofocus" in page.text
    coi = re.search(r'CoI <span class="mono">([A-Z0-9-]+)<', page.text)[1]  # type: ignore[index]
    form = {
        "csrf_token": csrf,
        "step": "collected",
        "occurred_at": (dt.datetime.now() - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "time_zone": "Europe/Amsterdam",
        "location": "Apheresis unit",
        "subject_id": "HLX-001",
        "date_of_birth": W.DOB,
        # what a keyboard-wedge scanner types for the label's Data Matrix: AIM prefix + data
        "scan": "]d1=+02000" + Din.from_code(din).barcode_data() + "&c" + coi.replace("-", ""),
    }
    ok = site.post(f"/coi/orders/{oid}/events", data=form)
    assert ok.status_code == 200 and 'data-verdict="ok"' in ok.text and "MATCH" in ok.text
    assert W.DOB not in ok.text  # the typed date of birth is not sent back
    wrong = form | {"step": "packed", "scan": Din.from_code(din[:-1] + "9").barcode_data()}
    stop = site.post(f"/coi/orders/{oid}/events", data=wrong)
    assert stop.status_code == 409 and 'data-verdict="stop"' in stop.text
    dashboard = site.get("/coi")
    assert "ON HOLD" in dashboard.text and "HLX-1-0001" in dashboard.text
    lookup = site.post(
        "/coi/scan", data={"csrf_token": csrf, "scanned": Din.from_code(din).barcode_data()}
    )
    assert 'data-verdict="ok"' in lookup.text and "HLX-1-0001" in lookup.text
    unknown = site.post("/coi/scan", data={"csrf_token": csrf, "scanned": "=A99992600999900"})
    assert 'data-verdict="stop"' in unknown.text
    unreadable = site.post("/coi/scan", data={"csrf_token": csrf, "scanned": "=#garbage"})
    assert unreadable.status_code == 200 and "cannot read the scan" in unreadable.text
    qa, qa_csrf = logged_in(db, "qa", PASSWORD)
    listing = qa.get("/coi/mismatches")
    mid = re.search(r'data-mismatch="(\d+)"', listing.text)[1]  # type: ignore[index]
    cleared = qa.post(
        f"/coi/mismatches/{mid}/clear",
        data={
            "csrf_token": qa_csrf,
            "reason": "label of another order, set aside",
            "username": "qa",
            "password": PASSWORD,
        },
        follow_redirects=True,
    )
    assert cleared.status_code == 200 and "cleared by qa" in cleared.text


def test_personal_data_only_for_qa_and_never_in_lists_errors_or_logs(
    world: W.World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    db = world.db
    pid = W.enrol(world)
    oid = W.order(world, pid)
    W.assign_din(world, oid)
    W.walk(world, oid, Step.PACKED)
    qa, _ = logged_in(db, "qa", PASSWORD)
    assert W.DOB in qa.get(f"/coi/patients/{pid}").text
    for user in ("a.clinical", "a.viewer", "operator", "admin", "qa"):
        c, csrf = logged_in(db, user, PASSWORD)
        pages = ["/coi", "/coi?all=1", "/coi/patients", "/coi/mismatches", f"/coi/orders/{oid}"]
        apis = ["/api/coi/orders", "/api/coi/patients", "/api/coi/mismatches"]
        if user != "qa":
            pages.append(f"/coi/patients/{pid}")
            apis.append(f"/api/coi/patients/{pid}")
        for path in pages + apis:
            body = c.get(path).text
            assert W.DOB not in body and "1961" not in body, (user, path)
            assert W.INITIALS not in body, (user, path)
    # a rejected enrolment does not echo the personal data typed in
    c, csrf = logged_in(db, "a.clinical", PASSWORD)
    bad = c.post(
        "/coi/patients",
        data={
            "csrf_token": csrf,
            "program_id": str(world.ids["program_a"]),
            "subject_id": "HLX-001",
            "treatment_site_id": str(world.ids["site_a"]),
            "date_of_birth": "1961-02-30",
            "initials": "QZQ",
        },
    )
    assert bad.status_code == 422 and "1961" not in bad.text and "QZQ" not in bad.text
    api = _api(db, "a.clinical")
    problem = api.post(
        "/api/coi/patients",
        json={
            "program_id": world.ids["program_a"],
            "subject_id": "HLX-001",
            "treatment_site_id": world.ids["site_a"],
            "date_of_birth": "1961-03-07",
            "initials": "JQX",
        },
    )
    assert problem.status_code == 409 and "1961" not in problem.text and "JQX" not in problem.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert W.DOB not in logged and W.INITIALS not in logged and "QZQ" not in logged


def test_order_labels_print_decode_and_are_recorded(world: W.World) -> None:
    """A printed apheresis-bag label scans back to the order's DIN (zxing-cpp decodes the PNG)."""
    import io

    import zxingcpp
    from PIL import Image

    from vein2vein.identity.isbt128 import parse_structures
    from vein2vein.store import audit

    oid = W.order(world, W.enrol(world))
    api = _api(world.db, "operator")
    early = api.post(f"/api/coi/orders/{oid}/labels", json={"label": "apheresis-bag"})
    assert early.status_code == 422 and "no apheresis DIN yet" in early.json()["detail"]
    din = W.assign_din(world, oid)
    r = api.post(f"/api/coi/orders/{oid}/labels", json={"label": "apheresis-bag", "format": "png"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    decoded = [b.text for b in zxingcpp.read_barcodes(Image.open(io.BytesIO(r.content)))]
    assert any(din[:13] in t for t in decoded), decoded
    assert any(parse_structures(t) for t in decoded if t.startswith("="))
    pdf = api.post(f"/api/coi/orders/{oid}/labels", json={"label": "apheresis-bag"})
    assert pdf.content.startswith(b"%PDF")
    bad = api.post(f"/api/coi/orders/{oid}/labels", json={"label": "bag", "format": "png"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "label"
    sponsor = _api(world.db, "a.clinical")
    assert (
        sponsor.post(f"/api/coi/orders/{oid}/labels", json={"label": "apheresis-bag"}).status_code
        == 403
    )
    with world.db.read() as session:
        prints = audit.query(session, entity_type="coi_order", entity_id=str(oid))
        assert [e.action for e in prints].count("coi.label_print") == 2


def test_order_page_prints_a_label(world: W.World) -> None:
    oid = W.order(world, W.enrol(world))
    W.assign_din(world, oid)
    c, token = logged_in(world.db, "operator", PASSWORD)
    page = c.get(f"/coi/orders/{oid}")
    assert "Print label" in page.text
    r = c.post(
        f"/coi/orders/{oid}/labels",
        data={"label": "apheresis-bag", "format": "pdf", "csrf_token": token},
    )
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert "attachment" in r.headers["content-disposition"]
    bad = c.post(
        f"/coi/orders/{oid}/labels",
        data={"label": "cassette", "format": "pdf", "csrf_token": token},
    )
    assert bad.status_code == 422 and "no final-product DIN yet" in bad.text


def test_each_product_bag_label_carries_its_own_division(world: W.World) -> None:
    """ISBT 128 divisions: bag 1 is A0, bag 2 is B0 (the label's product code says which)."""
    import io

    import zxingcpp
    from PIL import Image

    oid = W.order(world, W.enrol(world))
    W.assign_din(world, oid)
    W.walk(world, oid, Step.MANUFACTURING_STARTED)
    W.register_bags(world, oid, bags=2)
    api = _api(world.db, "operator")
    codes = []
    for bag in (1, 2):
        r = api.post(
            f"/api/coi/orders/{oid}/labels",
            json={"label": "product-bag", "format": "png", "bag": bag},
        )
        assert r.status_code == 200, r.text
        assert f"-product-bag-{bag}.png" in r.headers["content-disposition"]
        texts = [b.text for b in zxingcpp.read_barcodes(Image.open(io.BytesIO(r.content)))]
        codes.append(next(t for t in texts if t.startswith("=<")))
    assert codes[0].endswith("A0") and codes[1].endswith("B0")
    r = api.post(f"/api/coi/orders/{oid}/labels", json={"label": "cassette", "bag": 3})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "bag"
