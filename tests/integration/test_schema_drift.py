"""Models and migrations agree (issue 9): Alembic's autogenerate comparison of the migrated
database with the composition root's metadata finds no difference, on both engines.

A table or column added to a feature's ``tables.py`` without a migration (or the reverse) fails
here, naming the difference.
"""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table

from vein2vein.features import metadata
from vein2vein.store.database import Database

#: Alembic's own bookkeeping table is not a model
IGNORED_TABLES = {"alembic_version"}


def _include(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    return not (type_ == "table" and name in IGNORED_TABLES)


def differences(db: Database, target: MetaData) -> list[object]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "include_object": _include},
        )
        return list(compare_metadata(context, target))


# SQLite cannot reflect expression indexes (``lower(username)``), so Alembic skips them there with a
# warning; PostgreSQL compares them, so the index is still checked on one engine.
_SQLITE_EXPRESSION_INDEX = (
    "ignore:.*expression-based index:UserWarning",
    "ignore:Skipped unsupported reflection of expression-based index",
)


@pytest.mark.filterwarnings(*_SQLITE_EXPRESSION_INDEX)
def test_models_and_migrations_agree(db: Database) -> None:
    diff = differences(db, metadata())
    assert diff == [], f"models and migrations differ ({db.engine.dialect.name}): {diff}"


@pytest.mark.filterwarnings(*_SQLITE_EXPRESSION_INDEX)
def test_the_comparison_sees_a_model_without_migration(db: Database) -> None:
    """The check is not blind: a table only in the models is reported."""
    extra = MetaData()
    for table in metadata().tables.values():
        table.to_metadata(extra)
    Table("not_migrated", extra, Column("id", Integer, primary_key=True))
    diff = differences(db, extra)
    assert any(d[0] == "add_table" and d[1].name == "not_migrated" for d in diff)  # type: ignore[index]
