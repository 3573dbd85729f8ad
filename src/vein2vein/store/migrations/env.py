"""Alembic environment: runs on the engine handed over by ``vein2vein.store.migrate``; the schema
it compares against is the composition root's (every feature's tables)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from vein2vein.features import metadata as whole_schema
from vein2vein.store.engine import normalise_url

config = context.config
metadata = whole_schema()


def run() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(normalise_url(config.get_main_option("sqlalchemy.url")))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            compare_type=True,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
