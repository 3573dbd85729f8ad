"""The CTD tables page and API through HTTP on the demo (insights/ctd_web.py, ctd_api.py): the
page lists the caller's programs with PDF and Word links for the available sections and the
comparability summary (3.2.P.2) as available; a link downloads the file, audited, with the
head it printed in ``X-Audit-Head``; a sponsor sees only its own program and gets 404 for
another's; a refused section shows the page again with the reason; roles without QC read
(none in the demo) are covered by the route-permission test."""

from __future__ import annotations

import hashlib
import io

import docx
import pytest
from pypdf import PdfReader
from sqlalchemy import select
from tests.webclient import logged_in

from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.programs.tables import Program
from vein2vein.store.database import Database

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
def test_ctd_page_downloads_and_api(demo_db: Database) -> None:
    db = demo_db
    with db.read() as s:
        programs = {p.code: p.id for p in s.scalars(select(Program))}
    hlx, crv = programs["HLX-EPC-01"], programs["CRV-CD19-02"]

    c, _ = logged_in(db, "qa.approver", DEMO_PASSWORD)
    page = c.get("/ctd")
    assert page.status_code == 200
    for pid in (hlx, crv):
        assert f'href="/ctd/{pid}?section=3.2.P.5.4&amp;format=pdf"' in page.text
        assert f'href="/ctd/{pid}?section=3.2.P.3.3&amp;format=docx"' in page.text
    assert f'href="/ctd/{hlx}?section=3.2.P.2&amp;format=pdf"' in page.text
    r = c.get(f"/ctd/{hlx}", params={"section": "3.2.P.5.4", "format": "pdf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["x-content-sha256"] == hashlib.sha256(r.content).hexdigest()
    seq, head = r.headers["x-audit-head"].split(":")
    first = PdfReader(io.BytesIO(r.content)).pages[0].extract_text()
    assert f"Audit chain head at generation: #{seq} {head}" in first
    refused = c.get(f"/ctd/{hlx}", params={"section": "3.2.P.9", "format": "pdf"})
    assert refused.status_code == 422 and "unknown CTD section" in refused.text
    assert 'data-field="format"' in c.get(f"/ctd/{hlx}", params={"format": "xls"}).text

    sponsor, _ = logged_in(db, "helixa.viewer", DEMO_PASSWORD)
    own = sponsor.get("/ctd")
    assert "HLX-EPC-01" in own.text and "CRV-CD19-02" not in own.text
    assert sponsor.get(f"/ctd/{crv}", params={"section": "3.2.P.5.4"}).status_code == 404
    word = sponsor.get(
        f"/api/programs/{hlx}/ctd", params={"section": "3.2.P.3.3", "format": "docx"}
    )
    assert word.status_code == 200 and word.headers["content-type"] == DOCX
    table = docx.Document(io.BytesIO(word.content)).tables[0]
    assert table.rows[0].cells[0].text == "Batch"
    later_seq, later_head = word.headers["x-audit-head"].split(":")
    assert int(later_seq) > int(seq) and later_head != head
    assert sponsor.get(f"/api/programs/{crv}/ctd").status_code == 404
    sections = sponsor.get("/api/ctd/sections").json()
    assert [s["code"] for s in sections] == ["3.2.P.5.4", "3.2.P.3.3", "3.2.P.2"]
    assert sections[2]["available"] is True and not sections[2]["unavailable"]
