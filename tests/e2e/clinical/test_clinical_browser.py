"""The demo study page in a real browser: Plotly (served by this server, under the content
security policy) draws the five figures without a script error. Skipped loudly without
Chromium, except under CI where it fails (as tests/e2e/test_browser_demo.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vein2vein.clinical.demo import DEMO_STUDY_CODE
from vein2vein.demo.generator import DEMO_PASSWORD

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.browser


def _need_chromium() -> None:
    if os.path.exists(CHROMIUM):
        return
    message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; under CI this is a failure, not a skip", pytrace=False)
    pytest.skip(f"!!! SKIPPED: {message} !!!")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"v2v demo exited early:\n{proc.stdout.read()}")  # type: ignore[union-attr]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("v2v demo did not start listening")


def test_demo_study_page_draws_the_plotly_figures(tmp_path: Path) -> None:
    _need_chromium()
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "V2V_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    env.pop("V2V_ENVIRONMENT", None)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vein2vein.cli", "demo", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    problems: list[str] = []
    try:
        _wait_for(port, proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
            )
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
            base = f"http://127.0.0.1:{port}"
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
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert not problems, problems
