"""``v2v db backup`` / ``v2v db restore`` (issue 10): a backup taken while the store is being
written restores into an empty database whose chain verifies and whose head equals the backup's;
nothing is ever written over, merged into, or left half-done.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from tests import factories
from tests.conftest import PG_URL, make_settings
from typer.testing import CliRunner

from vein2vein.core.errors import Conflict, InputError, RuleViolation
from vein2vein.core.settings import get_settings
from vein2vein.features import create_cli
from vein2vein.store import audit
from vein2vein.store.backup import backup, restore
from vein2vein.store.database import Database
from vein2vein.store.engine import normalise_url

cli = create_cli()


@pytest.fixture
def empty_target(db: Database, tmp_path: Path) -> Iterator[Database]:
    """A new, empty database of the same engine as ``db``."""
    if db.engine.dialect.name == "sqlite":
        target = Database(make_settings(f"sqlite:///{tmp_path / 'restored.db'}"))
        yield target
        target.dispose()
        return
    name = f"v2v_restore_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    target = Database(make_settings(url), schema=db.schema)
    try:
        yield target
    finally:
        target.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _some_records(db: Database, n: int = 3) -> None:
    for _ in range(n):
        org = factories.org(db, "SPONSOR")
        factories.program(db, org)


def test_backup_then_restore_gives_the_same_verified_chain(
    db: Database, empty_target: Database, tmp_path: Path
) -> None:
    _some_records(db)
    made = backup(db, tmp_path / "store.bak")
    with db.read() as session:
        assert made.head_hash == audit.head(session).hash
    back = restore(empty_target, tmp_path / "store.bak")
    assert (back.entries, back.head_seq, back.head_hash) == (
        made.entries,
        made.head_seq,
        made.head_hash,
    )
    with empty_target.read() as session:
        assert audit.verify(session, head_hash=made.head_hash).ok
    # the append-only triggers came back with the tables
    with pytest.raises(DBAPIError), empty_target.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'forger' WHERE seq = 1"))


def test_a_backup_taken_while_writers_work_is_consistent(
    db: Database, empty_target: Database, tmp_path: Path
) -> None:
    _some_records(db, 1)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            while not stop.is_set():
                factories.org(db, "SPONSOR")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        made = [backup(db, tmp_path / f"live-{i}.bak") for i in range(3)]
    finally:
        stop.set()
        thread.join()
    assert not errors
    back = restore(empty_target, tmp_path / "live-2.bak")
    assert back.head_hash == made[2].head_hash
    with db.read() as session:  # the backup's head is an entry of the live chain
        assert audit.verify(session, head_hash=made[2].head_hash).ok
        assert audit.head(session).seq >= made[2].head_seq


def test_refusals_change_nothing(db: Database, empty_target: Database, tmp_path: Path) -> None:
    _some_records(db, 1)
    existing = tmp_path / "exists.bak"
    existing.write_bytes(b"keep me")
    with pytest.raises(Conflict, match="never overwrites"):
        backup(db, existing)
    assert existing.read_bytes() == b"keep me"
    assert not list(tmp_path.glob(".*partial*"))

    junk = tmp_path / "junk.bak"
    junk.write_bytes(b"this is not a backup at all")
    with pytest.raises(InputError, match="not a vein2vein backup") as err:
        restore(empty_target, junk)
    assert "junk.bak" in err.value.message

    made = tmp_path / "good.bak"
    backup(db, made)
    with pytest.raises(Conflict, match="not empty"):
        restore(db, made)  # the live database is not empty: never merged into


def test_a_tampered_sqlite_backup_is_refused_and_nothing_is_restored(
    sqlite_db: Database, tmp_path: Path
) -> None:
    _some_records(sqlite_db, 1)
    bak = tmp_path / "t.bak"
    backup(sqlite_db, bak)
    con = sqlite3.connect(bak)
    names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'")]
    for name in names:
        con.execute(f'DROP TRIGGER "{name}"')
    con.execute("UPDATE audit_log SET actor = 'forger' WHERE seq = 2")
    con.commit()
    con.close()
    target = Database(make_settings(f"sqlite:///{tmp_path / 'new.db'}"))
    with pytest.raises(RuleViolation, match="sequence 2"):
        restore(target, bak)
    assert not (tmp_path / "new.db").exists()


def test_wrong_kind_of_backup_is_named(sqlite_db: Database, tmp_path: Path) -> None:
    dump = tmp_path / "pg.dump"
    dump.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 64)
    target = Database(make_settings(f"sqlite:///{tmp_path / 'x.db'}"))
    with pytest.raises(InputError, match="postgresql backup; the configured database is sqlite"):
        restore(target, dump)


def test_cli_backup_and_restore(cli_db: Database, tmp_path: Path) -> None:
    _some_records(cli_db, 1)
    env = {"V2V_DATABASE_URL": cli_db.settings.database_url, "V2V_ARGON2_PROFILE": "fast-tests"}
    runner = CliRunner()
    out = runner.invoke(cli, ["db", "backup", str(tmp_path / "c.bak"), "--json"], env=env)
    assert out.exit_code == 0, out.output
    head = out.output.split('"head_hash": "')[1][:64]
    env2 = env | {"V2V_DATABASE_URL": f"sqlite:///{tmp_path / 'c2.db'}"}
    get_settings.cache_clear()  # the settings are read once per process
    back = runner.invoke(cli, ["db", "restore", str(tmp_path / "c.bak")], env=env2)
    assert back.exit_code == 0, back.output
    assert head in back.output
    again = runner.invoke(cli, ["db", "restore", str(tmp_path / "c.bak")], env=env2)
    assert again.exit_code == 1 and "not empty" in again.output
