"""Backup and restore of the whole database, each checked by walking the audit chain.

- SQLite: the online backup API of SQLite (``sqlite3.Connection.backup``): a consistent copy of a
  database that others may be writing, page by page, without stopping them.
- PostgreSQL: ``pg_dump`` in its custom format, run on a snapshot exported by the transaction in
  which the audit chain was verified (``pg_export_snapshot``), so that the head reported is
  exactly the head inside the file; ``pg_restore`` into an empty database, in one transaction.

A backup is written to a temporary file beside the destination and renamed when complete, so
that a failure or a kill leaves no half-written backup under the requested name. A restore goes
only into an empty database and is verified before it is reported: its chain must verify and
its head must be the backup's. See docs/operations.md.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from vein2vein.core.errors import Conflict, InputError, RuleViolation
from vein2vein.store import audit
from vein2vein.store.database import Database

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


@dataclass(frozen=True)
class BackupReport:
    """What a backup or a restore produced, with the audit chain's state inside it."""

    action: str
    file: str
    engine: str
    entries: int
    head_seq: int
    head_hash: str
    bytes: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _sqlite_path(db: Database) -> Path:
    url = make_url(db.settings.database_url)
    if not url.database or url.database == ":memory:":
        raise RuleViolation("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _pg_cli_url(db: Database) -> str:
    """The database URL as libpq tools take it (no SQLAlchemy driver suffix)."""
    url = make_url(db.settings.database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _verified(session: Session, what: str) -> audit.VerifyResult:
    result = audit.verify(session)
    if not result.ok:
        raise RuleViolation(
            f"{what}: the audit chain does not verify ({result.problem}); nothing was written"
        )
    return result


def _temporary(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.partial-{os.getpid()}")


# --- backup ---------------------------------------------------------------------------------


def backup(db: Database, dest: Path) -> BackupReport:
    """Write a verified, consistent backup of ``db`` to ``dest`` (never over an existing file)."""
    dest = Path(dest)
    if dest.exists():
        raise Conflict(f"{dest} exists: choose a new file name (a backup never overwrites)")
    if not dest.parent.is_dir():
        raise InputError(f"folder {dest.parent} does not exist", file=str(dest))
    started = time.perf_counter()
    tmp = _temporary(dest)
    try:
        if db.engine.dialect.name == "sqlite":
            result = _backup_sqlite(db, tmp)
        else:
            result = _backup_postgresql(db, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return BackupReport(
        "backup",
        str(dest),
        db.engine.dialect.name,
        result.count,
        result.head.seq,
        result.head.hash,
        dest.stat().st_size,
        round(time.perf_counter() - started, 3),
    )


def _backup_sqlite(db: Database, tmp: Path) -> audit.VerifyResult:
    source = sqlite3.connect(_sqlite_path(db), timeout=30)
    target = sqlite3.connect(tmp)
    try:
        source.backup(target, pages=4096)
    finally:
        target.close()
        source.close()
    copy = Database(db.settings.model_copy(update={"database_url": f"sqlite:///{tmp}"}))
    try:
        with copy.read() as session:
            return _verified(session, "the backup copy")
    finally:
        copy.dispose()


def _backup_postgresql(db: Database, tmp: Path) -> audit.VerifyResult:
    if shutil.which("pg_dump") is None:
        raise RuleViolation("pg_dump is not installed (Debian: apt-get install postgresql-client)")
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            with Session(bind=conn) as session:
                result = _verified(session, "the database")
            command = [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={tmp}",
                f"--dbname={_pg_cli_url(db)}",
            ]
            if db.schema:
                command.append(f"--schema={db.schema}")
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuleViolation(f"pg_dump failed: {done.stderr.strip().splitlines()[-1:]}")
    return result


# --- restore --------------------------------------------------------------------------------


def _kind(src: Path) -> str:
    with src.open("rb") as fh:
        start = fh.read(16)
    if start.startswith(SQLITE_MAGIC):
        return "sqlite"
    if start.startswith(PGDUMP_MAGIC):
        return "postgresql"
    raise InputError(
        "not a vein2vein backup (neither a SQLite database nor a pg_dump custom-format file)",
        file=str(src),
    )


def _is_empty(db: Database) -> bool:
    if db.engine.dialect.name == "sqlite":
        path = _sqlite_path(db)
        if not path.exists() or path.stat().st_size == 0:
            return True
    return not inspect(db.engine).get_table_names(schema=db.schema)


def restore(db: Database, src: Path) -> BackupReport:
    """Restore the backup ``src`` into the empty database ``db`` and verify its chain."""
    src = Path(src)
    if not src.is_file():
        raise InputError("no such file", file=str(src))
    kind = _kind(src)
    engine = db.engine.dialect.name
    if kind != engine:
        raise InputError(
            f"this is a {kind} backup; the configured database is {engine}", file=str(src)
        )
    if not _is_empty(db):
        raise Conflict(
            "the configured database is not empty: restore only into a new, empty database "
            "(a restore never merges into or replaces existing records)"
        )
    started = time.perf_counter()
    restore_into = _restore_sqlite if kind == "sqlite" else _restore_postgresql
    result = restore_into(db, src)
    return BackupReport(
        "restore",
        str(src),
        engine,
        result.count,
        result.head.seq,
        result.head.hash,
        src.stat().st_size,
        round(time.perf_counter() - started, 3),
    )


def _check_restored(db: Database) -> audit.VerifyResult:
    from vein2vein.store.migrate import ensure_up_to_date

    ensure_up_to_date(db.engine)
    with db.read() as session:
        return _verified(session, "the backup")


def _restore_sqlite(db: Database, src: Path) -> audit.VerifyResult:
    """Copy to a temporary file, verify it there, then move it into place: a backup whose chain
    does not verify leaves the configured database as it was."""
    dest = _sqlite_path(db)
    dest.parent.mkdir(parents=True, exist_ok=True)
    db.dispose()
    tmp = _temporary(dest)
    try:
        source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        target = sqlite3.connect(tmp)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        copy = Database(db.settings.model_copy(update={"database_url": f"sqlite:///{tmp}"}))
        try:
            result = _check_restored(copy)
        finally:
            copy.dispose()
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return result


def _restore_postgresql(db: Database, src: Path) -> audit.VerifyResult:
    """``pg_restore`` in one transaction; a restored chain that does not verify is removed again
    (the database was empty before, so emptying its schema returns it to that state)."""
    if shutil.which("pg_restore") is None:
        raise RuleViolation("pg_restore is not installed (apt-get install postgresql-client)")
    command = [
        "pg_restore",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={_pg_cli_url(db)}",
        str(src),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["(no message)"]
        raise RuleViolation(f"pg_restore failed, nothing was restored: {last[0]}")
    db.dispose()
    try:
        return _check_restored(db)
    except Exception:
        schema = db.schema or "public"
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        raise
