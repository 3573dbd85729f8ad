"""Alembic migrations are the only source of the schema; this module drives them.

Every command that opens the store first checks that the database is at the head revision
(:func:`ensure_up_to_date`). The usual answer, "it is", is found without loading Alembic (a
third of a second of imports on a loaded machine, issue 15): the stamped revision is read with
one query and the head from the ``revision``/``down_revision`` assignments of the migration
files (their syntax tree, not their import). Anything else (no stamp, another revision, a
migration file that does not read plainly, several heads) takes Alembic's own path, which gives
the explanation; a test compares the two heads.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from vein2vein.core.errors import DatabaseOutOfDate

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's Config is a ConfigParser: a literal "%" (a percent-encoded password, a file name)
    # must be doubled or interpolation fails; the engine itself is handed over in ``attributes``.
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    current = current_revision(engine)
    if current is not None and not _known(engine, current):
        ensure_up_to_date(engine)  # raises with the explanation
    command.upgrade(alembic_config(engine), revision)


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _known(engine: Engine, revision: str) -> bool:
    from alembic.script import ScriptDirectory

    try:
        return (
            ScriptDirectory.from_config(alembic_config(engine)).get_revision(revision) is not None
        )
    except Exception:  # alembic raises several types for an unknown revision
        return False


def _assigned(tree: ast.Module, name: str) -> tuple[bool, object]:
    """``(found, value)`` of a top-level ``name = <literal>`` (annotated or not)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == name:
            try:
                return True, ast.literal_eval(value)
            except ValueError:
                return False, None
    return False, None


def declared_head() -> str | None:
    """The one head revision of the migration files, read from their syntax trees (no
    import); None when a file does not say its revisions plainly or there is not one head."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        tree = ast.parse(path.read_bytes(), str(path))
        found, revision = _assigned(tree, "revision")
        found_down, down = _assigned(tree, "down_revision")
        if not (found and found_down and isinstance(revision, str)):
            return None
        downs = (down,) if isinstance(down, str) or down is None else down
        if not isinstance(downs, tuple | list) or not all(
            isinstance(d, str) or d is None for d in downs
        ):
            return None
        revisions.add(revision)
        parents.update(d for d in downs if d is not None)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stamped(engine: Engine) -> str | None:
    """The revision stamped in the database (one query), or None when it cannot be read
    plainly (no version table yet, or not exactly one row)."""
    with engine.connect() as conn:  # a database that cannot be reached raises here
        try:
            rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        except DBAPIError:
            return None
    return str(rows[0][0]) if len(rows) == 1 else None


def ensure_up_to_date(engine: Engine) -> None:
    """Refuse to work on a database whose schema is not the one this code expects."""
    stamped = _stamped(engine)
    if stamped is not None and stamped == declared_head():
        return
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
