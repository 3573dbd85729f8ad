"""Shared pieces of the browser tests: Debian's Chromium, and `v2v demo` running on a free port.

``running_demo`` serves a copy of the run's demo file (tests/shared_demo.py: loaded once per
test process) unless asked for a ``fresh`` database; ``v2v demo`` then finds the demo present,
adds nothing and serves it, the same command ``make demo`` runs.

Chromium missing: a loud skip, except under CI where it is a failure.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.shared_demo import sqlite_demo_copy

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]


def need_chromium() -> None:
    if os.path.exists(CHROMIUM):
        return
    message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; under CI this is a failure, not a skip", pytrace=False)
    pytest.skip(f"!!! SKIPPED: {message} !!!")


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Demo:
    base: str
    env: dict[str, str]
    output: list[str] = field(default_factory=list)


def demo_env(folder: Path) -> dict[str, str]:
    env = {**os.environ, "V2V_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}"}
    env.pop("V2V_ENVIRONMENT", None)
    return env


@contextmanager
def running_demo(
    folder: Path, timeout: float = 90, *, fresh: bool = False, log: Path | None = None
) -> Iterator[Demo]:
    """`python -m vein2vein demo` (what `make demo` runs) serving on a free port, on
    ``folder/demo.db``: a copy of the run's demo when there is no such file yet, or, with
    ``fresh``, an empty database the command loads the demo into itself. The command's output
    is in ``output`` once it has stopped (written to ``log`` meanwhile, when given: a server
    that runs long must not fill a pipe nobody reads)."""
    env = demo_env(folder)
    if not fresh and not (folder / "demo.db").exists():
        sqlite_demo_copy(folder / "demo.db")
    port = free_port()
    sink = open(log, "w", encoding="utf-8") if log else subprocess.PIPE  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "vein2vein", "demo", "--port", str(port)],
        env=env,
        cwd=folder,
        stdout=sink,
        stderr=subprocess.STDOUT,
        text=True,
    )
    demo = Demo(f"http://127.0.0.1:{port}", env)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                said = log.read_text(encoding="utf-8") if log else proc.stdout.read()  # type: ignore[union-attr]
                raise AssertionError(f"v2v demo exited early:\n{said}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("v2v demo did not start listening") from None
                time.sleep(0.2)
        yield demo
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
        if log:
            sink.close()  # type: ignore[union-attr]
            out = log.read_text(encoding="utf-8")
        demo.output.append(out)


_served: dict[str, Demo] = {}


def shared_demo(timeout: float = 90) -> Demo:
    """One ``v2v demo`` per test process (a copy of the run's demo, served until the process
    ends) for the browser modules that only read the demo, log-ins aside: each saves starting a
    server of its own. A module that changes what others read (signs a release, ...) starts its
    own with ``running_demo``."""
    if "demo" not in _served:
        folder = Path(tempfile.mkdtemp(prefix="v2v-served-"))
        atexit.register(shutil.rmtree, folder, True)
        stack = ExitStack()
        _served["demo"] = stack.enter_context(running_demo(folder, timeout, log=folder / "log"))
        atexit.register(stack.close)  # before the folder goes (atexit runs last in, first out)
    return _served["demo"]
