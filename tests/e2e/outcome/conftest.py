"""The demo for the product and outcome pages and API: the run's demo file
(tests/shared_demo.py, loaded once per test run), each test works on its own copy
(``demo``), as tests/e2e/quality/conftest.py does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.shared_demo import sqlite_demo_db

from vein2vein.store.database import Database


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Database]:
    db = sqlite_demo_db(tmp_path / "demo.db")
    yield db
    db.dispose()
