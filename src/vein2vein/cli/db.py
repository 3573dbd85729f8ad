"""``v2v db``: schema migrations."""

from __future__ import annotations

import typer

from vein2vein.cli.common import database, emit_json, handle_errors
from vein2vein.store import migrate

app = typer.Typer(help="Database schema: upgrade and inspect.", no_args_is_help=True)


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
