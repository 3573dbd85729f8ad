"""The API against its own OpenAPI document, fuzzed (issue 10): schemathesis generates requests
for every operation from the document, as three roles (CDMO QA approver, CDMO administrator,
a sponsor's clinical user) over the demo program, and fails on any server error or any answer
the document does not describe (status code, content type, body schema).

Bounded for CI: ``EXAMPLES`` generated requests per operation and role, with a fixed seed.
The operations are driven through schemathesis' Python API with Hypothesis directly (its pytest
plugin does not run under the pinned pytest 9).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from schemathesis import checks
from tests.route_declarations import may_call, role_of
from tests.shared_demo import sqlite_demo_file

from vein2vein.auth import service, tokens
from vein2vein.core.settings import Settings
from vein2vein.features import create_app
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor
from vein2vein.web.app import registered_routes

EXAMPLES = 8
#: what every answer must satisfy: no server error, and a status code, content type, headers
#: and body that the OpenAPI document describes for the operation
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
ROLES = ("qa.approver", "admin", "helixa.clinical")


def _settings(path: Path) -> Settings:
    return Settings(
        environment="test",
        database_url=f"sqlite:///{path}",
        argon2_profile="fast-tests",
        # wrong passwords generated for signature operations must not lock the roles out
        lockout_threshold=1_000_000,
    )


@pytest.fixture(scope="module")
def demo_template() -> Path:
    """The demo loaded once per test run (tests/shared_demo.py, the file ``demo_db`` and
    the browser tests copy too); each role's test works on its own copy."""
    return sqlite_demo_file()


def demo_world(template: Path, folder: Path) -> tuple[Any, Database]:
    path = folder / "demo.db"
    shutil.copy(template, path)
    db = Database(_settings(path))
    return schemathesis.openapi.from_asgi("/api/openapi.json", create_app(db.settings, db)), db


def fresh_token(db: Database, username: str) -> str:
    """A new token for each operation: a generated request may revoke the one in use."""
    with db.uow(Actor("fuzz")) as uow:
        scope = service.scope_of(service.user_by_username(uow.session, username))
        _, token = tokens.create_token(uow, scope, "fuzz", 1)
        uow.commit()
    return token


def fuzz(operation: Any, token: str, examples: int = EXAMPLES) -> list[str]:
    problems: list[str] = []

    @seed(20261206)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        try:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
        except Exception as exc:  # the ASGI transport re-raises the server's exception
            problems.append(f"{operation.label}: server error {type(exc).__name__}: {exc}"[:300])
            return
        if response.status_code >= 500:
            problems.append(f"{operation.label}: {response.status_code}")
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:
            problems.append(f"{operation.label}: {' '.join(str(exc).split())[:300]}")

    run()
    return problems


@pytest.mark.parametrize("username", ROLES)
def test_every_operation_answers_as_documented(
    demo_template: Path, tmp_path: Path, username: str
) -> None:
    """A fresh demo per role: an administrator's generated requests may disable other users."""
    schema, db = demo_world(demo_template, tmp_path)
    role = role_of(db, username)
    routes = {
        (method, route.path): route
        for route in registered_routes(create_app(db.settings, db))
        for method in route.methods
    }
    problems: list[str] = []
    operations = fuzzed = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        # a role without the route's permission is refused before the handler reads anything
        # (test_route_permissions checks every pair): one request shows that the refusal is
        # documented; the generated examples go to the roles that reach the handler
        route = routes[(operation.method.upper(), operation.path)]
        examples = EXAMPLES if may_call(role, route) else 1
        fuzzed += examples == EXAMPLES
        problems += fuzz(operation, fresh_token(db, username), examples)
    assert operations > 50 and fuzzed >= 10, (operations, fuzzed)
    unique = sorted(set(problems))
    assert not unique, f"{len(unique)} problems as {username}:\n" + "\n".join(unique[:40])
