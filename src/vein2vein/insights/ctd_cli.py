"""``v2v reports``: the CTD tables of a program, from the signed records (docs/ctd.md).

* ``v2v reports ctd --program CODE --section 3.2.P.5.4 --out FILE.pdf|FILE.docx [--user U]
  [--json]``: writes the file (the format from its suffix) and prints its SHA-256 and the
  audit chain's head it carries; the generation is recorded in the audit trail. JSON fields:
  program, program_id, section, format, filename, sha256, head_seq, head_hash, records, file.
* ``v2v reports sections [--json]``: the sections, available or not (fields: code, title,
  available, unavailable).

Without ``--user`` it runs as server-side administration (the CDMO's view of every client);
with it, as that person (password asked), seeing what their role and organisation may.
"""

from __future__ import annotations

from pathlib import Path

import typer

from vein2vein.cli.common import database, emit_json, handle_errors, login, server_scope
from vein2vein.core.errors import InputError

app = typer.Typer(
    name="reports", help="Regulatory reports: the CTD tables of a program.", no_args_is_help=True
)


@app.command("ctd")
@handle_errors
def ctd(
    program: str = typer.Option(..., "--program", help="The program's code (or its id)"),
    section: str = typer.Option(..., "--section", help="CTD section, e.g. 3.2.P.5.4"),
    out: Path = typer.Option(..., "--out", help="The file to write: .pdf or .docx"),
    user: str = typer.Option("", "--user", help="Who generates it (default: the server)"),
    json_: bool = typer.Option(False, "--json", help="Print what was generated as JSON."),
) -> None:
    """Generate a CTD section's tables of a program as PDF or Word, footnoted with the record
    ids and the audit chain's head; the generation is audited."""
    from vein2vein.insights import ctd_service
    from vein2vein.store.uow import Actor

    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("pdf", "docx"):
        raise InputError("the output file ends in .pdf or .docx", file=str(out))
    db = database()
    if user:
        scope, actor = login(db, user)
    else:
        scope, actor = server_scope(db), Actor.cli()
    ref: int | str = int(program) if program.isdigit() else program
    with db.uow(actor) as uow:
        made = ctd_service.generate(uow, scope, ref, section, fmt)
        uow.commit()
    try:
        out.write_bytes(made.data)
    except OSError as exc:
        raise InputError(f"cannot write it: {exc.strerror or exc}", file=str(out)) from None
    if json_:
        emit_json(made.summary() | {"file": str(out)})
    else:
        typer.echo(
            f"{made.program_code} CTD {made.section} written to {out} ({made.fmt.upper()}, "
            f"SHA-256 {made.sha256}); audit chain head #{made.head_seq} {made.head_hash}"
        )


@app.command("sections")
@handle_errors
def sections(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The CTD sections that can be generated, and those not yet available (with why)."""
    from vein2vein.insights import ctd_sections

    rows = [
        {"code": s.code, "title": s.title, "available": s.available, "unavailable": s.unavailable}
        for s in ctd_sections.SECTIONS
    ]
    if json_:
        emit_json(rows)
        return
    for r in rows:
        state = "available" if r["available"] else f"not yet available: {r['unavailable']}"
        typer.echo(f"{r['code']:<12} {r['title']} ({state})")
