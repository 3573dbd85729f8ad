"""``v2v orgs`` and ``v2v users``: administration at the server's command line.

Changes are attributed in the audit trail to the operating-system account that ran them.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from vein2vein.auth import lookup, service, tokens, views
from vein2vein.auth.roles import parse_role
from vein2vein.cli.common import (
    database,
    emit_json,
    handle_errors,
    read_password,
    server_read,
    server_scope,
)
from vein2vein.store.uow import Actor

orgs_app = typer.Typer(
    help="Organisations: the CDMO and its sponsor clients.", no_args_is_help=True
)
users_app = typer.Typer(help="Users, roles, lock-outs and API tokens.", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print JSON.")


@orgs_app.command("add")
@handle_errors
def orgs_add(
    name: str,
    kind: str = typer.Option(..., "--kind", help="CDMO or SPONSOR"),
    json_: bool = JSON,
) -> None:
    """Add an organisation."""
    db = database()
    scope = server_scope(db)
    with db.uow(Actor.cli()) as uow:
        org = service.create_organisation(uow, scope, name, kind)
        uow.commit()
        out = org.public()
    emit_json(out) if json_ else typer.echo(f"added organisation {out['name']} ({out['kind']})")


@orgs_app.command("list")
@handle_errors
def orgs_list(json_: bool = JSON) -> None:
    """List organisations."""
    rows = server_read(views.organisations)
    if json_:
        emit_json(rows)
        return
    table = Table("id", "name", "kind")
    for r in rows:
        table.add_row(str(r["id"]), str(r["name"]), str(r["kind"]))
    Console().print(table)


@orgs_app.command("add-site")
@handle_errors
def orgs_add_site(
    org: str = typer.Option(..., "--org"),
    name: str = typer.Option(..., "--name"),
    city: str = typer.Option("", "--city"),
    country: str = typer.Option("", "--country", help="ISO 3166 two-letter code"),
    json_: bool = JSON,
) -> None:
    """Add a site (manufacturing or treatment) to an organisation."""
    db = database()
    scope = server_scope(db)
    with db.uow(Actor.cli()) as uow:
        site = service.add_site(uow, scope, org, name, city, country)
        uow.commit()
        out, owner = site.public(), site.organisation.name
    emit_json(out) if json_ else typer.echo(f"added site {name} to {owner}")


@users_app.command("add")
@handle_errors
def users_add(
    username: str,
    org: str = typer.Option(..., "--org", help="Organisation name"),
    role: str = typer.Option(
        ...,
        "--role",
        help="admin, operator, qc_analyst, qa_reviewer, "
        "qa_approver, sponsor_viewer or sponsor_clinical",
    ),
    full_name: str = typer.Option(..., "--name", help="Printed name used on signatures"),
    email: str = typer.Option("", "--email"),
    json_: bool = JSON,
) -> None:
    """Add a user; the password is asked at a prompt or read from standard input."""
    db = database()
    scope = server_scope(db)
    # validate what can be validated, and ask for the password, before the transaction starts:
    # a person typing must not hold the database's write lock
    with db.read() as session:
        lookup.organisation(session, scope, org)
    parse_role(role)
    password = read_password()
    with db.uow(Actor.cli()) as uow:
        user = service.create_user(
            uow,
            scope,
            db.settings,
            username=username,
            full_name=full_name,
            organisation=org,
            role=role,
            password=password,
            email=email,
            must_change_password=True,
        )
        uow.commit()
        out = user.public()
    emit_json(out) if json_ else typer.echo(f"added user {username} ({out['role']}, {org})")


@users_app.command("list")
@handle_errors
def users_list(json_: bool = JSON) -> None:
    """List users with their organisation, role and status."""
    rows = server_read(views.users)
    if json_:
        emit_json(rows)
        return
    table = Table("id", "username", "name", "organisation", "role", "status")
    for r in rows:
        table.add_row(
            *(str(r[k]) for k in ("id", "username", "full_name", "organisation", "role", "status"))
        )
    Console().print(table)


def _user_change(username: str, action: str, reason: str, **extra: str) -> dict[str, object]:
    db = database()
    scope = server_scope(db)
    with db.uow(Actor.cli()) as uow:
        if action == "disable":
            user = service.disable_user(uow, scope, username, reason)
        elif action == "unlock":
            user = service.unlock_user(uow, scope, username, reason)
        else:
            user = service.set_role(uow, scope, username, extra["role"], reason)
        uow.commit()
        return user.public()


REASON = typer.Option(..., "--reason", help="Why (recorded in the audit trail)")


@users_app.command("disable")
@handle_errors
def users_disable(username: str, reason: str = REASON, json_: bool = JSON) -> None:
    """Disable a user (ends their sessions, revokes their API tokens). Users are never deleted."""
    out = _user_change(username, "disable", reason)
    emit_json(out) if json_ else typer.echo(f"disabled {username}")


@users_app.command("unlock")
@handle_errors
def users_unlock(username: str, reason: str = REASON, json_: bool = JSON) -> None:
    """Unlock a user locked out after failed log-ins."""
    out = _user_change(username, "unlock", reason)
    emit_json(out) if json_ else typer.echo(f"unlocked {username}")


@users_app.command("set-role")
@handle_errors
def users_set_role(
    username: str,
    role: str = typer.Option(..., "--role"),
    reason: str = REASON,
    json_: bool = JSON,
) -> None:
    """Change a user's role (a permission change: audited with its reason)."""
    out = _user_change(username, "set-role", reason, role=role)
    emit_json(out) if json_ else typer.echo(f"{username} is now {out['role']}")


@users_app.command("reset-password")
@handle_errors
def users_reset_password(username: str, reason: str = REASON, json_: bool = JSON) -> None:
    """Set a new password for a user (asked at a prompt or read from standard input).

    Ends the user's sessions and revokes their API tokens.
    """
    db = database()
    scope = server_scope(db)
    with db.read() as session:
        lookup.user(session, scope, username)
    password = read_password("New password")
    with db.uow(Actor.cli()) as uow:
        user = service.reset_password(uow, scope, db.settings, username, password, reason)
        uow.commit()
        out = user.public()
    emit_json(out) if json_ else typer.echo(f"password of {username} reset")


@users_app.command("token")
@handle_errors
def users_token(
    username: str,
    name: str = typer.Option(..., "--name", help="What the token is for"),
    days: int = typer.Option(90, "--days", help="Lifetime in days (1-366)"),
    json_: bool = JSON,
) -> None:
    """Issue an API token for a user's scripts; it is shown once, only its hash is kept.

    Refused while the user still has a password an administrator chose (a new user, a reset):
    they log in and choose their own first.
    """
    db = database()
    scope = server_scope(db)
    with db.uow(Actor.cli()) as uow:
        tok, plain = tokens.create_token(uow, scope, name, days, user=username)
        uow.commit()
        out = {**tok.public(), "token": plain}
    emit_json(out) if json_ else typer.echo(plain)
