"""Error answers a client can rely on (issue 10): 405 names the allowed methods, problem
documents never echo control characters, and the OpenAPI document describes the problems."""

from __future__ import annotations

from tests.webclient import client

from vein2vein.core.text import printable
from vein2vein.store.database import Database


def test_405_carries_allow_on_api_and_pages(sqlite_db: Database) -> None:
    c = client(sqlite_db)
    r = c.delete("/api/health")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET"
    assert r.headers["content-type"].startswith("application/problem+json")
    page = c.put("/login")
    assert page.status_code == 405 and "allow" in page.headers


def test_problem_detail_escapes_what_the_caller_sent() -> None:
    """A message that quotes input (a file name, a cell) carries no terminal escape codes."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from vein2vein.core.errors import InputError
    from vein2vein.web import errors

    app = FastAPI()
    errors.install(app)

    @app.get("/api/quote")
    def quote() -> None:
        raise InputError("file 'evil\x1b[2J\x07.csv' is not a CSV file", field="file")

    r = TestClient(app).get("/api/quote")
    assert r.status_code == 422
    assert "\x1b" not in r.json()["detail"] and "\x07" not in r.json()["detail"]
    assert "evil\\x1b[2J\\x07.csv" in r.json()["detail"]


def test_printable() -> None:
    assert printable("a\x1b[31m\x00b") == "a\\x1b[31m\\x00b"
    assert printable("é ü 中") == "é ü 中"  # printable letters of any script stay
    assert len(printable("x" * 5000, limit=100)) == 100


def test_openapi_lists_problem_responses(sqlite_db: Database) -> None:
    spec = client(sqlite_db).get("/api/openapi.json").json()
    assert spec["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
    ]
    orders = spec["paths"]["/api/coi/orders"]["get"]["responses"]
    for code in ("401", "403", "404", "422"):
        assert "application/problem+json" in orders[code]["content"]


def test_an_oversize_form_answers_413_as_a_problem(sqlite_db: Database) -> None:
    from tests import factories
    from tests.factories import PASSWORD
    from tests.webclient import logged_in

    org = factories.org(sqlite_db, "CDMO", "Northbridge")
    factories.user(sqlite_db, org, "admin", username="boss")
    c, csrf = logged_in(sqlite_db, "boss", PASSWORD)
    big = "x" * (sqlite_db.settings.max_form_kb * 1024 + 10)
    r = c.post("/api/orgs", json={"name": big, "kind": "SPONSOR"}, headers={"x-csrf-token": csrf})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    anonymous = client(sqlite_db).post("/login", data={"username": "x" * 100_000})
    assert anonymous.status_code == 413
