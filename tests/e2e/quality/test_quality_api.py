"""QC release through the JSON API on the demo (quality/demo.py): the release list, the release
page of the batch of order HLX-EPC-01-0011 (all results in, not released), its release by the
QA approver with the hash of what was shown (after a wrong password and a refused operator),
the Certificate of Analysis downloaded and verified (and a tampered copy refused), results
entered and imported by QC with their judgement, and another client that finds nothing."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.webclient import client

from vein2vein.auth import service, tokens
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.manufacturing.tables import Batch
from vein2vein.quality.tables import QcRelease, QcResult
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

UNRELEASED, IN_PROGRESS = "HLX-EPC-01-0011", "HLX-EPC-01-0003"


def _api(db: Database, username: str):  # type: ignore[no-untyped-def]
    with db.uow(Actor("t")) as uow:
        scope = service.scope_of(service.user_by_username(uow.session, username))
        _, token = tokens.create_token(uow, scope, "t", 1)
        uow.commit()
    c = client(db)
    c.headers["authorization"] = f"Bearer {token}"
    return c


def _batch(db: Database, order: str) -> int:
    with db.read() as s:
        return next(b.id for b in s.scalars(select(Batch)) if b.order and b.order.number == order)


def _count(db: Database, table: Any, *where: Any) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(table).where(*where)) or 0


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _sign(who: str, **kw: Any) -> dict[str, Any]:
    return {"username": who, "password": DEMO_PASSWORD, **kw}


def test_release_the_demo_batch_and_its_certificate(demo: Database) -> None:
    db = demo
    bid = _batch(db, UNRELEASED)
    qa, op, helixa, corvane = (
        _api(db, u) for u in ("qa.approver", "operator", "helixa.clinical", "corvane.clinical")
    )
    rows = {r["order"]: r for r in _ok(qa.get("/api/quality/releases"))}
    row = rows[UNRELEASED]
    assert (row["batch"], row["state"], row["decided_at"], row["spec_version"]) == (
        bid, "pending", None, 1,
    )  # fmt: skip
    assert row["spec"] == "HLX-EPC-01 drug_product iit v1" and row["coi"]
    assert rows["HLX-EPC-01-0002"]["state"] == "conditional"

    url = f"/api/batches/{bid}"
    page = _ok(qa.get(f"{url}/qc"))
    assert (page["state"], page["would_be"], page["blockers"]) == ("pending", "released", [])
    assert page["batch"]["order"] == UNRELEASED and all(p["met"] for p in page["preconditions"])
    tests = {t["code"]: t for t in page["tests"]}
    assert tests["viability"]["result"]["outcome"] == "conforms"
    assert tests["car_t_cells"]["result"]["source"] == "calculated"
    plan = page["dose"]["plan"]
    # the fill holds the planned cells: Σ bags = total (quality/dose.py, docs/quality.md "Dose")
    assert sum(b["cells"] for b in plan["bags"]) == pytest.approx(plan["cells"])
    assert sum(b["volume_ml"] for b in plan["bags"]) == pytest.approx(plan["volume_ml"])
    # volume = cells ÷ concentration (docs/quality.md "Volume and bags")
    assert plan["volume_ml"] == pytest.approx(plan["cells"] / plan["concentration_cells_per_ml"])
    # short of the target but within the lower tolerance: listed, not flagged
    assert plan["flagged"] is False and plan["cells"] <= plan["target_cells"]
    assert [f["flag"] for f in plan["findings"]] == ["not enough cells"]
    shown = page["shown_hash"]
    assert len(shown) == 64 and int(shown, 16) >= 0

    # the operator may not release; a wrong password releases nothing
    assert op.post(f"{url}/release", json=_sign("operator")).status_code == 403
    wrong = qa.post(
        f"{url}/release",
        json={"username": "qa.approver", "password": "not-it", "shown_hash": shown},
    )
    assert wrong.status_code == 401, wrong.text
    assert wrong.headers["content-type"] == "application/problem+json"
    assert _count(db, QcRelease, QcRelease.batch_id == bid) == 0
    # no certificate before release
    assert "not released" in qa.get(f"{url}/coa").json()["detail"]

    done = _ok(qa.post(f"{url}/release", json=_sign("qa.approver", shown_hash=shown)))
    assert done["state"] == "released" and done["release"]["decided_by"] == "qa.approver"
    (sig,) = done["signatures"]
    assert (sig["meaning"], sig["username"]) == ("released", "qa.approver")
    again = qa.post(f"{url}/release", json=_sign("qa.approver", shown_hash=done["shown_hash"]))
    assert again.status_code in (409, 422) and "already released" in again.json()["detail"]

    # the certificate: a PDF attachment, the same bytes when asked again, verified authentic
    pdf = qa.get(f"{url}/coa")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    disposition = pdf.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="COA-') and disposition.endswith('.pdf"')
    assert pdf.content.startswith(b"%PDF-")
    assert helixa.get(f"{url}/coa").content == pdf.content  # the sponsor's copy: re-issued as is
    issued = _ok(qa.get(f"{url}/coa/issued"))
    assert len(issued) == 1
    assert issued[0]["file_sha256"] == hashlib.sha256(pdf.content).hexdigest()
    verdict = _ok(
        qa.post(
            "/api/quality/coa/verify", files={"file": ("coa.pdf", pdf.content, "application/pdf")}
        )
    )
    assert (verdict["authentic"], verdict["current"], verdict["batch_id"]) == (True, True, bid)
    assert verdict["document_number"] == issued[0]["number"]
    tampered = pdf.content.replace(b"HLX-EPC-01", b"HLX-EPC-02", 1)
    assert tampered != pdf.content
    bad = _ok(
        helixa.post(
            "/api/quality/coa/verify", files={"file": ("coa.pdf", tampered, "application/pdf")}
        )
    )
    assert bad["authentic"] is False and bad["reasons"]

    # another client finds neither the release page nor the certificate
    for path in (f"{url}/qc", f"{url}/coa", f"{url}/coa/issued"):
        assert corvane.get(path).status_code == 404, path
    assert _ok(helixa.get(f"{url}/qc"))["state"] == "released"
    assert UNRELEASED not in {r["order"] for r in _ok(corvane.get("/api/quality/releases"))}


def test_results_entered_and_imported_by_qc(demo: Database) -> None:
    db = demo
    bid = _batch(db, IN_PROGRESS)
    qc, helixa, corvane = (_api(db, u) for u in ("qc", "helixa.clinical", "corvane.clinical"))
    url = f"/api/batches/{bid}/results"
    # USP General Notices 7.20: 91.5 % rounds half up to the whole per cent, 92 % ≥ 70 %
    stored = _ok(
        qc.post(
            url, json={"test": "viability", "value": 91.5, "unit": "%", "tested_on": "2026-12-01"}
        ),
        201,
    )
    assert (stored["rounded"], stored["outcome"], stored["analyst"]) == ("92 %", "conforms", "qc")
    assert stored["value"] == "91.5" and stored["batch_id"] == bid and stored["valid"] is True
    # a wrong unit: refused with the field named (docs/quality.md, "Errors")
    wrong = qc.post(url, json={"test": "cd3", "value": "5", "unit": "mL"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "unit"
    boolean = qc.post(url, json={"test": "cd3", "value": True})
    assert boolean.status_code == 422
    assert boolean.json()["errors"][0]["field"].startswith("value")
    missing = qc.post(url, json={"value": "5"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "test"
    # the sponsor reads but never enters; another client does not find the batch
    assert helixa.post(url, json={"test": "cd3", "value": "90", "unit": "%"}).status_code == 403
    assert corvane.post(url, json={"test": "cd3", "value": "90", "unit": "%"}).status_code == 404
    assert corvane.get(f"/api/batches/{bid}/qc").status_code == 404

    # a file: all rows or none, the row and field named
    bad = (
        "batch,test,value,unit,analyst,tested_on\n"
        f"{bid},cd3,95.2,%,qc,2026-12-01\n"
        f"{bid},endotoxin,lots,EU/mL,qc,2026-12-01\n"
    )
    refused = qc.post(
        "/api/quality/results/import",
        files={"file": ("results.csv", bad.encode(), "text/csv")},
        data={"format": "csv"},
    )
    assert refused.status_code == 422, refused.text
    (err,) = refused.json()["errors"]
    assert (err["file"], err["row"], err["field"]) == ("results.csv", 3, "value")
    assert _count(db, QcResult, QcResult.batch_id == bid, QcResult.test_code == "cd3") == 0
    good = bad.replace("lots", "6.1")
    rows = _ok(
        qc.post(
            "/api/quality/results/import",
            files={"file": ("results.csv", good.encode(), "text/csv")},
            data={"format": "auto"},
        ),
        201,
    )
    # 6.1 EU/mL > 5.0 EU/mL (demo specification): out of specification, an investigation opens
    assert [(r["test"], r["rounded"], r["outcome"], r["source"]) for r in rows] == [
        ("cd3", "95.2 %", "conforms", "csv"),
        ("endotoxin", "6.1 EU/mL", "does not conform", "csv"),
    ]
    opened = [
        i
        for i in _ok(qc.get("/api/quality/investigations", params={"open": "true"}))
        if i["batch_id"] == bid
    ]
    assert [(i["test"], i["closed"]) for i in opened] == [("endotoxin", False)]
    detail = _ok(qc.get(f"/api/quality/investigations/{opened[0]['number']}"))
    assert detail["result_id"] == rows[1]["id"] and len(detail["shown_hash"]) == 64
    assert corvane.get(f"/api/quality/investigations/{opened[0]['number']}").status_code == 404
    page = _ok(qc.get(f"/api/batches/{bid}/qc"))
    assert [i["number"] for i in page["investigations"]] == [opened[0]["number"]]

    # phase I (no assignable laboratory cause) and phase II by QA, each signed
    reviewer = _api(db, "qa.reviewer")
    inv = f"/api/quality/investigations/{opened[0]['number']}"
    phase_i = {"finding": "Calculation and method checked; no laboratory error found.",
               "assignable": False, "justification": ""}  # fmt: skip
    assert qc.post(f"{inv}/phase-i", json=phase_i | _sign("qc")).status_code == 403
    after_i = _ok(reviewer.post(f"{inv}/phase-i", json=phase_i | _sign("qa.reviewer")))
    assert (after_i["status"], after_i["closed"]) == ("phase_ii", False)
    # phase II signs the investigation with its conclusion; the shown_hash posted back is of
    # the investigation as shown (before the conclusion): a stale one signs nothing (409)
    approver = _api(db, "qa.approver")
    shown = _ok(approver.get(inv))["shown_hash"]
    closing = {
        "conclusion": "Endotoxin confirmed above the limit.",
        "impact": "The batch does not conform; release is blocked.",
    }
    stale = approver.post(
        f"{inv}/phase-ii", json=closing | _sign("qa.approver", shown_hash="0" * 64)
    )
    assert stale.status_code == 409
    closed = _ok(
        approver.post(f"{inv}/phase-ii", json=closing | _sign("qa.approver", shown_hash=shown))
    )
    assert (closed["status"], closed["closed"], closed["closed_by"]) == (
        "confirmed", True, "qa.approver",
    )  # fmt: skip
    assert [(x["username"], x["meaning"]) for x in closed["signatures"]][-1] == (
        "qa.approver", "approved",
    )  # fmt: skip
    # what was signed is the record as it now stands
    assert closed["signatures"][-1]["content_hash"] == closed["shown_hash"]


def test_specifications_listed_imported_and_approved(demo: Database) -> None:
    from vein2vein.quality import spec_yaml

    db = demo
    qc, approver, corvane = (_api(db, u) for u in ("qc", "qa.approver", "corvane.clinical"))
    (v1,) = _ok(qc.get("/api/quality/specs"))
    assert (v1["status"], v1["version"]) == ("effective", 1)
    detail = _ok(qc.get(f"/api/quality/specs/{v1['id']}"))
    assert "viability" in {t["code"] for t in detail["tests"]} and detail["signatures"]
    assert corvane.get(f"/api/quality/specs/{v1['id']}").status_code == 404
    assert _ok(corvane.get("/api/quality/specs")) == []

    text = (spec_yaml.DEMO_DIR / "epcam_iit_v1.yaml").read_text(encoding="utf-8")
    draft = _ok(qc.post("/api/quality/specs", json={"yaml": text, "file": "v2.yaml"}), 201)
    assert (draft["status"], draft["version"]) == ("draft", 2)
    finer = text.replace("limit: 70", "limit: 70.05")
    broken = qc.post("/api/quality/specs", json={"yaml": finer, "file": "v2.yaml"})
    assert broken.status_code == 422 and "v2.yaml" in broken.json()["detail"]
    assert qc.post(f"/api/quality/specs/{draft['id']}/approve", json=_sign("qc")).status_code == 403
    approved = _ok(
        approver.post(
            f"/api/quality/specs/{draft['id']}/approve",
            json=_sign("qa.approver", shown_hash=draft["shown_hash"]),
        )
    )
    assert approved["status"] == "effective" and approved["signatures"][0]["meaning"] == "approved"
    assert _ok(qc.get(f"/api/quality/specs/{v1['id']}"))["status"] == "superseded"
