"""``v2v batches`` and ``v2v trace``: executed batch records and genealogy at the command line.

Reads only, as server-side administration (``cli.common.server_scope``: the CDMO's view of every
client's batches). The names and JSON fields are fixed so that scripts can rely on them:
``v2v batches list --json`` gives id, order, product, site, mbr_version, status, suite,
deviations_open, deviations_closed, gmp (false: a process-development run, whose order is null
and whose run_label names it); ``v2v trace batch BATCH --json`` each material lot (material,
lot number, status) and the equipment (step, code, name, instrument, calibration_due,
calibration: ok / overdue / not required, by, at, current); ``v2v trace lot LOT --json`` each
batch with its order and chain-of-identity identifier.

``v2v batches import-pd FILE`` writes (process-development runs from CSV or XLSX, one
transaction), so it is done by a named person whose password is asked (``--user``)."""

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
    "gmp",
    "run_label",
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
    open/closed; a process-development run is flagged non-GMP, with its label for an order."""
    from vein2vein.manufacturing import batch_views

    db = database()
    scope = server_scope(db, need_cdmo=True)
    with db.read() as session:
        rows = [{k: r[k] for k in LIST_FIELDS} for r in batch_views.list_batches(session, scope)]
    if json_:
        emit_json(rows)
        return
    for r in rows:
        flag = "" if r["gmp"] else "  non-GMP (process development)"
        typer.echo(
            f"{r['id']:>5}  {r['order'] or r['run_label']:<14} {r['product']:<12} "
            f"{r['site']:<20} v{r['mbr_version']:<3} {r['status']:<12} {r['suite']:<10} "
            f"deviations {r['deviations_open']} open, {r['deviations_closed']} closed{flag}"
        )


@batches_app.command("import-pd")
@handle_errors
def import_pd(
    file: Path = typer.Argument(..., help="CSV or XLSX, one row per entry (docs/manufacturing.md)"),
    program: str = typer.Option(..., "--program", help="The program's code, e.g. HLX-1"),
    site: str = typer.Option(..., "--site", help="The CDMO site's name or id"),
    mbr_version: int = typer.Option(..., "--mbr-version", help="MBR version (not a draft)"),
    user: str = typer.Option(..., "--user", help="Who imports (password asked)"),
    json_: bool = JSON_OPT,
) -> None:
    """Import process-development runs (non-GMP records) from a CSV or XLSX file, in one
    transaction: a bad cell names file, sheet, row and column, and nothing is written."""
    from vein2vein.manufacturing import pd_runs

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read it: {exc}", file=str(file)) from None
    db = database()
    scope, actor = login(db, user)
    with db.uow(actor) as uow:
        result = pd_runs.import_pd_runs(
            uow, scope, filename=file.name, data=data,
            program=program, site=site, mbr_version=mbr_version,
        )  # fmt: skip
        uow.commit()
    if json_:
        emit_json(result.public())
        return
    sheet = f", sheet {result.sheet}" if result.sheet else ""
    typer.echo(
        f"imported {len(result.runs)} process-development run(s) from {result.file}{sheet} "
        f"(MBR version {result.mbr_version}, {result.mbr_status}); non-GMP"
    )
    for run in result.runs:
        typer.echo(
            f"  batch {run.batch_id:>5}  {run.run_label:<16} {run.entries} entries, "
            f"{run.flagged} flagged, {run.outside_par} outside the PAR (no deviation: non-GMP)"
        )


@trace_app.command("batch")
@handle_errors
def trace_batch(
    batch: int = typer.Argument(..., help="The batch's id"), json_: bool = JSON_OPT
) -> None:
    """Backward trace: every material lot the batch used and the equipment of its steps."""
    from vein2vein.manufacturing import batch_views

    found = server_read(batch_views.trace_batch, batch, need_cdmo=True)
    if json_:
        emit_json(found)
        return
    typer.echo(f"batch {found['batch']}  order {found['order']}  CoI {found['coi']}")
    for lot in found["lots"]:
        typer.echo(f"  lot  {lot['step']:<10} {lot['material']:<12} {lot['lot_number']:<20} "
                   f"{lot['status']}")  # fmt: skip
    for item in found["equipment"]:
        if item["instrument"] is None:
            used = "instrument not recorded yet"
        else:
            due = item["calibration_due"]
            used = f"instrument {item['instrument']}  calibration " + (
                f"due {due.isoformat()} ({item['calibration']})" if due else item["calibration"]
            )
            used += "" if item["current"] else "  (replaced by a later entry)"
        typer.echo(f"  equipment  {item['step']:<10} {item['code']:<10} {item['name']}  {used}")


@trace_app.command("lot")
@handle_errors
def trace_lot(
    lot: str = typer.Argument(..., help="Lot number as printed (MATERIAL:LOT if shared)"),
    json_: bool = JSON_OPT,
) -> None:
    """Forward trace: every batch that used the lot, with its order and CoI identifier."""
    from vein2vein.manufacturing import batch_views

    found = server_read(batch_views.trace_lot, lot, need_cdmo=True)
    if json_:
        emit_json(found)
        return
    typer.echo(f"lot {found['material']}:{found['lot_number']} ({found['status']})")
    for b in found["batches"]:
        typer.echo(f"  batch {b['batch']:>5}  order {b['order']:<14} CoI {b['coi']}  "
                   f"step {b['step']}  {b['status']}")  # fmt: skip
