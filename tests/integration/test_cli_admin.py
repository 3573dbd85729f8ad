"""`v2v orgs` and `v2v users` at the command line: audited, clear errors, no half-written state."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from vein2vein.features import create_cli
from vein2vein.store import audit
from vein2vein.store.database import Database

cli = create_cli()

runner = CliRunner()


def _run(env: dict[str, str], *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, list(args), env=env, input=stdin)


def test_orgs_and_users_round_trip_with_password_on_stdin(
    cli_db: Database, cli_env: dict[str, str]
) -> None:
    assert _run(cli_env, "orgs", "add", "Northbridge", "--kind", "cdmo").exit_code == 0
    assert _run(cli_env, "orgs", "add", "Helixa", "--kind", "SPONSOR").exit_code == 0
    listed = json.loads(_run(cli_env, "orgs", "list", "--json").output)
    assert [(o["name"], o["kind"]) for o in listed] == [
        ("Helixa", "SPONSOR"),
        ("Northbridge", "CDMO"),
    ]
    res = _run(
        cli_env,
        "users",
        "add",
        "jdoe",
        "--org",
        "Helixa",
        "--role",
        "sponsor_viewer",
        "--name",
        "Jane Doe",
        "--json",
        stdin="Long-enough-secret-1\n",
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["role"] == "sponsor_viewer"
    with cli_db.read() as session:
        from vein2vein.auth.tables import User

        assert session.query(User).one().must_change_password  # chosen by an administrator
    users = json.loads(_run(cli_env, "users", "list", "--json").output)
    assert [u["username"] for u in users] == ["jdoe"] and users[0]["status"] == "active"
    res = _run(cli_env, "users", "disable", "jdoe", "--reason", "left the study")
    assert res.exit_code == 0
    with cli_db.read() as session:
        entries = audit.query(session)
    assert [e.action for e in entries] == [
        "organisation.create",
        "organisation.create",
        "user.create",
        "user.disable",
    ]
    assert entries[0].actor.startswith("cli:") and entries[-1].reason == "left the study"
    assert "Long-enough-secret-1" not in "".join(e.after or "" for e in entries)


def test_bad_input_is_named_and_changes_nothing(cli_db: Database, cli_env: dict[str, str]) -> None:
    _run(cli_env, "orgs", "add", "Helixa", "--kind", "SPONSOR")
    res = _run(cli_env, "orgs", "add", "Other", "--kind", "HOSPITAL")
    assert res.exit_code == 2 and "CDMO or SPONSOR" in res.output
    res = _run(
        cli_env,
        "users",
        "add",
        "jdoe",
        "--org",
        "Helixa",
        "--role",
        "wizard",
        "--name",
        "J",
        stdin="Long-enough-secret-1\n",
    )
    assert res.exit_code == 2 and "unknown role 'wizard'" in res.output
    res = _run(
        cli_env,
        "users",
        "add",
        "jdoe",
        "--org",
        "Helixa",
        "--role",
        "sponsor_viewer",
        "--name",
        "J",
        stdin="short\n",
    )
    assert res.exit_code == 2 and "at least 12 characters" in res.output
    res = _run(
        cli_env,
        "users",
        "add",
        "jdoe",
        "--org",
        "Nowhere",
        "--role",
        "sponsor_viewer",
        "--name",
        "J",
        stdin="Long-enough-secret-1\n",
    )
    assert res.exit_code == 1 and "no organisation named 'Nowhere'" in res.output
    res = _run(
        cli_env,
        "users",
        "add",
        "jdoe",
        "--org",
        "Helixa",
        "--role",
        "sponsor_viewer",
        "--name",
        "J",
        stdin="",
    )
    assert res.exit_code == 2 and "no password" in res.output
    assert json.loads(_run(cli_env, "users", "list", "--json").output) == []
    with cli_db.read() as session:
        assert [e.action for e in audit.query(session)] == ["organisation.create"]


def test_password_is_never_an_argument(cli_env: dict[str, str]) -> None:
    res = _run(cli_env, "users", "add", "--help")
    assert "--password" not in res.output


def test_db_current_reports_revision(cli_env: dict[str, str]) -> None:
    res = _run(cli_env, "db", "current", "--json")
    body = json.loads(res.output)
    assert res.exit_code == 0 and body["up_to_date"] and body["current"] == body["head"]
