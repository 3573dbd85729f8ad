"""Capacity scheduling: patient batches over GMP suites and the QC laboratory.

Pure: plain dataclasses in, plans out, no database. See docs/scheduling.md.
"""

# The solvers import OR-Tools and the Gantt chart plotly; load them on first use (PEP 562
# module __getattr__), so that a page or command that only reads a delivery projection
# (``scheduling.delivery``) does not load a solver.
from __future__ import annotations

from vein2vein.core.lazy import lazy_exports

_EXPORTS = {
    "SolveProgress": "cpsat",
    "solve_cpsat": "cpsat",
    "dispatch_plan": "dispatch",
    "load_problem": "files",
    "AtRisk": "gantt",
    "gantt_figure": "gantt",
    "orders_at_risk": "gantt",
    "GeneratorConfig": "generator",
    "generate_problem": "generator",
    "greedy_plan": "greedy",
    "Assignment": "model",
    "Downtime": "model",
    "FixedBatch": "model",
    "Order": "model",
    "Plan": "model",
    "Problem": "model",
    "SolveInfo": "model",
    "Suite": "model",
    "Unscheduled": "model",
    "Objectives": "objectives",
    "make_plan": "planner",
    "plan_from_json": "planner",
    "plan_to_json": "planner",
    "BatchFailed": "replan",
    "OrderArrived": "replan",
    "OrderCancelled": "replan",
    "Replan": "replan",
    "SuiteDown": "replan",
    "apply_events": "replan",
    "replan": "replan",
    "PlanMetrics": "validator",
    "ValidationReport": "validator",
    "Violation": "validator",
    "validate_plan": "validator",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
