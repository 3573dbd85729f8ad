"""The audit trail in Chromium at 1,400 px and 900 px (issue 11): the filters, the changes field
by field with the records' names, the pages, and the CSV export, with no horizontal scroll."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from tests.browser import launch, need_chromium, shared_demo

from vein2vein.demo.generator import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def _no_horizontal_scroll(page) -> None:  # type: ignore[no-untyped-def]
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert width <= inner, f"the page is {width} px wide in a {inner} px window"


def test_audit_trail_filters_diff_and_export_at_two_widths(tmp_path: Path) -> None:
    need_chromium()
    from playwright.sync_api import sync_playwright

    demo = shared_demo()  # this module only reads the demo
    with sync_playwright() as p:
        browser = launch(p)
        for width in (1400, 900):
            context = browser.new_context(
                viewport={"width": width, "height": 1000}, accept_downloads=True
            )
            page = context.new_page()
            page.goto(f"{demo.base}/login")
            page.fill("input[name=username]", "qa.reviewer")
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{demo.base}/")
            page.goto(f"{demo.base}/audit")
            _no_horizontal_scroll(page)
            assert page.locator("nav.pager a[rel=next]").first.is_visible()  # > 100 entries
            # every filter is a labelled control
            for name in ("user", "action", "entity_type", "entity_id", "organisation", "from"):
                control = page.locator(f"form.filters [name={name}]")
                assert control.evaluate("el => el.closest('label') !== null"), name
            page.select_option("form.filters select[name=entity_type]", "coi_order")
            page.select_option("form.filters select[name=action]", "coi.custody_event")
            page.click("form.filters button[type=submit]")
            page.wait_for_url("**entity_type=coi_order**")
            rows = page.locator("table.audit tbody tr[data-seq]")
            assert rows.count() > 5
            first = rows.first.inner_text()
            assert "coi.custody_event" in first and "Order " in first and "coi_order:" in first
            diff = rows.first.locator("table.diff")
            assert diff.is_visible() and "current_step" in diff.inner_text()
            _no_horizontal_scroll(page)
            page.screenshot(path=str(tmp_path / f"audit-{width}.png"), full_page=False)
            with page.expect_download() as download:
                page.click("form.export button[value=csv]")
            text = Path(download.value.path()).read_text(encoding="utf-8")
            assert text.startswith("# vein2vein audit trail export")
            assert "# Filters: Action = coi.custody_event; Entity type = coi_order" in text
            body = "".join(
                line for line in text.splitlines(keepends=True) if not line.startswith("#")
            )
            rows_out = list(csv.DictReader(io.StringIO(body)))
            total = int(page.locator("nav.pager span").first.inner_text().split()[0])
            assert len(rows_out) == total
            assert {r["entity_type"] for r in rows_out} == {"coi_order"}
            context.close()
        browser.close()
