"""``v2v coi``: chain-of-identity commands that need no database.

``din check`` and ``din parse`` read what a user typed or scanned; ``label`` writes a bag,
cassette or shipper label from the given fields. Commands that need the store (``din issue``,
``scan``, ``timeline``) are thin wrappers over services and are added with the store.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from vein2vein.core.errors import V2VError
from vein2vein.identity import coi as coi_module
from vein2vein.identity import isbt128, labels

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


def _datetime(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not an ISO date and time: {text}") from None


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
            dob = _datetime(date_of_birth)
            content = labels.ProductLabel(
                din=parsed_din,
                coi=coi_id,
                product=product,
                product_name=product_name,
                facility=facility,
                subject_id=subject,
                expires=_datetime(expires),
                date_of_birth=dob.date() if dob else None,
                coi_format=coi_fmt,
            )
        data = labels.render(labels.layout_for(kind, content), fmt, dpi)
    except V2VError as err:
        raise _fail(err) from None
    out.write_bytes(data)
    typer.echo(f"wrote {out} ({kind.value} label, {len(data)} bytes)")
