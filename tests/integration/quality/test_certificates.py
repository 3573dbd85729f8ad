"""Certificates of Analysis from the store, on SQLite and PostgreSQL (quality/certificates.py):
the content of a released demo batch read back from its PDF, the same file handed out again
while nothing changed, a tampered file and a superseded one refused with the reason, and
nothing issued for a batch not released or shown across clients."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from tests.integration.quality.test_release_store import Demo, _enter

from vein2vein.core.errors import RuleViolation
from vein2vein.manufacturing.tables import Batch
from vein2vein.quality import certificates, coa_pdf, views
from vein2vein.quality.tables import QcCoa
from vein2vein.store.database import Database


def test_issue_download_verify_tamper_and_supersede(demo_db: Database) -> None:
    db = demo_db
    d = Demo(db)
    batch = d.batch["HLX-EPC-01-0002"]  # released conditionally: the VCN still pending
    issued = d.act("qa.approver", certificates.issue, batch)
    assert issued.new and issued.number == f"COA-{batch:05d}-1"
    read = coa_pdf.read_pdf(issued.data)
    c = read.content
    assert read.embedded_hash_matches
    assert (c["order_number"], c["release_state"], c["spec_version"]) == (
        "HLX-EPC-01-0002",
        "conditional",
        1,
    )
    assert [p["code"] for p in c["pending_tests"]] == ["vcn"]
    with db.read() as s:  # the specification's result_days of the VCN (7), counted from freezing
        frozen = certificates._frozen_on(s.get(Batch, batch))
    assert frozen is not None
    assert c["pending_tests"][0]["expected_on"] == (frozen + dt.timedelta(days=7)).isoformat()
    with db.read() as s:  # the QC worklist gives the same due date
        rows = views.worklist(s, d.scope("qc"))
    (row,) = [r for r in rows if r["batch"] == batch]
    assert [(m["code"], m["due"]) for m in row["missing"]] == [
        ("vcn", frozen + dt.timedelta(days=7))
    ]
    tests = {t["code"]: t for t in c["tests"]}
    assert tests["vcn"]["outcome"] == "pending" and tests["viability"]["outcome"] == "conforms"
    assert tests["viability"]["raw"].endswith(" %") and tests["viability"]["rounded"].endswith("%")
    assert [s["meaning"] for s in c["signatures"]] == ["approved", "released"]
    assert c["bags"] and c["bags"][0]["division"] == "A0"
    assert c["dose_level"].startswith("DL2: 2 × 10^6 cells/kg")

    # the same certificate again while nothing changed: same number, same bytes
    again = d.act("helixa.viewer", certificates.issue, batch)  # the sponsor may download it
    assert (again.number, again.data, again.new) == (issued.number, issued.data, False)
    with db.read() as s:
        ok = certificates.verify(s, d.scope("qa.approver"), issued.data, "coa.pdf")
        assert (ok["authentic"], ok["current"], ok["status"]) == (True, True, "current")
        # another client is not told of it
        other = certificates.verify(s, d.scope("corvane.clinical"), issued.data, "coa.pdf")
        assert other["status"] == "not issued by this system" and not other["authentic"]

    # tampered: one printed byte changed in the file
    tampered = bytearray(issued.data)
    at = tampered.find(b"conforms") if b"conforms" in tampered else len(tampered) // 2
    tampered[at + 1] ^= 0x01
    with db.read() as s:
        bad = certificates.verify(s, d.scope("qa.approver"), bytes(tampered), "coa.pdf")
        assert not bad["authentic"] and bad["status"] in (
            "altered after issue",
            "not issued by this system",
        )
        assert bad["reasons"] and bad["sha256"] != ok["sha256"]

    # superseded: the pending VCN arrives and conforms; the issued file names what changed
    _enter(d, "HLX-EPC-01-0002", "vcn", "1.9", "copies/transduced cell")
    with db.read() as s:
        old = certificates.verify(s, d.scope("qa.approver"), issued.data, "coa.pdf")
        assert (old["authentic"], old["current"], old["status"]) == (True, False, "superseded")
        assert any("vcn" in r for r in old["reasons"]), old["reasons"]
    new = d.act("qa.approver", certificates.issue, batch)
    assert new.new and new.number == f"COA-{batch:05d}-2"
    assert coa_pdf.read_pdf(new.data).content["release_state"] == "released"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(QcCoa)) == 2

    # no certificate for a batch not released
    with pytest.raises(RuleViolation, match="not released"):
        d.act("qa.approver", certificates.issue, d.batch["HLX-EPC-01-0011"])
