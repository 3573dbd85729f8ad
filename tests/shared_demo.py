"""The demo loaded once per test run into a SQLite file, copied for each test that needs it.

Loading the demo goes through every feature's services (about 10 s of CPU); a copy of the file
takes milliseconds. ``tests/conftest.py``'s ``demo_db`` (its SQLite half), the form and API
fuzzers, the QC release pages and ``tests/browser.py``'s ``running_demo`` all start from this one
file, made by the first process of the run that needs it (``tests/run_share.py``: the other
xdist worker copies the same file), so a run loads the demo once however many tests use it.
A test that changes its copy changes nobody else's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.run_share import made_once
from vein2vein.core.settings import Settings
from vein2vein.store.database import Database

_state: dict[str, Path] = {}


def demo_settings(path: Path, **extra: object) -> Settings:
    return Settings(
        environment="test", database_url=f"sqlite:///{path}", argon2_profile="fast-tests", **extra
    )


def sqlite_demo_file(migrated: Path | None = None) -> Path:
    """The run's demo file (made on first use; ``migrated``: an empty migrated SQLite file to
    start from instead of running the migrations). Never open it: copy it."""
    if "sqlite" not in _state:
        _state["sqlite"] = made_once("demo.db", lambda path: _load_demo(path, migrated))
    return _state["sqlite"]


def _load_demo(path: Path, migrated: Path | None) -> None:
    from vein2vein.demo.generator import load_demo
    from vein2vein.store import migrate

    if migrated is not None:
        shutil.copy(migrated, path)
    db = Database(demo_settings(path))
    try:
        if migrated is None:
            migrate.upgrade(db.engine)
        assert load_demo(db)
    finally:
        db.dispose()


def sqlite_demo_copy(path: Path) -> Path:
    """A copy of the run's demo at ``path`` (its own file: change it freely)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(sqlite_demo_file(), path)
    return path


def sqlite_demo_db(path: Path, **extra: object) -> Database:
    """A database on a fresh copy of the demo at ``path`` (``extra``: more settings)."""
    return Database(demo_settings(sqlite_demo_copy(path), **extra))
