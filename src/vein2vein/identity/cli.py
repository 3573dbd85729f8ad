"""``v2v coi``: chain-of-identity commands that need no database.

``din check`` and ``din parse`` read what a user typed or scanned; ``label`` writes a bag,
cassette or shipper label from the given fields. Commands that use the store (``facility add``,
``din issue``, ``orders``, ``timeline``, ``scan``, ``lookup``, ``mismatches``, ``clear``) are
thin wrappers over the use cases (``identity.orders``, ``identity.custody``) and the reads
(``identity.views``). Reading and issuing DINs run as server-side administration
(``cli.common.server_scope``: attributed to the operating-system account, no personal data);
custody steps and clearances are attributed to a user whose password is asked for
(``cli.common.login``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from vein2vein.cli.common import (
    database,
    emit_json,
    handle_errors,
    login,
    read_password,
    server_scope,
)
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import InputError, V2VError
from vein2vein.identity import coi as coi_module
from vein2vein.identity import isbt128, labels

# Only the pure ISBT 128 code loads with this module, so `v2v coi din check` starts fast
# (issue 15); the commands that use the store import it (SQLAlchemy, the use cases, the reads)
# when they run.

app = typer.Typer(
    name="coi",
    help="Chain of identity: ISBT 128 DINs, scanned codes, labels.",
    no_args_is_help=True,
)
din_app = typer.Typer(help="Donation Identification Numbers.", no_args_is_help=True)
app.add_typer(din_app, name="din")


def _fail(err: V2VError) -> typer.Exit:
    typer.echo(f"error: {err.message}", err=True)
    return typer.Exit(code=2)


@din_app.command("check")
def din_check(
    din: Annotated[
        str,
        typer.Argument(
            help="13-character DIN, spaces allowed, optional check character; or =DIN+flags"
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print {din, check_character, valid}.")
    ] = False,
) -> None:
    """Compute a DIN's ISO/IEC 7064 MOD 37-2 check character and verify the one given.

    Exit code 0 when valid or nothing to verify, 1 when the given check does not match, 2 when the
    text is not a DIN.
    """
    try:
        result = isbt128.check_din(din)
    except V2VError as err:
        raise _fail(err) from None
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    else:
        grouped = isbt128.Din.from_code(result.din).grouped()
        verdict = {None: "no check character given", True: "valid", False: "INVALID"}
        typer.echo(f"{grouped} [{result.check_character}]  {verdict[result.valid]}")
    if result.valid is False:
        raise typer.Exit(code=1)


@din_app.command("parse")
def din_parse(
    code: Annotated[
        str, typer.Argument(help="Scanned ISBT 128 string (one or more data structures)")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the data structures as JSON.")
    ] = False,
) -> None:
    """Parse a scanned ISBT 128 code: DIN with flags, product code, dates, blood group, ..."""
    try:
        structures = isbt128.parse_structures(code)
    except V2VError as err:
        raise _fail(err) from None
    rows = [isbt128.structure_to_dict(s) for s in structures]
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    for row in rows:
        typer.echo(f"{row['data_structure']} {row['name']}")
        for key, value in row.items():
            if key not in {"data_structure", "name"} and value is not None:
                typer.echo(f"    {key}: {value}")


def _datetime(text: str | None, option: str) -> dt.datetime | None:
    """Parse an option's date; the value is never echoed (it may be a date of birth)."""
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{option}: not an ISO 8601 date (YYYY-MM-DD)") from None


@app.command("label")
def label(
    kind: Annotated[labels.LabelKind, typer.Argument(help="bag, cassette or shipper")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file: .pdf or .png")],
    din: Annotated[str, typer.Option(help="DIN, with or without its check character")],
    coi: Annotated[str, typer.Option(help="Chain-of-identity identifier")],
    product_code: Annotated[str, typer.Option(help="Product code αooootds, e.g. S1234100")] = "",
    product_name: Annotated[str, typer.Option(help="Site's name of the product")] = "",
    facility: Annotated[str, typer.Option(help="Collecting or manufacturing facility")] = "",
    subject: Annotated[str, typer.Option(help="Sponsor subject id")] = "",
    expires: Annotated[
        str | None, typer.Option(help="Expiry, local time: 2026-12-31T23:59")
    ] = None,
    date_of_birth: Annotated[str | None, typer.Option(help="Only when the site prints it")] = None,
    shipper_id: Annotated[str, typer.Option(help="Shipper label: shipper id")] = "",
    logger_id: Annotated[str, typer.Option(help="Shipper label: temperature logger id")] = "",
    ship_from: Annotated[str, typer.Option(help="Shipper label: sender")] = "",
    ship_to: Annotated[str, typer.Option(help="Shipper label: recipient")] = "",
    dpi: Annotated[int, typer.Option(help="PNG resolution")] = 300,
    coi_format: Annotated[
        str, typer.Option(help="CoI identifier format")
    ] = coi_module.DEFAULT_FORMAT,
) -> None:
    """Write an ISBT 128 bag, cassette or shipper label as PDF or PNG."""
    try:
        fmt = labels.OutputFormat(out.suffix.lower().lstrip("."))
    except ValueError:
        raise typer.BadParameter("--out must end in .pdf or .png") from None
    try:
        parsed_din = isbt128.parse_din(din)
        coi_fmt = coi_module.get_format(coi_format)
        coi_id = coi_fmt.normalize(coi)
        content: labels.ProductLabel | labels.ShipperLabel
        if kind is labels.LabelKind.SHIPPER:
            content = labels.ShipperLabel(
                din=parsed_din,
                coi=coi_id,
                shipper_id=shipper_id,
                logger_id=logger_id,
                ship_from=ship_from,
                ship_to=ship_to,
                coi_format=coi_fmt,
            )
        else:
            structures = isbt128.parse_structures("=<" + product_code.replace(" ", ""))
            product = structures[0]
            assert isinstance(product, isbt128.ProductCodeStructure)
            dob = _datetime(date_of_birth, "--date-of-birth")
            content = labels.ProductLabel(
                din=parsed_din,
                coi=coi_id,
                product=product,
                product_name=product_name,
                facility=facility,
                subject_id=subject,
                expires=_datetime(expires, "--expires"),
                date_of_birth=dob.date() if dob else None,
                coi_format=coi_fmt,
            )
        data = labels.render(labels.layout_for(kind, content), fmt, dpi)
    except V2VError as err:
        raise _fail(err) from None
    out.write_bytes(data)
    typer.echo(f"wrote {out} ({kind.value} label, {len(data)} bytes)")


# --------------------------------------------------------------------------------------------
# Commands that use the store (thin wrappers over the use cases and identity.views)
# --------------------------------------------------------------------------------------------

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
CDMO_OPT = typer.Option(None, "--org", help="The CDMO acting, when the store holds several")


facility_app = typer.Typer(help="Facilities registered under a FIN.", no_args_is_help=True)
app.add_typer(facility_app, name="facility")


@facility_app.command("add")
@handle_errors
def facility_add(
    fin: str,
    org: str = typer.Option(..., "--org", help="Organisation running the facility"),
    name: str = typer.Option(..., "--name"),
    zone: str = typer.Option("UTC", "--time-zone", help="IANA time zone of the facility"),
    json_: bool = JSON_OPT,
) -> None:
    """Register a facility's FIN (its DIN counters start at 1 each year)."""
    from vein2vein.identity import orders
    from vein2vein.store.uow import Actor

    db = database()
    with db.uow(Actor.cli()) as uow:
        facility = orders.register_facility(uow, org, fin, name, zone)
        uow.commit()
        out = facility.public()
    emit_json(out) if json_ else typer.echo(f"registered facility {out['fin']} {out['name']}")


@din_app.command("issue")
@handle_errors
def din_issue(
    fin: str = typer.Option(..., "--fin", help="Facility identification number"),
    count: int = typer.Option(1, "--count", min=1, max=1000, help="How many DINs"),
    org: str | None = CDMO_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Issue the next DIN(s) of a facility for the current year, never twice, never skipping."""
    from vein2vein.identity import orders, views
    from vein2vein.store.uow import Actor

    db = database()
    scope = server_scope(db, org)
    rows = []
    for _ in range(count):
        with db.uow(Actor.cli()) as uow:
            rows.append(views.din_public(orders.issue_din(uow, scope, fin)))
            uow.commit()
    if json_:
        emit_json(rows if count > 1 else rows[0])
        return
    for r in rows:
        typer.echo(f"{r['eye_readable']}  barcode {r['barcode']}")


@app.command("new-apheresis")
@handle_errors
def new_apheresis_cmd(
    order: str = typer.Argument(..., help="The order's number, e.g. HLX-EPC-01-0013"),
    planned: str = typer.Option(..., "--planned", help="Day of the new collection, YYYY-MM-DD"),
    reason: str = typer.Option(..., "--reason", help="Why (the batch that failed)"),
    sponsor: str | None = typer.Option(None, "--sponsor", help="When order numbers clash"),
    org: str | None = CDMO_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """After the order's batch failed: a new apheresis collection for the same patient and
    chain-of-identity identifier, with a new DIN (the failed batch keeps the old one)."""
    from vein2vein.identity import orders, views
    from vein2vein.store.uow import Actor

    db = database()
    scope = server_scope(db, org)
    with db.read() as session:
        order_id = views.order_id_by_number(session, scope, order, sponsor)
    with db.uow(Actor.cli()) as uow:
        row = orders.new_apheresis(uow, scope, order_id, planned_apheresis=planned, reason=reason)
        uow.commit()
        out = {
            "order": row.number,
            "coi": row.coi,
            "collection": row.collection,
            "apheresis_din": row.apheresis_din,
            "planned_apheresis": row.planned_apheresis.isoformat()
            if row.planned_apheresis
            else None,
        }
    if json_:
        emit_json(out)
        return
    typer.echo(
        f"order {out['order']}: collection {out['collection']} planned {out['planned_apheresis']}"
        f" with the new DIN {out['apheresis_din']}"
    )


@app.command("orders")
@handle_errors
def orders_cmd(
    all_: bool = typer.Option(False, "--all", help="Include infused orders"),
    org: str | None = CDMO_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Dashboard: orders in flight, current step, delivery projection (on hold first)."""
    from rich.console import Console
    from rich.table import Table

    from vein2vein.identity import views

    db = database()
    scope = server_scope(db, org)
    with db.read() as session:
        rows = views.dashboard(session, scope, include_complete=all_)
    if json_:
        emit_json(rows)
        return
    table = Table(
        "order", "subject", "step", "required by", "delivery", "spare (d)", "state", "source"
    )
    for r in rows:
        p = r["projection"]
        spare = p["days_to_spare"]
        table.add_row(
            r["number"],
            r["subject_id"],
            r["current_step"] or "-",
            r["required_by"],
            p["delivery"] or "-",
            "-" if spare is None else str(spare),
            p["state_text"].upper() if p["blockers"] else p["state_text"],
            p["source"],
        )
    Console().print(table)


@app.command("timeline")
@handle_errors
def timeline_cmd(
    subject: str,
    sponsor: str | None = typer.Option(None, "--sponsor", help="When subject ids clash"),
    org: str | None = CDMO_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Vein-to-vein timeline of a patient (by sponsor subject id), one block per order."""
    from vein2vein.identity import views

    db = database()
    scope = server_scope(db, org)
    with db.read() as session:
        patient_id = views.patient_id_by_subject(session, scope, subject, sponsor)
        out = views.patient_timeline(session, scope, patient_id)
    if json_:
        emit_json(out)
        return
    typer.echo(f"Subject {out['subject_id']} ({out['sponsor']}, {out['program']})")
    for o in out["orders"]:
        typer.echo(f"\nOrder {o['number']}  CoI {o['coi']}")
        typer.echo(o["timeline"]["summary"])
        p = o["projection"]
        typer.echo(f"Delivery projection: {p['state_text']}; {p['message']}")


@app.command("scan")
@handle_errors
def scan_cmd(
    order: str = typer.Argument(..., help="Order number, e.g. HLX-EPC-01-0001"),
    step: str = typer.Argument(..., help="Custody step: collected, packed, shipped, ..."),
    scans: list[str] = typer.Option([], "--scan", help="Scanned label text (repeatable)"),
    location: str = typer.Option(..., "--location", help="Where the step happened"),
    user: str = typer.Option(..., "--user", help="Who records it (password asked)"),
    at: str | None = typer.Option(None, "--at", help="ISO 8601 time; default now"),
    zone: str = typer.Option("UTC", "--time-zone", help="IANA name or offset of --at"),
    sponsor: str | None = typer.Option(None, "--sponsor"),
    subject_id: str | None = typer.Option(None, "--subject-id", help="Patient's subject id"),
    ask_dob: bool = typer.Option(
        False, "--dob", help="Ask for the patient's date of birth (never on the command line)"
    ),
    detail: list[str] = typer.Option(
        [], "--detail", help="KEY=VALUE: courier, shipper_id, logger_id, condition, ..."
    ),
    json_: bool = JSON_OPT,
) -> None:
    """Check a hand-off scan against the order and record the custody step.

    Exit 0 recorded; 1 refused (a mismatch is recorded and stops the order until QA clears it,
    or the step is out of order); 2 bad input.
    """
    from vein2vein.identity import custody, intake, views

    db = database()
    scope, actor = login(db, user)
    patient = {"subject_id": subject_id or ""}
    if ask_dob:
        patient["date_of_birth"] = read_password("Patient's date of birth (YYYY-MM-DD)", False)
    details: dict[str, str] = {}
    for item in detail:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError("give details as KEY=VALUE", field="detail")
        details[key.strip()] = value.strip()
    when = at or utcnow().astimezone(intake.time_zone(zone)).isoformat(timespec="minutes")
    req = intake.EventRequest(
        step=step,
        occurred_at=when,
        time_zone=zone,
        location=location,
        scans=scans,
        patient_identifiers=patient,
        details=details,
    )
    with db.read() as session:
        order_id = views.order_id_by_number(session, scope, order, sponsor)
    with db.uow(actor) as uow:
        row = custody.record_event(uow, scope, order_id, req)
        uow.commit()
        out = {"order": order.upper(), "step": row.step, "event_id": row.id, "recorded": True}
    emit_json(out) if json_ else typer.echo(f"MATCH: '{out['step']}' recorded for {out['order']}")


@app.command("lookup")
@handle_errors
def lookup_cmd(scanned: str, org: str | None = CDMO_OPT, json_: bool = JSON_OPT) -> None:
    """What a scanned label is and which order it belongs to (exit 1 when none)."""
    from vein2vein.identity import views

    db = database()
    scope = server_scope(db, org)
    with db.read() as session:
        out = views.lookup_scan(session, scope, scanned)
    if json_:
        emit_json(out)
    else:
        typer.echo(("MATCH: " if out["ok"] else "NO MATCH: ") + out["verdict"])
    if not out["ok"]:
        raise typer.Exit(1)


@app.command("mismatches")
@handle_errors
def mismatches_cmd(
    all_: bool = typer.Option(False, "--all", help="Include cleared ones"),
    org: str | None = CDMO_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Hand-off mismatches (open ones by default)."""
    from vein2vein.identity import views

    db = database()
    scope = server_scope(db, org)
    with db.read() as session:
        rows = views.list_mismatches(session, scope, open_only=not all_)
    if json_:
        emit_json(rows)
        return
    for m in rows:
        problems = "; ".join(p["message"] for p in m["problems"])
        typer.echo(f"#{m['id']} {m['order_number']} at '{m['step']}' [{m['status']}]: {problems}")


@app.command("clear")
@handle_errors
def clear_cmd(
    mismatch_id: int,
    reason: str = typer.Option(..., "--reason", help="Why the hand-off may go on"),
    user: str = typer.Option(..., "--user", help="A QA user (password asked)"),
    json_: bool = JSON_OPT,
) -> None:
    """QA clears a hand-off mismatch with a reason and an electronic signature (the password,
    asked once, logs in and signs); a deviation is recorded with it."""
    from vein2vein.identity import custody

    db = database()
    password = read_password(f"Password of {user} (log-in and signature)", confirm=False)
    scope, actor = login(db, user, password=password)
    with db.uow(actor) as uow:
        mismatch = custody.clear_mismatch(
            uow, scope, db.settings, mismatch_id, reason, username=user, password=password
        )
        uow.commit()
        out = {"id": mismatch.id, "status": "cleared", "reason": mismatch.clear_reason}
    emit_json(out) if json_ else typer.echo(f"mismatch #{out['id']} cleared")
