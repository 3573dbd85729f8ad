"""The signed readout report over HTTP on the demo (SQLite): the study page's section and form,
a version's page, signing on the page and through the API, the PDF the same bytes on every
download while nothing changed (and audited), different once signed, and the superseded
version still readable, marked so."""

from __future__ import annotations

import hashlib
import io

import pytest
from pypdf import PdfReader
from tests.integration.clinical.report_world import BIOSTAT, ReportDemo
from tests.webclient import logged_in

from vein2vein.clinical import report_versions as rv
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.store import audit
from vein2vein.store.database import Database


def _text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
def test_generate_sign_download_and_supersede(demo_db: Database) -> None:
    db = demo_db
    d = ReportDemo(db)
    sid = d.study_id
    c, csrf = logged_in(db, "helixa.clinical", DEMO_PASSWORD)
    page = c.get(f"/clinical/studies/{sid}").text
    assert "Signed readout report" in page and "No report version yet." in page
    assert 'name="signatories" size="40" value="helixa.clinical"' in page
    assert "Dr. Ana Costa (helixa.biostat)" in page  # who may be named

    bad = c.post(
        f"/clinical/studies/{sid}/reports",
        data={"csrf_token": csrf, "signatories": "helixa.clinical helixa.viewer"},
    )
    assert bad.status_code == 422 and "&#39;helixa.viewer&#39; cannot sign" in bad.text
    assert 'aria-invalid="true" aria-describedby="report-error"' in bad.text

    r = c.post(
        f"/clinical/studies/{sid}/reports",
        data={"csrf_token": csrf, "signatories": f"helixa.clinical, {BIOSTAT}"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    rid = int(r.headers["location"].split("/")[-1].split("?")[0])
    page = c.get(r.headers["location"]).text
    assert "Report version 1 generated" in page and "draft (0 of 2 signatures)" in page
    assert f'action="/clinical/reports/{rid}/sign"' in page

    # the same bytes on every download while nothing changed; each hand-out audited
    first = c.get(f"/api/clinical/reports/{rid}/pdf")
    again = c.get(f"/api/clinical/reports/{rid}/pdf")
    assert first.status_code == 200 and first.headers["content-type"] == "application/pdf"
    assert first.content == again.content
    assert first.headers["x-report-sha256"] == hashlib.sha256(first.content).hexdigest()
    with db.read() as s:
        exports = [e for e in audit.query(s, entity_type=rv.RECORD) if e.action.endswith("export")]
        assert len(exports) == 2
    text = _text(first.content)
    assert "HLX-EPC-01-IIT, version 1 (dataset version 1), draft (0 of 2" in text
    assert "CONFIDENTIAL - Helixa" in text and "awaiting signature" in text

    wrong = c.post(
        f"/clinical/reports/{rid}/sign",
        data={"csrf_token": csrf, "username": "helixa.clinical", "password": "wrong"},
    )
    assert wrong.status_code == 401 and 'id="sign-error"' in wrong.text
    signed = c.post(
        f"/clinical/reports/{rid}/sign",
        data={
            "csrf_token": csrf,
            "username": "helixa.clinical",
            "password": DEMO_PASSWORD,
            "shown_hash": c.get(f"/api/clinical/reports/{rid}").json()["content_hash"],
        },
        follow_redirects=True,
    )
    assert signed.status_code == 200 and "draft (1 of 2 signatures)" in signed.text
    assert 'data-form="sign"' not in signed.text  # nothing left for this member to sign
    after = c.get(f"/api/clinical/reports/{rid}/pdf").content
    assert after != first.content and "Dr. Samuel Reyes" in _text(after)

    # the second member's home page queue links to the study awaiting the signature
    b, bcsrf = logged_in(db, BIOSTAT, DEMO_PASSWORD)
    assert "Readout reports awaiting your signature" in b.get("/").text
    listed = b.get("/clinical?reports=to_sign").text
    assert "readout report awaiting your signature: 1" in listed and "HLX-EPC-01-IIT" in listed
    assert b.get("/clinical?reports=someday").status_code == 422
    # and signs through the API: final
    r = b.post(
        f"/api/clinical/reports/{rid}/signatures",
        json={"username": BIOSTAT, "password": DEMO_PASSWORD},
        headers={"X-CSRF-Token": bcsrf},
    )
    assert r.status_code == 201 and r.json()["meaning"] == "approved"
    v1 = c.get(f"/api/clinical/reports/{rid}").json()
    assert v1["final"] and v1["missing"] == []

    viewer, vcsrf = logged_in(db, "helixa.viewer", DEMO_PASSWORD)
    assert "final (signed by all named members)" in viewer.get(f"/clinical/reports/{rid}").text
    refused = viewer.post(
        f"/clinical/reports/{rid}/sign",
        data={"csrf_token": vcsrf, "username": "helixa.viewer", "password": DEMO_PASSWORD},
    )
    assert refused.status_code == 403

    # a settings change: version 2; version 1 stays readable, marked superseded
    options = v1["options"] | {"population": "infused"}
    r = c.patch(
        f"/api/clinical/studies/{sid}",
        json={"options": options, "reason": "mITT population"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    page = c.get(f"/clinical/studies/{sid}").text
    assert "options changed after report version 1" in page and 'id="report-outdated"' in page
    r = c.post(f"/api/clinical/studies/{sid}/reports", json={}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201 and r.json()["number"] == 2 and r.json()["new"] is True
    listed = c.get(f"/api/clinical/studies/{sid}/reports").json()
    assert [(v["number"], v["superseded_by"]) for v in listed] == [(2, None), (1, 2)]
    old = c.get(f"/clinical/reports/{rid}").text
    assert 'id="superseded"' in old and "Superseded by version 2" in old
    assert "superseded by version 2" in _text(c.get(f"/api/clinical/reports/{rid}/pdf").content)
