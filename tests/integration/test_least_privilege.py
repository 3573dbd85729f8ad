"""Least privilege in PostgreSQL (issue 10): connected as the application's role, which owns
nothing, no one can switch the append-only triggers off, truncate, alter or drop a table — the
probe found the application's role could (``session_replication_role``) when it was the owner.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from tests import factories
from tests.conftest import PG_URL, _drop_schema, _pg_db, make_settings

from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.engine import normalise_url
from vein2vein.store.privileges import check_application_role, grant_application_role

pytestmark = pytest.mark.pg


@pytest.fixture
def owner_and_app() -> Iterator[tuple[Database, Database]]:
    owner, schema = _pg_db()
    role = f"v2v_app_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'))
    grant_application_role(owner.engine, role, schema)
    user_url = PG_URL.replace("postgres@", f"{role}@", 1)
    app = Database(make_settings(user_url), schema=schema)
    try:
        yield owner, app
    finally:
        app.dispose()
        owner.dispose()
        _drop_schema(schema)
        with admin.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


def test_the_application_role_works_and_cannot_disable_the_rules(
    owner_and_app: tuple[Database, Database],
) -> None:
    owner, app = owner_and_app
    org = factories.org(app, "SPONSOR", "Helixa")  # the application writes, audited
    factories.program(app, org)
    with app.read() as session:
        assert audit.verify(session).ok
    assert check_application_role(app.engine) == []
    assert check_application_role(owner.engine)  # the test's owner is a superuser

    forbidden = [
        "SET session_replication_role = replica",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "TRUNCATE audit_log",
        "DROP TABLE audit_log",
        "UPDATE audit_log SET actor = 'forger' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
        "CREATE TABLE sneaky (id int)",
    ]
    for statement in forbidden:
        with pytest.raises(DBAPIError), app.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    with app.read() as session:
        assert audit.verify(session).ok


def test_a_bad_role_name_is_refused(owner_and_app: tuple[Database, Database]) -> None:
    from vein2vein.core.errors import InputError

    owner, _ = owner_and_app
    with pytest.raises(InputError, match="lower-case"):
        grant_application_role(owner.engine, 'x"; DROP TABLE audit_log; --')
