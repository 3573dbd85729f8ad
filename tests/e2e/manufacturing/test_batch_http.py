"""A whole executed batch record of the demo EpCAM v1 MBR through HTTP: created from an order,
every step worked (one value outside its proven acceptable range opens its deviation, which is
corrected with a reason), second-person verifications, signed sign-offs, QA hold decisions, QA
classification and signed closure of the deviation, QA's signed approval; then the audit trail
(``/api/audit``) tells that story entry by entry, and the approved record refuses edits."""

from __future__ import annotations

import json
from typing import Any

from tests import batch_world as BW
from tests.factories import PASSWORD
from tests.integration.identity import world as W
from tests.unit.manufacturing.test_execution import NOMINAL
from tests.webclient import client

from vein2vein.auth import tokens
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor


def _api(db: Database, w: W.World, who: str):  # type: ignore[no-untyped-def]
    with db.uow(Actor("t")) as uow:
        _, token = tokens.create_token(uow, w.scopes[who], "t", 1)
        uow.commit()
    c = client(db)
    c.headers["authorization"] = f"Bearer {token}"
    return c


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


def _sign(who: str) -> dict[str, str]:
    return {"username": who, "password": PASSWORD}


def test_a_whole_batch_through_http_and_its_story_in_the_audit_trail(sqlite_db: Database) -> None:
    db = sqlite_db
    w = BW.build(db)
    order_id = BW.order_with_din(w)
    ops, qa, approver, sponsor, other = (
        _api(db, w, who) for who in ("operator", "qa", "approver", "a.viewer", "b.clinical")
    )
    made = _ok(
        ops.post(
            "/api/batches",
            json={"order_id": order_id, "site": BW.SITE, "suite": BW.SUITE, "dose_per_kg": 2e6},
        ),
        201,
    )
    bid, din, coi = made["id"], made["din"], made["coi"]
    assert (made["status"], made["mbr_version"], made["next_step"]) == ("IN_PROGRESS", 1, "RECEIPT")
    url = f"/api/batches/{bid}"
    # the sponsor reads its batch's status only; another client does not find it
    seen = _ok(sponsor.get(url))
    assert seen["status"] == "IN_PROGRESS" and seen["coi"] is None and seen["events"] is None
    assert other.get(url).status_code == 404
    assert sponsor.post(f"{url}/start", json={"step": "RECEIPT"}).status_code == 403

    detail: dict[str, Any] = {}
    for op in [s["code"] for s in made["steps"]]:
        _ok(ops.post(f"{url}/start", json={"step": op}))
        values = dict(NOMINAL[op])
        if op == "RECEIPT":  # 12 °C in transit: outside the PAR of 1-10 °C
            values["transit_temperature"] = (12, "°C")
        for entry, (value, unit) in values.items():
            detail = _ok(
                ops.post(
                    f"{url}/entries",
                    json={"step": op, "entry": entry, "value": value, "unit": unit},
                )
            )
        if op == "RECEIPT":
            assert [(d["source"], d["status"]) for d in detail["deviations"]] == [
                ("process_limit", "open")
            ]
            detail = _ok(
                ops.post(
                    f"{url}/corrections",
                    json={
                        "step": op, "entry": "transit_temperature", "value": 5, "unit": "°C",
                        "reason": "logger read in the wrong column; the logger shows 5 °C",
                    },
                )
            )  # fmt: skip
        for material in _materials(op):
            scanned = din if material == "APH" else BW.MATERIALS[material][2]
            detail = _ok(
                ops.post(f"{url}/lots", json={"step": op, "material": material, "lot": scanned})
            )
        if op == "RECEIPT":  # the cell counter's instrument is not recorded yet
            early = ops.post(f"{url}/signoffs", json={"step": op} | _sign("operator"))
            assert early.status_code == 422 and "missing instrument of COUNTER" in early.text
        for code in _equipment(op):
            asset, due = BW.instrument(code)
            detail = _ok(
                ops.post(
                    f"{url}/equipment",
                    json={"step": op, "equipment": code, "instrument": asset,
                          "calibration_due": due.isoformat()},
                )
            )  # fmt: skip
        for item in detail["review"]:
            if item["kind"] == "unverified" and item["step"] == op:
                # the one who entered cannot verify; a second person does
                assert (
                    ops.post(f"{url}/verifications", json={"seq": item["seq"]}).status_code == 422
                )
                detail = _ok(qa.post(f"{url}/verifications", json={"seq": item["seq"]}))
        step = next(s for s in detail["steps"] if s["code"] == op)
        detail = _ok(
            ops.post(
                f"{url}/signoffs",
                json={"step": op, "shown_hash": step["signoff_hash"]} | _sign("operator"),
            )
        )
        if step["hold"]:
            detail = _ok(
                approver.post(
                    f"{url}/holds", json={"step": op, "released": True, "reason": "criteria met"}
                )
            )
    assert detail["status"] == "COMPLETE"
    detail = _ok(ops.post(f"{url}/submit"))
    assert detail["status"] == "IN_REVIEW"
    dev = detail["deviations"][0]
    refused = approver.post(f"{url}/approve", json=_sign("approver"))
    assert refused.status_code == 422 and dev["number"] in refused.json()["detail"]
    _ok(
        qa.post(
            f"/api/deviations/{dev['id']}/classify",
            json={"classification": "minor", "root_cause": "transcription from the logger"},
        )
    )
    _ok(qa.post(f"/api/deviations/{dev['id']}/close", json=_sign("qa")))
    detail = _ok(ops.get(url))
    approved = _ok(
        approver.post(
            f"{url}/approve", json=_sign("approver") | {"shown_hash": detail["approval_hash"]}
        )
    )
    assert approved["status"] == "APPROVED" and approved["approved_by"] == "approver"
    # locked: an edit is refused and changes nothing
    late = ops.post(f"{url}/verifications", json={"seq": 1})
    assert late.status_code in (409, 423), late.text
    assert len(_ok(ops.get(url))["events"]) == len(approved["events"])
    # genealogy: the batch's lots; the vector lot's batches
    trace = _ok(ops.get(f"/api/trace/batches/{bid}"))
    assert {(x["material"], x["lot_number"]) for x in trace["lots"]} >= {
        ("APH", din), ("LV-EPCAM", "LV-EPC-2026-001"),
    }  # fmt: skip
    vector = _ok(ops.get(f"/api/trace/lots/{w.ids['lot:LV-EPCAM']}"))
    assert [(b["batch"], b["coi"]) for b in vector["batches"]] == [(bid, coi)]
    listed = _ok(ops.get("/api/batches"))
    assert (listed[0]["id"], listed[0]["status"], listed[0]["deviations_closed"]) == (
        bid,
        "APPROVED",
        1,
    )

    # the audit trail, oldest first, tells the story entry by entry
    trail = list(reversed(_ok(qa.get("/api/audit?limit=10000"))))
    story: list[tuple[str, str, Any]] = [
        ("mfg.batch_create", "operator", lambda e: e["after"]["coi"] == coi),
        ("mfg.batch_step_start", "operator", lambda e: _event(e)["step"] == "RECEIPT"),
        ("mfg.batch_enter", "operator", lambda e: _event(e)["value"] == 12
         and _event(e)["verdict"] == "deviation"),
        ("mfg.deviation_open", "operator", lambda e: e["after"]["batch_id"] == bid
         and e["after"]["entry_id"] == 2 and e["after"]["source"] == "process_limit"),
        ("mfg.batch_correct", "operator", lambda e: _event(e)["corrects"] == 2
         and _event(e)["value"] == 5 and "logger" in e["reason"]),
        ("mfg.batch_equipment", "operator", lambda e: _event(e)["equipment"] == "COUNTER"
         and _event(e)["instrument"] == "COUNTER-0001"),
        ("mfg.batch_verify", "qa", lambda e: _event(e)["kind"] == "Verified"),
        ("signature.sign", "operator", lambda e: e["entity_id"] == f"{bid}:RECEIPT"),
        ("mfg.batch_step_signoff", "operator", lambda e: _event(e)["step"] == "RECEIPT"),
        ("mfg.batch_hold_decision", "approver", lambda e: _event(e)["released"] is True),
        ("mfg.batch_submit", "operator", lambda e: e["after"]["status"] == "IN_REVIEW"),
        ("mfg.deviation_classify", "qa", lambda e: e["after"]["classification"] == "minor"),
        ("signature.sign", "qa", lambda e: e["entity_type"] == "mfg_deviation"),
        ("mfg.deviation_close", "qa", lambda e: e["after"]["status"] == "closed"),
        ("signature.sign", "approver", lambda e: e["entity_type"] == "mfg_batch"
         and e["after"]["meaning"] == "approved"),
        ("mfg.batch_approve", "approver", lambda e: e["after"]["status"] == "APPROVED"),
    ]  # fmt: skip
    at = 0
    for action, actor, check in story:
        found = next(
            (
                i
                for i in range(at, len(trail))
                if trail[i]["action"] == action and trail[i]["actor"] == actor and check(trail[i])
            ),
            None,
        )
        assert found is not None, f"no {action} by {actor} after entry {at} of the trail"
        at = found + 1
    assert _ok(qa.get("/api/audit/verify"))["ok"] is True


def _event(entry: dict[str, Any]) -> dict[str, Any]:
    return entry["after"]["events"][0]


def _materials(step: str) -> list[str]:
    """The materials of ``step`` in epcam_v1.yaml (read from the file, independently)."""
    return {
        "RECEIPT": ["APH"],
        "SELECT": ["CD4CD8"],
        "ACTIVATE": ["BEADS", "MEDIUM", "IL2"],
        "TRANSDUCE": ["LV-EPCAM"],
        "EXPAND": ["MEDIUM", "IL2"],
        "FORMULATE": ["CS10", "BAG"],
    }.get(step, [])


def _equipment(step: str) -> list[str]:
    """The equipment of ``step`` in epcam_v1.yaml (read from the file, independently)."""
    return {
        "RECEIPT": ["COUNTER"],
        "SELECT": ["PRODIGY"],
        "ACTIVATE": ["BSC", "INCUBATOR"],
        "TRANSDUCE": ["BSC", "COUNTER"],
        "EXPAND": ["INCUBATOR", "COUNTER"],
        "HARVEST": ["PRODIGY", "COUNTER", "FLOW"],
        "FORMULATE": ["BSC"],
        "FREEZE": ["CRF", "LN2"],
    }[step]


def test_equipment_through_http_an_overdue_calibration_and_the_trace(sqlite_db: Database) -> None:
    import datetime as dt

    from tests.integration.manufacturing import test_batches as T
    from tests.webclient import logged_in

    db = sqlite_db
    w = BW.build(db)
    bid = T.new_batch(w, BW.order_with_din(w))
    T.run_step(w, bid, "RECEIPT")
    ops, sponsor, other = (_api(db, w, who) for who in ("operator", "a.viewer", "b.clinical"))
    url = f"/api/batches/{bid}"
    _ok(ops.post(f"{url}/start", json={"step": "SELECT"}))
    today = dt.datetime.now(dt.UTC).date()
    body = {"step": "SELECT", "equipment": "PRODIGY", "instrument": "PRD-0113",
            "calibration_due": (today - dt.timedelta(days=3)).isoformat()}  # fmt: skip
    # refused: the sponsor (403), another client (404), a piece of equipment of another step,
    # a due date that is not a date, a calibrated instrument without its due date
    assert sponsor.post(f"{url}/equipment", json=body).status_code == 403
    assert other.post(f"{url}/equipment", json=body).status_code == 404
    wrong = ops.post(f"{url}/equipment", json=body | {"equipment": "CRF"})
    assert wrong.status_code == 422 and "does not use equipment CRF" in wrong.text
    bad = ops.post(f"{url}/equipment", json=body | {"calibration_due": "31/12/2030"})
    assert bad.status_code == 422 and "calibration_due" in bad.text
    none = ops.post(f"{url}/equipment", json=body | {"calibration_due": None})
    assert none.status_code == 422 and "give the instrument's calibration due date" in none.text
    # due three days ago: recorded, flagged, and a deviation opens (source equipment)
    detail = _ok(ops.post(f"{url}/equipment", json=body))
    [event] = [
        e for e in detail["events"] if e["kind"] == "EquipmentUsed" and e["step"] == "SELECT"
    ]
    assert (event["instrument"], event["verdict"]) == ("PRD-0113", "deviation")
    assert [(d["source"], d["status"]) for d in detail["deviations"]] == [("equipment", "open")]
    [late] = [i for i in detail["review"] if i["kind"] == "calibration_overdue"]
    assert (late["step"], late["subject"], late["seq"]) == ("SELECT", "PRODIGY", event["seq"])
    # the trace (API and page): each instrument with its calibration due date and step
    trace = _ok(ops.get(f"/api/trace/batches/{bid}"))
    assert [(q["step"], q["code"], q["instrument"], q["calibration_due"], q["calibration"])
            for q in trace["equipment"]] == [
        ("RECEIPT", "COUNTER", "COUNTER-0001", BW.instrument("COUNTER")[1].isoformat(), "ok"),
        ("SELECT", "PRODIGY", "PRD-0113", body["calibration_due"], "overdue"),
    ]  # fmt: skip
    page, _ = logged_in(db, "operator", PASSWORD)
    text = page.get(f"/trace/batch/{bid}").text
    row = text.split('data-instrument="PRD-0113"')[1].split("</tr>")[0]
    assert 'data-calibration="overdue"' in text and "overdue: deviation" in row
    assert "by operator" in row
    assert "not recorded in the batch record" not in text
    # documented in OpenAPI
    spec = _ok(ops.get("/api/openapi.json"))
    operation = spec["paths"]["/api/batches/{batch_id}/equipment"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    assert {"step", "equipment", "instrument", "calibration_due", "reason"} <= set(fields)


def test_cli_lists_batches_and_traces_both_ways(cli_db: Database, cli_env: dict[str, str]) -> None:
    from tests.integration.manufacturing import test_batches as T
    from typer.testing import CliRunner

    from vein2vein.features import create_cli

    w = BW.build(cli_db)
    order_id = BW.order_with_din(w)
    bid = T.new_batch(w, order_id)
    T.run_step(w, bid, "RECEIPT")
    T.run_step(w, bid, "SELECT", sign=False)
    runner, cli = CliRunner(), create_cli()

    def v2v(*args: str) -> Any:
        out = runner.invoke(cli, list(args), env=cli_env)
        assert out.exit_code == 0, out.output
        return json.loads(out.output)

    listed = v2v("batches", "list", "--json")
    assert listed == [
        {
            "id": bid, "order": "HLX-1-0001", "product": "HLX-1", "site": BW.SITE,
            "mbr_version": 1, "status": "IN_PROGRESS", "suite": BW.SUITE,
            "deviations_open": 0, "deviations_closed": 0, "gmp": True, "run_label": None,
        }
    ]  # fmt: skip
    rec = T.record(w, bid)
    traced = v2v("trace", "batch", str(bid), "--json")
    assert [(x["material"], x["lot_number"], x["status"]) for x in traced["lots"]] == [
        ("APH", rec.din, "patient"),
        ("CD4CD8", "CD4CD8-L1", "released"),
    ]
    # equipment of the two started steps, as epcam_v1.yaml lists them, with the instruments
    due = BW.instrument("COUNTER")[1].isoformat()
    assert [
        (e["step"], e["code"], e["instrument"], e["calibration_due"], e["calibration"])
        for e in traced["equipment"]
    ] == [
        ("RECEIPT", "COUNTER", "COUNTER-0001", due, "ok"),
        ("SELECT", "PRODIGY", "PRODIGY-0001", due, "ok"),
    ]
    shown = runner.invoke(cli, ["trace", "batch", str(bid)], env=cli_env)
    assert shown.exit_code == 0, shown.output
    assert f"instrument COUNTER-0001  calibration due {due} (ok)" in shown.output
    lot = v2v("trace", "lot", "CD4CD8-L1", "--json")
    assert [(b["batch"], b["order"], b["coi"]) for b in lot["batches"]] == [
        (bid, "HLX-1-0001", rec.coi)
    ]
    assert v2v("trace", "lot", "LV-EPC-2026-001", "--json")["batches"] == []


def test_pages_list_and_show_a_batch_read_only(sqlite_db: Database) -> None:
    from tests.integration.manufacturing import test_batches as T
    from tests.webclient import logged_in

    db = sqlite_db
    w = BW.build(db)
    bid = T.new_batch(w, BW.order_with_din(w))
    T.run_step(w, bid, "RECEIPT", {"transit_temperature": (12, "°C")})
    din = T.record(w, bid).din
    ops, _ = logged_in(db, "operator", PASSWORD)
    listing = ops.get("/batches")
    assert listing.status_code == 200 and f'data-batch="{bid}"' in listing.text
    assert "1 open, 0 closed" in listing.text
    page = ops.get(f"/batches/{bid}")
    assert page.status_code == 200, page.text
    text = page.text
    assert din in text and 'data-step="RECEIPT"' in text and 'data-review="deviation"' in text
    assert "DEV-" in text and 'data-status="IN_PROGRESS"' in text
    # the instrument recorded for the cell counter: in the event list and the genealogy summary
    assert text.count("COUNTER-0001") == 2 and "RECEIPT NucleoCounter NC-200 (" in text
    # the sponsor sees the status, not the record; another client finds nothing
    sponsor, _ = logged_in(db, "a.viewer", PASSWORD)
    seen = sponsor.get(f"/batches/{bid}")
    assert seen.status_code == 200 and 'data-status="IN_PROGRESS"' in seen.text
    assert din not in seen.text and "data-step" not in seen.text
    other, _ = logged_in(db, "b.clinical", PASSWORD)
    assert other.get(f"/batches/{bid}").status_code == 404
    assert f'data-batch="{bid}"' not in other.get("/batches").text
