"""``v2v audit``: verify the chain, read the log, print the head to anchor it."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from vein2vein.audittrail import views
from vein2vein.cli.common import database, emit_json, handle_errors, server_scope

app = typer.Typer(help="Audit trail: verify, read, anchor.", no_args_is_help=True)


@app.command()
@handle_errors
def verify(
    head: str | None = typer.Option(
        None,
        "--head",
        help="A head recorded elsewhere (signed report, printout): HASH, or SEQ:HASH to locate "
        "a rewrite. The heads of signed reviews are checked always.",
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check the hash chain against the heads of signed reviews (and --head), then every
    signature; exit 1 naming the first broken sequence number or bad signature."""
    db = database()
    scope = server_scope(db)
    with db.read() as session:
        result = views.verification(session, scope, head)
    if json_:
        emit_json(result)
    elif result["ok"]:
        anchored = " and contains the anchored head" if head else ""
        typer.echo(
            f"audit trail intact{anchored}: {result['count']} entries, head "
            f"{result['head_seq']} {result['head_hash']}; {result['review_anchors']} heads of "
            "signed reviews match; every signature is what was signed"
        )
    elif result["bad_signature"] is not None:
        typer.echo(f"audit trail BROKEN: {result['problem']}", err=True)
    else:
        typer.echo(
            f"audit chain BROKEN at sequence {result['broken_seq']}: {result['problem']} "
            f"({result['count']} entries verified before it)",
            err=True,
        )
    if not result["ok"]:
        raise typer.Exit(1)


@app.command("head")
@handle_errors
def head_cmd(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print the current head (sequence and hash) to record outside the database."""
    db = database()
    scope = server_scope(db)
    with db.read() as session:
        h = views.head(session, scope)
    if json_:
        emit_json(h)
    else:
        typer.echo(f"{h['seq']} {h['hash']}")


@app.command("log")
@handle_errors
def log_cmd(
    entity: str | None = typer.Option(None, "--entity", help="TYPE or TYPE:ID, e.g. user:3"),
    since: str | None = typer.Option(None, "--since", help="YYYY-MM-DD or ISO 8601 time (UTC)"),
    limit: int | None = typer.Option(None, "--limit", min=1),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Read the audit trail, oldest first."""
    db = database()
    scope = server_scope(db)
    with db.read() as session:
        data = views.entries(session, scope, entity=entity, since=since, limit=limit)
    if json_:
        emit_json(data)
        return
    table = Table("seq", "UTC time", "actor", "action", "entity", "reason")
    for r in data:
        table.add_row(
            str(r["seq"]),
            r["recorded_at"],
            r["actor"],
            r["action"],
            f"{r['entity_type']}:{r['entity_id']}",
            r["reason"] or "",
        )
    Console().print(table)
