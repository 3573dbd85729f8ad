"""``v2v schedule``: plan, check and generate capacity schedules from files."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vein2vein.core.errors import V2VError
from vein2vein.scheduling.cpsat import SolveProgress
from vein2vein.scheduling.files import load_problem, write_downtime, write_orders, write_suites
from vein2vein.scheduling.gantt import gantt_figure
from vein2vein.scheduling.generator import GeneratorConfig, generate_problem
from vein2vein.scheduling.model import Plan, Problem, parse_weekdays
from vein2vein.scheduling.objectives import Objectives
from vein2vein.scheduling.planner import make_plan, plan_from_json, plan_to_json
from vein2vein.scheduling.validator import validate_plan

app = typer.Typer(
    name="schedule",
    help="Capacity scheduling: patient batches over GMP suites and the QC laboratory.",
    no_args_is_help=True,
)
err = Console(stderr=True)

OrdersOpt = Annotated[Path, typer.Option("--orders", help="orders.csv")]
SuitesOpt = Annotated[Path, typer.Option("--suites", help="suites.csv")]
DowntimeOpt = Annotated[
    Path | None, typer.Option("--downtime", help="downtime.csv (suite_id, start, end, reason)")
]
QcOpt = Annotated[
    int | None,
    typer.Option("--qc-capacity", help="batches QC can test at once (default: no limit)"),
]
StartsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-starts-per-day", help="batches the staff can start a day (default: no limit)"
    ),
]
TodayOpt = Annotated[
    str | None, typer.Option("--today", help="first day a batch may start (YYYY-MM-DD)")
]
WeekdaysOpt = Annotated[
    str | None,
    typer.Option(
        "--start-weekdays", help="days batches may start, e.g. Mon-Fri (orders may override)"
    ),
]


def _fail(exc: V2VError) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc.message}", highlight=False)
    return typer.Exit(2)


def _problem(
    orders: Path,
    suites: Path,
    downtime: Path | None,
    qc_capacity: int | None,
    max_starts: int | None,
    today: str | None,
    weekdays: str | None,
) -> Problem:
    try:
        first_day = dt.date.fromisoformat(today) if today else None
    except ValueError:
        raise typer.BadParameter(
            f"{today!r} is not a date (YYYY-MM-DD)", param_hint="--today"
        ) from None
    try:
        days = parse_weekdays(weekdays) if weekdays else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--start-weekdays") from None
    return load_problem(
        orders,
        suites,
        downtime_path=downtime,
        qc_capacity=qc_capacity,
        max_starts_per_day=max_starts,
        today=first_day,
        start_weekdays=days,
    )


def _solve_with_progress(problem: Problem, method: str, time_limit: float, **options: Any) -> Plan:
    """Solve in a worker thread while a Rich progress bar (on stderr) shows time and objective."""
    latest: list[SolveProgress] = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(f"planning ({method})", total=time_limit, status="")
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            started = time.perf_counter()
            future = pool.submit(
                make_plan,
                problem,
                method=method,
                time_limit=time_limit,
                progress=latest.append,
                **options,
            )
            while not future.done():
                status = ""
                if latest:
                    p = latest[-1]
                    status = f"{p.stage}: {p.objective:g}" if p.objective is not None else p.stage
                    if p.bound is not None:
                        status += f" (bound {p.bound:g})"
                bar.update(
                    task, completed=min(time_limit, time.perf_counter() - started), status=status
                )
                time.sleep(0.2)
            return future.result()


@app.command("plan")
def plan_command(
    orders: OrdersOpt,
    suites: SuitesOpt,
    downtime: DowntimeOpt = None,
    method: Annotated[
        str, typer.Option(help="greedy (first come, first served) or cpsat")
    ] = "cpsat",
    time_limit: Annotated[float, typer.Option("--time-limit", help="seconds for CP-SAT")] = 10.0,
    workers: Annotated[int, typer.Option(help="CP-SAT worker threads")] = 2,
    qc_capacity: QcOpt = None,
    max_starts_per_day: StartsOpt = None,
    today: TodayOpt = None,
    start_weekdays: WeekdaysOpt = None,
    objectives: Annotated[
        str | None,
        typer.Option(help="objective order, e.g. days_late,vein_to_vein,makespan (or name=weight)"),
    ] = None,
    weighted: Annotated[
        bool, typer.Option(help="one weighted objective, not lexicographic")
    ] = False,
    seed: Annotated[int, typer.Option(help="CP-SAT random seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the plan as JSON")] = False,
    out: Annotated[Path | None, typer.Option(help="also write the JSON plan to this file")] = None,
) -> None:
    """Plan every order into a suite: start, end, QC release and delivery dates."""
    try:
        problem = _problem(
            orders, suites, downtime, qc_capacity, max_starts_per_day, today, start_weekdays
        )
        goal = (
            Objectives.parse(objectives, "weighted" if weighted else "lexicographic")
            if objectives
            else (Objectives(mode="weighted") if weighted else None)
        )
        plan = _solve_with_progress(
            problem, method, time_limit, num_workers=workers, objectives=goal, seed=seed
        )
    except V2VError as exc:
        raise _fail(exc) from None
    report = validate_plan(problem, plan)
    data = plan_to_json(problem, plan, report)
    if out is not None:
        out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        _print_plan(data)
    if not report.ok:
        err.print(f"[red]{report.summary()}[/red]", highlight=False)
        raise typer.Exit(1)


def _print_plan(data: dict[str, Any]) -> None:
    console = Console()
    metrics = Table(title="Plan", show_header=False)
    for key, value in {**data["metrics"], **data["summary"]}.items():
        metrics.add_row(key.replace("_", " "), "-" if value is None else str(value))
    solver = data["solver"] or {}
    metrics.add_row("method", f"{solver.get('method')} ({solver.get('status')})")
    console.print(metrics)
    rows = Table(title="Batches")
    for column in ("order", "suite", "start", "end", "release", "delivered"):
        rows.add_column(column)
    for a in data["assignments"]:
        rows.add_row(a["order_id"], a["suite"], a["start"], a["end"], a["release"], a["ship"])
    console.print(rows)
    for u in data["unscheduled"]:
        console.print(f"[yellow]not scheduled[/yellow] {u['order_id']}: {u['reason']}")


@app.command("validate")
def validate_command(
    orders: OrdersOpt,
    suites: SuitesOpt,
    plan: Annotated[Path, typer.Option("--plan", help="a plan JSON written by `schedule plan`")],
    downtime: DowntimeOpt = None,
    qc_capacity: QcOpt = None,
    max_starts_per_day: StartsOpt = None,
    today: TodayOpt = None,
    start_weekdays: WeekdaysOpt = None,
) -> None:
    """Check a plan (for instance one edited by hand) against every hard rule."""
    try:
        problem = _problem(
            orders, suites, downtime, qc_capacity, max_starts_per_day, today, start_weekdays
        )
        try:
            data = json.loads(plan.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise typer.BadParameter(f"cannot read {plan}: {exc}", param_hint="--plan") from None
        report = validate_plan(problem, plan_from_json(data, plan.name))
    except V2VError as exc:
        raise _fail(exc) from None
    typer.echo(report.summary(limit=50))
    m = report.metrics
    mean = "-" if m.mean_vein_to_vein_days is None else f"{m.mean_vein_to_vein_days:.2f}"
    typer.echo(
        f"scheduled {m.scheduled}/{m.orders}, late {m.late_orders} ({m.total_days_late} days), "
        f"mean vein-to-vein {mean} days"
    )
    if not report.ok:
        raise typer.Exit(1)


@app.command("gantt")
def gantt_command(
    orders: OrdersOpt,
    suites: SuitesOpt,
    plan: Annotated[Path, typer.Option("--plan", help="a plan JSON written by `schedule plan`")],
    out: Annotated[Path, typer.Option(help="HTML file to write")] = Path("gantt.html"),
    downtime: DowntimeOpt = None,
) -> None:
    """Write the plan's Gantt chart of the suites as a self-contained HTML page."""
    import plotly.graph_objects as go

    try:
        problem = _problem(orders, suites, downtime, None, None, None, None)
        parsed = plan_from_json(json.loads(plan.read_text(encoding="utf-8")), plan.name)
    except V2VError as exc:
        raise _fail(exc) from None
    go.Figure(gantt_figure(problem, parsed)).write_html(out, include_plotlyjs=True)
    typer.echo(f"wrote {out}")


@app.command("generate")
def generate_command(
    out_dir: Annotated[Path, typer.Option("--out-dir", help="folder for the CSV files")],
    n_orders: Annotated[int, typer.Option("--n-orders", help="number of orders")] = 200,
    n_suites: Annotated[int, typer.Option("--n-suites", help="number of suites")] = 12,
    infectious_suites: Annotated[int, typer.Option(help="suites for infectious material")] = 2,
    utilisation: Annotated[float, typer.Option(help="target load of the suites")] = 0.9,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same instance")] = 0,
    start: Annotated[str, typer.Option(help="first receipt date")] = "2026-01-05",
) -> None:
    """Write a realistic synthetic instance: orders.csv, suites.csv, downtime.csv."""
    try:
        config = GeneratorConfig(
            orders=n_orders,
            suites=n_suites,
            infectious_suites=infectious_suites,
            utilisation=utilisation,
            seed=seed,
            start=dt.date.fromisoformat(start),
        )
        problem = generate_problem(config)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    write_orders(out_dir / "orders.csv", problem.orders)
    write_suites(out_dir / "suites.csv", problem.suites)
    write_downtime(out_dir / "downtime.csv", problem.suites)
    typer.echo(
        f"wrote {len(problem.orders)} orders and {len(problem.suites)} suites to {out_dir}\n"
        f"plan them with:\n  v2v schedule plan --orders {out_dir / 'orders.csv'} "
        f"--suites {out_dir / 'suites.csv'} --downtime {out_dir / 'downtime.csv'} "
        f"--qc-capacity {problem.qc_capacity} --max-starts-per-day {problem.max_starts_per_day}"
    )


# --------------------------------------------------------------------------------------------
# Commands on the store (thin wrappers over scheduling.planning and scheduling.views)
# --------------------------------------------------------------------------------------------


OrgOpt = Annotated[str | None, typer.Option("--org", help="the CDMO (if there are several)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


@app.command("suites")
def suites_command(org: OrgOpt = None, as_json: JsonOpt = False) -> None:
    """List the CDMO's GMP suites with their downtime windows (from the store)."""
    from vein2vein.cli.common import database, emit_json, handle_errors, server_scope
    from vein2vein.scheduling import views

    @handle_errors
    def run() -> None:
        db = database()
        scope = server_scope(db, org, need_cdmo=True)
        with db.read() as session:
            rows = views.list_suites(session, scope)
        if as_json:
            emit_json(rows)
            return
        table = Table(title="Suites")
        for column in ("suite", "site", "infectious", "changeover", "decon", "from", "downtime"):
            table.add_column(column)
        for s in rows:
            down = "; ".join(
                f"{w['first_day']}..{w['last_day']} {w['reason']}"
                for w in s["downtime"]
                if w["active"]
            )
            table.add_row(
                s["code"],
                s["site"] or "",
                "yes" if s["infectious"] else "no",
                str(s["changeover_days"]),
                str(s["decon_days"]),
                s["available_from"],
                down,
            )
        Console().print(table)

    run()


@app.command("status")
def status_command(
    org: OrgOpt = None,
    margin_days: Annotated[int | None, typer.Option(help="at-risk margin in days")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The latest published plan: version, metrics and the orders at risk (from the store)."""
    from vein2vein.cli.common import database, emit_json, handle_errors, server_scope
    from vein2vein.scheduling import views

    @handle_errors
    def run() -> None:
        db = database()
        scope = server_scope(db, org, need_cdmo=True)
        with db.read() as session:
            plan_id = views.latest_plan_id(session, scope)
            detail = (
                None if plan_id is None else views.plan_detail(session, scope, plan_id, margin_days)
            )
        if as_json:
            emit_json({"plan": detail})
            return
        if detail is None:
            typer.echo("no plan has been published yet")
            return
        m = detail["metrics"]
        typer.echo(
            f"version {detail['version']} ({detail['method']}, planned {detail['plan_day']}, "
            f"published by {detail['published_by']}): {m['scheduled']}/{m['orders']} scheduled, "
            f"{m['late_orders']} late ({m['total_days_late']} days), "
            f"mean vein-to-vein {m['mean_vein_to_vein_days']} days"
        )
        for r in detail["at_risk"]:
            typer.echo(f"at risk: {r['order_id']} required by {r['required_by']}: {r['reason']}")

    run()


@app.command("publish")
def publish_command(
    user: Annotated[str, typer.Option("--user", help="the planner publishing (asks the password)")],
    method: Annotated[str, typer.Option(help="greedy or cpsat")] = "greedy",
    time_limit: Annotated[float, typer.Option("--time-limit", help="seconds (at most 8)")] = 5.0,
    mode: Annotated[str, typer.Option(help="replan (fewest changes) or plan (from scratch)")] = (
        "replan"
    ),
    comment: Annotated[str, typer.Option(help="why this version is published")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Compute a plan from the store and publish it as the next version (validated first).

    The password is asked for (or read from the first line of standard input): a published plan
    is attributed to the person who published it.
    """
    from vein2vein.cli.common import database, emit_json, handle_errors, login
    from vein2vein.scheduling import planning, views

    @handle_errors
    def run() -> None:
        db = database()
        scope, actor = login(db, user)
        draft_id = planning.compute_draft_in_steps(
            db, actor, scope, method=method, time_limit=time_limit, mode=mode
        )
        with db.uow(actor) as uow:
            row = planning.publish(uow, scope, draft_id, comment)
            uow.commit()
            plan_id = row.id
        with db.read() as session:
            detail = views.plan_detail(session, scope, plan_id)
        if as_json:
            emit_json(detail)
            return
        m = detail["metrics"]
        typer.echo(
            f"published version {detail['version']}: {m['scheduled']}/{m['orders']} scheduled, "
            f"{m['late_orders']} late, {len(detail['changes'])} change(s)"
        )

    run()
