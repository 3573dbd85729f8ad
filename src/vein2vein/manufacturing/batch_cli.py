"""``v2v batches`` and ``v2v trace``: executed batch records and genealogy at the command line.

Reads only, as server-side administration (``cli.common.server_scope``: the CDMO's view of every
client's batches). The names and JSON fields are fixed so that scripts can rely on them:
``v2v batches list --json`` gives id, order, product, site, mbr_version, status, suite,
deviations_open, deviations_closed; ``v2v trace batch BATCH --json`` each material lot (material,
lot number, status) and the equipment; ``v2v trace lot LOT --json`` each batch with its order
and chain-of-identity identifier."""

from __future__ import annotations

import typer

from vein2vein.cli.common import database, emit_json, handle_errors, server_scope

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
LIST_FIELDS = (
    "id",
    "order",
    "product",
    "site",
    "mbr_version",
    "status",
    "suite",
    "deviations_open",
    "deviations_closed",
)

batches_app = typer.Typer(
    name="batches",
    help="Executed batch records: list with status, suite and deviations.",
    no_args_is_help=True,
)
trace_app = typer.Typer(
    name="trace",
    help="Genealogy: the lots and equipment of a batch, the batches of a lot.",
    no_args_is_help=True,
)


@batches_app.callback()
def _batches() -> None:
    """Executed batch records (a group, so that ``list`` keeps its name)."""


@batches_app.command("list")
@handle_errors
def batches_list(json_: bool = JSON_OPT) -> None:
    """Batches, newest first: id, order, product, site, MBR version, status, suite, deviations
    open/closed."""
    from vein2vein.manufacturing import batch_views

    db = database()
    scope = server_scope(db, need_cdmo=True)
    with db.read() as session:
        rows = [{k: r[k] for k in LIST_FIELDS} for r in batch_views.list_batches(session, scope)]
    if json_:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(
            f"{r['id']:>5}  {r['order']:<14} {r['product']:<12} {r['site']:<20} "
            f"v{r['mbr_version']:<3} {r['status']:<12} {r['suite']:<10} "
            f"deviations {r['deviations_open']} open, {r['deviations_closed']} closed"
        )


@trace_app.command("batch")
@handle_errors
def trace_batch(
    batch: int = typer.Argument(..., help="The batch's id"), json_: bool = JSON_OPT
) -> None:
    """Backward trace: every material lot the batch used and the equipment of its steps."""
    from vein2vein.manufacturing import batch_views

    db = database()
    scope = server_scope(db, need_cdmo=True)
    with db.read() as session:
        found = batch_views.trace_batch(session, scope, batch)
    if json_:
        emit_json(found)
        return
    typer.echo(f"batch {found['batch']}  order {found['order']}  CoI {found['coi']}")
    for lot in found["lots"]:
        typer.echo(f"  lot  {lot['step']:<10} {lot['material']:<12} {lot['lot_number']:<20} "
                   f"{lot['status']}")  # fmt: skip
    for item in found["equipment"]:
        typer.echo(f"  equipment  {item['step']:<10} {item['code']:<10} {item['name']}")


@trace_app.command("lot")
@handle_errors
def trace_lot(
    lot: str = typer.Argument(..., help="Lot number as printed (MATERIAL:LOT if shared)"),
    json_: bool = JSON_OPT,
) -> None:
    """Forward trace: every batch that used the lot, with its order and CoI identifier."""
    from vein2vein.manufacturing import batch_views

    db = database()
    scope = server_scope(db, need_cdmo=True)
    with db.read() as session:
        found = batch_views.trace_lot(session, scope, lot)
    if json_:
        emit_json(found)
        return
    typer.echo(f"lot {found['material']}:{found['lot_number']} ({found['status']})")
    for b in found["batches"]:
        typer.echo(f"  batch {b['batch']:>5}  order {b['order']:<14} CoI {b['coi']}  "
                   f"step {b['step']}  {b['status']}")  # fmt: skip
