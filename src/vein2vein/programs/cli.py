"""``v2v programs``: a sponsor's product programs."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from vein2vein.cli.common import database, emit_json, handle_errors, server_scope
from vein2vein.programs import service, views
from vein2vein.store.uow import Actor

app = typer.Typer(help="Sponsor programs (product, target, indication).", no_args_is_help=True)
JSON = typer.Option(False, "--json", help="Print JSON.")


@app.command("add")
@handle_errors
def add(
    code: str,
    org: str = typer.Option(..., "--org", help="Sponsor organisation"),
    name: str = typer.Option(..., "--name"),
    product: str = typer.Option("", "--product"),
    target: str = typer.Option("", "--target"),
    indication: str = typer.Option("", "--indication"),
    phase: str = typer.Option("", "--phase"),
    json_: bool = JSON,
) -> None:
    """Add a program to a sponsor organisation."""
    db = database()
    scope = server_scope(db)
    with db.uow(Actor.cli()) as uow:
        program = service.create_program(
            uow,
            scope,
            org,
            code=code,
            name=name,
            product=product,
            target=target,
            indication=indication,
            phase=phase,
        )
        uow.commit()
        out, sponsor = program.public(), program.organisation.name
    emit_json(out) if json_ else typer.echo(f"added program {out['code']} to {sponsor}")


@app.command("list")
@handle_errors
def list_(json_: bool = JSON) -> None:
    """List every program."""
    db = database()
    scope = server_scope(db)
    with db.read() as session:
        # "organisation": the sponsor's name, as this command has always printed it
        rows = [p | {"organisation": p["sponsor"]} for p in views.programs(session, scope)]
    if json_:
        emit_json(rows)
        return
    table = Table("id", "code", "name", "sponsor", "target", "indication")
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["code"]),
            str(r["name"]),
            str(r["organisation"]),
            str(r["target"]),
            str(r["indication"]),
        )
    Console().print(table)
