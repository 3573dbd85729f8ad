"""API tokens and passwords an administrator chose (issue 10): no token is made before the user
has chosen their own password, and no token outlives a password change or reset."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tests import factories
from tests.factories import PASSWORD
from tests.webclient import client, csrf_from, login
from typer.testing import CliRunner

from vein2vein.auth import service, tokens
from vein2vein.auth.tables import ApiToken, Organisation, User
from vein2vein.core.errors import AuthenticationFailed, PermissionDenied
from vein2vein.features import create_cli
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

CHOSEN = "Chosen-by-admin-42"  # a password an administrator chose
OWN = "My-very-own-pass-77"


def _user_with_chosen_password(db: Database, organisation: Organisation, username: str) -> User:
    with db.uow(Actor("admin")) as uow:
        user = service.create_user(
            uow,
            factories.SERVER,
            db.settings,
            username=username,
            full_name="New Starter",
            organisation=organisation.id,
            role="qc_analyst",
            password=CHOSEN,
            must_change_password=True,
        )
        uow.commit()
        return user


def _tokens(db: Database, user_id: int) -> list[ApiToken]:
    with db.read() as session:
        return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)))


def test_no_token_while_the_password_is_one_an_administrator_chose(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    user = _user_with_chosen_password(db, cdmo, "newbie")
    with db.uow(Actor("newbie")) as uow, pytest.raises(PermissionDenied, match="own password"):
        tokens.create_token(uow, service.scope_of(uow.session.get_one(User, user.id)), "script")
    with db.uow(Actor("admin")) as uow, pytest.raises(PermissionDenied, match="own password"):
        tokens.create_token(uow, factories.SERVER, "script", user="newbie")
    assert _tokens(db, user.id) == []
    with db.uow(Actor("newbie")) as uow:  # once the user chose their own, tokens are fine
        scope = service.scope_of(uow.session.get_one(User, user.id))
        service.change_password(uow, scope, db.settings, CHOSEN, OWN)
        tokens.create_token(uow, scope, "script")
        uow.commit()
    assert len(_tokens(db, user.id)) == 1


@pytest.mark.parametrize("how", ["changed", "reset"])
def test_a_password_change_or_reset_revokes_every_token(db: Database, how: str) -> None:
    cdmo = factories.org(db, "CDMO")
    u = factories.user(db, cdmo, "qc_analyst", username="lims")
    with db.uow(Actor("lims")) as uow:
        scope = service.scope_of(uow.session.get_one(User, u.id))
        plains = [tokens.create_token(uow, scope, name, 30)[1] for name in ("lims", "backup")]
        uow.commit()
    with db.uow(Actor("lims")) as uow:
        if how == "changed":
            service.change_password(uow, scope, db.settings, PASSWORD, OWN)
        else:
            service.reset_password(uow, factories.SERVER, db.settings, "lims", OWN, "lost")
        uow.commit()
    for plain in plains:
        with db.uow(Actor("t")) as uow, pytest.raises(AuthenticationFailed, match="revoked"):
            tokens.user_for_token(uow, plain)
    with db.read() as session:
        revoked = [e for e in audit.query(session) if e.action == "token.revoke"]
    assert len(revoked) == 2 and {e.reason for e in revoked} == {f"password {how}"}


def test_the_command_line_issues_no_token_to_a_new_user(
    cli_db: Database, cli_env: dict[str, str]
) -> None:
    cli = create_cli()
    runner = CliRunner()
    assert runner.invoke(cli, ["orgs", "add", "Northbridge", "--kind", "CDMO"], env=cli_env)
    added = runner.invoke(
        cli,
        ["users", "add", "jdoe", "--org", "Northbridge", "--role", "operator", "--name", "J D"],
        env=cli_env,
        input=CHOSEN + "\n",
    )
    assert added.exit_code == 0, added.output
    res = runner.invoke(cli, ["users", "token", "jdoe", "--name", "script"], env=cli_env)
    assert res.exit_code == 1 and "own password" in res.output
    with cli_db.read() as session:
        assert session.scalars(select(ApiToken)).all() == []


def test_the_account_page_and_api_refuse_a_token_before_the_password_is_replaced(
    sqlite_db: Database,
) -> None:
    cdmo = factories.org(sqlite_db, "CDMO")
    user = _user_with_chosen_password(sqlite_db, cdmo, "newbie")
    c = client(sqlite_db)
    landing = login(c, "newbie", CHOSEN)
    assert landing.url.path == "/account"
    token = csrf_from(landing.text)
    r = c.post("/account/tokens", data={"name": "script", "days": "30", "csrf_token": token})
    assert r.status_code == 403 and "own password" in r.text
    r = c.post("/api/tokens", json={"name": "script"}, headers={"x-csrf-token": token})
    assert r.status_code == 403
    assert _tokens(sqlite_db, user.id) == []
