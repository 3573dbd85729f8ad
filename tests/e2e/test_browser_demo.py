"""`v2v demo` end to end: a real server, Debian's Chromium driven by Playwright, run twice.

Skipped with a loud message when Chromium is missing, except under CI where it fails.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.browser import demo_env, launch, need_chromium, running_demo

from vein2vein.demo.generator import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def _counts(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        el.get_attribute("data-count"): el.query_selector(".n").inner_text()
        for el in page.query_selector_all("[data-count]")
    }


def test_demo_serves_pages_a_browser_logs_into_and_runs_twice(tmp_path: Path) -> None:
    need_chromium()
    from playwright.sync_api import sync_playwright

    runs = []
    for _ in range(2):  # the first run loads the demo into an empty database, the second adds none
        with running_demo(tmp_path, fresh=True) as demo, sync_playwright() as p:
            base = demo.base
            browser = launch(p)
            page = browser.new_page()
            page.goto(f"{base}/programs")
            assert "/login" in page.url
            page.fill("input[name=username]", "helixa.clinical")
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/programs")
            text = page.inner_text("main")
            assert "HLX-EPC-01" in text and "EpCAM" in text
            assert "CRV-CD19-02" not in text  # the other sponsor's program
            page.goto(f"{base}/")
            sponsor_counts = _counts(page)
            page.click("text=Log out")
            page.wait_for_url("**/login**")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            runs.append((_counts(page), sponsor_counts))
            browser.close()
        assert "Demo log-ins" in demo.output[0] and DEMO_PASSWORD in demo.output[0]
        loaded = "demo data loaded" if not runs[1:] else "demo data already present"
        assert loaded in demo.output[0], demo.output[0]
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
        [sys.executable, "-m", "vein2vein", "audit", "verify"],
        env=demo_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stderr
