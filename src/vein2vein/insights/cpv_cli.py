"""``v2v cpv``: continued process verification at the command line (docs/cpv.md).

* ``v2v cpv series [--json]``: every product, site and attribute (QC) or process parameter
  (batch record) with approved values (fields: program_id, product, site_id, site, attribute,
  kind, name, unit, n, last_batch, baseline_id, baseline_frozen_at, flagged, problem);
* ``v2v cpv chart --program CODE --site NAME --attribute TEST [--json]``: the individuals
  chart's limits, every point with its rules, capability (the same numbers as the page);
  ``TEST`` a test code or a process parameter (``record:HARVEST.viability``,
  ``derived:fold_expansion``);
* ``v2v cpv freeze --program CODE --site NAME --attribute TEST --from DAY --to DAY --reason TEXT
  --user U``: freeze the limits, signed with the user's password (asked);
* ``v2v cpv baseline ID [--json]``: one frozen baseline;
* ``v2v cpv conformance --program CODE [--from DAY] [--to DAY] [--json]``: all batches met
  specification? counts and every exception.

Reads run as server-side administration (the CDMO's view); a freeze is done by a named person.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

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
PROGRAM_OPT = typer.Option(..., "--program", help="The product's program code")
SITE_OPT = typer.Option(..., "--site", help="The manufacturing site (name, part of it, or id)")
ATTRIBUTE_OPT = typer.Option(
    ...,
    "--attribute",
    help="The specification's test code, or a process parameter: record:STEP.entry, "
    "derived:fold_expansion, derived:doubling_time_h",
)

app = typer.Typer(
    name="cpv",
    help="Continued process verification: control charts, frozen baselines, conformance.",
    no_args_is_help=True,
)


def _day(text: str | None, field: str, label: str) -> dt.date | None:
    """A day typed as YYYY-MM-DD, with the forms' messages (``web.forms.parse_date``)."""
    from vein2vein.web.forms import parse_date

    return parse_date(text, field, label, required=False)


def _fmt(v: Any) -> str:
    return "—" if v is None else f"{v:.4g}"


@app.command("series")
@handle_errors
def series(json_: bool = JSON_OPT) -> None:
    """Every product, site and attribute (QC) or process parameter (batch record) with
    approved values."""
    from vein2vein.insights import cpv_views

    rows = server_read(cpv_views.series_list, need_cdmo=True)
    if json_:
        emit_json(rows)
        return
    for r in rows:
        limits = f"baseline {r['baseline_id']}" if r["baseline_id"] else "provisional"
        typer.echo(
            f"{r['product']:<12} {r['site']:<20} {r['kind']:<18} {r['attribute']:<28} "
            f"[{r['unit'] or '-'}] n={r['n']:<4} {limits:<14} flagged {r['flagged']}"
        )


@app.command("chart")
@handle_errors
def chart(
    program: str = PROGRAM_OPT,
    site: str = SITE_OPT,
    attribute: str = ATTRIBUTE_OPT,
    json_: bool = JSON_OPT,
) -> None:
    """The individuals chart of one series: limits, points, rules, capability."""
    from vein2vein.core.errors import NotFound
    from vein2vein.insights import cpv_views

    db = database()
    scope = server_scope(db, need_cdmo=True)
    with db.read() as session:
        program_id = cpv_views.program_by_code(session, scope, program)
        site_id = cpv_views.site_by_name(session, site)
        page = cpv_views.dashboard(session, scope, program_id, site=site_id, attribute=attribute)
    if (
        page["key"] is None
        or page["key"]["attribute"] != attribute.strip()
        or str(page["key"]["site_id"]) != str(site_id)
    ):
        raise NotFound(f"no approved values of {attribute} of {program} at that site")
    for name in ("figure", "series", "period_default"):
        page.pop(name, None)
    if json_:
        emit_json(page)
        return
    typer.echo(page["title"])
    a = page["attribute"]
    typer.echo(f"{a['kind']} {a['code']}, unit {a['unit_text']}")
    if page["problem"]:
        typer.echo(page["problem"])
        return
    c = page["chart"]
    kind = f"frozen (baseline {page['baseline']['id']})" if page["frozen"] else "provisional"
    typer.echo(
        f"limits {kind}: CL {_fmt(c['center'])}, LCL {_fmt(c['lcl'])}, UCL {_fmt(c['ucl'])} "
        f"(sigma {_fmt(c['sigma'])}, {c['sigma_method']})"
    )
    for p in page["points"]:
        rules = ", ".join(p["rules"]) or "-"
        typer.echo(
            f"{p['index']:>3}  {p['batch']:<18} {p['made_on']}  {p['value']:>10g}  "
            f"{p['phase']:<11} {rules}"
        )
    cap = page["capability"]
    if cap:
        ci = cap["intervals"].get("ppk")
        tail = f" (95% CI {_fmt(ci[0])} to {_fmt(ci[1])})" if ci else ""
        typer.echo(f"Ppk {_fmt(cap['indices']['ppk'])}{tail}, n = {cap['n']}")
        typer.echo(
            f"Cpk {_fmt(cap['indices']['cpk'])}"
            + (f"  WARNING: {page['cpk_warning']}" if page["cpk_warning"] else "")
        )
    elif page["capability_problem"]:
        typer.echo(page["capability_problem"])
    for w in page["warnings"]:
        typer.echo(f"warning: {w}")


@app.command("freeze")
@handle_errors
def freeze(
    program: str = PROGRAM_OPT,
    site: str = SITE_OPT,
    attribute: str = ATTRIBUTE_OPT,
    start: str = typer.Option(..., "--from", help="First day of the period (YYYY-MM-DD)"),
    end: str = typer.Option(..., "--to", help="Last day of the period (YYYY-MM-DD)"),
    reason: str = typer.Option(..., "--reason", help="Why these batches are the baseline"),
    user: str = typer.Option(..., "--user", help="Who freezes (password asked; signs)"),
    json_: bool = JSON_OPT,
) -> None:
    """Freeze the limits of a series from the batches started in a period, with your
    electronic signature (meaning: approved); it supersedes the effective baseline."""
    from vein2vein.insights import cpv_baselines, cpv_data, cpv_views

    first = _day(start, "start", "--from")
    last = _day(end, "end", "--to")
    if first is None or last is None:
        from vein2vein.core.errors import InputError

        raise InputError("give the period: --from DAY --to DAY", field="start")
    password = read_password("Password (signs the baseline)", confirm=False)
    db = database()
    scope, actor = login(db, user, password)
    with db.uow(actor) as uow:
        program_id = cpv_views.program_by_code(uow.session, scope, program)
        site_id = cpv_views.site_by_name(uow.session, site)
        key = cpv_data.SeriesKey(program_id, site_id, cpv_baselines.series_name(attribute))
        current = cpv_data.effective_baseline(uow.session, key)
        row = cpv_baselines.freeze_baseline(
            uow, scope, db.settings, program_id=program_id, site_id=site_id, test=attribute,
            start=first, end=last, reason=reason, current=current.id if current else None,
            username=user, password=password,
        )  # fmt: skip
        baseline_id = row.id
        uow.commit()
    with db.read() as session:
        out = cpv_views.baseline_detail(session, scope, baseline_id)
    if json_:
        emit_json(out)
        return
    typer.echo(
        f"baseline {out['id']} frozen from {out['n']} batches: CL {_fmt(out['center'])}, "
        f"LCL {_fmt(out['lcl'])}, UCL {_fmt(out['ucl'])}"
        + (f"; supersedes baseline {out['supersedes_id']}" if out["supersedes_id"] else "")
    )


@app.command("baseline")
@handle_errors
def baseline(
    baseline_id: int = typer.Argument(..., help="The baseline's id"), json_: bool = JSON_OPT
) -> None:
    """One frozen baseline: period, batches, limits, who froze it and when."""
    from vein2vein.insights import cpv_views

    out = server_read(cpv_views.baseline_detail, baseline_id, need_cdmo=True)
    if json_:
        emit_json(out)
        return
    typer.echo(
        f"baseline {out['id']} ({out['status']}): {out['product']} {out['attribute']} at "
        f"{out['site']}, {out['n']} batches started {out['period_start']} to {out['period_end']}"
    )
    typer.echo(
        f"CL {_fmt(out['center'])}, LCL {_fmt(out['lcl'])}, UCL {_fmt(out['ucl'])}; frozen "
        f"{out['frozen_at']:%Y-%m-%d %H:%M} UTC by {out['frozen_by_name']} ({out['frozen_by']})"
    )


@app.command("conformance")
@handle_errors
def conformance(
    program: str = PROGRAM_OPT,
    start: str = typer.Option("", "--from", help="First day (YYYY-MM-DD); default: the first"),
    end: str = typer.Option("", "--to", help="Last day (YYYY-MM-DD); default: the last"),
    json_: bool = JSON_OPT,
) -> None:
    """All batches met specification? The batches started in the period and every exception."""
    from vein2vein.insights import cpv_views

    first = _day(start, "start", "--from")
    last = _day(end, "end", "--to")
    db = database()
    scope = server_scope(db, need_cdmo=True)
    with db.read() as session:
        program_id = cpv_views.program_by_code(session, scope, program)
        out = cpv_views.conformance(session, scope, program_id, first, last)
    if json_:
        emit_json(out)
        return
    verdict = "all" if out["all_met"] else f"{out['met']} of"
    typer.echo(f"{out['program']['code']}: {verdict} {out['count']} batches met specification")
    for e in out["exceptions"]:
        typer.echo(f"  {e['batch']:<18} {e['kind']:<12} {e['text']}")
