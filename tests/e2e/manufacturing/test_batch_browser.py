"""The tablet execution page and QA's review by exception in Debian's Chromium at a 900 px
viewport (issue 12): an operator works two steps of a batch (RECEIPT with a value outside its
acceptable range, its deviation and a correction; SELECT), scanning each lot the way a
keyboard-wedge scanner does — keystrokes into the focused field, then Enter — and signing each
step off; then QA opens the review by exception, sees the exceptions and approves the record
with an electronic signature, after which the signature manifest is shown.

The batch is built here through the services (``tests/batch_world.py``), not taken from the
demo; the app is served from this test's SQLite file by uvicorn in a thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests import batch_world as BW
from tests.browser import free_port, launch, need_chromium
from tests.factories import PASSWORD
from tests.integration.identity import world as W
from tests.integration.manufacturing import test_batches as T

from vein2vein.features import create_app
from vein2vein.manufacturing import batches, deviations, execution
from vein2vein.store.database import Database

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 900, 1000
TOUCH = 48  # px, the smallest touch target of the tablet pages


@pytest.fixture
def served(sqlite_db: Database) -> Iterator[tuple[str, Database]]:
    import uvicorn

    need_chromium()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(sqlite_db.settings, sqlite_db), host="127.0.0.1", port=port,
            log_level="warning", lifespan="off",
        )
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", sqlite_db
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _login(context: Any, base: str, username: str) -> Any:
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def _fits(page: Any) -> None:
    wide = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"{page.url} scrolls sideways by {wide} px at {WIDTH} px"


def _touch_targets(page: Any) -> None:
    """Every visible button and field of the working forms is at least 48 × 48 px."""
    small = page.evaluate(
        """(min) => [...document.querySelectorAll(
              '.tablet form.touch button, .tablet form.touch input:not([type=hidden]),'
              + ' .tablet form.touch textarea, .tablet details.correct summary')]
            .filter(e => e.offsetParent !== null)
            .map(e => [e.outerHTML.slice(0, 60), e.getBoundingClientRect()])
            .filter(([_, r]) => r.height < min || r.width < min)
            .map(([h, r]) => `${h} ${Math.round(r.width)}x${Math.round(r.height)}`)""",
        TOUCH,
    )
    assert not small, small


def _submit(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def _enter(page: Any, entry: str, value: str, unit: str | None = None) -> None:
    form = page.locator(f'article[data-entry="{entry}"] form[action$="/execute/value"]')
    form.locator("input[name=value]").fill(value)
    if unit is not None:
        form.locator("input[name=unit]").fill(unit)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    page.wait_for_selector('#done[data-done="ValueEntered"]')


def _scan(page: Any, code: str) -> None:
    """A keyboard-wedge scanner: keystrokes into whatever field has the focus, then Enter."""
    focused = page.evaluate("document.activeElement && document.activeElement.name")
    assert focused == "lot", f"the scanner field is not focused ({focused})"
    with page.expect_navigation():
        page.keyboard.type(code, delay=5)
        page.keyboard.press("Enter")


def _record_instrument(page: Any, code: str) -> None:
    """The operator taps the equipment's field and scans the instrument's asset label."""
    asset, due = BW.instrument(code)
    form = page.locator(f'[data-equipment="{code}"] form')
    form.locator("input[name=calibration_due]").fill(due.isoformat())
    form.locator("input[name=instrument]").click()
    with page.expect_navigation():
        page.keyboard.type(asset, delay=5)
        page.keyboard.press("Enter")
    page.wait_for_selector('#done[data-done="EquipmentUsed"]')
    assert page.locator(f'[data-equipment="{code}"] [data-instrument="{asset}"]').is_visible()


def _sign_off(page: Any, who: str) -> None:
    form = page.locator('form[action$="/execute/signoff"]')
    assert "Meaning: authored" in form.inner_text()
    form.locator("input[name=username]").fill(who)
    form.locator("input[name=password]").fill(PASSWORD)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    page.wait_for_selector('#done[data-done="StepSignedOff"]')


def _verify_all(w: W.World, bid: int, step: str) -> None:
    """A second person (QA) verifies what the MBR asks for (through the service)."""
    rec = T.record(w, bid)
    for e in rec.events:
        typed = isinstance(e, execution.LotScanned) or (
            isinstance(e, execution.ValueEntered) and rec.current(e.step, e.entry).seq == e.seq  # type: ignore[union-attr]
        )
        if e.step == step and typed and execution.unverified(rec, e):  # type: ignore[arg-type]
            T.act(w, "qa", batches.verify, bid, e.seq)


def test_operator_works_two_steps_and_qa_approves_by_exception(
    served: tuple[str, Database], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    base, db = served
    w = BW.build(db)
    bid = T.new_batch(w, BW.order_with_din(w))
    din = T.record(w, bid).din
    url = f"{base}/batches/{bid}/execute"

    with sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        page = _login(context, base, "operator")
        # from the batch page to the tablet view
        page.goto(f"{base}/batches/{bid}")
        with page.expect_navigation():
            page.click(f'a[href="/batches/{bid}/execute"]')
        assert page.url == url
        _fits(page)
        _touch_targets(page)
        assert page.input_value("input[name=suite]") == BW.SUITE
        _submit(page, 'form[action$="/execute/start"] button[type=submit]')

        # RECEIPT: 12 °C in transit is outside the PAR (1-10 °C): the deviation's number shows
        _fits(page)
        _touch_targets(page)
        _enter(page, "transit_temperature", "12")
        done = page.locator("#done")
        assert done.get_attribute("data-verdict") == "deviation"
        page.screenshot(path=str(tmp_path / "execute-deviation.png"), full_page=True)
        number = done.locator("[data-deviation]").get_attribute("data-deviation")
        assert number and number.startswith("DEV-") and number in done.inner_text()
        # corrected with a reason: the original stays, struck through
        card = page.locator('article[data-entry="transit_temperature"]')
        card.locator("details.correct summary").click()
        card.locator("form input[name=value]").fill("5")
        card.locator("form textarea[name=reason]").fill("logger read in the wrong column")
        with page.expect_navigation():
            card.locator("form button[type=submit]").click()
        card = page.locator('article[data-entry="transit_temperature"]')
        assert card.locator("del").inner_text() == "12 °C"
        assert card.get_attribute("data-verdict") == "ok"
        for entry, value in (("age_at_receipt", "20"), ("tnc", "3.2"), ("viability", "95")):
            _enter(page, entry, value)
            assert page.locator("#done").get_attribute("data-verdict") == "ok"
        # a wrong DIN typed by the scanner is refused, the field keeps the focus for a rescan
        _scan(page, "A999926999990")
        alert = page.locator('p.error[role="alert"]').inner_text()
        assert "A999926999990" in alert and din in alert
        page.fill("input.scanner[name=lot]", "")
        _scan(page, din)
        assert page.locator(f'[data-material="APH"] [data-lot="{din}"]').is_visible()
        _record_instrument(page, "COUNTER")
        _verify_all(w, bid, "RECEIPT")
        page.goto(url)
        _sign_off(page, "operator")
        assert page.locator("[data-hold]").is_visible()
        T.act(w, "approver", batches.decide_hold, bid, "RECEIPT", released=True, reason="accepted")

        # SELECT, the second step
        page.goto(url)
        assert page.locator('section[data-step="SELECT"]').is_visible()
        _submit(page, 'form[action$="/execute/start"] button[type=submit]')
        _enter(page, "input_tnc", "3.0")
        _enter(page, "cd3_purity", "94")
        _scan(page, "CD4CD8-L1")
        assert page.locator('[data-material="CD4CD8"] [data-lot="CD4CD8-L1"]').is_visible()
        _record_instrument(page, "PRODIGY")
        _fits(page)
        page.goto(url)
        _sign_off(page, "operator")
        assert page.locator('section[data-step="ACTIVATE"]').is_visible()
        rec = T.record(w, bid)
        assert [rec.step_status(s).value for s in ("RECEIPT", "SELECT")] == ["signed_off"] * 2
        assert rec.lot("SELECT", "CD4CD8").lot_number == "CD4CD8-L1"  # type: ignore[union-attr]
        context.close()

        # the rest of the batch through the services, then QA
        for step in ("ACTIVATE", "TRANSDUCE", "EXPAND", "HARVEST", "FORMULATE", "FREEZE"):
            T.run_step(w, bid, step)
        T.act(w, "operator", batches.submit, bid)
        dev_id = next(d["id"] for d in _deviations(db, w, bid))
        T.act(w, "qa", deviations.classify, dev_id, classification="minor",
              root_cause="transcription from the logger")  # fmt: skip
        T.signed(w, "qa", deviations.close, dev_id)

        context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        page = _login(context, base, "approver")
        page.goto(f"{base}/")
        queue = page.locator('[data-queue="mfg.batches_in_review"] a')
        assert queue.locator(".n").inner_text() == "1"
        with page.expect_navigation():
            queue.click()
        with page.expect_navigation():
            page.click(f'tr[data-batch="{bid}"] a')
        with page.expect_navigation():
            page.click(f'a[href="/batches/{bid}/review"]')
        _fits(page)
        _touch_targets(page)
        kinds = page.eval_on_selector_all(
            "li[data-exception]", "els => els.map(e => e.dataset.exception)"
        )
        assert kinds == ["deviation", "correction"], kinds
        item = page.locator('li[data-exception="deviation"]')
        assert number in item.inner_text() and "Closed" in item.inner_text()
        assert page.locator('li[data-exception="correction"] del').inner_text() == "12 °C"
        page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
        form = page.locator('form[action$="/review/approve"]')
        assert "Meaning: approved" in form.inner_text()
        form.locator("input[name=username]").fill("approver")
        form.locator("input[name=password]").fill(PASSWORD)
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        assert page.locator('[data-status="APPROVED"]').is_visible()
        assert page.locator('form[action$="/review/approve"]').count() == 0
        meanings = page.eval_on_selector_all(
            "tr[data-signature]", "els => els.map(e => e.dataset.signature)"
        )
        assert meanings == ["authored"] * 8 + ["approved"]
        _fits(page)
        context.close()
        browser.close()
    assert _status(db, w, bid) == batches.APPROVED


def _deviations(db: Database, w: W.World, bid: int) -> list[dict[str, Any]]:
    with db.read() as session:
        return [{"id": d.id} for d in batches.batch_deviations(session, bid)]


def _status(db: Database, w: W.World, bid: int) -> str:
    with db.read() as session:
        return batches.get_batch(session, w.scopes["qa"], bid).status
