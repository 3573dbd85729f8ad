"""The audit trail's pages over HTTP (issue 11): filters with errors at their field, names and
changes, the export from the page, and a review that shows its entries and, once signed, the
signature instead of the form."""

from __future__ import annotations

import re

from tests import factories
from tests.factories import PASSWORD
from tests.webclient import csrf_from, logged_in

from vein2vein.store import audit
from vein2vein.store.database import Database


def _qa(db: Database) -> tuple[object, str]:
    cdmo = factories.org(db, "CDMO", "Northbridge CDMO")
    helixa = factories.org(db, name="Helixa Therapeutics")
    factories.program(db, helixa, "HLX-EPC-01")
    factories.user(db, cdmo, "qa_reviewer", "grace")
    return logged_in(db, "grace", PASSWORD)


def test_the_page_filters_names_and_shows_changes_field_by_field(sqlite_db: Database) -> None:
    c, _ = _qa(sqlite_db)
    page = c.get("/audit", params={"entity_type": "program"})  # type: ignore[attr-defined]
    assert page.status_code == 200
    assert "Program HLX-EPC-01: Test program" in page.text
    assert '<table class="diff">' in page.text and "<ins>HLX-EPC-01</ins>" in page.text
    assert page.text.count('data-seq="') == 1
    assert "1 entry" in page.text
    bad = c.get("/audit", params={"from": "2026-02-30"})  # type: ignore[attr-defined]
    assert bad.status_code == 422
    assert "From: not a day of the calendar" in bad.text
    assert re.search(r'name="from" value="2026-02-30" aria-invalid="true"', bad.text)


def test_the_export_from_the_page_is_a_csv_with_the_head(sqlite_db: Database) -> None:
    c, _ = _qa(sqlite_db)
    page = c.get("/audit", params={"action": "program.create"})  # type: ignore[attr-defined]
    with sqlite_db.read() as session:
        head = audit.head(session)
    got = c.post(  # type: ignore[attr-defined]
        "/audit/export",
        data={"csrf_token": csrf_from(page.text), "format": "csv", "action": "program.create"},
    )
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert got.headers["x-audit-head"] == f"{head.seq}:{head.hash}"
    assert f"# Chain head at export: sequence {head.seq}, SHA-256 {head.hash}" in got.text
    assert "# Filters: Action = program.create" in got.text
    wrong = c.post(  # type: ignore[attr-defined]
        "/audit/export",
        data={"csrf_token": csrf_from(page.text), "format": "xlsx", "to": "2026-13-01"},
    )
    assert wrong.status_code == 422 and "To: not a day of the calendar" in wrong.text


def test_a_review_shows_its_entries_and_after_signing_the_signature_not_the_form(
    sqlite_db: Database,
) -> None:
    c, csrf = _qa(sqlite_db)
    made = c.post("/audit/reviews", data={"csrf_token": csrf, "comment": "monthly"})  # type: ignore[attr-defined]
    assert made.status_code == 200
    review_url = str(made.url)
    assert re.search(r"/audit/reviews/\d+$", review_url)
    page = made.text
    assert "Program HLX-EPC-01: Test program" in page and "data-entries-digest" in page
    assert 'action="/audit/reviews/' in page and "/sign" in page
    shown = re.search(r'name="shown_hash" value="([0-9a-f]{64})"', page)
    assert shown
    signed = c.post(  # type: ignore[attr-defined]
        review_url + "/sign",
        data={
            "csrf_token": csrf_from(page),
            "username": "grace",
            "password": PASSWORD,
            "meaning": "reviewed",
            "shown_hash": shown.group(1),
        },
    )
    assert signed.status_code == 200
    assert "data-signed" in signed.text and "Test Qa Reviewer" in signed.text
    assert 'name="password"' not in signed.text and 'name="comment"' not in signed.text
    assert shown.group(1) in signed.text  # the content hash that was signed
