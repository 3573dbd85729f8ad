"""Inputs made once per test run and shared by the run's processes (``pytest -n 2`` workers).

Each worker would otherwise make the same expensive inputs for itself: the migrated SQLite file,
the demo loaded on SQLite (about 10 s) and on PostgreSQL (about 15 s), the PostgreSQL schema
template. The first process that asks for one makes it under a file lock, in a folder of the
run; the others wait for the lock and then read what it made. Under pytest-xdist that folder is
the run's base temporary folder (the parent of each worker's own, removed by pytest with old
runs); without xdist it is the process's own, so a run never reads what another run made (the
demo depends on all of the code, not only on the migrations, and on today's date).

Whatever is made is written under a temporary name and renamed into place complete, so a reader
never sees half of it; when making it fails, the next process that asks tries again.
"""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Callable
from pathlib import Path

_state: dict[str, Path] = {}


def use_folder(folder: Path) -> None:
    """Share through ``folder`` (set once per process by ``tests/conftest.py``)."""
    folder.mkdir(parents=True, exist_ok=True)
    _state["folder"] = folder


def folder() -> Path:
    """The run's shared folder (a process's own when none was set: nothing is shared then)."""
    if "folder" not in _state:
        _state["folder"] = Path(tempfile.mkdtemp(prefix="v2v-run-"))
    return _state["folder"]


def made_once(name: str, make: Callable[[Path], None]) -> Path:
    """The run's ``name`` in the shared folder: made by ``make(path)`` in the first process that
    asks; the others wait until it is there. Never change the file: copy or read it."""
    path = folder() / name
    if path.exists():
        return path
    with open(folder() / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not path.exists():
            part = folder() / f"{name}.part"
            part.unlink(missing_ok=True)
            make(part)
            part.rename(path)
    return path
