"""The web shell over HTTP: log-in, CSRF, expiry, errors as pages and problem documents."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from tests import factories
from tests.factories import PASSWORD
from tests.webclient import client, csrf_from, logged_in, login

from vein2vein.auth import service, tokens
from vein2vein.core.clock import set_clock, utcnow
from vein2vein.core.errors import DatabaseOutOfDate
from vein2vein.features import create_app
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.engine import make_engine
from vein2vein.store.uow import Actor


@pytest.fixture
def world(sqlite_db: Database):  # type: ignore[no-untyped-def]
    cdmo = factories.org(sqlite_db, "CDMO", "Northbridge")
    sponsor = factories.org(sqlite_db, "SPONSOR", "Helixa")
    factories.user(sqlite_db, cdmo, "admin", username="admin")
    factories.user(sqlite_db, cdmo, "qa_reviewer", username="qa")
    factories.user(sqlite_db, sponsor, "sponsor_clinical", username="helixa")
    factories.program(sqlite_db, sponsor, "HLX-1")
    return sqlite_db


def _audit_count(db: Database) -> int:
    with db.read() as session:
        return audit.head(session).seq


def test_pages_redirect_to_login_then_show_real_counts(world: Database) -> None:
    c = client(world)
    r = c.get("/programs", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/programs")
    home = login(c, "admin", PASSWORD)
    counts = dict(re.findall(r'data-count="(\w+)"><span class="n">(\d+)', home.text))
    assert counts == {
        "organisations": "2",
        "sites": "0",
        "programs": "1",
        "users": "3",
        "audit_entries": str(_audit_count(world)),
    }
    assert "set-cookie" not in home.headers or "v2v_session" not in home.headers["set-cookie"]


def test_session_cookie_is_secure_httponly(world: Database) -> None:
    c = client(world)
    r = login(c, "admin", PASSWORD, follow=False)
    cookie = r.headers["set-cookie"]
    assert "v2v_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()


def test_sponsor_counts_exclude_other_clients(world: Database) -> None:
    other = factories.org(world, "SPONSOR", "Corvane")
    factories.program(world, other, "CRV-1")
    c, _ = logged_in(world, "helixa", PASSWORD)
    counts = dict(re.findall(r'data-count="(\w+)"><span class="n">(\d+)', c.get("/").text))
    assert counts["organisations"] == "1" and counts["programs"] == "1" and counts["users"] == "1"
    assert "Corvane" not in c.get("/programs").text


def test_wrong_password_and_malformed_login_form(world: Database) -> None:
    c = client(world)
    before = _audit_count(world)
    r = login(c, "admin", "nope-nope-nope")
    assert r.status_code == 401 and "Invalid user name or password" in r.text
    page = c.get("/login")
    r = c.post("/login", data={"username": "", "csrf_token": csrf_from(page.text)})
    assert r.status_code == 422 and "Enter your user name and password" in r.text
    r = c.post("/login", data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 403 and "reload the page" in r.text
    assert _audit_count(world) == before + 1  # only the wrong password was recorded


def test_form_without_csrf_token_changes_nothing(world: Database) -> None:
    c, token = logged_in(world, "admin", PASSWORD)
    before = _audit_count(world)
    r = c.post(
        "/users",
        data={
            "username": "eve",
            "full_name": "Eve",
            "organisation_id": "1",
            "role": "operator",
            "password": "Long-enough-pass-1",
        },
    )
    assert r.status_code == 403 and "nothing was changed" in r.text
    assert _audit_count(world) == before
    r = c.post(
        "/users",
        data={
            "username": "eve",
            "full_name": "Eve",
            "organisation_id": "1",
            "role": "operator",
            "password": "Long-enough-pass-1",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/users/")


def test_malformed_user_form_gets_field_message_and_changes_nothing(world: Database) -> None:
    c, token = logged_in(world, "admin", PASSWORD)
    before = _audit_count(world)
    r = c.post(
        "/users",
        data={
            "username": "eve",
            "full_name": "Eve",
            "organisation_id": "1",
            "role": "wizard",
            "password": "Long-enough-pass-1",
            "csrf_token": token,
        },
    )
    assert r.status_code == 422 and "unknown role" in r.text and "field &#39;role&#39;" in r.text
    r = c.post(
        "/users",
        data={
            "username": "eve",
            "full_name": "Eve",
            "organisation_id": "abc",
            "role": "operator",
            "password": "x",
            "csrf_token": token,
        },
    )
    assert r.status_code == 422 and "choose an organisation" in r.text
    assert _audit_count(world) == before


def test_idle_session_expires_with_a_clear_message(world: Database) -> None:
    c, _ = logged_in(world, "admin", PASSWORD)
    start = utcnow()
    try:
        set_clock(lambda: start + dt.timedelta(minutes=16))
        r = c.get("/users")
    finally:
        set_clock(None)
    assert r.url.path == "/login" and "without activity" in r.text
    api = c.get("/api/me")
    assert api.status_code == 401


def test_api_problem_documents(world: Database) -> None:
    c, token = logged_in(world, "admin", PASSWORD)
    r = c.get("/api/programs/999")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 404 and body["title"] == "Not found" and "999" in body["detail"]
    r = c.post("/api/orgs", json={"name": "X", "kind": "HOSPITAL"}, headers={"x-csrf-token": token})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"
    r = c.post("/api/orgs", json={"kind": "CDMO"}, headers={"x-csrf-token": token})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
    r = client(world).get("/api/me")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_api_token_authenticates_scripts(world: Database) -> None:
    with world.uow(Actor("t")) as uow:
        user = service.user_by_username(uow.session, "helixa")
        _, plain = tokens.create_token(uow, service.scope_of(user), "script", 10)
        uow.commit()
    c = client(world)
    r = c.get("/api/programs", headers={"authorization": f"Bearer {plain}"})
    assert r.status_code == 200 and [p["code"] for p in r.json()] == ["HLX-1"]
    r = c.get("/api/programs", headers={"authorization": "Bearer v2v_bogus"})
    assert r.status_code == 401


def test_health_and_openapi(world: Database) -> None:
    c = client(world)
    h = c.get("/api/health").json()
    assert h["status"] == "ok" and h["database"] == "sqlite" and h["schema_revision"]
    spec = c.get("/api/openapi.json").json()
    assert {"/api/health", "/api/me", "/api/programs/{program_id}", "/api/audit/verify"} <= set(
        spec["paths"]
    )


def test_permission_denied_page_for_wrong_role(world: Database) -> None:
    c, _ = logged_in(world, "helixa", PASSWORD)
    r = c.get("/audit/verify")
    assert r.status_code == 403 and "does not allow" in r.text


def test_audit_review_signing_over_the_web(world: Database) -> None:
    c, token = logged_in(world, "qa", PASSWORD)
    r = c.post("/audit/reviews", data={"comment": "weekly", "csrf_token": token})
    assert r.status_code == 200 and "Audit-trail review" in r.text
    url = str(r.url.path)
    shown = re.search(r'name="shown_hash" value="([0-9a-f]{64})"', r.text).group(1)
    form = {"username": "qa", "shown_hash": shown, "csrf_token": token}
    bad = c.post(f"{url}/sign", data=form | {"password": "wrong-password"})
    assert bad.status_code == 401 and "nothing was signed" in bad.text
    missing = c.post(f"{url}/sign", data={"password": PASSWORD, "csrf_token": token})
    assert missing.status_code == 422 and "user name and password" in missing.text
    ok = c.post(f"{url}/sign", data=form | {"password": PASSWORD})
    assert ok.status_code == 200 and "Test Qa Reviewer" in ok.text
    locked = c.post(f"{url}/comment", data={"comment": "edited", "csrf_token": token})
    assert locked.status_code == 409 and "can no longer be edited" in locked.text


def test_app_refuses_an_out_of_date_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_settings

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    make_engine(url).dispose()
    with pytest.raises(DatabaseOutOfDate, match="v2v db upgrade"):
        create_app(make_settings(url), Database(make_settings(url)))


def test_non_ascii_csrf_token_is_refused_not_a_crash(world: Database) -> None:
    c, _ = logged_in(world, "admin", PASSWORD)
    r = c.post("/users", data={"username": "eve", "csrf_token": "é"})
    assert r.status_code == 403
    page = client(world)
    page.get("/login")
    r = page.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": "é"})
    assert r.status_code == 403


def test_identifiers_beyond_the_database_range_are_not_found(world: Database) -> None:
    c, _ = logged_in(world, "admin", PASSWORD)
    for url in (
        "/api/orgs/99999999999999999999999",
        "/audit/reviews/99999999999999999999",
        "/api/programs/-4",
    ):
        assert c.get(url).status_code == 404, url


def test_form_posted_after_expiry_returns_to_its_page(world: Database) -> None:
    c, token = logged_in(world, "admin", PASSWORD)
    start = utcnow()
    try:
        set_clock(lambda: start + dt.timedelta(minutes=20))
        r = c.post(
            "/users/1/role",
            data={"role": "operator", "reason": "x", "csrf_token": token},
            headers={"referer": "https://testserver/users/1"},
            follow_redirects=False,
        )
    finally:
        set_clock(None)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=/users/1&")


def test_a_token_cannot_mint_tokens(world: Database) -> None:
    with world.uow(Actor("t")) as uow:
        admin = service.scope_of(service.user_by_username(uow.session, "admin"))
        _, plain = tokens.create_token(uow, admin, "s")
        uow.commit()
    r = client(world).post(
        "/api/tokens", json={"name": "more"}, headers={"authorization": f"Bearer {plain}"}
    )
    assert r.status_code == 403
    r = client(world).post(
        "/api/tokens",
        json={"name": "x", "days": None},
        headers={"authorization": f"Bearer {plain}"},
    )
    assert r.status_code == 422


def test_password_change_ends_other_sessions(world: Database) -> None:
    first, _ = logged_in(world, "qa", PASSWORD)
    second, token = logged_in(world, "qa", PASSWORD)
    r = second.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "Fresh-password-42",
            "confirm_password": "Fresh-password-42",
            "csrf_token": token,
        },
    )
    assert r.status_code == 200 and "Password changed" in r.text
    assert second.get("/account").status_code == 200
    assert first.get("/account").url.path == "/login"


def test_plotly_is_served_locally(world: Database) -> None:
    import plotly

    r = client(world).get("/assets/plotly.min.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert f"v{plotly.__version__}" in r.text[:2000] or "plotly" in r.text[:2000].lower()


def test_a_password_set_by_an_administrator_must_be_replaced_first(world: Database) -> None:
    c, token = logged_in(world, "admin", PASSWORD)
    form = {
        "username": "newbie",
        "full_name": "New Bie",
        "organisation_id": "1",
        "role": "operator",
        "password": "Initial-pass-123",
        "csrf_token": token,
    }
    assert c.post("/users", data=form).status_code == 200
    n = client(world)
    landing = login(n, "newbie", "Initial-pass-123")
    assert landing.url.path == "/account" and "Choose your own password" in landing.text
    assert n.get("/programs").url.path == "/account"
    api = n.get("/api/me")
    assert api.status_code == 403 and api.json()["title"] == "Password change required"
    r = n.post(
        "/account/password",
        data={
            "current_password": "Initial-pass-123",
            "new_password": "My-own-secret-77",
            "confirm_password": "My-own-secret-77",
            "csrf_token": csrf_from(landing.text),
        },
    )
    assert "Password changed" in r.text
    assert n.get("/programs").status_code == 200
