"""The schema check every command runs first (``migrate.ensure_up_to_date``) answers "up to
date" without loading Alembic (issue 15), and still refuses every database that is not at the
head: the head read from the migration files' syntax trees is Alembic's own head, an older or
unknown stamped revision or an empty database takes Alembic's path and its explanation, and a
migration file that does not state its revisions plainly, or two heads, make the fast path
step aside."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from vein2vein.core.errors import DatabaseOutOfDate
from vein2vein.store import migrate
from vein2vein.store.database import Database
from vein2vein.store.engine import make_engine


def test_the_head_read_from_the_files_is_alembics_head(db: Database) -> None:
    assert migrate.declared_head() is not None
    assert migrate.declared_head() == migrate.head_revision(db.engine)
    assert migrate.current_revision(db.engine) == migrate.declared_head()
    migrate.ensure_up_to_date(db.engine)


def test_older_unknown_and_missing_revisions_are_still_refused(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'v2v.db'}")
    try:
        with pytest.raises(DatabaseOutOfDate, match="is empty"):
            migrate.ensure_up_to_date(engine)
        migrate.upgrade(engine, "0002")
        with pytest.raises(DatabaseOutOfDate, match="is at revision 0002"):
            migrate.ensure_up_to_date(engine)
        migrate.upgrade(engine)
        migrate.ensure_up_to_date(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(DatabaseOutOfDate, match="revision 9999, which this version"):
            migrate.ensure_up_to_date(engine)
    finally:
        engine.dispose()


def _versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, copy)
    monkeypatch.setattr(migrate, "MIGRATIONS", copy)
    return copy / "versions"


def test_a_file_that_is_not_plain_or_two_heads_turn_the_fast_path_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = _versions(tmp_path, monkeypatch)
    head = migrate.declared_head()
    branch = versions / "9001_branch.py"
    branch.write_text(f'revision = "9001"\ndown_revision = "{head}"\n')
    other = versions / "9002_other.py"
    other.write_text(f'revision: str = "9002"\ndown_revision: str | None = "{head}"\n')
    assert migrate.declared_head() is None  # two heads
    merge = versions / "9003_merge.py"
    merge.write_text('revision = "9003"\ndown_revision = ("9001", "9002")\n')
    assert migrate.declared_head() == "9003"
    merge.write_text('revision = "9003"\ndown_revision = compute()\n')
    assert migrate.declared_head() is None  # not a literal
    merge.write_text('down_revision = ("9001", "9002")\n')
    assert migrate.declared_head() is None  # no revision
