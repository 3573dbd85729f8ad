"""``v2v db``: schema migrations, backup and restore."""

from __future__ import annotations

from pathlib import Path

import typer

from vein2vein.cli.common import database, emit_json, handle_errors
from vein2vein.store import backup as store_backup
from vein2vein.store import migrate

app = typer.Typer(help="Database: schema upgrade, backup and restore.", no_args_is_help=True)


@app.command()
@handle_errors
def upgrade(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Create the database or bring its schema to this version's revision."""
    db = database(check=False)
    before = migrate.current_revision(db.engine)
    migrate.upgrade(db.engine)
    after = migrate.current_revision(db.engine)
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
    db = database(check=False)
    report = store_backup.restore(db, file)
    if json_:
        emit_json(report.to_dict())
    else:
        typer.echo(
            f"restored {report.file}: {report.entries} audit entries, chain verified, "
            f"head {report.head_seq} {report.head_hash} ({report.seconds} s)"
        )
