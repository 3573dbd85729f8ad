"""``v2v clinical``: readout of a study folder, BOR from collected responses, demo data."""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vein2vein.core.errors import V2VError

if TYPE_CHECKING:
    from .bor import BorOptions

# Only typer and the error type are imported here: each command imports what it uses (numpy,
# pandas, scipy, the readers), so `v2v clinical --help` starts without them (issue 15).

app = typer.Typer(
    name="clinical",
    help="Clinical readout: RECIST 1.1 / iRECIST, best overall response, ORR/DCR, OS/PFS/DOR.",
    no_args_is_help=True,
)


class ConfType(StrEnum):
    loglog = "log-log"
    log = "log"
    plain = "plain"


class CrThenPr(StrEnum):
    SD = "SD"
    PD = "PD"


class Population(StrEnum):
    evaluable = "evaluable"
    infused = "infused"


ConfirmDays = Annotated[int, typer.Option(min=0, help="Days from a CR/PR to its confirmation.")]
SdMinDays = Annotated[
    int, typer.Option(min=0, help="SD counts only this many days after the reference date.")
]
MaxNe = Annotated[int, typer.Option(min=0, help="NE assessments allowed inside a confirmation.")]
AcceptSd = Annotated[bool, typer.Option(help="Allow one SD between a PR and its confirmation.")]
CrPr = Annotated[CrThenPr, typer.Option(help="A PR after a CR counts as SD or as PD.")]
MissingNe = Annotated[bool, typer.Option(help="A subject without assessments is NE, not MISSING.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def _bor_options(
    confirm_days: int,
    sd_min_days: int,
    max_ne: int,
    accept_sd: bool,
    cr_then_pr: CrThenPr,
    missing_as_ne: bool,
) -> BorOptions:
    from .bor import BorOptions

    return BorOptions(
        confirm_days=confirm_days,
        sd_min_days=sd_min_days,
        max_ne=max_ne,
        accept_sd=accept_sd,
        cr_then_pr=cr_then_pr.value,
        missing_as="NE" if missing_as_ne else "MISSING",
    )


@app.command("readout")
def readout_command(
    directory: Annotated[Path, typer.Argument(help="CSV folder, or SDTM folder with --sdtm.")],
    sdtm: Annotated[
        bool, typer.Option("--sdtm", help="Read CDISC SDTM domains (.xpt or .csv).")
    ] = False,
    cutoff: Annotated[str | None, typer.Option(help="Data cut-off date, YYYY-MM-DD.")] = None,
    json_out: Json = False,
    timepoints: Annotated[
        bool,
        typer.Option(
            help="With --json: each subject's time points (the per-scan detail, most of the "
            "document); --no-timepoints leaves them out."
        ),
    ] = True,
    report: Annotated[
        Path | None, typer.Option(help="Write the report: FILE.html or FILE.pdf.")
    ] = None,
    unconfirmed: Annotated[
        bool, typer.Option(help="Rates and DOR from the unconfirmed BOR.")
    ] = False,
    irecist: Annotated[
        bool, typer.Option(help="iRECIST: iUPD/iCPD, reset after iSD/iPR/iCR.")
    ] = False,
    ci: Annotated[
        ConfType, typer.Option(help="KM band for the median interval.")
    ] = ConfType.loglog,
    population: Annotated[
        Population, typer.Option(help="Analysis population.")
    ] = Population.evaluable,
    confirm_days: ConfirmDays = 28,
    sd_min_days: SdMinDays = 42,
    max_ne: MaxNe = 1,
    accept_sd: AcceptSd = False,
    cr_then_pr: CrPr = CrThenPr.SD,
    missing_as_ne: MissingNe = False,
    evaluator: Annotated[
        str, typer.Option(help="SDTM evaluator (TUEVAL/TREVAL/RSEVAL).")
    ] = "INVESTIGATOR",
) -> None:
    """Derive time-point responses, BOR, ORR/DCR by dose group and OS/PFS/DOR."""
    from .readout import ReadoutOptions, readout

    try:
        cut = dt.date.fromisoformat(cutoff) if cutoff else None
    except ValueError:
        raise _fail(ValueError(f"--cutoff {cutoff!r} is not a date (YYYY-MM-DD)")) from None
    try:
        if sdtm:
            from .sdtm import read_sdtm

            ds = read_sdtm(directory, evaluator=evaluator)
        else:
            from .csv_reader import read_csv_folder

            ds = read_csv_folder(directory)
        options = ReadoutOptions(
            bor=_bor_options(
                confirm_days, sd_min_days, max_ne, accept_sd, cr_then_pr, missing_as_ne
            ),
            use_confirmed=not unconfirmed,
            conf_type=ci.value,
            cutoff=cut,
            irecist=irecist,
            population=population.value,
        )
        result = readout(ds, options)
        if report is not None:
            from .report import write_report  # jinja2 and the plotting code: only for a report

            write_report(result, report)
    except (V2VError, ValueError) as exc:
        raise _fail(exc) from exc
    if json_out:
        from .readout_json import write_readout_json

        sys.stdout.flush()
        # the bytes of json.dumps(result.to_dict(), indent=2), written as a stream
        write_readout_json(result, sys.stdout.buffer, timepoints=timepoints)
        sys.stdout.buffer.flush()
    else:
        typer.echo(result.summary())
        if len(result.disagreements):
            typer.echo("\nInvestigator (RS) responses that differ from the derived ones:")
            typer.echo(result.disagreements.drop(columns=["subj"]).to_string(index=False))
    if report is not None:
        typer.echo(f"report written to {report}", err=True)


@app.command("bor")
def bor_command(
    responses: Annotated[
        Path, typer.Argument(help="responses.csv: subject_id, reference_date, date, response")
    ],
    confirm_days: ConfirmDays = 28,
    sd_min_days: SdMinDays = 42,
    max_ne: MaxNe = 1,
    accept_sd: AcceptSd = False,
    cr_then_pr: CrPr = CrThenPr.SD,
    missing_as_ne: MissingNe = False,
    json_out: Json = False,
) -> None:
    """Best overall response (unconfirmed and confirmed) from collected overall responses."""
    import json

    from .responses import bor_from_responses, read_responses

    try:
        if not responses.is_file():
            raise V2VError(f"{responses} is not a file")
        opts = _bor_options(confirm_days, sd_min_days, max_ne, accept_sd, cr_then_pr, missing_as_ne)
        table = bor_from_responses(read_responses(responses), opts)
    except (V2VError, ValueError) as exc:
        raise _fail(exc) from exc
    if json_out:
        payload = {
            "subjects": table.drop(columns=["confirmed_on"]).to_dict("records"),
            "options": opts.to_dict(),
        }
        for rec, conf in zip(payload["subjects"], table["confirmed_on"], strict=True):
            rec["confirmed_on"] = conf
        typer.echo(json.dumps(payload, indent=2))
    else:
        typer.echo(table.fillna("").to_string(index=False))


@app.command("demo")
def demo_command(
    directory: Annotated[Path, typer.Argument(help="Folder to write the demo study into.")],
    sdtm: Annotated[str | None, typer.Option(help="Also write SDTM domains: xpt or csv.")] = None,
) -> None:
    """Write the synthetic gastric-cancer IIT (10 evaluable patients) as a CSV folder."""
    from .demo_data import CUTOFF, write_demo_csv, write_demo_sdtm

    path = write_demo_csv(directory)
    typer.echo(f"demo CSV folder: {path} (data cut-off {CUTOFF})")
    if sdtm:
        if sdtm not in ("xpt", "csv"):
            raise _fail(ValueError("--sdtm must be xpt or csv"))
        typer.echo(f"demo SDTM ({sdtm}): {write_demo_sdtm(path / 'sdtm', sdtm)}")
