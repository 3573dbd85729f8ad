"""The demo study page in a real browser: Plotly (served by this server, under the content
security policy) draws the five figures without a script error. Skipped loudly without
Chromium, except under CI where it fails (as tests/e2e/test_browser_demo.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.browser import launch, need_chromium, running_demo

from vein2vein.clinical.demo import DEMO_STUDY_CODE
from vein2vein.demo.generator import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def test_demo_study_page_draws_the_plotly_figures(tmp_path: Path) -> None:
    need_chromium()
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with running_demo(tmp_path) as demo, sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
        page.on(
            "console",
            lambda m: (
                problems.append(m.text)
                if m.type == "error" and "Content Security Policy" in m.text
                else None
            ),
        )
        base = demo.base
        page.goto(f"{base}/clinical")
        page.fill("input[name=username]", "helixa.clinical")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/clinical")
        page.click(f"text={DEMO_STUDY_CODE}")
        page.wait_for_selector("body[data-figures-drawn='5']", timeout=60_000)
        assert page.locator(".js-plotly-plot").count() == 5
        waterfall_bars = page.locator("#fig-waterfall .bars .point").count()
        assert waterfall_bars == 10
        assert "9/10 (90.0%" in page.inner_text("#response-table")
        browser.close()
    assert not problems, problems
