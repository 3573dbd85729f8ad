"""``v2v outcome``: product and outcome at the command line.

* ``v2v outcome studies [--json]``: the studies with how many subjects are linked;
* ``v2v outcome show STUDY [--attribute KEY] [--json]``: every subject with its order, batch,
  site and attributes beside BOR, best % change, PFS and OS, and the exploratory analyses with
  their tests and provenance (``--json``: the API's document);
* ``v2v outcome link STUDY SUBJECT --coi COI [--year-of-birth YYYY] [--reason R] --user U
  [--json]``: link a subject to its order (password asked);
* ``v2v outcome unlink LINK --reason R --user U [--json]``.

``STUDY`` is the study's id or code. Reads run as server-side administration (the CDMO's view);
changes are made by a named person whose password is asked (``--user``).
"""

from __future__ import annotations

import typer

from vein2vein.cli.common import (
    database,
    emit_json,
    handle_errors,
    login,
    server_read,
    server_scope,
)

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
USER_OPT = typer.Option(..., "--user", help="Who does it (password asked)")

app = typer.Typer(
    name="outcome",
    help="Product and outcome: subjects linked to their orders, attributes beside response.",
    no_args_is_help=True,
)


def _fmt(v: object, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


@app.command("studies")
@handle_errors
def studies(json_: bool = JSON_OPT) -> None:
    """The studies with their subjects and how many are linked to an order."""
    from vein2vein.insights import outcome_views

    rows = server_read(outcome_views.studies)
    if json_:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(
            f"{r['id']:>4}  {r['code']:<20} {r['program']:<12} {r['linked']}/{r['subjects']} linked"
        )


@app.command("show")
@handle_errors
def show(
    study: str = typer.Argument(..., help="The study's id or code"),
    attribute: str = typer.Option("car_positive", "--attribute", help="Split the KM curves by"),
    json_: bool = JSON_OPT,
) -> None:
    """Every subject with its batch's attributes beside its outcome, and the analyses."""
    from vein2vein.insights import outcome_views
    from vein2vein.insights.outcome_analysis import ATTRIBUTES

    db = database()
    scope = server_scope(db)
    with db.read() as session:
        sid = outcome_views.study_id_of(session, scope, study)
        page = outcome_views.study_outcome(session, scope, sid, attribute)
    if json_:
        emit_json(page)
        return
    head = ["subject", "order", "batch", "site"] + [a.key for a in ATTRIBUTES]
    head += ["bor", "best_pct", "pfs_days", "os_days"]
    typer.echo("\t".join(head))
    for r in page["rows"]:
        cells = [r["subject_id"], r.get("order_number") or "-", r.get("batch_id") or "-"]
        cells += [r.get("site") or "-"] + [_fmt(r.get(a.key), a.digits) for a in ATTRIBUTES]
        cells += [r.get("bor") or "-", _fmt(r.get("best_pct_change")), _fmt(r.get("pfs_days"), 0)]
        cells += [_fmt(r.get("os_days"), 0)]
        typer.echo("\t".join(str(c) for c in cells))
    typer.echo("")
    typer.echo(page["summary"])


@app.command("link")
@handle_errors
def link(
    study: str = typer.Argument(..., help="The study's id or code"),
    subject: str = typer.Argument(..., help="The subject id in the study"),
    coi: str = typer.Option(..., "--coi", help="The order's chain-of-identity identifier"),
    year_of_birth: int | None = typer.Option(None, "--year-of-birth", help="From the CRF"),
    reason: str = typer.Option("", "--reason", help="Source of the link"),
    user: str = USER_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """Link a subject to the order with this CoI identifier (checked: same sponsor and
    program, same patient)."""
    from vein2vein.insights import outcome_links, outcome_views

    db = database()
    scope, actor = login(db, user)
    with db.uow(actor) as uow:
        sid = outcome_views.study_id_of(uow.session, scope, study)
        row = outcome_links.link_subject(
            uow, scope, sid, subject, coi, year_of_birth=year_of_birth, reason=reason
        )
        out = row.public()
        uow.commit()
    if json_:
        emit_json(out)
        return
    warnings = out["checks"].get("warnings") or []
    typer.echo(f"linked {out['subject_id']} to order {out['order_number']} (link {out['id']})")
    for w in warnings:
        typer.echo(f"  warning: {w}")


@app.command("unlink")
@handle_errors
def unlink(
    link_id: int = typer.Argument(..., help="The link's id"),
    reason: str = typer.Option(..., "--reason", help="Why the link is ended"),
    user: str = USER_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """End a current link; it stays in the history."""
    from vein2vein.insights import outcome_links

    db = database()
    scope, actor = login(db, user)
    with db.uow(actor) as uow:
        out = outcome_links.unlink(uow, scope, link_id, reason).public()
        uow.commit()
    if json_:
        emit_json(out)
        return
    typer.echo(f"unlinked {out['subject_id']} from order {out['order_number']}")
