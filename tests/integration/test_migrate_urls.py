"""Alembic's configuration is a ConfigParser: a "%" in the database URL (a percent-encoded password
such as ``p%40ss`` for ``p@ss``, or a file name) once broke every migration run with an
interpolation error."""

from pathlib import Path

from vein2vein.store import migrate
from vein2vein.store.engine import make_engine


def test_a_percent_in_the_url_does_not_break_upgrade_or_the_schema_check(tmp_path: Path):
    folder = tmp_path / "batch 100% done"
    folder.mkdir()
    engine = make_engine(f"sqlite:///{folder / 'v2v%41.db'}")
    try:
        migrate.upgrade(engine)
        migrate.ensure_up_to_date(engine)
        assert migrate.current_revision(engine) == migrate.head_revision(engine)
    finally:
        engine.dispose()
