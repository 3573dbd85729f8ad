"""The demo for the product and outcome pages and API: loaded once per test process, each test
works on its own copy (``demo``), as tests/e2e/quality/conftest.py does."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from vein2vein.core.settings import Settings
from vein2vein.demo.generator import load_demo
from vein2vein.store import migrate
from vein2vein.store.database import Database


def _settings(path: Path) -> Settings:
    return Settings(
        environment="test", database_url=f"sqlite:///{path}", argon2_profile="fast-tests"
    )


@pytest.fixture(scope="session")
def outcome_demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outcome-demo") / "demo.db"
    db = Database(_settings(path))
    migrate.upgrade(db.engine)
    assert load_demo(db)
    db.dispose()
    return path


@pytest.fixture
def demo(outcome_demo_file: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "demo.db"
    shutil.copy(outcome_demo_file, path)
    db = Database(_settings(path))
    yield db
    db.dispose()
