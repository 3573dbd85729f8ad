"""``v2v clinical report``: the signed readout report at the command line, the same use cases
as the study page and ``/api/clinical/.../reports`` (``report_versions.py``), as a user whose
password is asked for (``cli.common.login``; signing asks it once, for both).

Only typer is imported here; each command imports what it uses."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="report",
    help="Signed readout report: generate a version, list them, sign one, write its PDF.",
    no_args_is_help=True,
)
USER = Annotated[str, typer.Option("--user", help="Who acts (password asked, or stdin).")]
JSON = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _line(v: dict[str, Any]) -> str:
    return (
        f"report {v['study_code']} version {v['number']} (id {v['id']}, dataset version "
        f"{v['dataset_version']}): {v['status']}; content SHA-256 {v['content_hash']}"
    )


@app.command("generate")
def generate_command(
    study: Annotated[str, typer.Argument(help="The study: its id, or its code.")],
    user: USER,
    signatories: Annotated[
        str | None,
        typer.Option(
            help="User names of the members who sign, comma-separated (default: "
            "those of the previous version)."
        ),
    ] = None,
    sponsor: Annotated[
        str | None, typer.Option(help="The study's sponsor, if codes clash.")
    ] = None,
    json_out: JSON = False,
) -> None:
    """The report version of the study's newest dataset version under its settings (the
    previous one when nothing changed). Exit 0 done; 1 refused; 2 bad input."""
    from vein2vein.cli.common import database, emit_json, handle_errors, login

    @handle_errors
    def run() -> None:
        from . import report_versions as rv
        from .datasets import study_id_by_ref

        db = database()
        scope, actor = login(db, user)
        names = [n.strip() for n in signatories.split(",")] if signatories else None
        with db.read() as session:
            study_id = study_id_by_ref(session, scope, study, sponsor)
        with db.uow(actor) as uow:
            made = rv.generate(uow, scope, study_id, names)
            uow.commit()
            report_id = made.report.id
        with db.read() as session:
            out = rv.report_version(session, scope, report_id) | {"new": made.new}
        if json_out:
            emit_json(out)
        else:
            typer.echo(("generated " if made.new else "unchanged: ") + _line(out))

    run()


@app.command("list")
def list_command(
    study: Annotated[str, typer.Argument(help="The study: its id, or its code.")],
    user: USER,
    sponsor: Annotated[
        str | None, typer.Option(help="The study's sponsor, if codes clash.")
    ] = None,
    json_out: JSON = False,
) -> None:
    """The study's report versions, newest first, with their status."""
    from vein2vein.cli.common import database, emit_json, handle_errors, login

    @handle_errors
    def run() -> None:
        from . import report_versions as rv
        from .datasets import study_id_by_ref

        db = database()
        scope, _ = login(db, user)
        with db.read() as session:
            out = rv.report_versions(
                session, scope, study_id_by_ref(session, scope, study, sponsor)
            )
        if json_out:
            emit_json(out)
            return
        for v in out:
            typer.echo(_line(v))

    run()


@app.command("sign")
def sign_command(
    report_id: Annotated[int, typer.Argument(help="The report version's id.")],
    user: USER,
    content_hash: Annotated[
        str | None,
        typer.Option(help="The content SHA-256 you reviewed: nothing is signed otherwise."),
    ] = None,
    json_out: JSON = False,
) -> None:
    """Sign a report version as a named steering-committee member (meaning approved)."""
    from vein2vein.cli.common import database, emit_json, handle_errors, login, read_password

    @handle_errors
    def run() -> None:
        from . import report_versions as rv

        db = database()
        password = read_password("Password (signs the report)", confirm=False)
        scope, actor = login(db, user, password)
        with db.uow(actor) as uow:
            rv.sign_report(
                uow, scope, db.settings, report_id,
                username=user, password=password, shown_hash=content_hash,
            )  # fmt: skip
            uow.commit()
        with db.read() as session:
            out = rv.report_version(session, scope, report_id)
        if json_out:
            emit_json(out)
        else:
            typer.echo("signed " + _line(out))

    run()


@app.command("pdf")
def pdf_command(
    report_id: Annotated[int, typer.Argument(help="The report version's id.")],
    user: USER,
    out: Annotated[Path, typer.Option("--out", help="Where to write the PDF.")],
    json_out: JSON = False,
) -> None:
    """Write a report version's PDF (the same bytes while nothing about it changed; the
    hand-out is audited)."""
    from vein2vein.cli.common import database, emit_json, handle_errors, login

    @handle_errors
    def run() -> None:
        from . import report_versions as rv

        db = database()
        scope, actor = login(db, user)
        with db.read() as session:
            rendered = rv.render_pdf(session, scope, report_id)
        with db.uow(actor) as uow:
            rv.record_download(uow, rendered)
            uow.commit()
        out.write_bytes(rendered.content)
        result = {"file": str(out), "sha256": rendered.sha256, "number": rendered.number}
        if json_out:
            emit_json(result)
        else:
            typer.echo(f"wrote {out} (SHA-256 {rendered.sha256})")

    run()
