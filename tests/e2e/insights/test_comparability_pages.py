"""Comparability pages, API and command line (insights/comparability_web.py, _api.py, _cli.py)
on the demo (insights/comparability_demo.py: protocol CP-HLX-EPC-01-01 v1, approved, one run):
every page for the roles that read it and another sponsor refused with 404; a new protocol
written, signed and approved over the web, with no value of the test arm on its page, in the
API or in ``v2v comparability show --json`` before the approval, and the run's report (page,
PDF, ``v2v comparability report --json``) after it; a bad protocol refused naming the field.

The demo is loaded once per test run; each test works on its own copy.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.shared_demo import sqlite_demo_file
from tests.webclient import logged_in
from typer.testing import CliRunner

from vein2vein.core.settings import Settings, get_settings
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.insights import comparability_data as data
from vein2vein.insights import comparability_domain as rules
from vein2vein.insights.comparability_demo import PROTOCOL_FILE
from vein2vein.insights.comparability_tables import CmpProtocol
from vein2vein.store.audit import AuditEntry
from vein2vein.store.database import Database

READERS = ("admin", "operator", "qc", "qa.reviewer", "qa.approver", "helixa.viewer",
           "helixa.clinical")  # fmt: skip
DEMO_PROTOCOL, DEMO_RUN = 1, 1


def _settings(path: Path) -> Settings:
    return Settings(
        environment="test", database_url=f"sqlite:///{path}", argon2_profile="fast-tests"
    )


@pytest.fixture(scope="module")
def demo_file() -> Path:
    """The run's demo file (tests/shared_demo.py: loaded once per test run)."""
    return sqlite_demo_file()


@pytest.fixture
def demo(demo_file: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "demo.db"
    shutil.copy(demo_file, path)
    db = Database(_settings(path))
    yield db
    db.dispose()


def _cli(db: Database, *args: str) -> Any:
    from vein2vein.features import create_cli

    env = {"V2V_DATABASE_URL": db.settings.database_url, "V2V_ARGON2_PROFILE": "fast-tests"}
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(create_cli(), list(args), env=env)
    finally:
        get_settings.cache_clear()


def _to_approve(c: Any) -> tuple[str, int]:
    """The home page's "Comparability protocols to approve" queue: its link and count."""
    found = re.search(
        r'data-queue="insights.comparability_to_approve">\s*<a href="([^"]+)">'
        r'<span class="n">(\d+)</span>',
        c.get("/").text,
    )
    assert found, "no comparability queue on the home page"
    return found.group(1).replace("&amp;", "&"), int(found.group(2))


def _post(c: Any, csrf: str, path: str, **form: str) -> Any:
    return c.post(path, data=form | {"csrf_token": csrf}, follow_redirects=False)


def test_every_reader_sees_the_pages_and_another_sponsor_nothing(demo: Database) -> None:
    pages = ("/comparability", f"/comparability/protocols/{DEMO_PROTOCOL}",
             f"/comparability/runs/{DEMO_RUN}")  # fmt: skip
    for user in READERS:  # the report's figures take a while: two roles open it
        c, _ = logged_in(demo, user, DEMO_PASSWORD)
        for path in pages if user in ("qa.reviewer", "helixa.viewer") else pages[:2]:
            r = c.get(path)
            assert r.status_code == 200, (user, path, r.status_code)
        assert "CP-HLX-EPC-01-01 v1" in c.get("/comparability").text
    c, _ = logged_in(demo, "helixa.viewer", DEMO_PASSWORD)
    pdf = c.get(f"/comparability/runs/{DEMO_RUN}/report.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content[:4] == b"%PDF"
    # the hand-out is audited: which bytes went out, by whom
    sha = hashlib.sha256(pdf.content).hexdigest()
    assert pdf.headers["x-content-sha256"] == sha
    with demo.read() as s:
        entry = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "comparability.report_export")
            .order_by(AuditEntry.seq.desc())
        ).first()
    assert entry is not None and (entry.entity_type, entry.entity_id) == ("cmp_run", str(DEMO_RUN))
    assert json.loads(entry.after)["report_sha256"] == sha and entry.actor == "helixa.viewer"
    run = c.get(f"/comparability/runs/{DEMO_RUN}").text
    assert 'data-conclusion="not demonstrated"' in run and "<svg" in run
    assert "reference lots" in run  # the engine's small-n warning
    other, _ = logged_in(demo, "corvane.clinical", DEMO_PASSWORD)
    assert "CP-HLX" not in other.get("/comparability").text
    for path in pages[1:]:
        assert other.get(path).status_code == 404
    assert other.get(f"/api/comparability/runs/{DEMO_RUN}").status_code == 404


def _test_values(db: Database, protocol_id: int) -> list[float]:
    with db.read() as s:
        row = s.get_one(CmpProtocol, protocol_id)
        content = json.loads(row.content)
        chosen = data.arm_batches(s, row.program_id, content)
        ref, _ = data.read_values(s, content, chosen, (data.REFERENCE,))
        test, _ = data.read_values(s, content, chosen, (data.TEST,))
    reference = {v.value for v in ref}
    # whole numbers are left out: "51" is also a minute or a page size
    return [v.value for v in test if v.value not in reference and v.value != int(v.value)]


def _mentions(text: str, value: float) -> bool:
    forms = {f"{value:.4g}", f"{value:g}", repr(value), f"{value:.3g}"}
    return any(re.search(rf"(?<![\d.]){re.escape(f)}(?![\d])", text) for f in forms)


def test_the_test_arm_stays_hidden_until_approval_then_the_report(
    demo: Database, tmp_path: Path
) -> None:
    author, csrf = logged_in(demo, "qa.reviewer", DEMO_PASSWORD)
    text = PROTOCOL_FILE.read_text(encoding="utf-8").replace("margin: 5", "margin: 4")
    r = _post(author, csrf, "/comparability", protocol=text)
    assert r.status_code == 303, r.text[:2000]
    path = r.headers["location"]
    pid = int(path.rsplit("/", 1)[1])
    hidden = _test_values(demo, pid)
    assert len(hidden) >= 4  # of viability, CAR+, VCN, fold expansion, harvest viability

    def visible(text: str) -> list[float]:
        return [v for v in hidden if _mentions(text, v)]

    page = author.get(path).text
    assert "data-blinded" in page and "data-reference-preview" in page
    api = author.get(f"/api/comparability/protocols/{pid}").text
    show = _cli(demo, "comparability", "show", str(pid), "--json")
    assert show.exit_code == 0, show.output
    assert json.loads(show.output)["test_arm_visible"] is False
    for shown in (page, api, show.output):
        assert visible(shown) == []
    draft_run = _post(author, csrf, f"{path}/runs")  # a draft never runs
    assert draft_run.status_code == 422 and "only on an approved" in draft_run.text

    shown_hash = re.search(r'name="shown_hash" value="([0-9a-f]{64})"', page).group(1)
    signing = {"username": "qa.reviewer", "password": DEMO_PASSWORD, "shown_hash": shown_hash}
    approver, csrf2 = logged_in(demo, "qa.approver", DEMO_PASSWORD)
    assert _to_approve(approver) == ("/comparability?status=to_approve", 0)
    assert _post(author, csrf, f"{path}/sign", **signing).status_code == 303
    assert visible(author.get(path).text) == []
    # the QA approver's home page counts it, and its link lists exactly it
    href, count = _to_approve(approver)
    listed = re.findall(r'data-protocol="(\d+)" data-status="(\w+)"', approver.get(href).text)
    assert count == 1 and listed == [(str(pid), "authored")]
    assert "insights.comparability_to_approve" not in author.get("/").text  # not the author's
    # a QA approver who wrote and signed a version does not count it and is offered no approval
    own = _post(approver, csrf2, "/comparability", protocol=text.replace("margin: 4", "margin: 3"))
    own_path = own.headers["location"]
    own_hash = re.search(
        r'name="shown_hash" value="([0-9a-f]{64})"', approver.get(own_path).text
    ).group(1)
    signed_own = _post(approver, csrf2, f"{own_path}/sign", username="qa.approver",
                       password=DEMO_PASSWORD, shown_hash=own_hash)  # fmt: skip
    assert signed_own.status_code == 303
    assert _to_approve(approver)[1] == 1
    assert f"{own_path}/approve" not in approver.get(own_path).text
    refused = _post(approver, csrf2, f"{path}/approve", username="qa.approver",
                    password="wrong", shown_hash=shown_hash)  # fmt: skip
    assert refused.status_code == 401 and 'data-field="password"' in refused.text
    ok = _post(approver, csrf2, f"{path}/approve", username="qa.approver",
               password=DEMO_PASSWORD, shown_hash=shown_hash)  # fmt: skip
    assert ok.status_code == 303
    assert _to_approve(approver)[1] == 0
    assert rules.test_arm_visible("approved") and "data-blinded" not in author.get(path).text

    r = _post(author, csrf, f"{path}/runs")
    assert r.status_code == 303 and "/comparability/runs/" in r.headers["location"]
    run_id = int(r.headers["location"].rsplit("/", 1)[1])
    report = author.get(r.headers["location"]).text
    assert "CP-HLX-EPC-01-02 v1" in report and "Provenance" in report
    out = _cli(demo, "comparability", "report", str(run_id), "--json")
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert body["protocol"]["label"] == "CP-HLX-EPC-01-02 v1" and body["superseded"] is False
    assert {a["name"] for a in body["attributes"]} >= {"viability", "vcn"}
    assert visible(json.dumps(body["inputs"]))  # the test arm's values, now shown
    pdf = tmp_path / "report.pdf"
    out = _cli(demo, "comparability", "report", str(run_id), "--out", str(pdf))
    assert out.exit_code == 0 and "written" in out.output and pdf.read_bytes()[:4] == b"%PDF"
    listed = json.loads(_cli(demo, "comparability", "list", "--json").output)
    assert {r["label"]: r["status"] for r in listed}["CP-HLX-EPC-01-02 v1"] == "approved"


def test_a_bad_protocol_is_refused_naming_the_field(demo: Database) -> None:
    c, csrf = logged_in(demo, "qa.reviewer", DEMO_PASSWORD)
    text = PROTOCOL_FILE.read_text(encoding="utf-8").replace("source: qc:vcn", "source: vcn")
    r = _post(c, csrf, "/comparability", protocol=text)
    assert r.status_code == 422 and 'data-field="attributes[2].source"' in r.text
    assert "source: vcn" in r.text  # the form keeps what was typed
    viewer, viewer_csrf = logged_in(demo, "helixa.viewer", DEMO_PASSWORD)
    assert _post(viewer, viewer_csrf, "/comparability", protocol=text).status_code == 403
    good = PROTOCOL_FILE.read_text(encoding="utf-8")
    signed = _post(c, csrf, f"/comparability/protocols/{DEMO_PROTOCOL}/edit", protocol=good)
    assert signed.status_code == 409 and "can no longer be edited" in signed.text
