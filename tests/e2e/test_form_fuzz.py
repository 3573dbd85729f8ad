"""Every form field of every page takes arbitrary text without a server error (issue 9).

Hypothesis posts generated text (any Unicode, digits of other scripts, huge numbers, control
characters, empty) into every field of every POST page route, logged in as four roles over the
demo program, and fails on any 5xx. A refused value must come back as a 4xx (the form with its
error), a redirect, or a refusal. The fields are read from the routes themselves (FastAPI's form
parameters) and, for handlers that read the whole form, from the forms on the demo's pages.

Bounded for CI: a fixed number of examples per route and role, with a fixed seed.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from tests.route_declarations import may_call, role_of
from tests.shared_demo import sqlite_demo_db
from tests.webclient import logged_in

from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.store.database import Database
from vein2vein.web.app import registered_routes

PARAM = re.compile(r"{(\w+)(?::\w+)?}")
INPUT = re.compile(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"')
#: routes whose fuzzing would end the session under test (they have tests of their own)
SKIPPED = {"/login", "/logout", "/account/password"}
EXAMPLES = 6
TRICKY = ("²", "١٢", "1e400", "NaN", "9" * 30, "-5")

texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from([*TRICKY, "１２", "0", "1.5", " ", "\x00"]),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.dates().map(lambda d: d.isoformat()),
)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    """A copy of the run's demo (tests/shared_demo.py), shared by the module's roles."""
    return sqlite_demo_db(tmp_path_factory.mktemp("fuzz") / "demo.db")


def form_fields(route: APIRoute) -> list[str]:
    return [p.alias or p.name for p in route.dependant.body_params]


def page_forms(c: Any, paths: list[str]) -> dict[str, set[str]]:
    """action path -> field names, from the forms on the given pages."""
    out: dict[str, set[str]] = {}
    for path in paths:
        html = c.get(path).text
        for form in re.findall(r"<form[^>]*>.*?</form>", html, flags=re.S):
            action = re.search(r'action="([^"]*)"', form)
            if action:
                out.setdefault(action.group(1), set()).update(INPUT.findall(form))
    return out


def post_routes(app: Any) -> list[APIRoute]:
    return [
        r
        for r in registered_routes(app)
        if "POST" in r.methods and not r.path.startswith("/api/") and r.path not in SKIPPED
    ]


def answer(c: Any, path: str, data: dict[str, str]) -> str | None:
    """None when the page answered below 500; else what went wrong (the test client re-raises
    the server's exception)."""
    try:
        r = c.post(path, data=data, follow_redirects=False)
    except Exception as exc:
        return f"server error {type(exc).__name__}: {str(exc)[:120]}"
    return f"status {r.status_code}" if r.status_code >= 500 else None


def fuzz_route(c: Any, csrf: str, path: str, fields: list[str], failures: list[str]) -> None:
    """Post ``EXAMPLES`` generated forms to ``path``; record any 5xx in ``failures``."""

    @seed(20261206)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(values=st.fixed_dictionaries({f: texts for f in fields}))
    def post(values: dict[str, str]) -> None:
        data = dict(values) | {"csrf_token": csrf}
        for name in data:
            if "password" in name:
                data[name] = DEMO_PASSWORD  # a wrong one counts towards lock-out
        problem = answer(c, path, data)
        if problem:
            failures.append(f"POST {path} {values!r}: {problem}")
            raise AssertionError(failures[-1])

    with contextlib.suppress(AssertionError):
        post()  # failures are collected, so that every route is tried
    # and each field alone with the values that used to get past str.isdigit() or float()
    for field in fields:
        for bad in TRICKY:
            problem = answer(c, path, {field: bad, "csrf_token": csrf})
            if problem:
                failures.append(f"POST {path} {field}={bad!r}: {problem}")


@pytest.mark.parametrize("username", ["admin", "qa.approver", "operator", "helixa.clinical"])
def test_no_form_field_causes_a_server_error(demo_db: Database, username: str) -> None:
    """Each route is fuzzed as each of the roles that hold its permission: a role without it is
    refused before the handler reads a field (tests/e2e/test_route_permissions.py checks that
    for every route and role), so fuzzing it would post thousands of forms to a 403."""
    role = role_of(demo_db, username)
    c, csrf = logged_in(demo_db, username, DEMO_PASSWORD)
    gets = [
        PARAM.sub("1", r.path)
        for r in registered_routes(c.app)
        if "GET" in r.methods and not r.path.startswith(("/api/", "/assets", "/static"))
    ]
    scraped = page_forms(c, gets)
    failures: list[str] = []
    fuzzed = 0
    for route in post_routes(c.app):
        if not may_call(role, route):
            continue
        path = PARAM.sub("1", route.path)
        fields = set(form_fields(route)) | scraped.get(path, set())
        fields -= {"csrf_token"}
        if not fields:
            continue

        fuzz_route(c, csrf, path, sorted(fields), failures)
        fuzzed += 1
    assert fuzzed >= 10, f"only {fuzzed} form routes fuzzed as {username}"
    assert not failures, "server errors:\n" + "\n".join(failures)
