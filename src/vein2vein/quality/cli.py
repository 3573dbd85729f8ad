"""``v2v release``, ``v2v coa``, ``v2v results`` and ``v2v spec``: QC release at the command
line. Names and JSON fields are fixed so that scripts can rely on them:

* ``v2v release list [--json]``: batch, order, product, site, spec_version, state (pending /
  released / conditional / exceptional / rejected), pending (tests still to come after a
  conditional release), escalated;
* ``v2v coa export BATCH --out FILE.pdf [--user U]``: the batch's Certificate of Analysis;
* ``v2v coa verify FILE.pdf [--json]``: exit 0 when the file is authentic and current, 1
  otherwise, with the status and reasons (fields: file, sha256, authentic, current, status,
  reasons, document_number, batch_id, issued_at);
* ``v2v results import FILE [--format auto|csv|flow|qpcr] --user U [--json]``: one transaction;
* ``v2v spec import FILE --user U``, ``v2v spec list [--json]``, ``v2v spec approve ID --user U``.

Reads run as server-side administration (the CDMO's view); writes are done by a named person
whose password is asked (``--user``), and approval signs with it.
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
    server_scope,
)
from vein2vein.core.errors import InputError

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
USER_OPT = typer.Option(..., "--user", help="Who does it (password asked)")
RELEASE_FIELDS = (
    "batch",
    "order",
    "product",
    "site",
    "spec_version",
    "state",
    "pending",
    "escalated",
)

release_app = typer.Typer(
    name="release", help="QC release: each batch's release state.", no_args_is_help=True
)
coa_app = typer.Typer(
    name="coa", help="Certificates of Analysis: export and verify.", no_args_is_help=True
)
results_app = typer.Typer(
    name="results", help="QC results: import a results CSV or an instrument export.",
    no_args_is_help=True,
)  # fmt: skip
spec_app = typer.Typer(
    name="spec", help="Release specifications: import, list, approve.", no_args_is_help=True
)


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read it: {exc.strerror or exc}", file=str(file)) from None


@release_app.callback()
def _release() -> None:
    """QC release (a group, so that ``list`` keeps its name)."""


@release_app.command("list")
@handle_errors
def release_list(json_: bool = JSON_OPT) -> None:
    """Every GMP batch with its release state and the specification version it is judged by."""
    from vein2vein.quality import release

    db = database()
    scope = server_scope(db, need_cdmo=True)
    with db.read() as session:
        rows = [{k: r[k] for k in RELEASE_FIELDS} for r in release.list_releases(session, scope)]
    if json_:
        emit_json(rows)
        return
    for r in rows:
        spec = f"spec v{r['spec_version']}" if r["spec_version"] else "no spec in force"
        pending = f"  pending: {', '.join(r['pending'])}" if r["pending"] else ""
        escalated = "  ESCALATED" if r["escalated"] else ""
        typer.echo(
            f"{r['batch']:>5}  {r['order'] or '':<16} {r['product'] or '':<12} {r['site']:<20} "
            f"{spec:<16} {r['state']}{pending}{escalated}"
        )


@coa_app.command("export")
@handle_errors
def coa_export(
    batch: int = typer.Argument(..., help="The batch's id"),
    out: Path = typer.Option(..., "--out", help="Where to write the PDF"),
    user: str = typer.Option("", "--user", help="Who exports (default: the server)"),
) -> None:
    """Write the batch's Certificate of Analysis (the one issued, or a new one if the batch
    changed since)."""
    from vein2vein.quality import certificates
    from vein2vein.store.uow import Actor

    db = database()
    if user:
        scope, actor = login(db, user)
    else:
        scope, actor = server_scope(db, need_cdmo=True), Actor.cli()
    with db.uow(actor) as uow:
        issued = certificates.issue(uow, scope, batch)
        uow.commit()
    try:
        out.write_bytes(issued.data)
    except OSError as exc:
        raise InputError(f"cannot write it: {exc.strerror or exc}", file=str(out)) from None
    state = "issued" if issued.new else "unchanged since issue"
    typer.echo(f"{issued.number} ({state}) written to {out}")


@coa_app.command("verify")
@handle_errors
def coa_verify(
    file: Path = typer.Argument(..., help="The certificate's PDF"), json_: bool = JSON_OPT
) -> None:
    """Whether a certificate is authentic (issued by this system, unaltered) and current
    (the batch still says the same); exit 0 only when both."""
    from vein2vein.quality import certificates

    data = _read(file)
    verdict = server_read(certificates.verify, data, file.name, need_cdmo=True)
    if json_:
        emit_json(verdict)
    else:
        number = verdict["document_number"] or file.name
        typer.echo(f"{number}: {verdict['status']}")
        for reason in verdict["reasons"]:
            typer.echo(f"  - {reason}")
    if not (verdict["authentic"] and verdict["current"]):
        raise typer.Exit(1)


@results_app.callback()
def _results() -> None:
    """QC results (a group, so that ``import`` keeps its name)."""


@results_app.command("import")
@handle_errors
def results_import(
    file: Path = typer.Argument(..., help="Results CSV, flow export or qPCR export"),
    fmt: str = typer.Option("auto", "--format", help="auto, csv, flow or qpcr"),
    user: str = USER_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Import results in one transaction: each judged against the batch's specification; an
    out-of-specification result opens its investigation."""
    from vein2vein.quality import results

    data = _read(file)
    db = database()
    scope, actor = login(db, user)
    with db.uow(actor) as uow:
        stored = results.import_file(uow, scope, data, file.name, fmt)
        rows = [results.public(r) for r in stored]
        uow.commit()
    if json_:
        emit_json(rows)
        return
    typer.echo(f"imported {len(rows)} result(s) from {file.name}")
    for r in rows:
        typer.echo(
            f"  batch {r['batch_id']:>5}  {r['test']:<16} {r['value']} {r['unit'] or ''}"
            f" → {r['rounded']}: {r['outcome']}"
        )


@spec_app.command("import")
@handle_errors
def spec_import(
    file: Path = typer.Argument(..., help="Specification YAML (docs/quality.md)"),
    user: str = USER_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Store a specification file as a new draft version of its product's specification."""
    from vein2vein.quality import specs

    text = _read(file).decode("utf-8", errors="strict")
    db = database()
    scope, actor = login(db, user)
    with db.uow(actor) as uow:
        row = specs.import_spec(uow, scope, text, file.name)
        out = specs.summary(row)
        uow.commit()
    if json_:
        emit_json(out)
        return
    typer.echo(f"specification {out['label']} stored as a draft (id {out['id']})")


@spec_app.command("list")
@handle_errors
def spec_list(json_: bool = JSON_OPT) -> None:
    """Every specification version with its status."""
    from vein2vein.quality import specs

    rows = server_read(specs.list_specs, need_cdmo=True)
    if json_:
        emit_json(rows)
        return
    for r in rows:
        when = f" since {r['effective_at']:%Y-%m-%d}" if r["effective_at"] else ""
        typer.echo(f"{r['id']:>4}  {r['label']:<36} {r['status']}{when}  {r['title']}")


@spec_app.command("approve")
@handle_errors
def spec_approve(
    spec_id: int = typer.Argument(..., help="The draft's id"), user: str = USER_OPT
) -> None:
    """Approve a draft with your electronic signature (meaning: approved): it becomes
    effective now and supersedes the version in force."""
    from vein2vein.quality import specs

    password = read_password("Password (signs the approval)", confirm=False)
    db = database()
    scope, actor = login(db, user, password)
    with db.uow(actor) as uow:
        specs.approve(uow, scope, db.settings, spec_id, username=user, password=password)
        row = specs.get_spec(uow.session, scope, spec_id)
        label = specs.label(row)
        uow.commit()
    typer.echo(f"specification {label} approved: effective now")
