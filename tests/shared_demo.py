"""The demo loaded once per test process into a SQLite file, copied for each test that needs it.

Loading the demo goes through every feature's services (about 15 s of CPU); a copy of the file
takes milliseconds. ``tests/conftest.py``'s ``demo_db`` (its SQLite half), the form and API
fuzzers, the QC release pages and ``tests/browser.py``'s ``running_demo`` all start from this one
file, so a test process loads the demo once however many of them it runs. A test that changes
its copy changes nobody else's.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from vein2vein.core.settings import Settings
from vein2vein.store.database import Database

_state: dict[str, Path] = {}


def demo_settings(path: Path, **extra: object) -> Settings:
    return Settings(
        environment="test", database_url=f"sqlite:///{path}", argon2_profile="fast-tests", **extra
    )


def sqlite_demo_file(migrated: Path | None = None) -> Path:
    """The process's demo file (made on first use; ``migrated``: an empty migrated SQLite file
    to start from instead of running the migrations). Never open it: copy it."""
    if "sqlite" not in _state:
        from vein2vein.demo.generator import load_demo
        from vein2vein.store import migrate

        folder = Path(tempfile.mkdtemp(prefix="v2v-demo-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "demo.db"
        if migrated is not None:
            shutil.copy(migrated, path)
        db = Database(demo_settings(path))
        try:
            if migrated is None:
                migrate.upgrade(db.engine)
            assert load_demo(db)
        finally:
            db.dispose()
        _state["sqlite"] = path
    return _state["sqlite"]


def sqlite_demo_copy(path: Path) -> Path:
    """A copy of the process's demo at ``path`` (its own file: change it freely)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(sqlite_demo_file(), path)
    return path


def sqlite_demo_db(path: Path, **extra: object) -> Database:
    """A database on a fresh copy of the demo at ``path`` (``extra``: more settings)."""
    return Database(demo_settings(sqlite_demo_copy(path), **extra))
