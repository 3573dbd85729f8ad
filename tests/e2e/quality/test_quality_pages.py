"""The QC release pages (quality/web.py) through HTTP on the demo (quality/demo.py): every page
for the roles that read it, another client's sponsor refused with 404, the release page of a
blocked batch naming its blockers, form errors on the named field with the form kept, and the
paths a QC analyst and QA walk: a result entered and imported, an out-of-specification result
investigated through phase I and II, a specification uploaded and approved, a batch released and
its certificate downloaded and verified.

Expected values come from the demo's stories (quality/demo.py docstring): the batch of order
HLX-EPC-01-0011 has every result in and conforming and is not released; HLX-EPC-01-0012's
record is still in review, with VCN and sterility not yet due; OOS-2026-0001 is the invalidated
viability of HLX-EPC-01-0010; the demo specification's VCN criterion is ≤ 5.0 copies per
transduced cell (spec/epcam_iit_v1.yaml, docs/quality.md).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.webclient import logged_in

from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.manufacturing.tables import Batch
from vein2vein.quality import spec_yaml
from vein2vein.quality.tables import QcCoa, QcRelease, QcResult
from vein2vein.store.database import Database

READY, IN_REVIEW, OOS_ORDER = "HLX-EPC-01-0011", "HLX-EPC-01-0012", "HLX-EPC-01-0010"
LISTS = ("/release", "/qc/investigations", "/qc/investigations?show=open", "/specs", "/coa/verify")
READERS = (
    "admin",
    "operator",
    "qc",
    "qa.reviewer",
    "qa.approver",
    "helixa.viewer",
    "helixa.clinical",
)


def _batches(db: Database) -> dict[str, int]:
    with db.read() as s:
        return {b.order.number: b.id for b in s.scalars(select(Batch)) if b.order}


def _as(db: Database, user: str) -> tuple[Any, str]:
    return logged_in(db, user, DEMO_PASSWORD)


def _post(c: Any, csrf: str, path: str, **data: str) -> Any:
    return c.post(path, data=data | {"csrf_token": csrf}, follow_redirects=False)


def _refused(r: Any, status: int, field: str, *words: str) -> str:
    assert r.status_code == status, (r.status_code, r.text[:3000])
    assert f'data-field="{field}"' in r.text, re.findall(r'<p class="error".*?</p>', r.text)
    for w in words:
        assert w in r.text, (w, re.findall(r'<p class="error".*?</p>', r.text, re.S))
    return r.text


def _count(db: Database, table: Any) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


# --- every page for its roles; another client's sponsor -------------------------------------


@pytest.mark.parametrize("user", READERS)
def test_every_page_renders_for_the_roles_that_read_it(demo: Database, user: str) -> None:
    ids = _batches(demo)
    c, _ = _as(demo, user)
    for path in LISTS:
        r = c.get(path)
        assert r.status_code == 200, (user, path, r.text[:500])
    details = [
        f"/release/{ids[READY]}",
        f"/qc/batches/{ids[READY]}",
        f"/qc/batches/{ids[OOS_ORDER]}",
        "/qc/investigations/OOS-2026-0001",
        "/specs/1",
    ]
    for path in details:
        r = c.get(path)
        assert r.status_code == 200, (user, path, r.text[:500])
    # the worklist is the QC analyst's
    assert c.get("/qc").status_code == (200 if user == "qc" else 403)
    home = c.get("/").text
    assert 'href="/release"' in home and ('href="/qc"' in home) == (user == "qc")


def test_a_sponsor_of_another_client_gets_not_found(demo: Database) -> None:
    ids = _batches(demo)
    c, csrf = _as(demo, "corvane.clinical")
    for path in (
        f"/release/{ids[READY]}",
        f"/release/{ids[READY]}/coa",
        f"/qc/batches/{ids[READY]}",
        "/qc/investigations/OOS-2026-0001",
        "/specs/1",
    ):
        r = c.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert "HLX-EPC-01" not in r.text
    r = _post(c, csrf, f"/release/{ids[READY]}/exception/sign", username="x", password="y")
    assert r.status_code == 404
    # the lists hold nothing of Helixa's
    for path in ("/release", "/qc/investigations", "/specs"):
        r = c.get(path)
        assert r.status_code == 200 and "HLX-EPC-01" not in r.text and "OOS-2026" not in r.text


# --- the release page ---------------------------------------------------------------------


def test_a_blocked_batch_shows_its_blockers_and_a_refused_release_names_them(
    demo: Database,
) -> None:
    ids = _batches(demo)
    c, csrf = _as(demo, "qa.approver")
    page = c.get(f"/release/{ids[IN_REVIEW]}").text
    assert "Not releasable now" in page and "data-blockers" in page
    assert 'data-met="no"' in page and "not met" in page
    # the record still in review (manufacturing.release_gate) and the pending late results
    assert "Results that may follow release" in page
    assert f'action="/release/{ids[IN_REVIEW]}/release"' not in page
    before = _count(demo, QcRelease)
    r = _post(
        c, csrf, f"/release/{ids[IN_REVIEW]}/release",
        username="qa.approver", password=DEMO_PASSWORD, shown_hash="",
    )  # fmt: skip
    assert r.status_code == 422
    assert f"batch {ids[IN_REVIEW]} cannot be released" in r.text
    assert 'role="alert"' in r.text
    assert _count(demo, QcRelease) == before


def test_release_page_of_a_ready_batch_shows_everything_met_and_the_forms(demo: Database) -> None:
    ids = _batches(demo)
    c, _ = _as(demo, "qa.approver")
    page = c.get(f"/release/{ids[READY]}").text
    assert page.count('data-met="yes"') == 6 and 'data-met="no"' not in page
    assert 'data-would-be="released"' in page
    assert "CAR-positive viable T cells/kg" in page
    assert 'name="shown_hash"' in page and 'name="password"' in page
    assert f'action="/release/{ids[READY]}/reject"' in page
    assert "data-operators" in page and "qa.reviewer" in page  # the verifier may not release
    # a sponsor sees the same screen without the forms
    s, _ = _as(demo, "helixa.clinical")
    sponsor = s.get(f"/release/{ids[READY]}").text
    assert 'data-met="yes"' in sponsor and 'name="password"' not in sponsor
    assert f'action="/release/{ids[READY]}/release"' not in sponsor


def test_release_then_download_and_verify_the_certificate(demo: Database) -> None:
    ids = _batches(demo)
    batch = ids[READY]
    c, csrf = _as(demo, "qa.approver")
    page = c.get(f"/release/{batch}").text
    shown = re.search(r'name="shown_hash" value="([0-9a-f]{64})"', page)
    assert shown
    wrong = _post(
        c, csrf, f"/release/{batch}/release",
        username="qa.approver", password="not-the-password", shown_hash=shown.group(1),
    )  # fmt: skip
    assert wrong.status_code == 401 and 'data-form="release"' in wrong.text
    done = _post(
        c, csrf, f"/release/{batch}/release",
        username="qa.approver", password=DEMO_PASSWORD, shown_hash=shown.group(1),
    )  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == f"/release/{batch}"
    page = c.get(f"/release/{batch}").text
    assert 'data-decision="released"' in page and 'data-signature="released"' in page
    assert f'href="/release/{batch}/coa"' in page
    pdf = c.get(f"/release/{batch}/coa")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    name = f"COA-{batch:05d}-1.pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert pdf.content.startswith(b"%PDF")
    again = c.get(f"/release/{batch}/coa")  # re-issued byte for byte, no new number
    assert again.content == pdf.content and _count(demo, QcCoa) == 1
    verdict = c.post(
        "/coa/verify", files={"file": (name, pdf.content, "application/pdf")},
        data={"csrf_token": csrf},
    )  # fmt: skip
    assert verdict.status_code == 200
    assert 'data-authentic="yes"' in verdict.text and 'data-current="yes"' in verdict.text
    assert f"COA-{batch:05d}-1" in verdict.text
    forged = c.post(
        "/coa/verify", files={"file": ("x.pdf", b"%PDF-1.4 nothing", "application/pdf")},
        data={"csrf_token": csrf},
    )  # fmt: skip
    assert forged.status_code == 200 and 'data-authentic="no"' in forged.text
    empty = c.post("/coa/verify", data={"csrf_token": csrf})
    _refused(empty, 422, "file", "choose a certificate")


def test_reject_and_exception_form_errors_keep_the_form(demo: Database) -> None:
    ids = _batches(demo)
    c, csrf = _as(demo, "qa.approver")
    r = _post(
        c, csrf, f"/release/{ids[READY]}/reject",
        reason="too short", username="qa.approver", password=DEMO_PASSWORD,
    )  # fmt: skip
    text = _refused(r, 422, "reason", "at least 20 characters")
    assert 'data-form="reject"' in text and ">too short</textarea>" in text
    assert 'aria-invalid="true"' in text
    # no nonconformity: an exceptional release is refused by name
    r = _post(
        c, csrf, f"/release/{ids[READY]}/exception",
        physician="Dr A", physician_request="REQ-1", requested_on="2026-13-01",
        no_alternative="x" * 30, risk_assessment="y" * 30, authority_notification="z" * 30,
    )  # fmt: skip
    _refused(r, 422, "requested_on", "YYYY-MM-DD")


# --- the QC analyst's pages ---------------------------------------------------------------


def test_worklist_lists_missing_tests_with_due_dates(demo: Database) -> None:
    ids = _batches(demo)
    c, _ = _as(demo, "qc")
    page = c.get("/qc").text
    assert f'data-batch="{ids[IN_REVIEW]}"' in page
    assert f'data-batch="{ids[READY]}"' not in page  # every result in
    row = re.search(rf'<tr data-batch="{ids[IN_REVIEW]}">.*?</tr>', page, re.S)
    assert (
        row and 'data-missing="vcn"' in row.group(0) and 'data-missing="sterility"' in row.group(0)
    )
    assert f'href="/qc/batches/{ids[IN_REVIEW]}"' in row.group(0)
    # the conditional release of HLX-EPC-01-0002 awaits its vector copy number
    assert f'data-batch="{ids["HLX-EPC-01-0002"]}"' in page


def test_result_entry_errors_name_the_field_and_a_result_is_recorded(demo: Database) -> None:
    ids = _batches(demo)
    batch = ids[IN_REVIEW]
    c, csrf = _as(demo, "qc")
    page = c.get(f"/qc/batches/{batch}").text
    assert 'data-form="result:sterility"' in page and 'data-form="result:vcn"' in page
    assert 'value="copies/transduced cell"' in page  # unit preset to the test's
    before = _count(demo, QcResult)
    r = _post(
        c, csrf, f"/qc/batches/{batch}/results",
        test="vcn", value="1.5", unit="copies/transduced cell", tested_on="2026-02-30",
        instrument="QC-QPCR-01",
    )  # fmt: skip
    text = _refused(r, 422, "tested_on", "not a day of the calendar")
    assert 'data-form="result:vcn"' in text and 'value="QC-QPCR-01"' in text
    r = _post(
        c, csrf, f"/qc/batches/{batch}/results",
        test="vcn", value="1.5", unit="mL", tested_on="2026-12-01",
    )  # fmt: skip
    _refused(r, 422, "unit", "cannot convert")
    assert _count(demo, QcResult) == before
    ok = _post(
        c, csrf, f"/qc/batches/{batch}/results",
        test="sterility", value="no growth", unit="", tested_on="2026-12-01",
    )  # fmt: skip
    assert ok.status_code == 303, ok.text[:2000]
    page = c.get(ok.headers["location"]).text
    row = re.search(r'<tr data-test="sterility".*?</tr>', page, re.S)
    assert row and 'data-outcome="conforms"' in row.group(0) and "no growth" in row.group(0)
    assert 'data-form="result:sterility"' not in page


def test_import_names_the_file_row_and_field(demo: Database) -> None:
    ids = _batches(demo)
    batch = ids[IN_REVIEW]
    c, csrf = _as(demo, "qc")
    bad = f"batch,test,value,unit,tested_on\n{batch},vcn,7O,copies/transduced cell,2026-12-01\n"
    r = c.post(
        f"/qc/batches/{batch}/import", data={"csrf_token": csrf, "format": "csv"},
        files={"file": ("vcn.csv", bad.encode(), "text/csv")}, follow_redirects=False,
    )  # fmt: skip
    _refused(r, 422, "value", "vcn.csv, row 2")
    good = f"batch,test,value,unit,tested_on\n{batch},vcn,1.45,copies/transduced cell,2026-12-01\n"
    r = c.post(
        f"/qc/batches/{batch}/import", data={"csrf_token": csrf, "format": "auto"},
        files={"file": ("vcn.csv", good.encode(), "text/csv")}, follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text[:2000]
    page = c.get(r.headers["location"]).text
    row = re.search(r'<tr data-test="vcn".*?</tr>', page, re.S)
    # ARI-0001 batch VCN (docs/quality.md): 1.45 at two significant figures is 1.5
    assert row and "1.45 copies/transduced cell" in row.group(0) and "1.5" in row.group(0)


def test_oos_result_through_phase_one_and_two(demo: Database) -> None:
    ids = _batches(demo)
    batch = ids[IN_REVIEW]
    qc, qc_csrf = _as(demo, "qc")
    r = _post(
        qc, qc_csrf, f"/qc/batches/{batch}/results",
        test="vcn", value="6.2", unit="copies/transduced cell", tested_on="2026-12-01",
    )  # fmt: skip
    assert r.status_code == 303
    opened = qc.get("/qc/investigations?show=open").text
    number = re.search(r'data-investigation="(OOS-\d{4}-\d{4})" data-closed="no"', opened)
    assert number, opened
    ref = number.group(1)
    rev, rev_csrf = _as(demo, "qa.reviewer")
    r = _post(rev, rev_csrf, f"/qc/investigations/{ref}/phase-i", finding="short", assignable="no")
    text = _refused(r, 422, "finding", "at least 20 characters")
    assert 'data-form="phase_i"' in text
    r = _post(
        rev, rev_csrf, f"/qc/investigations/{ref}/phase-i",
        finding="Calculation, standards and instrument checked: no laboratory error.",
        assignable="no",
    )  # fmt: skip
    assert r.status_code == 303
    page = rev.get(f"/qc/investigations/{ref}").text
    assert 'data-status="phase_ii"' in page and 'data-form="phase_ii"' in page
    app, app_csrf = _as(demo, "qa.approver")
    r = _post(
        app, app_csrf, f"/qc/investigations/{ref}/phase-ii",
        conclusion="Out of specification confirmed: the vector copy number is too high.",
        impact="The batch is not released; no other batch used this vector lot.",
        username="qa.approver", password=DEMO_PASSWORD,
    )  # fmt: skip
    assert r.status_code == 303, re.findall(r'<p class="error".*?</p>', r.text, re.S)
    page = app.get(f"/qc/investigations/{ref}").text
    assert 'data-status="confirmed"' in page and 'data-signature="approved"' in page


# --- specifications -------------------------------------------------------------------------


def test_spec_upload_and_approval(demo: Database) -> None:
    qc, csrf = _as(demo, "qc")
    text = (spec_yaml.DEMO_DIR / "epcam_iit_v1.yaml").read_text(encoding="utf-8")
    broken = text.replace("limit: 70", "limit: 70.05", 1)
    r = qc.post(
        "/specs", data={"csrf_token": csrf},
        files={"file": ("v2.yaml", broken.encode(), "application/yaml")}, follow_redirects=False,
    )  # fmt: skip
    _refused(r, 422, "tests[2].criterion.limit", "v2.yaml line 54", "70.05")
    r = qc.post(
        "/specs", data={"csrf_token": csrf},
        files={"file": ("v2.yaml", text.encode(), "application/yaml")}, follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/specs/2"
    assert 'data-form="approve"' not in qc.get("/specs/2").text  # not the analyst's to approve
    app, app_csrf = _as(demo, "qa.approver")
    page = app.get("/specs/2").text
    assert 'data-status="draft"' in page and 'data-form="approve"' in page
    shown = re.search(r'name="shown_hash" value="([0-9a-f]{64})"', page)
    assert shown
    r = _post(
        app, app_csrf, "/specs/2/approve",
        username="qa.approver", password="wrong", shown_hash=shown.group(1),
    )  # fmt: skip
    assert r.status_code == 401 and 'data-form="approve"' in r.text
    r = _post(
        app, app_csrf, "/specs/2/approve",
        username="qa.approver", password=DEMO_PASSWORD, shown_hash=shown.group(1),
    )  # fmt: skip
    assert r.status_code == 303
    assert 'data-status="effective"' in app.get("/specs/2").text
    assert 'data-status="superseded"' in app.get("/specs").text


# --- work queues on the home page -----------------------------------------------------------

QUEUE = re.compile(r'data-queue="([\w.]+)">\s*<a href="([^"]+)"><span class="n">(\d+)</span>', re.S)


def _queues(db: Database, user: str) -> dict[str, tuple[str, int]]:
    c, _ = _as(db, user)
    return {k: (href, int(n)) for k, href, n in QUEUE.findall(c.get("/").text)}


def test_home_queues_count_what_their_lists_show(demo: Database) -> None:
    ids = _batches(demo)
    qc = _queues(demo, "qc")
    c, _ = _as(demo, "qc")
    worklist = c.get("/qc").text
    # every unreleased batch with tests to report: 0003 (in progress), 0011 has all, 0012 has
    # its early results, 0002 its VCN to come
    listed = set(re.findall(r'data-batch="(\d+)"', worklist))
    assert qc["qc.tests_due"] == ("/qc", len(listed)) and len(listed) >= 1
    assert str(ids["HLX-EPC-01-0011"]) not in listed  # every result in
    approver = _queues(demo, "qa.approver")
    assert approver["qc.ready_for_release"] == ("/release?ready=1", 1)
    assert approver["qc.oos_open"] == ("/qc/investigations?show=open", 0)
    a, _ = _as(demo, "qa.approver")
    ready = a.get("/release?ready=1").text
    assert re.findall(r'<tr data-batch="(\d+)"', ready) == [str(ids[READY])]
    assert "qc.ready_for_release" not in _queues(demo, "qa.reviewer")
    assert "qc.tests_due" not in _queues(demo, "operator")
