"""The product ↔ outcome page in Debian's Chromium (issue 14): the roles that may see it open it
from their menu. The sponsor's clinical user (``helixa.clinical``) opens "Product and outcome",
the EpCAM IIT, and sees every subject with its batch, the figures drawn (each caption and title
with its n, the word "exploratory", and every p with its test), and the link history; the QA
approver (``qa.approver``) and the CDMO administrator (``admin``) open the same page; the other
sponsor's clinical user (``corvane.clinical``) has the menu entry but no such study, and its
address answers 404. Served by ``v2v demo`` on a free port (``tests/browser.py``)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.browser import launch, need_chromium, shared_demo

from vein2vein.demo.generator import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def demo() -> Any:
    need_chromium()
    return shared_demo()  # the process's served demo: this module only reads it


def _login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_the_roles_that_may_see_it_open_the_outcome_page(demo: Any) -> None:
    from playwright.sync_api import sync_playwright

    base = demo.base
    with sync_playwright() as p:
        browser = launch(p)
        study_path = ""
        for who in ("helixa.clinical", "qa.approver", "admin"):
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            page = context.new_page()
            _login(page, base, who)
            page.click("nav.main-nav a[href='/outcome']")
            page.wait_for_url(f"{base}/outcome")
            page.locator("tr[data-study='HLX-EPC-01-IIT'] a").click()
            page.wait_for_url(f"{base}/outcome/studies/*")
            study_path = page.url.removeprefix(base)
            rows = page.locator("#subjects-table tbody tr[data-subject]")
            assert rows.count() == 10, who
            for i in range(10):
                assert rows.nth(i).get_attribute("data-batch"), who
                assert rows.nth(i).locator("a[href^='/batches/']").count() == 1
            assert "Exploratory" in page.locator("[data-label='exploratory']").inner_text()
            page.wait_for_selector("#dot-chart .main-svg")
            page.wait_for_selector("#km-chart-2 .main-svg")
            titles = page.eval_on_selector_all(".gtitle", "els => els.map(e => e.textContent)")
            assert len(titles) == 4 and all("n=" in t and "Exploratory" in t for t in titles)
            assert all("p = " not in t or "(" in t for t in titles)  # every p names its test
            assert page.locator("table#wmw-table tr[data-wmw]").count() == 7
            assert page.locator("#link-history tr[data-current='yes']").count() == 10
            can_link = page.locator("form[data-form='link']").count() == 1
            assert can_link == (who in ("helixa.clinical", "admin")), who
            context.close()
        context = browser.new_context()
        page = context.new_page()
        _login(page, base, "corvane.clinical")
        page.goto(f"{base}/outcome")
        assert page.locator("tr[data-study]").count() == 0
        response = page.goto(base + study_path)
        assert response is not None and response.status == 404
        context.close()
        browser.close()
