"""``v2v db``: schema migrations, backup and restore."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vein2vein.cli.common import database, emit_json, handle_errors

if TYPE_CHECKING:
    from vein2vein.store.database import Database

# the store's modules (SQLAlchemy, Alembic) are imported by the commands that use them, so that
# `v2v --help` and the commands of other sub-apps start without them

app = typer.Typer(help="Database: schema upgrade, backup and restore.", no_args_is_help=True)


@app.command()
@handle_errors
def upgrade(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Create the database or bring its schema to this version's revision.

    On PostgreSQL with ``V2V_MIGRATION_DATABASE_URL`` set, connects as that (owner) role and
    then grants ``V2V_APP_DB_ROLE`` row access to every table (docs/security.md)."""
    from vein2vein.store import migrate, privileges

    db = owner_database()
    before = migrate.current_revision(db.engine)
    migrate.upgrade(db.engine)
    after = migrate.current_revision(db.engine)
    if db.settings.app_db_role and db.engine.dialect.name == "postgresql":
        privileges.grant_application_role(db.engine, db.settings.app_db_role)
    if json_:
        emit_json({"before": before, "current": after, "changed": before != after})
    else:
        typer.echo(
            f"database at revision {after}" + ("" if before == after else f" (was {before})")
        )


@app.command()
@handle_errors
def current(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show the database's revision and the one this code needs."""
    from vein2vein.store import migrate

    db = database(check=False)
    cur, head = migrate.current_revision(db.engine), migrate.head_revision(db.engine)
    if json_:
        emit_json({"current": cur, "head": head, "up_to_date": cur == head})
    else:
        typer.echo(
            f"current {cur}, needed {head}" + ("" if cur == head else " — run `v2v db upgrade`")
        )


@app.command()
@handle_errors
def backup(
    file: Path = typer.Argument(..., help="Backup file to write (must not exist)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Back up the database while it is in use, then verify the copy's audit chain.

    SQLite: the online backup API; PostgreSQL: pg_dump (custom format) of the snapshot in which
    the chain was verified. Prints the number of audit entries and the head hash in the backup.
    """
    from vein2vein.store import backup as store_backup

    db = database()
    report = store_backup.backup(db, file)
    if json_:
        emit_json(report.to_dict())
    else:
        typer.echo(
            f"backup {report.file}: {report.entries} audit entries, chain verified, "
            f"head {report.head_seq} {report.head_hash} ({report.bytes} bytes, "
            f"{report.seconds} s)"
        )


@app.command()
@handle_errors
def restore(
    file: Path = typer.Argument(..., help="A backup written by `v2v db backup`."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Restore a backup into the configured database, which must be empty; verify its chain.

    Compare the head printed with the one `v2v db backup` printed (or an anchored head from a
    signed audit review) to know that nothing was lost.
    """
    from vein2vein.store import backup as store_backup

    db = database(check=False)
    report = store_backup.restore(db, file)
    if json_:
        emit_json(report.to_dict())
    else:
        typer.echo(
            f"restored {report.file}: {report.entries} audit entries, chain verified, "
            f"head {report.head_seq} {report.head_hash} ({report.seconds} s)"
        )


def owner_database() -> Database:
    """The database as its owner (``V2V_MIGRATION_DATABASE_URL``, else ``V2V_DATABASE_URL``)."""
    from vein2vein.core.settings import get_settings
    from vein2vein.store.database import Database

    settings = get_settings()
    return Database(settings.model_copy(update={"database_url": settings.owner_database_url}))


@app.command()
@handle_errors
def grant(
    role: str = typer.Argument(..., help="The application's PostgreSQL role."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Grant the application's role row access to every table, as the owner (PostgreSQL)."""
    from vein2vein.store import privileges

    db = owner_database()
    done = privileges.grant_application_role(db.engine, role)
    emit_json({"role": role, "statements": done}) if json_ else typer.echo("\n".join(done))


@app.command("check-privileges")
@handle_errors
def check_privileges(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Say whether the application's connection has least privilege (exit 1 if not)."""
    from vein2vein.store import privileges

    db = database(check=False)
    problems = privileges.check_application_role(db.engine)
    if json_:
        emit_json({"least_privilege": not problems, "problems": problems})
    else:
        typer.echo("\n".join(problems) if problems else "least privilege: the role owns nothing")
    if problems:
        raise typer.Exit(1)
