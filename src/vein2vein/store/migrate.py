"""Alembic migrations are the only source of the schema; this module drives them."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from vein2vein.core.errors import DatabaseOutOfDate

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's Config is a ConfigParser: a literal "%" (a percent-encoded password, a file name)
    # must be doubled or interpolation fails; the engine itself is handed over in ``attributes``.
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    current = current_revision(engine)
    if current is not None and not _known(engine, current):
        ensure_up_to_date(engine)  # raises with the explanation
    command.upgrade(alembic_config(engine), revision)


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _known(engine: Engine, revision: str) -> bool:
    try:
        return (
            ScriptDirectory.from_config(alembic_config(engine)).get_revision(revision) is not None
        )
    except Exception:  # alembic raises several types for an unknown revision
        return False


def ensure_up_to_date(engine: Engine) -> None:
    """Refuse to work on a database whose schema is not the one this code expects."""
    current, head = current_revision(engine), head_revision(engine)
    if current is not None and current != head and not _known(engine, current):
        raise DatabaseOutOfDate(
            f"The database is at revision {current}, which this version of vein2vein does not "
            f"know (it needs {head}): it was upgraded by a newer vein2vein. Run that version; "
            "do not downgrade a GMP database by hand."
        )
    if current != head:
        state = "is empty" if current is None else f"is at revision {current}"
        raise DatabaseOutOfDate(
            f"The database {state}, this version of vein2vein needs revision {head}. "
            "Run `v2v db upgrade` to bring it up to date."
        )
