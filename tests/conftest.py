"""Shared fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL.

PostgreSQL: ``V2V_TEST_DATABASE_URL`` (default postgresql://postgres@127.0.0.1:5432/test); every
test gets its own schema, dropped afterwards, so runs never see each other's rows. When the server
cannot be reached the PostgreSQL tests are skipped with a loud message, unless ``CI`` is set: then
they fail.

What is expensive to make is made once per run and copied per test: the migrated SQLite file, the
migrated PostgreSQL schema and the demo on both engines, as files (SQL for PostgreSQL) that the
run's xdist workers share (``tests/run_share.py``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from tests import run_share
from tests.shared_demo import sqlite_demo_file
from vein2vein.core.settings import Settings
from vein2vein.store import migrate
from vein2vein.store.database import Database
from vein2vein.store.engine import make_engine, normalise_url

# Hypothesis' per-example deadline (200 ms) measures the machine's load, not the code: CI runners
# are shared, so property tests check properties only (time is measured by bench/, not by tests).
hypothesis_settings.register_profile("v2v", deadline=None)
hypothesis_settings.load_profile("v2v")

PG_URL = os.environ.get("V2V_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = bool(os.environ.get("CI"))
_pg_state: dict[str, object] = {}


def pg_available() -> tuple[bool, str]:
    if "ok" not in _pg_state:
        try:
            eng = create_engine(normalise_url(PG_URL), connect_args={"connect_timeout": 3})
            with eng.connect() as conn:
                conn.execute(text("SELECT 1"))
            eng.dispose()
            _pg_state.update(ok=True, why="")
        except Exception as exc:
            _pg_state.update(ok=False, why=f"{type(exc).__name__}: {exc}".splitlines()[0])
    return bool(_pg_state["ok"]), str(_pg_state["why"])


def require_pg() -> None:
    ok, why = pg_available()
    if ok:
        return
    message = f"PostgreSQL at {PG_URL} is not reachable ({why})"
    if IN_CI:
        pytest.fail(f"{message}; under CI this is a failure, not a skip", pytrace=False)
    pytest.skip(f"!!! SKIPPED: {message} !!!")


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    if _pg_state and not _pg_state.get("ok"):
        terminalreporter.write_sep(
            "!", f"PostgreSQL tests were SKIPPED: {_pg_state.get('why')}", red=True, bold=True
        )


def make_settings(url: str, **extra: object) -> Settings:
    return Settings(
        environment="test",
        database_url=url,
        argon2_profile="fast-tests",
        **extra,
    )


@pytest.fixture(scope="session", autouse=True)
def _run_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Where the run's processes share what they make once (``tests/run_share.py``): under
    pytest-xdist the run's base temporary folder, the parent of each worker's own."""
    base = tmp_path_factory.getbasetemp()
    run_share.use_folder(
        base.parent / "shared" if os.environ.get("PYTEST_XDIST_WORKER") else base / "shared"
    )


@pytest.fixture(scope="session")
def sqlite_template() -> Path:
    """One migrated SQLite file per test run, copied for every test (fast and isolated)."""

    def migrated(path: Path) -> None:
        engine = make_engine(f"sqlite:///{path}")
        migrate.upgrade(engine)
        engine.dispose()

    return run_share.made_once("template.db", migrated)


def _sqlite_db(template: Path, tmp_path: Path, **extra: object) -> Database:
    path = tmp_path / "v2v.db"
    shutil.copy(template, path)
    return Database(make_settings(f"sqlite:///{path}", **extra))


def _pg_dump(schema: str) -> str:
    """The schema's DDL and rows as plain SQL (psql's backslash commands left out)."""
    out = subprocess.run(
        ["pg_dump", f"--dbname={PG_URL}", "-n", schema, "--inserts", "--no-owner"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return "\n".join(line for line in out.splitlines() if not line.startswith("\\"))


def _replay(sql: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql.encode())


def _migrated_schema(**extra: object) -> tuple[Database, str]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    db = Database(make_settings(PG_URL, **extra), schema=schema)
    migrate.upgrade(db.engine)
    return db, schema


#: ``(ARRAY['a'::character varying, ...])::text[]``: how PostgreSQL prints a CHECK written as
#: ``col NOT IN ('a', ...)`` on a varchar column (migration 0014's ``pd_never_approved``).
_ARRAY_ITEM = re.compile(r"'[^']*'::[\w ]+")
_ARRAY_CAST = re.compile(
    r"\(ARRAY\[((?:'[^']*'::[\w ]+?)(?:, '[^']*'::[\w ]+?)*)\]\)::([\w ]+)\[\]"
)


def _deparsed(sql: str) -> str:
    """``sql`` with the one spelling PostgreSQL 15 does not print back as it read it written the
    way it reads it: replayed, ``(ARRAY['a'::varchar, 'b'::varchar])::text[]`` is parsed into
    ``ARRAY[('a'::varchar)::text, ('b'::varchar)::text]`` (the cast moved onto each element:
    the same array, the same check). Any other difference still counts."""

    def per_element(match: re.Match[str]) -> str:
        items = _ARRAY_ITEM.findall(match.group(1))
        return "ARRAY[" + ", ".join(f"({item})::{match.group(2)}" for item in items) + "]"

    return _ARRAY_CAST.sub(per_element, sql)


def _pg_template() -> tuple[str, str] | None:
    """One migrated schema per test run, kept as SQL: replaying it is several times faster than
    running every migration for each PostgreSQL test (about 0.2 s against 1 s, and the replayed
    schema drops faster). Used only when a replay dumps back to the same SQL (checked once per
    run; ``_deparsed`` says the one spelling that may differ); otherwise each test migrates its
    own, with a warning in the summary saying why (that fallback once went unnoticed for weeks
    and tripled the PostgreSQL tests' time)."""
    if "template" not in _pg_state:
        made = json.loads(run_share.made_once("pg-template.json", _make_pg_template).read_text())
        _pg_state["template"] = (made["sql"], made["name"]) if "sql" in made else None
        if "why" in made:
            warnings.warn(f"every PostgreSQL test migrates its schema: {made['why']}", stacklevel=1)
    return _pg_state["template"]  # type: ignore[return-value]


def _make_pg_template(path: Path) -> None:
    """``{"sql", "name"}`` (a migrated schema's dump and its name) or ``{"why"}`` to ``path``."""
    if not shutil.which("pg_dump"):
        path.write_text(json.dumps({"why": "there is no pg_dump"}))
        return
    db, name = _migrated_schema()
    db.dispose()
    try:
        sql = _pg_dump(name)
        why = _replay_differs(sql, name)
    except (subprocess.CalledProcessError, psycopg.Error) as exc:
        why = f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        _drop_schema(name)
    path.write_text(json.dumps({"why": why} if why else {"sql": sql, "name": name}))


def _replay_differs(sql: str, name: str) -> str | None:
    """None when ``sql`` replayed into a new schema dumps back the same; else the first line
    that came back different."""
    copy = f"t_{uuid.uuid4().hex[:16]}"
    _replay(sql.replace(name, copy))
    try:
        back = _deparsed(_pg_dump(copy).replace(copy, name))
    finally:
        _drop_schema(copy)
    for before, after in zip(_deparsed(sql).splitlines(), back.splitlines(), strict=False):
        if before != after:
            return f"the replayed template dumps {after.strip()!r} for {before.strip()!r}"
    return None if back == _deparsed(sql) else "the replayed template dumps a different length"


def _pg_db(**extra: object) -> tuple[Database, str]:
    """A fresh schema holding every migration's result (from the run's template)."""
    require_pg()
    template = _pg_template()
    if template is None:
        return _migrated_schema(**extra)
    sql, name = template
    schema = f"t_{uuid.uuid4().hex[:16]}"
    _replay(sql.replace(name, schema))
    return Database(make_settings(PG_URL, **extra), schema=schema), schema


def _drop_schema(schema: str) -> None:
    admin = create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def db(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    """A fresh, migrated database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        database = _sqlite_db(sqlite_template, tmp_path)
        yield database
        database.dispose()
        return
    database, schema = _pg_db()
    try:
        yield database
    finally:
        database.dispose()
        _drop_schema(schema)


_demo_state: dict[str, Any] = {}


def _demo_template_pg() -> tuple[str, str]:
    """The demo loaded once per test run into a PostgreSQL schema, kept as SQL (pg_dump puts
    triggers after the rows, so the append-only guards do not refuse the replay)."""
    if "pg" not in _demo_state:
        made = json.loads(run_share.made_once("pg-demo.json", _make_pg_demo).read_text())
        _demo_state["pg"] = (made["sql"], made["name"])
    return _demo_state["pg"]  # type: ignore[no-any-return]


def _make_pg_demo(path: Path) -> None:
    from vein2vein.demo.generator import load_demo

    database, schema = _pg_db()
    try:
        assert load_demo(database)
        database.dispose()
        path.write_text(json.dumps({"sql": _pg_dump(schema), "name": schema}))
    finally:
        database.dispose()
        _drop_schema(schema)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def demo_db(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    tmp_path: Path,
) -> Iterator[Database]:
    """A fresh database holding the whole demo (``v2v demo``), once on SQLite and once on
    PostgreSQL; the demo is loaded once per test run and copied for each test."""
    if request.param == "sqlite":
        # the run's demo file, shared with the fuzzers and the browser tests' running_demo
        path = tmp_path / "demo.db"
        shutil.copy(sqlite_demo_file(sqlite_template), path)
        database = Database(make_settings(f"sqlite:///{path}"))
        yield database
        database.dispose()
        return
    require_pg()
    sql, name = _demo_template_pg()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    _replay(sql.replace(name, schema))
    database = Database(make_settings(PG_URL), schema=schema)
    try:
        yield database
    finally:
        database.dispose()
        _drop_schema(schema)


@pytest.fixture
def sqlite_db(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    """SQLite only: for tests of behaviour that does not depend on the engine (web pages)."""
    database = _sqlite_db(sqlite_template, tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def cli_db(sqlite_db: Database) -> Iterator[Database]:
    """A SQLite database that ``v2v`` commands run with CliRunner will use (via the env)."""
    from vein2vein.core.settings import get_settings

    get_settings.cache_clear()
    yield sqlite_db
    get_settings.cache_clear()


@pytest.fixture
def cli_env(cli_db: Database) -> dict[str, str]:
    return {"V2V_DATABASE_URL": cli_db.settings.database_url, "V2V_ARGON2_PROFILE": "fast-tests"}


@pytest.fixture
def cli_demo(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    """The demo on SQLite (a copy of the run's demo file) for ``v2v`` commands run with
    CliRunner (via ``cli_demo_env``)."""
    from vein2vein.core.settings import get_settings

    get_settings.cache_clear()
    path = tmp_path / "demo.db"
    shutil.copy(sqlite_demo_file(sqlite_template), path)
    database = Database(make_settings(f"sqlite:///{path}"))
    yield database
    database.dispose()
    get_settings.cache_clear()


@pytest.fixture
def cli_demo_env(cli_demo: Database) -> dict[str, str]:
    return {
        "V2V_DATABASE_URL": cli_demo.settings.database_url,
        "V2V_ARGON2_PROFILE": "fast-tests",
    }
