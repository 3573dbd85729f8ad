"""``v2v comparability``: comparability protocols on stored batches at the command line
(docs/comparability.md). Names and JSON fields are fixed so that scripts can rely on them:

* ``v2v comparability list [--json]``: id, number, version, label, title, status, program, ...;
* ``v2v comparability show ID [--json]``: one version, blinded until approved (the reference
  arm's values only, the test arm's batches without values);
* ``v2v comparability create FILE --user U``, ``edit ID FILE --user U``, ``revise ID FILE
  --user U``: a new protocol (version 1, draft), a draft's new content, the next version of a
  signed protocol;
* ``v2v comparability sign ID --user U`` (the author: authored), ``approve ID --user U`` (a
  second person: approved), each an electronic signature with the password asked;
* ``v2v comparability run ID --user U [--json]``: run an approved version on the approved
  results stored now;
* ``v2v comparability report RUN [--out FILE.pdf|FILE.html] [--json]``: the run's report.

Reads run as server-side administration (the CDMO's view, blinded like every other reader);
writes are done by a named person whose password is asked (``--user``).
"""

from __future__ import annotations

from pathlib import Path

import typer

from vein2vein.cli.common import (
    database,
    emit_json,
    handle_errors,
    login,
    read_password,
    server_read,
)
from vein2vein.core.errors import InputError

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
USER_OPT = typer.Option(..., "--user", help="Who does it (password asked)")

app = typer.Typer(
    name="comparability",
    help="Comparability protocols on stored batches: write, sign, run, report.",
    no_args_is_help=True,
)


def _text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read it: {exc.strerror or exc}", file=str(file)) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=str(file)) from None


@app.command("list")
@handle_errors
def list_(json_: bool = JSON_OPT) -> None:
    """Every protocol version with its status."""
    from vein2vein.insights import comparability_views as views

    rows = server_read(views.list_protocols, need_cdmo=True)
    if json_:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['id']:>4}  {r['label']:<24} {r['status']:<10} {r['title']}")


@app.command("show")
@handle_errors
def show(
    protocol_id: int = typer.Argument(..., help="Protocol version id"), json_: bool = JSON_OPT
) -> None:
    """One protocol version (blinded until approved)."""
    from vein2vein.insights import comparability_views as views

    d = server_read(views.protocol_detail, protocol_id, need_cdmo=True)
    if json_:
        emit_json(d)
        return
    typer.echo(f"{d['label']}  {d['status']}  {d['title']}")
    typer.echo(d["yaml"])
    typer.echo(f"reference arm: {len(d['reference_batches'])} approved batches")
    for a in d["reference_preview"]:
        typer.echo(f"  {a['name']:<20} n={a['n']:<3} {a['implied']}")
    hidden = "" if d["test_arm_visible"] else " (values hidden until approval)"
    typer.echo(f"test arm: {len(d['test_batches'])} approved batches{hidden}")
    for r in d["runs"]:
        typer.echo(f"run {r['id']}: {r['conclusion']} ({r['run_at']:%Y-%m-%d %H:%M} UTC)")


def _write(kind: str, file: Path, user: str, protocol_id: int | None, json_: bool) -> None:
    from vein2vein.insights import comparability_service as service
    from vein2vein.insights import comparability_views as views

    text = _text(file)
    db = database()
    scope, actor = login(db, user)
    with db.uow(actor) as uow:
        if kind == "create":
            row = service.create(uow, scope, text, file.name)
        elif kind == "edit":
            row = service.edit(uow, scope, protocol_id or 0, text, file.name)
        else:
            row = service.revise(uow, scope, protocol_id or 0, text, file.name)
        out = views.summary(row)
        uow.commit()
    if json_:
        emit_json(out)
        return
    typer.echo(f"protocol {out['label']} stored as a draft (id {out['id']})")


@app.command("create")
@handle_errors
def create(
    file: Path = typer.Argument(..., help="Protocol YAML (docs/comparability.md)"),
    user: str = USER_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """A new protocol, version 1, as a draft."""
    _write("create", file, user, None, json_)


@app.command("edit")
@handle_errors
def edit(
    protocol_id: int = typer.Argument(..., help="The draft's id"),
    file: Path = typer.Argument(..., help="Protocol YAML"),
    user: str = USER_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Replace a draft's content (its author; a signed version is never edited)."""
    _write("edit", file, user, protocol_id, json_)


@app.command("revise")
@handle_errors
def revise(
    protocol_id: int = typer.Argument(..., help="The latest signed version's id"),
    file: Path = typer.Argument(..., help="Protocol YAML"),
    user: str = USER_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """The next version of a signed protocol, as a draft."""
    _write("revise", file, user, protocol_id, json_)


def _sign(protocol_id: int, user: str, meaning: str) -> None:
    from vein2vein.insights import comparability_service as service

    password = read_password("Password (signs the protocol)", confirm=False)
    db = database()
    scope, actor = login(db, user, password)
    fn = service.sign_authored if meaning == "authored" else service.approve
    with db.uow(actor) as uow:
        fn(uow, scope, db.settings, protocol_id, username=user, password=password)
        row = service.get_protocol(uow.session, scope, protocol_id)
        label, status = service.label(row), row.status
        uow.commit()
    typer.echo(f"protocol {label} signed ({meaning}): {status}")


@app.command("sign")
@handle_errors
def sign(
    protocol_id: int = typer.Argument(..., help="The draft's id"), user: str = USER_OPT
) -> None:
    """The author signs the draft (meaning: authored); its content is locked."""
    _sign(protocol_id, user, "authored")


@app.command("approve")
@handle_errors
def approve(
    protocol_id: int = typer.Argument(..., help="The authored version's id"), user: str = USER_OPT
) -> None:
    """A second person approves the authored version (meaning: approved); the test arm's
    results may be shown from now on."""
    _sign(protocol_id, user, "approved")


@app.command("run")
@handle_errors
def run(
    protocol_id: int = typer.Argument(..., help="The approved version's id"),
    user: str = USER_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Run an approved version on the approved results stored now."""
    from vein2vein.insights import comparability_service as service

    db = database()
    scope, actor = login(db, user)
    with db.uow(actor) as uow:
        stored = service.run(uow, scope, protocol_id)
        out = {"run_id": stored.id, "conclusion": stored.conclusion,
               "inputs_hash": stored.inputs_hash}  # fmt: skip
        uow.commit()
    if json_:
        emit_json(out)
        return
    typer.echo(f"run {out['run_id']}: {out['conclusion']} (inputs SHA-256 {out['inputs_hash']})")


@app.command("report")
@handle_errors
def report(
    run_id: int = typer.Argument(..., help="The run's id"),
    out: Path | None = typer.Option(None, "--out", help="Write FILE.pdf or FILE.html"),
    json_: bool = JSON_OPT,
) -> None:
    """A run's report: printed, as JSON, or written to a PDF or HTML file."""
    from vein2vein.insights import comparability_report as report_
    from vein2vein.insights import comparability_views as views

    d = server_read(views.run_detail, run_id, need_cdmo=True)
    if out is not None:
        suffix = out.suffix.lower()
        if suffix == ".pdf":
            out.write_bytes(report_.render_pdf(d))
        elif suffix in (".html", ".htm"):
            out.write_text(report_.render_html(d), encoding="utf-8")
        else:
            raise InputError("the report is FILE.pdf or FILE.html", field="--out")
    if json_:
        emit_json(views.run_json(d) | {"attributes": report_.attribute_rows(d["result"])})
        return
    for line in report_.headline(d):
        typer.echo(line)
    typer.echo(d["result"].summary())
    if out is not None:
        typer.echo(f"written: {out}")
