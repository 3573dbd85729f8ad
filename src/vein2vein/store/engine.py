"""Engine and session factory for SQLite (embedded default) and PostgreSQL.

Two kinds of transaction (``Database.uow`` and ``Database.read``):

- a **writing** unit of work. SQLite: ``BEGIN IMMEDIATE`` takes the database's one write lock up
  front, which serialises writers and keeps the audit chain's read-head-then-append step race
  free. PostgreSQL: an ordinary transaction; the audit chain and the records two people can
  change at once take their own locks (``store/locks.py``);
- a **read-only** unit (``READ_ONLY`` execution option). SQLite: a plain deferred ``BEGIN``
  that never takes the write lock. PostgreSQL: ``SET TRANSACTION READ ONLY``, so a write by
  mistake fails instead of committing.

SQLite file databases run in write-ahead-log mode (``journal_mode=WAL``): readers see the last
committed state and are never blocked by a writer, nor block one, so pages answer while a change
is being written. Durability is unchanged (``synchronous`` stays ``FULL``, SQLite's default).
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from vein2vein.store import audited

READ_ONLY = "v2v_read_only"

#: How long a SQLite writer waits for another writer's lock before giving up ("database is
#: locked"). Writers only wait for each other (WAL: readers never wait); no use case holds the
#: lock for more than a second or two (plans are computed outside transactions; loading the
#: demo takes a few seconds), so a longer wait means something is stuck and the request should
#: fail with an error rather than hang. It stays below the usual reverse-proxy time-outs (60 s).
SQLITE_BUSY_TIMEOUT_S = 15


def normalise_url(url: str) -> str:
    """Accept the usual ``postgresql://`` form and use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite_file(url: str) -> bool:
    """A SQLite URL naming a file (not ``sqlite://`` or ``:memory:`` or a shared-memory URI)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite":
        return False
    name = parsed.database or ""
    return bool(name) and name != ":memory:" and "mode=memory" not in str(parsed.query)


def make_engine(
    url: str,
    *,
    schema: str | None = None,
    echo: bool = False,
    pool_size: int = 10,
    max_overflow: int = 30,
) -> Engine:
    """Create an engine. ``schema`` (PostgreSQL only) puts every table in that schema.

    PostgreSQL's pool holds up to ``pool_size + max_overflow`` connections (by default 40: the
    number of worker threads Starlette runs synchronous endpoints on, so that a busy page never
    waits 30 s for a connection and fails while threads sit idle; SQLAlchemy's own default is 15).
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        )
        _configure_sqlite(engine, wal=is_sqlite_file(url))
        audited.track(engine)
        return engine
    connect_args = {}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    engine = create_engine(
        url,
        echo=echo,
        connect_args=connect_args,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
    )
    _configure_postgresql(engine)
    audited.track(engine)
    return engine


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    # pysqlite's own transaction handling is switched off so that we choose how each transaction
    # begins (SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional DDL" recipe
    # for pysqlite).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        if wal:
            # persistent in the file; an in-memory database keeps its "memory" journal
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # read-only units (Database.read) take no write lock and never block writers
        readonly = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get(READ_ONLY, False):
            # the first statement of the transaction: it must come before any query
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
