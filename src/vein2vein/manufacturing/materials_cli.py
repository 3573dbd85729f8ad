"""``v2v lots`` and ``v2v deviations``: material lots and deviations at the command line.

Reads run as server-side administration (``cli.common.server_scope``: the CDMO's view); changes
are a person's and ask for their password (``cli.common.login``): receiving a lot, QA's release
or rejection with a reason, classifying a deviation, and closing it, where the one password
asked both logs in and signs."""

from __future__ import annotations

import typer

from vein2vein.cli.common import (
    database,
    emit_json,
    handle_errors,
    login,
    read_password,
    server_read,
    server_scope,
)

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
USER_OPT = typer.Option(..., "--user", help="Who acts (password asked)")

lots_app = typer.Typer(
    name="lots",
    help="Material lots: receive, release or reject, check a lot for use.",
    no_args_is_help=True,
)
deviations_app = typer.Typer(
    name="deviations",
    help="Deviations: list, classify, close with an electronic signature.",
    no_args_is_help=True,
)


@lots_app.command("list")
@handle_errors
def lots_list(
    status: str = typer.Option("", "--status", help="quarantine, released, rejected, expired"),
    material: str = typer.Option("", "--material", help="A material code"),
    json_: bool = JSON_OPT,
) -> None:
    """Lots, newest first, with their status today (id, material, lot number, expiry,
    status)."""
    from vein2vein.manufacturing import lots

    rows = server_read(lots.list_lots, status=status, material=material, need_cdmo=True)
    if json_:
        emit_json(rows)
        return
    for r in rows:
        titer = f"  {r['titer_tu_per_ml']} TU/mL" if r["titer_tu_per_ml"] is not None else ""
        typer.echo(
            f"{r['id']:>5}  {r['material_code']:<16} {r['lot_number']:<20} "
            f"exp {r['expiry']}  {r['status']}{titer}"
        )


@lots_app.command("materials")
@handle_errors
def materials_list(json_: bool = JSON_OPT) -> None:
    """Materials (code, name, kind, unit, number of lots)."""
    from vein2vein.manufacturing import lots

    rows = server_read(lots.list_materials, need_cdmo=True)
    if json_:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['code']:<16} {r['name']} ({r['kind']}, {r['unit']}): {r['lots']} lots")


@lots_app.command("receive")
@handle_errors
def lots_receive(
    material: str = typer.Option(..., "--material", help="Material code"),
    lot: str = typer.Option(..., "--lot", help="Lot number"),
    supplier: str = typer.Option(..., "--supplier"),
    expiry: str = typer.Option(..., "--expiry", help="YYYY-MM-DD"),
    quantity: str = typer.Option(..., "--quantity", help="In the material's unit"),
    supplier_lot: str = typer.Option("", "--supplier-lot"),
    titer: str = typer.Option("", "--titer", help="Functional titer, TU/mL (vector lots)"),
    user: str = USER_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Receive a lot into quarantine."""
    from vein2vein.manufacturing import lots

    db = database()
    scope, actor = login(db, user)
    with db.uow(actor) as uow:
        row = lots.receive_lot(
            uow,
            scope,
            material=material,
            lot_number=lot,
            supplier=supplier,
            expiry=expiry,
            quantity=quantity,
            supplier_lot=supplier_lot or None,
            titer=titer or None,
        )
        uow.commit()
        out = lots.public(row)
    emit_json(out) if json_ else typer.echo(f"lot {out['lot_number']} received into quarantine")


def _decide(lot: str, to: str, reason: str, user: str, json_: bool) -> None:
    from vein2vein.manufacturing import lots

    db = database()
    scope, actor = login(db, user)
    with db.uow(actor) as uow:
        row = lots.decide_lot(uow, scope, lot, to, reason)
        uow.commit()
        out = lots.public(row)
    emit_json(out) if json_ else typer.echo(f"lot {out['lot_number']}: {out['status']}")


@lots_app.command("release")
@handle_errors
def lots_release(
    lot: str = typer.Argument(..., help="Lot id, lot number or MATERIAL:LOT"),
    reason: str = typer.Option(..., "--reason"),
    user: str = USER_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """QA releases a lot (a vector lot needs its titer; an expired lot cannot be released)."""
    _decide(lot, "released", reason, user, json_)


@lots_app.command("reject")
@handle_errors
def lots_reject(
    lot: str = typer.Argument(..., help="Lot id, lot number or MATERIAL:LOT"),
    reason: str = typer.Option(..., "--reason"),
    user: str = USER_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """QA rejects a lot."""
    _decide(lot, "rejected", reason, user, json_)


@lots_app.command("check")
@handle_errors
def lots_check(
    lot: str = typer.Argument(..., help="Lot number as scanned"),
    material: str = typer.Option(..., "--material", help="Material the step needs"),
) -> None:
    """May this lot be used now? Exit 0 yes; 1 refused (the line names lot, material, reason)."""
    from vein2vein.core.clock import utcnow
    from vein2vein.manufacturing import lots

    db = database()
    scope = server_scope(db, need_cdmo=True)
    with db.read() as session:
        row = lots.check_scanned_lot(session, scope, lot, material, utcnow())
        typer.echo(f"lot {row.lot_number} of {row.material.code} may be used")


# --- deviations ---------------------------------------------------------------------------


@deviations_app.command("list")
@handle_errors
def deviations_list(
    status: str = typer.Option("", "--status", help="open or closed"),
    classification: str = typer.Option(
        "", "--classification", help="minor, major, critical or unclassified"
    ),
    json_: bool = JSON_OPT,
) -> None:
    """Deviations, newest first (number, status, classification, order, title)."""
    from vein2vein.manufacturing import deviations

    db = database()
    scope = server_scope(db)
    with db.read() as session:
        rows = deviations.list_deviations(
            session, scope, status=status, classification=classification
        )
    if json_:
        emit_json(rows)
        return
    for d in rows:
        orders = ", ".join(o["number"] for o in (d["order"], d["related_order"]) if o)
        typer.echo(
            f"{d['number']}  {d['status']:<6} {d['classification'] or 'unclassified':<12} "
            f"{orders or '-':<24} {d['title']}"
        )


@deviations_app.command("show")
@handle_errors
def deviations_show(deviation: str, json_: bool = JSON_OPT) -> None:
    """One deviation (by id or number) with its investigation and signatures."""
    from vein2vein.manufacturing import deviations

    d = server_read(deviations.deviation_detail, deviation)
    if json_:
        emit_json(d)
        return
    typer.echo(f"{d['number']} [{d['status']}] {d['title']}\n{d['description']}")
    typer.echo(f"classification: {d['classification'] or '-'}\nroot cause: {d['root_cause']}")
    typer.echo(f"CAPA: {d['capa']}")
    for s in d["signatures"]:
        typer.echo(f"signed {s['meaning']} by {s['printed_name']} at {s['signed_at']}")


@deviations_app.command("classify")
@handle_errors
def deviations_classify(
    deviation: str,
    classification: str = typer.Option(..., "--classification", help="minor, major, critical"),
    root_cause: str = typer.Option(..., "--root-cause"),
    capa: str = typer.Option("", "--capa", help="Required for major and critical"),
    user: str = USER_OPT,
) -> None:
    """QA classifies a deviation and records root cause and CAPA."""
    from vein2vein.manufacturing import deviations

    db = database()
    scope, actor = login(db, user)
    with db.uow(actor) as uow:
        dev = deviations.classify(
            uow, scope, deviation, classification=classification, root_cause=root_cause, capa=capa
        )
        uow.commit()
        typer.echo(f"{dev.number} classified {dev.classification}")


@deviations_app.command("close")
@handle_errors
def deviations_close(deviation: str, user: str = USER_OPT) -> None:
    """QA closes a deviation with an electronic signature (the password, asked once, logs in
    and signs); the closed deviation is locked."""
    from vein2vein.manufacturing import deviations

    db = database()
    password = read_password(f"Password of {user} (log-in and signature)", confirm=False)
    scope, actor = login(db, user, password=password)
    with db.uow(actor) as uow:
        deviations.close(uow, scope, db.settings, deviation, username=user, password=password)
        uow.commit()
    typer.echo(f"deviation {deviation} closed (signed)")
