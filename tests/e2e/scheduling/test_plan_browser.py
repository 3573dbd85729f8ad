"""The labelled Gantt in Chromium, on `v2v demo`, at 1,400 px (desktop) and 900 px (tablet):
every batch bar carries its order number, the today line is drawn, every colour and pattern has
a legend entry (in Plotly's legend and in the page's own), the chart has its caption and its
table of the same bars, and the page does not scroll sideways at 900 px.

Skipped with a loud message when Chromium is missing, except under CI where it fails."""

from __future__ import annotations

import pytest
from tests.browser import launch, need_chromium, shared_demo

from vein2vein.demo.generator import DEMO_PASSWORD

pytestmark = pytest.mark.browser

WIDTHS = (1400, 900)


def _check_plan_page(page, width: int) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": width, "height": 1000})
    page.goto(page.url)
    page.wait_for_selector("#gantt .main-svg")
    figure = page.evaluate("document.getElementById('gantt').data")
    bars = [t for t in figure if t["type"] == "bar"]
    batches = [t for t in bars if t["name"] not in ("cleaning", "downtime")]
    labels = sum(len(t["text"]) for t in batches)
    assert labels > 0
    # each label is drawn (Plotly's bar text) and readable: at least 9 px
    drawn = page.query_selector_all("#gantt g.trace.bars text.bartext")
    texts = [t.text_content() for t in drawn if t.text_content()]
    assert len(texts) == labels, (width, len(texts), labels)
    sizes = page.eval_on_selector_all(
        "#gantt text.bartext", "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))"
    )
    assert min(sizes) >= 9
    # the today line: a shape across the plot, and its legend entry
    assert page.query_selector_all("#gantt .shapelayer path")
    legend = {e.text_content() for e in page.query_selector_all("#gantt .legendtext")}
    names = {t["name"] for t in figure}
    assert legend == names and any(n.startswith("today (") for n in names)
    # the page's own legend lists the same entries, the table the same bars
    own = {e.get_attribute("data-legend") for e in page.query_selector_all("#gantt-legend li")}
    assert own == names
    rows = page.query_selector_all("#gantt-table tbody tr[data-kind=batch]")
    assert len(rows) == labels
    assert page.inner_text("figure.gantt figcaption").startswith("Suite schedule")
    # the demo's material is received at Leiden: any Ghent batch carries the warning
    ghent = [r for r in rows if r.query_selector("td").text_content().startswith("GHE")]
    if ghent:
        assert page.query_selector("#site-warnings") is not None
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{scroll} px wide at {width} px"


def test_labelled_gantt_at_desktop_and_tablet_widths() -> None:
    need_chromium()
    from playwright.sync_api import sync_playwright

    demo = shared_demo()  # this module only reads the demo
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": WIDTHS[0], "height": 1000})
        page.goto(f"{demo.base}/schedule")
        page.fill("input[name=username]", "qa.approver")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{demo.base}/**")
        page.goto(f"{demo.base}/schedule")
        for width in WIDTHS:
            _check_plan_page(page, width)
        # the table behind the link opens; the what-if form fits a tablet too
        page.click("a[href='#gantt-table']")
        assert page.is_visible("#gantt-table")
        page.goto(f"{demo.base}/schedule/whatif")
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[-1]
        browser.close()
