"""Capacity scheduling: patient batches over GMP suites and the QC laboratory.

Pure: plain dataclasses in, plans out, no database. See docs/scheduling.md.
"""

from vein2vein.scheduling.cpsat import SolveProgress, solve_cpsat
from vein2vein.scheduling.dispatch import dispatch_plan
from vein2vein.scheduling.files import load_problem
from vein2vein.scheduling.gantt import AtRisk, gantt_figure, orders_at_risk
from vein2vein.scheduling.generator import GeneratorConfig, generate_problem
from vein2vein.scheduling.greedy import greedy_plan
from vein2vein.scheduling.model import (
    Assignment,
    Downtime,
    FixedBatch,
    Order,
    Plan,
    Problem,
    SolveInfo,
    Suite,
    Unscheduled,
)
from vein2vein.scheduling.objectives import Objectives
from vein2vein.scheduling.planner import make_plan, plan_from_json, plan_to_json
from vein2vein.scheduling.replan import (
    BatchFailed,
    OrderArrived,
    OrderCancelled,
    Replan,
    SuiteDown,
    apply_events,
    replan,
)
from vein2vein.scheduling.validator import PlanMetrics, ValidationReport, Violation, validate_plan

__all__ = [
    "Assignment",
    "AtRisk",
    "BatchFailed",
    "Downtime",
    "FixedBatch",
    "GeneratorConfig",
    "Objectives",
    "Order",
    "OrderArrived",
    "OrderCancelled",
    "Plan",
    "PlanMetrics",
    "Problem",
    "Replan",
    "SolveInfo",
    "SolveProgress",
    "Suite",
    "SuiteDown",
    "Unscheduled",
    "ValidationReport",
    "Violation",
    "apply_events",
    "dispatch_plan",
    "gantt_figure",
    "generate_problem",
    "greedy_plan",
    "load_problem",
    "make_plan",
    "orders_at_risk",
    "plan_from_json",
    "plan_to_json",
    "replan",
    "solve_cpsat",
    "validate_plan",
]
