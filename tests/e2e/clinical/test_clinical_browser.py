"""The demo study page in a real browser: Plotly (served by this server, under the content
security policy) draws the five figures without a script error, with the Kaplan-Meier bands,
the spider plot's subject labels and the shared colour map; a steering-committee report
version generated from the page's form, its page passing axe-core without sideways scroll at
900 px. Skipped loudly without Chromium, except under CI where it fails (as
tests/e2e/test_browser_demo.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.browser import launch, need_chromium, running_demo

from vein2vein.clinical.demo import DEMO_STUDY_CODE
from vein2vein.demo.generator import DEMO_PASSWORD

pytestmark = pytest.mark.browser

FIGURES = """() => {
  const km = document.getElementById('fig-km-os').data;
  const spider = document.getElementById('fig-spider').data;
  const colours = JSON.parse(document.getElementById('clinical-plot-data').textContent).colours;
  return {
    km_curves: km.filter(t => t.name && t.mode === 'lines').length,
    bands: km.filter(t => t.fill === 'tonexty').length,
    subjects: spider.length,
    labelled: spider.filter(t => t.text[t.text.length - 1] !== '').length,
    spider_colours: spider.map(t => t.line.color),
    dose_colours: Object.values(colours.dose),
  };
}"""


def test_demo_study_page_draws_the_plotly_figures(tmp_path: Path) -> None:
    need_chromium()
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    # a server of its own: the test generates a report version, which others would then see
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
        # the figures as drawn: a KM band per dose level (the report's figure shades the same
        # band), every spider line labelled with its subject, colours from the shared map
        drawn = page.evaluate(FIGURES)
        assert drawn["bands"] == drawn["km_curves"] > 0
        assert drawn["labelled"] == drawn["subjects"] == 10
        assert set(drawn["spider_colours"]) <= set(drawn["dose_colours"])

        # a report version from the study page's form; its page is accessible
        page.fill("input[name=signatories]", "helixa.clinical")
        page.click("text=Generate the report version")
        page.wait_for_selector("#signoff")
        assert "draft (0 of 1 signatures)" in page.inner_text("#report-facts")
        assert page.locator("form[data-form=sign]").count() == 1
        page.set_viewport_size({"width": 900, "height": 900})
        assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
        from axe_playwright_python.sync_playwright import Axe

        serious = [
            v["id"]
            for v in Axe().run(page).response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not serious, serious
        browser.close()
    assert not problems, problems
