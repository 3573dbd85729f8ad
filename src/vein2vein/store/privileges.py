"""Least privilege in PostgreSQL (issue 10): the application connects as a role that owns
nothing; migrations run as the owner.

The owner (``V2V_MIGRATION_DATABASE_URL``) creates and alters the schema and grants the
application role (``V2V_APP_DB_ROLE``) only what the application does: reading and writing rows.
The application role cannot alter, drop or truncate a table, cannot switch triggers off
(``ALTER TABLE ... DISABLE TRIGGER`` needs ownership; ``session_replication_role`` needs a
superuser), so the append-only rules of the audit chain, signatures and custody records hold
against the application's own credentials. ``check_application_role`` reports what the connected
role could do that it should not; production refuses to serve when it finds anything.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, text

from vein2vein.core.errors import InputError

_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _schema(engine: Engine, schema: str | None) -> str:
    if schema:
        return schema
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar_one())


def grant_application_role(engine: Engine, role: str, schema: str | None = None) -> list[str]:
    """Grant ``role`` row access to every table and sequence of the schema (run as the owner,
    after every upgrade; idempotent). Returns the statements run."""
    if engine.dialect.name != "postgresql":
        raise InputError("database roles apply to PostgreSQL only", field="role")
    if not _ROLE.fullmatch(role):
        raise InputError(
            "a role name is lower-case letters, digits and underscores (at most 63)",
            field="role",
        )
    name = _schema(engine, schema)
    statements = [
        f'GRANT USAGE ON SCHEMA "{name}" TO "{role}"',
        f'REVOKE CREATE ON SCHEMA "{name}" FROM "{role}"',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{name}" TO "{role}"',
        f'REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA "{name}" FROM "{role}"',
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{name}" TO "{role}"',
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    return statements


def check_application_role(engine: Engine, schema: str | None = None) -> list[str]:
    """What the connected role may do that the application must not (empty: least privilege)."""
    if engine.dialect.name != "postgresql":
        return []
    name = _schema(engine, schema)
    problems = []
    with engine.connect() as conn:
        me = conn.execute(
            text(
                "SELECT rolname, rolsuper, rolbypassrls, rolcreaterole "
                "FROM pg_roles WHERE rolname = current_user"
            )
        ).one()
        if me.rolsuper:
            problems.append(f"role {me.rolname} is a superuser (it can switch triggers off)")
        if me.rolbypassrls or me.rolcreaterole:
            problems.append(f"role {me.rolname} can create roles or bypass row security")
        owned = conn.execute(
            text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = :s AND tableowner = current_user"
            ),
            {"s": name},
        ).scalar_one()
        if owned:
            problems.append(
                f"role {me.rolname} owns {owned} tables (it can alter them and disable triggers)"
            )
    return problems
