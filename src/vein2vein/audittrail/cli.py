"""``v2v audit``: verify the chain, read the log, print the head to anchor it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from vein2vein.audittrail import views
from vein2vein.cli.common import database, emit_json, handle_errors, server_read, server_scope

app = typer.Typer(help="Audit trail: verify, read, export, anchor.", no_args_is_help=True)


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
    result = server_read(views.verification, head)
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
        typer.echo(
            f"signatures that are not what was signed ({len(result['bad_signatures'])}):", err=True
        )
        for bad in result["bad_signatures"]:
            typer.echo(
                f"  {bad['record_type']} {bad['record_id']}: signed {bad['meaning']} by "
                f"{bad['signer']} — {bad['problem']}",
                err=True,
            )
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
    h = server_read(views.head)
    if json_:
        emit_json(h)
    else:
        typer.echo(f"{h['seq']} {h['hash']}")


def _filters(
    db: Any,
    *,
    user: str | None,
    action: str | None,
    entity_type: str | None,
    entity: str | None,
    organisation: int | None,
    date_from: str | None,
    date_to: str | None,
    since: str | None,
) -> Any:
    from vein2vein.audittrail.filters import parse_filter

    return parse_filter(
        user=user,
        action=action,
        entity_type=entity_type,
        entity=entity,
        organisation=organisation,
        date_from=date_from,
        date_to=date_to,
        since=since,
        zone=db.settings.display_time_zone,
    )


USER = typer.Option(None, "--user", help="Actor's user name as recorded")
ACTION = typer.Option(None, "--action", help="Action, e.g. user.create")
ETYPE = typer.Option(None, "--entity-type", help="Entity type, e.g. coi_order")
ENTITY = typer.Option(None, "--entity", help="TYPE or TYPE:ID, e.g. user:3")
ORG = typer.Option(None, "--organisation", min=1, help="Organisation id")
FROM = typer.Option(None, "--from", help="First day, YYYY-MM-DD in V2V_DISPLAY_TIME_ZONE")
TO = typer.Option(None, "--to", help="Last day, YYYY-MM-DD in V2V_DISPLAY_TIME_ZONE")
SINCE = typer.Option(None, "--since", help="YYYY-MM-DD or ISO 8601 time (UTC)")


@app.command("log")
@handle_errors
def log_cmd(
    user: str | None = USER,
    action: str | None = ACTION,
    entity_type: str | None = ETYPE,
    entity: str | None = ENTITY,
    organisation: int | None = ORG,
    date_from: str | None = FROM,
    date_to: str | None = TO,
    since: str | None = SINCE,
    limit: int | None = typer.Option(None, "--limit", min=1),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Read the audit trail, oldest first, with the record's name and the changed fields."""
    db = database()
    scope = server_scope(db)
    chosen = _filters(
        db,
        user=user,
        action=action,
        entity_type=entity_type,
        entity=entity,
        organisation=organisation,
        date_from=date_from,
        date_to=date_to,
        since=since,
    )
    with db.read() as session:
        data = views.entries(session, scope, filters=chosen, limit=limit)
    if json_:
        emit_json(data)
        return
    table = Table("seq", "UTC time", "actor", "action", "entity", "changes", "reason")
    for r in data:
        name = f"{r['entity_label']} " if r["entity_label"] else ""
        table.add_row(
            str(r["seq"]),
            r["recorded_at"],
            r["actor"],
            r["action"],
            f"{name}({r['entity_type']}:{r['entity_id']})",
            ", ".join(c["field"] for c in r["changes"]),
            r["reason"] or "",
        )
    Console().print(table)


@app.command("export")
@handle_errors
def export_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="The file to write"),
    format_: str = typer.Option("csv", "--format", help="csv or pdf"),
    user: str | None = USER,
    action: str | None = ACTION,
    entity_type: str | None = ETYPE,
    entity: str | None = ENTITY,
    organisation: int | None = ORG,
    date_from: str | None = FROM,
    date_to: str | None = TO,
    since: str | None = SINCE,
    json_: bool = typer.Option(False, "--json", help="Print what was exported as JSON."),
) -> None:
    """Export the filtered entries to CSV or PDF, stating the chain's head and the filters;
    the export is recorded in the trail."""
    from vein2vein.audittrail import export
    from vein2vein.store.uow import Actor

    if format_ not in ("csv", "pdf"):
        raise typer.BadParameter("--format is csv or pdf")
    db = database()
    scope = server_scope(db)
    chosen = _filters(
        db,
        user=user,
        action=action,
        entity_type=entity_type,
        entity=entity,
        organisation=organisation,
        date_from=date_from,
        date_to=date_to,
        since=since,
    )
    with db.read() as session:
        exported = export.build_export(session, scope, chosen, format_)
    out.write_bytes(exported.content)
    with db.uow(Actor.cli()) as uow:
        export.record_export(uow, exported)
        uow.commit()
    summary = exported.summary() | {"file": str(out)}
    if json_:
        emit_json(summary)
    else:
        typer.echo(
            f"{exported.entries} entries written to {out} ({format_.upper()}, SHA-256 "
            f"{exported.sha256}); chain head {exported.head.seq} {exported.head.hash}"
        )
