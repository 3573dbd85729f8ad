"""`v2v demo` end to end: a real server, Debian's Chromium driven by Playwright, run twice.

Skipped with a loud message when Chromium is missing, except under CI where it fails.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def _v2v(args: list[str], env: dict[str, str], cwd: Path, **kw):  # type: ignore[no-untyped-def]
    return subprocess.Popen(
        [sys.executable, "-m", "vein2vein.cli", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def _wait_for(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:  # type: ignore[type-arg]
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


def _counts(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        el.get_attribute("data-count"): el.inner_text().split("\n")[0]
        for el in page.query_selector_all("[data-count]")
    }


def test_demo_serves_pages_a_browser_logs_into_and_runs_twice(tmp_path: Path) -> None:
    _need_chromium()
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "V2V_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    env.pop("V2V_ENVIRONMENT", None)
    runs = []
    for _ in range(2):
        port = _free_port()
        proc = _v2v(["demo", "--port", str(port)], env, tmp_path)
        try:
            _wait_for(port, proc)
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM,
                    headless=True,
                    args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
                )
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/programs")
                assert "/login" in page.url
                page.fill("input[name=username]", "helixa.clinical")
                page.fill("input[name=password]", DEMO_PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"http://127.0.0.1:{port}/programs")
                text = page.inner_text("main")
                assert "HLX-EPC-01" in text and "EpCAM" in text
                assert "CRV-CD19-02" not in text  # the other sponsor's program
                page.goto(f"http://127.0.0.1:{port}/")
                sponsor_counts = _counts(page)
                page.click("text=Log out")
                page.wait_for_url("**/login**")
                page.fill("input[name=username]", "admin")
                page.fill("input[name=password]", DEMO_PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"http://127.0.0.1:{port}/")
                runs.append((_counts(page), sponsor_counts))
                browser.close()
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=20)
        assert "Demo log-ins" in out and DEMO_PASSWORD in out
    (first, sponsor_first), (second, _sponsor_second) = runs
    assert first["organisations"] == "3" and first["users"] == "8" and first["programs"] == "2"
    assert sponsor_first == {
        "organisations": "1",
        "sites": "1",
        "programs": "1",
        "users": "2",
        "audit_entries": sponsor_first["audit_entries"],
    }
    # the second run added nothing but the audit entries of the log-ins themselves
    assert {k: v for k, v in second.items() if k != "audit_entries"} == {
        k: v for k, v in first.items() if k != "audit_entries"
    }
    verify = subprocess.run(
        [sys.executable, "-m", "vein2vein.cli", "audit", "verify"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stderr
