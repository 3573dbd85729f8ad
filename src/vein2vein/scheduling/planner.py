"""One way in for every caller (CLI, web, bench): make a plan, check it, and render it as JSON."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from vein2vein.core.errors import InputError
from vein2vein.scheduling.bounds import bound_seconds, with_days_late_bound
from vein2vein.scheduling.cpsat import ProgressFn, solve_cpsat
from vein2vein.scheduling.greedy import greedy_plan
from vein2vein.scheduling.model import (
    Assignment,
    CrossSite,
    Plan,
    Problem,
    Unscheduled,
    cross_site_batches,
)
from vein2vein.scheduling.objectives import Objectives
from vein2vein.scheduling.validator import ValidationReport, validate_plan

METHODS = ("greedy", "cpsat")


def make_plan(
    problem: Problem,
    *,
    method: str = "cpsat",
    time_limit: float = 10.0,
    num_workers: int = 2,
    objectives: Objectives | None = None,
    progress: ProgressFn | None = None,
    seed: int = 0,
) -> Plan:
    if method == "greedy":
        # the plan at once, then the lower bound on days late with the share of the time limit
        # a solver would give it
        return with_days_late_bound(
            problem, greedy_plan(problem), time_limit=bound_seconds(time_limit)
        )
    if method == "cpsat":
        if time_limit <= 0:
            raise InputError("time limit must be positive", field="time_limit")
        if num_workers < 1:
            raise InputError("at least one worker is needed", field="num_workers")
        return solve_cpsat(
            problem,
            time_limit=time_limit,
            num_workers=num_workers,
            objectives=objectives,
            progress=progress,
            seed=seed,
        )
    raise InputError(f"unknown method {method!r}: use {' or '.join(METHODS)}", field="method")


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def plan_to_json(
    problem: Problem, plan: Plan, report: ValidationReport | None = None
) -> dict[str, Any]:
    """The plan as the CLI prints it: ``assignments``, ``metrics`` (the five numbers the issue
    fixed), then the unscheduled orders, the solver's account, the provenance (method, options,
    input hash, OR-Tools version) and the validator's verdict. A batch made at another site than
    the one that received its material carries ``transfer`` (from and to site, shipping days).
    The solver's account includes
    ``lower_bound_days_late`` (no plan leaving no more orders unplaced has fewer total days
    late), ``days_late_gap`` (this plan's relative distance to that bound) and how the bound was
    reached."""
    report = report or validate_plan(problem, plan)
    m = report.metrics
    info = plan.info
    moves = {c.order_id: c for c in cross_site_batches(problem, plan)}
    return {
        "assignments": [
            {
                "order_id": a.order_id,
                "suite": a.suite_id,
                "start": a.start.isoformat(),
                "end": a.end.isoformat(),
                "release": a.release.isoformat(),
                "ship": a.ship.isoformat(),
            }
            | _transfer(moves.get(a.order_id))
            for a in plan.assignments
        ],
        "metrics": {
            "mean_vein_to_vein_days": _round(m.mean_vein_to_vein_days, 3),
            "late_orders": m.late_orders,
            "total_days_late": m.total_days_late,
            "utilisation": _round(m.utilisation, 4),
            "gap": _round(info.gap, 4) if info is not None else None,
        },
        "unscheduled": [{"order_id": u.order_id, "reason": u.reason} for u in plan.unscheduled],
        "summary": {
            "orders": m.orders,
            "scheduled": m.scheduled,
            "unscheduled": m.unscheduled,
            "max_vein_to_vein_days": m.max_vein_to_vein_days,
            "makespan_days": m.makespan_days,
            "origin": problem.origin.isoformat(),
        },
        "solver": None
        if info is None
        else {
            "method": info.method,
            "status": info.status,
            "wall_seconds": round(info.wall_seconds, 3),
            "first_feasible_seconds": _round(info.first_feasible_seconds, 3),
            "levels": [
                {
                    "objective": lv.name,
                    "value": lv.value,
                    "bound": lv.bound,
                    "status": lv.status,
                    "seconds": round(lv.seconds, 3),
                }
                for lv in info.levels
            ],
            "options": dict(info.options),
            "lower_bound_days_late": info.lower_bound_days_late,
            "days_late_gap": _round(info.days_late_gap, 4),
            "bound": dict(info.bound) if info.bound is not None else None,
        },
        "provenance": plan.provenance.to_dict() if plan.provenance is not None else None,
        "validation": {
            "ok": report.ok,
            "violations": [
                {"rule": v.rule, "message": v.message, "order_id": v.order_id, "suite": v.suite_id}
                for v in report.violations
            ],
        },
    }


def _transfer(move: CrossSite | None) -> dict[str, Any]:
    """``transfer`` of a batch made at another site than its material's (absent otherwise)."""
    if move is None:
        return {}
    return {"transfer": {"from_site": move.from_site, "to_site": move.to_site, "days": move.days}}


def plan_from_json(data: Mapping[str, Any], source: str = "plan") -> Plan:
    """Read back the ``assignments`` (and ``unscheduled``) of a plan printed by ``plan_to_json``."""
    rows = data.get("assignments")
    if not isinstance(rows, list):
        raise InputError("has no 'assignments' list", file=source)
    out = []
    for number, row in enumerate(rows, start=1):
        try:
            out.append(
                Assignment(
                    order_id=str(row["order_id"]),
                    suite_id=str(row["suite"]),
                    start=dt.date.fromisoformat(row["start"]),
                    end=dt.date.fromisoformat(row["end"]),
                    release=dt.date.fromisoformat(row["release"]),
                    ship=dt.date.fromisoformat(row["ship"]),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"assignment {number} is malformed: {exc}", file=source) from None
    unscheduled = tuple(
        Unscheduled(str(u.get("order_id")), str(u.get("reason", "")))
        for u in data.get("unscheduled", [])
        if isinstance(u, dict)
    )
    return Plan(tuple(out), unscheduled)
