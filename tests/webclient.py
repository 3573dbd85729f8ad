"""An HTTP client that logs in through the real log-in form (CSRF included)."""

from __future__ import annotations

import re
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from vein2vein.features import create_app
from vein2vein.store.database import Database

CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def client(db: Database) -> TestClient:
    # https: the session cookie is Secure and is only sent over https
    return TestClient(create_app(db.settings, db), base_url="https://testserver")


def csrf_from(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(c: TestClient, username: str, password: str, follow: bool = True):  # type: ignore[no-untyped-def]
    page = c.get("/login")
    return c.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_from(page.text),
            "next": "/",
        },
        follow_redirects=follow,
    )


def logged_in(db: Database, username: str, password: str) -> tuple[TestClient, str]:
    c = client(db)
    home = login(c, username, password)
    assert home.status_code == 200, home.text[:500]
    return c, csrf_from(home.text)
