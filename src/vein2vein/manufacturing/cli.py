"""``v2v mbr``: master batch records (import, export, list, diff).

Reading commands act as server administration (``cli.common.server_scope``: every product's
MBRs); ``import`` writes a draft, so it is done by a named person whose password is asked
(``--user``, ``cli.common.login``), as on the page.
"""

from __future__ import annotations

from pathlib import Path

import typer

from vein2vein.cli.common import (
    database,
    emit_json,
    handle_errors,
    login,
    server_read,
    server_scope,
)
from vein2vein.core.errors import InputError

app = typer.Typer(
    help="Master batch records: import and export YAML, list versions, show differences.",
    no_args_is_help=True,
)
JSON = typer.Option(False, "--json", help="Print JSON.")


@app.command("import")
@handle_errors
def import_(
    file: Path = typer.Argument(..., help="The MBR as YAML (docs/manufacturing.md)"),
    user: str = typer.Option(..., "--user", help="The author (password asked)"),
    json_: bool = JSON,
) -> None:
    """Import an MBR file as a new DRAFT version of its product at its site."""
    from vein2vein.manufacturing import mbr_views, mbrs

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read it: {exc}", file=str(file)) from None
    db = database()
    scope, actor = login(db, user)
    with db.uow(actor) as uow:
        mbr_id = mbrs.import_yaml(uow, scope, text, file.name).id
        uow.commit()
    with db.read() as session:
        out = mbr_views.mbr_detail(session, scope, mbr_id)["mbr"]
    if json_:
        emit_json(out)
    else:
        typer.echo(
            f"imported {file.name} as MBR {out['id']}: {out['product']} at {out['site']}, "
            f"version {out['version']} ({out['status']})"
        )


@app.command("export")
@handle_errors
def export(
    mbr_id: int = typer.Argument(..., metavar="ID", help="MBR id (v2v mbr list)"),
    out: Path = typer.Option(..., "--out", help="YAML file to write"),
) -> None:
    """Write one MBR version as YAML (importing it again gives the same content hash)."""
    from vein2vein.manufacturing import mbr_views

    db = database()
    scope = server_scope(db)
    with db.read() as session:
        _, text = mbr_views.export_yaml(session, scope, mbr_id)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote MBR {mbr_id} to {out}")


@app.command("list")
@handle_errors
def list_(json_: bool = JSON) -> None:
    """Every MBR version: product, site, version, status and who signed it."""
    from rich.console import Console
    from rich.table import Table

    from vein2vein.manufacturing import mbr_views

    rows = server_read(mbr_views.mbr_list)
    if json_:
        emit_json(rows)
        return
    table = Table("id", "product", "site", "version", "status", "authored", "reviewed", "approved")
    for r in rows:
        signed = r["signed"]
        table.add_row(
            str(r["id"]),
            r["product"],
            r["site"],
            str(r["version"]),
            r["status"],
            signed.get("authored", ""),
            signed.get("reviewed", ""),
            signed.get("approved", ""),
        )
    Console().print(table)


@app.command("diff")
@handle_errors
def diff(
    a: int = typer.Argument(..., help="MBR id of the earlier version"),
    b: int = typer.Argument(..., help="MBR id of the later version"),
    json_: bool = JSON,
) -> None:
    """What changed from version A to version B (added, removed, changed, moved)."""
    from vein2vein.manufacturing import mbr_views

    result = server_read(mbr_views.mbr_diff, a, b)
    if json_:
        emit_json(result)
        return
    ra, rb = result["a"], result["b"]
    typer.echo(
        f"{ra['product']} {ra['site']} v{ra['version']} -> {rb['product']} {rb['site']} "
        f"v{rb['version']}: {len(result['changes'])} change(s)"
    )
    for c in result["changes"]:
        if c["kind"] == "changed":
            typer.echo(f"  changed {c['path']}: {c['before']} -> {c['after']}")
        else:
            typer.echo(f"  {c['kind']} {c['path']}")
