"""``v2v clinical``: readout of a study folder, BOR from collected responses, demo data, and the
upload of a dataset version to a study in the store (``upload``: the same use case as the web
upload form and ``POST /api/clinical/studies/{id}/versions``, attributed to a user whose
password is asked for, as ``cli.common.login`` does)."""

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


class AfterPd(StrEnum):
    drop = "drop"
    keep = "keep"


class UploadFormat(StrEnum):
    auto = "auto"
    csv = "csv"
    sdtm = "sdtm"


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
AfterPdOpt = Annotated[
    AfterPd,
    typer.Option(
        "--after-pd",
        help="Assessments after the first progression: drop them (RECIST) or keep them "
        "(admiralonco without a PD source).",
    ),
]
PdDates = Annotated[
    Path | None,
    typer.Option(
        "--pd-dates",
        help="CSV subject_id, pd_date: progression dates from a separate source that cut the "
        "assessments (admiralonco source_pd); needs --after-pd drop.",
    ),
]
BenefitOpt = Annotated[
    str,
    typer.Option(
        "--benefit",
        help="BOR categories that count as clinical benefit (and DCR), comma-separated.",
    ),
]
BENEFIT_DEFAULT = "CR,PR,SD,NON-CR/NON-PD"


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
    after_pd: AfterPd = AfterPd.drop,
    benefit: str = BENEFIT_DEFAULT,
) -> BorOptions:
    from .bor import BorOptions, parse_benefit

    try:
        categories = parse_benefit(benefit)
    except ValueError as exc:
        raise ValueError(f"--{exc}") from None
    return BorOptions(
        confirm_days=confirm_days,
        sd_min_days=sd_min_days,
        max_ne=max_ne,
        accept_sd=accept_sd,
        cr_then_pr=cr_then_pr.value,
        missing_as="NE" if missing_as_ne else "MISSING",
        truncate_at_first_pd=after_pd is AfterPd.drop,
        benefit=categories,
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
    after_pd: AfterPdOpt = AfterPd.drop,
    pd_dates: PdDates = None,
    benefit: BenefitOpt = BENEFIT_DEFAULT,
    evaluator: Annotated[
        str, typer.Option(help="SDTM evaluator (TUEVAL/TREVAL/RSEVAL).")
    ] = "INVESTIGATOR",
) -> None:
    """Derive time-point responses, BOR, ORR/DCR by dose group and OS/PFS/DOR."""
    ahead = None
    if not sdtm:  # the largest file parses in a thread while the engine below is imported
        from .csv_arrow import read_ahead

        ahead = read_ahead(directory / "assessments.csv")
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

            ds = read_csv_folder(directory, ahead=ahead)
        pd_frame = None
        if pd_dates is not None:
            from .responses import read_pd_dates

            pd_frame = read_pd_dates(pd_dates)
        options = ReadoutOptions(
            bor=_bor_options(
                confirm_days,
                sd_min_days,
                max_ne,
                accept_sd,
                cr_then_pr,
                missing_as_ne,
                after_pd,
                benefit,
            ),
            use_confirmed=not unconfirmed,
            conf_type=ci.value,
            cutoff=cut,
            irecist=irecist,
            population=population.value,
        )
        result = readout(ds, options, pd_frame)
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
    after_pd: AfterPdOpt = AfterPd.drop,
    pd_dates: PdDates = None,
    benefit: BenefitOpt = BENEFIT_DEFAULT,
    json_out: Json = False,
) -> None:
    """Best overall response (unconfirmed and confirmed), first response dates and clinical
    benefit from collected overall responses."""
    import json

    from .responses import bor_from_responses, pd_source, read_pd_dates, read_responses

    try:
        if not responses.is_file():
            raise V2VError(f"{responses} is not a file")
        opts = _bor_options(
            confirm_days,
            sd_min_days,
            max_ne,
            accept_sd,
            cr_then_pr,
            missing_as_ne,
            after_pd,
            benefit,
        )
        pd_frame = None if pd_dates is None else read_pd_dates(pd_dates)
        table = bor_from_responses(read_responses(responses), opts, pd_frame)
    except (V2VError, ValueError) as exc:
        raise _fail(exc) from exc
    options = opts.to_dict() | {"pd_source": None if pd_frame is None else pd_source(pd_frame)}
    if json_out:
        records = table.to_dict("records")
        for rec in records:
            for k in ("clinical_benefit", "clinical_benefit_confirmed"):
                rec[k] = bool(rec[k])
        typer.echo(json.dumps({"subjects": records, "options": options}, indent=2))
    else:
        shown = table.copy()
        for k in ("clinical_benefit", "clinical_benefit_confirmed"):
            shown[k] = shown[k].map({True: "Y", False: "N"})
        typer.echo(shown.fillna("").to_string(index=False))
        typer.echo(
            "\nOptions: "
            + "; ".join(
                f"{k}={','.join(v) if isinstance(v, list) else v}"
                for k, v in options.items()
                if v is not None
            )
        )


def _upload_paths(paths: list[Path]) -> list[Path]:
    """The files named, a folder standing for the files directly in it (hidden ones skipped,
    as inside a zip); what is not part of the format is listed as ignored, not stored."""
    from vein2vein.core.errors import InputError

    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            out.append(path)
        else:
            raise InputError(f"{path} is neither a file nor a folder", field="files")
    return out


@app.command("upload")
def upload_command(
    study: Annotated[str, typer.Argument(help="The study: its id, or its code.")],
    files: Annotated[
        list[Path],
        typer.Argument(
            help="subjects.csv, lesions.csv, assessments.csv [, new_lesions.csv, pd_dates.csv]; "
            "or SDTM domains (.xpt/.csv); or a .zip of either; a folder stands for its files."
        ),
    ],
    user: Annotated[
        str,
        typer.Option(
            "--user", help="Who uploads (clinical.write); password asked, or first line of stdin."
        ),
    ],
    fmt: Annotated[UploadFormat, typer.Option("--format", help="Dataset format.")] = (
        UploadFormat.auto
    ),
    evaluator: Annotated[
        str, typer.Option(help="SDTM evaluator (TUEVAL/TREVAL/RSEVAL).")
    ] = "INVESTIGATOR",
    comment: Annotated[str, typer.Option(help="Why this version is uploaded.")] = "",
    sponsor: Annotated[
        str | None, typer.Option(help="The sponsor, when two sponsors' studies share the code.")
    ] = None,
    json_out: Json = False,
) -> None:
    """Upload a dataset as the study's next version (read with the engine first: bad input
    names file, row and field, and nothing is stored). Exit 0 stored; 1 refused; 2 bad input."""
    from vein2vein.cli.common import database, emit_json, handle_errors, login

    @handle_errors
    def run() -> None:
        from .upload import ParseAhead, UploadedFile

        uploads = [UploadedFile(p.name, p.read_bytes()) for p in _upload_paths(files)]
        # read and validated while the store loads and the password is checked (issue 15)
        parse = ParseAhead(uploads, fmt.value, evaluator)
        from . import datasets

        db = database()
        scope, actor = login(db, user)
        with db.read() as session:
            study_id = datasets.study_id_by_ref(session, scope, study, sponsor)
        with db.uow(actor) as uow:
            version = datasets.upload_dataset(
                uow,
                scope,
                study_id,
                uploads,
                fmt=fmt.value,
                evaluator=evaluator,
                comment=comment,
                parse=parse,
            )
            uow.commit()
            out = version.public()
        if json_out:
            emit_json(out)
            return
        counts = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in out["counts"].items() if v)
        typer.echo(
            f"stored version {out['version']} of study {study} ({out['format']}): {counts}; "
            f"dataset SHA-256 {out['sha256']}"
        )
        for warning in out["warnings"]:
            typer.echo(f"warning: {warning}", err=True)
        if out["ignored_files"]:
            typer.echo(f"ignored (not stored): {', '.join(out['ignored_files'])}", err=True)

    run()


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


# ``v2v clinical report ...``: the signed readout report (report_cli.py imports only typer)
from .report_cli import app as _report_app  # noqa: E402

app.add_typer(_report_app, name="report")
