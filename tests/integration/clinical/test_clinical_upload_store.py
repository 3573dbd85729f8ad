"""Storing a dataset version fast (issue 15, target 5) stores the same thing, in one transaction,
on SQLite and PostgreSQL: the raw files read back byte for byte (PostgreSQL: compressed with
lz4 rather than pglz, a setting that ends with the upload's transaction), and a failure after
the files were written (here: the audit entry) leaves no version, no file and no audit entry."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select, text
from tests.integration.clinical.world import World, build, demo

from vein2vein.clinical import datasets, studies
from vein2vein.clinical.tables import DatasetFile, DatasetVersion
from vein2vein.store import audit
from vein2vein.store.blobs import compress_fast
from vein2vein.store.database import Database


@pytest.fixture
def world(db: Database) -> World:
    return build(db)


def _study(w: World) -> int:
    with w.uow("a.clinical") as uow:
        study = studies.create_study(
            uow, w.scopes["a.clinical"], program_id=w.ids["program_a"], code="IIT-1", title="T"
        )
        uow.commit()
        return study.id


def _toast_default(db: Database) -> str | None:
    if db.engine.dialect.name != "postgresql":
        return None
    with db.engine.connect() as conn:
        return str(conn.scalar(text("SHOW default_toast_compression")))


def test_stored_files_read_back_byte_for_byte_and_lz4_ends_with_the_upload(
    world: World,
) -> None:
    files = demo()
    assessments = next(f for f in files if f.name == "assessments.csv")
    assert len(assessments.content) > 2048  # compressed when stored (TOAST: over about 2 kB)
    study_id = _study(world)
    default_before = _toast_default(world.db)
    with world.uow("a.clinical") as uow:
        version = datasets.upload_dataset(uow, world.scopes["a.clinical"], study_id, files)
        uow.commit()
        version_id = version.id
    assert _toast_default(world.db) == default_before  # SET LOCAL: gone with the transaction
    with world.db.read() as session:
        for f in files:
            row = datasets.get_file(session, world.scopes["a.viewer"], version_id, f.name)
            assert row.content == f.content
            assert row.sha256 == hashlib.sha256(f.content).hexdigest()
        if world.db.engine.dialect.name == "postgresql":
            offered = session.scalar(
                text(
                    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                    "WHERE name = 'default_toast_compression'"
                )
            )
            methods = set(
                session.scalars(
                    text(
                        "SELECT pg_column_compression(content) FROM clinical_dataset_file "
                        "WHERE dataset_version_id = :v AND name = 'assessments.csv'"
                    ),
                    {"v": version_id},
                )
            )
            assert methods == ({"lz4"} if offered else {"pglz"})
        ds = datasets.load_dataset(
            session, datasets.get_version(session, world.scopes["a.viewer"], version_id)
        )
    assert len(ds.assessments) == assessments.content.count(b"\n") - 1  # rows after the header


def test_compress_fast_is_postgresql_only(world: World) -> None:
    with world.db.uow(world.actor("a.clinical")) as uow:
        assert compress_fast(uow.session) is (world.db.engine.dialect.name == "postgresql")


def test_a_failure_after_the_files_were_written_leaves_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    study_id = _study(world)
    with world.db.read() as session:
        head = audit.head(session)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the audit entry could not be written")

    monkeypatch.setattr(audit, "append", broken)
    with world.uow("a.clinical") as uow, pytest.raises(RuntimeError, match="audit entry"):
        datasets.upload_dataset(uow, world.scopes["a.clinical"], study_id, demo())
        uow.commit()
    monkeypatch.undo()
    with world.db.read() as session:
        assert session.scalar(select(func.count()).select_from(DatasetVersion)) == 0
        assert session.scalar(select(func.count()).select_from(DatasetFile)) == 0
        assert audit.head(session) == head
