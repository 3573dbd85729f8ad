"""The CPV pages in Debian's Chromium (issue 14; docs/cpv.md), every browser check of CPV in
this one module: each role that may read QC records opens the series list, the Ghent viability
chart (Plotly draws it; its table holds every point and links each to its batch), the Ghent
fold-expansion chart (a process parameter from the batch record), the "all batches met
specification" page and the frozen baseline, at 900 and 1,400 px without sideways scroll;
axe-core finds no serious or critical violation on each page (as the QA approver, who also
sees the freeze form); a drill-down from a point opens its batch; the other sponsor sees no
series. Served by ``v2v demo`` on a free port (``tests/browser.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.browser import launch, need_chromium, shared_demo

from vein2vein.demo.generator import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

READERS = (
    "qa.approver", "admin", "operator", "qc", "qa.reviewer", "helixa.viewer", "helixa.clinical",
)  # fmt: skip
WIDTHS = (900, 1400)
HEIGHT = 900


@pytest.fixture(scope="module")
def demo() -> Any:
    need_chromium()
    return shared_demo()  # the process's served demo: this module only reads it


def _login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _scroll(page: Any) -> int:
    return int(page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth"))


def test_cpv_pages_as_every_role_that_may_read_them(demo: Any, tmp_path: Path) -> None:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    base, axe, problems = demo.base, Axe(), []
    with sync_playwright() as p:
        browser = launch(p)
        for who in READERS:
            context = browser.new_context(viewport={"width": WIDTHS[0], "height": HEIGHT})
            page = context.new_page()
            _login(page, base, who)
            page.click("nav a[href='/cpv']")
            page.wait_for_url(f"{base}/cpv")
            row = page.locator("tr[data-series]", has_text="Ghent").filter(has_text="viability")
            chart_href = row.locator("a").first.get_attribute("href")
            baseline_href = row.locator("a[href^='/cpv/baselines/']").get_attribute("href")
            conformance_href = page.locator("a[data-conformance]").first.get_attribute("href")
            process = page.locator("tr[data-kind='process parameter']", has_text="Ghent")
            fold_href = (
                process.filter(has_text="Fold expansion").locator("a").first.get_attribute("href")
            )
            paths = ["/cpv", chart_href, fold_href, conformance_href, baseline_href]
            for path in paths:
                response = page.goto(base + str(path))
                assert response is not None and response.status == 200, (who, path)
                for width in WIDTHS:
                    page.set_viewport_size({"width": width, "height": HEIGHT})
                    if _scroll(page) > 0:
                        problems.append(f"{who} {width}px {path}: scrolls sideways")
                page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})
                if who == "qa.approver":
                    for v in axe.run(page).response["violations"]:
                        if v["impact"] in ("serious", "critical"):
                            nodes = [n["target"] for n in v["nodes"][:3]]
                            problems.append(f"{path}: {v['id']} ({v['impact']}) at {nodes}")
            page.goto(base + str(chart_href))
            page.wait_for_selector("#cpv-chart .main-svg")  # Plotly drew the chart
            assert page.locator("#cpv-points tr[data-point]").count() == 4
            assert page.locator("[data-limits='frozen']").count() == 1
            assert page.locator("form[data-form='freeze']").count() == (who == "qa.approver")
            if who == "helixa.viewer":  # drill-down from a point to its batch
                first = page.locator("#cpv-points tr[data-point='1'] a[href^='/batches/']")
                first.click()
                page.wait_for_url(f"{base}/batches/*")
            context.close()
        context = browser.new_context()
        page = context.new_page()
        _login(page, base, "corvane.clinical")
        page.goto(f"{base}/cpv")
        assert page.locator("tr[data-series]").count() == 0
        response = page.goto(base + str(chart_href))
        assert response is not None and response.status == 404
        context.close()
        browser.close()
    assert not problems, "\n".join(problems)
