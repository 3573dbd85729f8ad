"""Every page each demo role can open, at a desktop (1,400 px) and a tablet (900 px) width, in
Debian's Chromium (issue 11): no horizontal page scroll, and no serious or critical violation of
axe-core's rules (``axe-playwright-python`` bundles axe-core; WCAG 2.1 A/AA rules and best
practices as axe-core ships them). axe runs once per page, at the tablet width: the document
is the same at both widths (media queries only change font sizes and paddings), so a second run
cannot find anything new and doubled the test's time; the sideways scroll is measured at both
widths. Each table is cut to its first 20 rows before axe runs (later rows repeat their
structure; the audit trail's 700 rows took 5 s of axe), and a main content already checked in
this process (for another role) is not checked again, nor one of a page (its path, numbers aside)
whose kinds of element (tag, attributes, type, role, class, with or without text) were all
checked together on that page already: the same page of another record or for another role
differs in its data only; each role's own header and menu are checked on its first page.

Pages: every entry of the role's menu, plus one detail page of each kind the role can reach
(order, patient, study, plan, program, user, master batch record, lot, deviation, batch, a
batch's tablet execution view and review by exception, the genealogy pages of a batch and a
lot, a batch's QC results and release page, an OOS investigation, a specification), found by
following the first such link of the lists and then of those detail pages. When the demo has
no executed batch, one is made from its first order through the services (its first step
started), so that the batch pages are always checked. With ``V2V_SCREENSHOTS=1`` the test also
writes the screenshots of the user guides (``docs/user-guide/img/``).

Skipped with a loud message when Chromium is missing, except under CI where it fails.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.browser import launch, need_chromium, shared_demo

from vein2vein.demo.generator import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = (900, 1400)
#: axe-core runs once per page, at the tablet width
AXE_WIDTH = 900
HEIGHT = 900
ROLES = {
    "admin": "admin",
    "operator": "operator",
    "qc_analyst": "qc",
    "qa_reviewer": "qa.reviewer",
    "qa_approver": "qa.approver",
    "sponsor_viewer": "helixa.viewer",
    "sponsor_clinical": "helixa.clinical",
}
#: detail pages: the first link of each kind found on the pages of the menu
DETAILS = {
    "order": re.compile(r"^/coi/orders/\d+$"),
    "patient": re.compile(r"^/coi/patients/\d+$"),
    "study": re.compile(r"^/clinical/studies/\d+$"),
    "plan": re.compile(r"^/schedule/plans/\d+$"),
    "program": re.compile(r"^/programs/\d+$"),
    "user": re.compile(r"^/users/\d+$"),
    "master batch record": re.compile(r"^/mbr/\d+$"),
    "lot": re.compile(r"^/lots/\d+$"),
    "deviation": re.compile(r"^/deviations/\d+$"),
    "batch": re.compile(r"^/batches/\d+$"),
    "batch trace": re.compile(r"^/trace/batch/\d+$"),
    "lot trace": re.compile(r"^/trace/lot/[^/]+$"),
    # reached from a detail page (the batch page links to its tablet view and its review)
    "batch execution": re.compile(r"^/batches/\d+/execute$"),
    "batch review": re.compile(r"^/batches/\d+/review$"),
    # QC release (quality/web.py)
    "batch QC results": re.compile(r"^/qc/batches/\d+$"),
    "batch release": re.compile(r"^/release/\d+$"),
    "investigation": re.compile(r"^/qc/investigations/OOS-\d{4}-\d{4}$"),
    "specification": re.compile(r"^/specs/\d+$"),
    # product and outcome (insights/outcome_web.py)
    "outcome study": re.compile(r"^/outcome/studies/\d+$"),
    # comparability (insights/comparability_web.py); the run is linked from the protocol
    "comparability protocol": re.compile(r"^/comparability/protocols/\d+$"),
    "comparability run": re.compile(r"^/comparability/runs/\d+$"),
}
#: detail pages whose own links lead to more kinds of detail page
DETAILS_WITH_DETAILS = ("batch", "comparability protocol")
#: kinds found only when the demo has executed batches (the batch page with its growth chart,
#: the genealogy pages listed on /trace); without them the lot trace of a demo lot is visited
NEED_BATCHES = {"batch", "batch trace", "lot trace"}
LOT_TRACE = "/trace/lot/LV-EPCAM:LV-EPC-2026-003"
FAILING_IMPACTS = {"serious", "critical"}
#: lists one step below the menu, where detail links of a kind are found (when the role may)
SUB_LISTS = ("/schedule/plans",)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "user-guide" / "img"
#: (role, width, page) → file name of the user guides' screenshots
SHOTS = {
    ("operator", 1400, "/"): "operator-home.png",
    ("operator", 900, "/coi/scan"): "operator-scan.png",
    ("qc_analyst", 1400, "/"): "qc-analyst-home.png",
    ("qa_reviewer", 1400, "/"): "qa-reviewer-home.png",
    ("qa_reviewer", 1400, "/coi/mismatches?status=open"): "qa-reviewer-mismatches.png",
    ("qa_approver", 1400, "/"): "qa-approver-home.png",
    ("sponsor_clinical", 1400, "/"): "sponsor-clinical-home.png",
    ("sponsor_clinical", 900, "/coi?queue=in_flight"): "sponsor-clinical-orders.png",
    ("admin", 1400, "/"): "admin-home.png",
    ("admin", 1400, "/users?locked=1"): "admin-locked.png",
}


@pytest.fixture(scope="module")
def demo() -> Any:
    need_chromium()
    running = shared_demo()  # the process's served demo: this module only reads it
    _with_a_batch(running.env["V2V_DATABASE_URL"])
    return running


def _with_a_batch(url: str) -> None:
    """An executed batch in the demo (the demo's own when it has one; else one made from its
    first order at the Ghent site, its first step started, through the services)."""
    from sqlalchemy import func, select

    from vein2vein.auth import service as auth
    from vein2vein.core.settings import Settings
    from vein2vein.identity.tables import Order
    from vein2vein.manufacturing import batches
    from vein2vein.manufacturing.tables import Batch
    from vein2vein.store.database import Database
    from vein2vein.store.uow import Actor

    db = Database(Settings(environment="test", database_url=url))
    try:
        with db.read() as session:
            if session.scalar(select(func.count()).select_from(Batch)):
                return
            order_id = session.scalars(
                select(Order.id).where(Order.apheresis_din.is_not(None)).order_by(Order.id)
            ).first()
            scope = auth.scope_of(auth.user_by_username(session, "operator"))
        assert order_id is not None, "the demo has no order with an apheresis DIN"
        with db.uow(Actor(scope.username, scope.user_id, scope.organisation_id)) as uow:
            batch = batches.create_batch(
                uow, scope, order_id=order_id, site="Site B — Ghent", suite="Suite 1"
            )
            first = batches.record_of(batch).mbr.operations[0].code
            batches.start_step(uow, scope, batch.id, first)
            uow.commit()
    finally:
        db.dispose()


def _login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _links(page: Any) -> list[str]:
    return page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")


def _menu_and_queues(page: Any, base: str) -> tuple[list[str], list[str]]:
    """The role's menu and the home page's queue links."""
    page.goto(f"{base}/")
    menu = page.eval_on_selector_all(
        "nav.main-nav a[href]", "els => els.map(e => e.getAttribute('href'))"
    )
    queues = page.eval_on_selector_all(
        "[data-queue] a[href]", "els => els.map(e => e.getAttribute('href'))"
    )
    return menu, queues


def _details_on(page: Any, found: dict[str, str]) -> list[str]:
    """The first link of each kind of detail page not found yet, on the loaded page (recorded in
    ``found``)."""
    new = []
    for link in _links(page):
        for kind, pattern in DETAILS.items():
            if kind not in found and pattern.match(link):
                found[kind] = link
                new.append(link)
    return new


def _page_scroll(page: Any) -> int:
    """How far the page scrolls sideways (0: it fits the window)."""
    return int(page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth"))


WIDEST = """() => [...document.querySelectorAll('main *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 1))
  .slice(0, 3).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className)"""


def _widest(page: Any) -> list[str]:
    """The innermost elements that stick out of the window (to say what to fix)."""
    return page.evaluate(WIDEST)


def _shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=False)
    try:  # smaller files: the guides' screenshots are committed
        from PIL import Image

        with Image.open(path) as img:
            img.convert("RGB").quantize(colors=128).save(path, optimize=True)
    except ImportError:
        pass


#: rows of a table that axe-core checks (the rest repeat the structure of these)
AXE_ROWS = 20
#: cut every table body to AXE_ROWS rows, then the main content without the per-form tokens,
#: and the kinds of element in it: tag, attribute names, type, role, class, and whether it has
#: text (what axe-core's rules look at, without the data: another role's or record's rows of
#: the same page make the same kinds; a form or button only some roles see makes new ones)
TRIM_AND_READ_MAIN = f"""() => {{
  document.querySelectorAll('tbody').forEach(tb => [...tb.rows].slice({AXE_ROWS})
    .forEach(r => r.remove()));
  const main = document.querySelector('main');
  if (!main) return ['', ''];
  const kinds = new Set([...main.querySelectorAll('*')].map(e => [e.tagName,
    [...e.attributes].map(a => a.name).sort().join(' '), e.getAttribute('type') || '',
    e.getAttribute('role') || '', e.getAttribute('class') || '',
    e.textContent.trim() ? 'text' : ''].join('|')));
  return [main.innerHTML.replace(/name="csrf_token" value="[^"]*"/g, ''),
          [...kinds].sort().join('\\n')];
}}"""
#: main contents axe-core has checked in this process (shared by the roles' cases), and the
#: (page, kinds of element) it has checked: the page is its path with every number as N
_AXE_CHECKED: set[str] = set()
_AXE_KINDS: set[tuple[str, str]] = set()
NUMBER = re.compile(r"\d+")


@pytest.fixture(scope="module")
def browser(demo: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch(p)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_of_the_role_fits_a_tablet_and_passes_axe(
    demo: Any, browser: Any, role: str
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    shots = os.environ.get("V2V_SCREENSHOTS") == "1"
    problems: list[str] = []
    axe_runs = 0
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": HEIGHT})
    page = context.new_page()
    _login(page, demo.base, ROLES[role])
    # the pages: the role's menu, the home page's queue links, then one detail page of each kind,
    # found by following the first such link of the menu's lists (and of SUB_LISTS), then of the
    # DETAILS_WITH_DETAILS pages; the links are read from each page while it is checked, so no
    # page is loaded twice
    menu, queues = _menu_and_queues(page, demo.base)
    found: dict[str, str] = {}
    todo = list(dict.fromkeys([*menu, *SUB_LISTS, *queues]))
    explored = {*menu, *SUB_LISTS}
    only_explored = set(SUB_LISTS) - {*menu, *queues}
    pages: list[str] = []
    at, listed = 0, False
    while at < len(todo) or not listed:
        if at == len(todo):  # every list read: the lot trace page, the guides' screenshots
            listed = True
            if "/trace" in menu and "lot trace" not in found:  # no batch used a lot yet: a
                found["lot trace"] = LOT_TRACE  # demo lot's trace (no batch) is the lot trace
                todo += [LOT_TRACE] if LOT_TRACE not in todo else []
            todo += [p for (r, _w, p) in SHOTS if r == role and p not in todo]
            continue
        path = todo[at]
        at += 1
        page.set_viewport_size({"width": AXE_WIDTH, "height": HEIGHT})
        response = page.goto(demo.base + path)
        if path in only_explored:  # a list below the menu, only read for its links
            if response is not None and response.status == 200:
                todo += [link for link in _details_on(page, found) if link not in todo]
            continue
        assert response is not None and response.status == 200, (role, path)
        pages.append(path)
        if path in explored or path in {found.get(k) for k in DETAILS_WITH_DETAILS}:
            todo += [link for link in _details_on(page, found) if link not in todo]
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": HEIGHT})
            wide = _page_scroll(page)
            if wide > 0:
                problems.append(
                    f"{role} {width}px {path}: page scrolls by {wide} px; widest: {_widest(page)}"
                )
            if shots and (role, width, path) in SHOTS:
                _shoot(page, SHOTS[(role, width, path)])
        page.set_viewport_size({"width": AXE_WIDTH, "height": HEIGHT})
        main, element_kinds = page.evaluate(TRIM_AND_READ_MAIN)
        kinds_of_page = (NUMBER.sub("N", path), element_kinds)
        if len(pages) > 1 and (main in _AXE_CHECKED or kinds_of_page in _AXE_KINDS):
            continue
        _AXE_CHECKED.add(main)
        _AXE_KINDS.add(kinds_of_page)
        axe_runs += 1
        for v in axe.run(page).response["violations"]:
            if v["impact"] not in FAILING_IMPACTS:
                continue
            targets = [n["target"] for n in v["nodes"][:3]]
            problems.append(
                f"{role} {AXE_WIDTH}px {path}: {v['id']} ({v['impact']}): {v['help']} at {targets}"
            )
    kinds = set(found)
    if role == "admin":
        # the administrator reaches a detail page of every kind
        expected = set(DETAILS) - (set() if "batch" in kinds else NEED_BATCHES)
        assert kinds >= expected, f"detail pages not reached: {expected - kinds}"
        # and the measure sees a page wider than the window
        page.evaluate(
            "document.body.insertAdjacentHTML('beforeend', "
            "'<div style=\\'width:2000px;height:1px\\'></div>')"
        )
        assert _page_scroll(page) > 0
    context.close()
    assert set(pages) >= set(menu) and axe_runs >= 1
    print(role, "pages:", pages, "axe runs:", axe_runs)
    assert not problems, "\n".join(problems)
