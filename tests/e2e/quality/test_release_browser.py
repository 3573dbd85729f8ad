"""QA releases the demo's ready batch in Debian's Chromium (issue 13): the QA approver
(``qa.approver``) opens the release list, the release page of the batch of order HLX-EPC-01-0011
(quality/demo.py: every result in and conforming, not released), sees every precondition met,
the tests and the dose, signs the release with the password re-entered, downloads the
Certificate of Analysis, and ``v2v coa verify FILE --json`` on the downloaded file exits 0 with
the certificate authentic and current.

Served by ``v2v demo`` on a free port (``tests/browser.py``), as ``make demo`` runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.browser import launch, need_chromium, running_demo

from vein2vein.demo.generator import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ORDER = "HLX-EPC-01-0011"
WIDTH, HEIGHT = 1280, 1000


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Any]:
    need_chromium()
    with running_demo(tmp_path) as running:
        yield running


def test_qa_approver_releases_the_ready_batch_and_verifies_its_certificate(
    demo: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    base = demo.base
    with sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(
            viewport={"width": WIDTH, "height": HEIGHT}, accept_downloads=True
        )
        page = context.new_page()
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "qa.approver")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")

        page.click("nav.main-nav a[href='/release']")
        page.wait_for_url(f"{base}/release")
        row = page.locator("tr[data-batch]", has_text=ORDER)
        assert row.get_attribute("data-state") == "pending"
        batch = int(row.get_attribute("data-batch") or "0")
        row.locator(f"a[href='/release/{batch}']").click()
        page.wait_for_url(f"{base}/release/{batch}")

        # one screen: every precondition met, the tests, the dose
        met = page.locator("tr[data-precondition]")
        assert met.count() == 6
        assert page.locator("tr[data-precondition][data-met='no']").count() == 0
        assert page.locator("[data-would-be]").get_attribute("data-would-be") == "released"
        assert page.locator("tr[data-test]").count() == 15
        assert page.locator("tr[data-test] [data-outcome='does not conform']").count() == 0
        assert "CAR-positive viable T cells/kg" in page.locator("[data-dose]").inner_text()
        assert page.locator("tr[data-bag]").count() >= 1

        form = page.locator("form[data-form='release']")
        form.locator("input[name=username]").fill("qa.approver")
        form.locator("input[name=password]").fill(DEMO_PASSWORD)
        form.locator("button[type=submit]").click()
        page.wait_for_url(f"{base}/release/{batch}")
        assert page.locator("[data-decision]").get_attribute("data-decision") == "released"
        assert page.locator("tr[data-signature='released']").count() == 1
        assert "Henrik Lindqvist" in page.locator("table.manifest").inner_text()

        with page.expect_download() as info:
            page.get_by_role("link", name="Download the Certificate of Analysis").click()
        download = info.value
        assert download.suggested_filename == f"COA-{batch:05d}-1.pdf"
        pdf = tmp_path / download.suggested_filename
        download.save_as(pdf)
        context.close()
        browser.close()

    assert pdf.read_bytes().startswith(b"%PDF")
    verified = subprocess.run(
        [sys.executable, "-m", "vein2vein", "coa", "verify", str(pdf), "--json"],
        env=demo.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    verdict = json.loads(verified.stdout)
    assert verdict["authentic"] is True and verdict["current"] is True
    assert verdict["status"] == "current"
    assert verdict["document_number"] == f"COA-{batch:05d}-1"
