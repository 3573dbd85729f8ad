"""Due-date dispatching (CP-SAT's second starting plan): urgent first, always valid."""

from __future__ import annotations

import pytest

from vein2vein.scheduling.dispatch import dispatch_plan
from vein2vein.scheduling.generator import GeneratorConfig, generate_problem
from vein2vein.scheduling.model import Problem, Suite
from vein2vein.scheduling.validator import validate_plan

from .conftest import D, order


def test_the_urgent_batch_goes_first_when_the_suite_frees() -> None:
    problem = Problem(
        orders=(
            order("BUSY", D(2026, 3, 2)),
            order("RELAXED", D(2026, 3, 3), required_by=D(2026, 5, 1), max_hold_days=60),
            order("URGENT", D(2026, 3, 4), required_by=D(2026, 3, 22)),
        ),
        suites=(Suite("A", False, D(2026, 3, 2), 1, 0),),
    )
    plan = dispatch_plan(problem)
    assert validate_plan(problem, plan).ok
    assert plan.by_order["URGENT"].start == D(2026, 3, 8)  # first day A is free again
    assert plan.by_order["RELAXED"].start > plan.by_order["URGENT"].start


def test_fresh_material_is_booked_on_receipt() -> None:
    problem = Problem(
        orders=(
            order("C1", D(2026, 3, 2), max_hold_days=60, required_by=D(2026, 3, 20)),
            order("F1", D(2026, 3, 3), max_hold_days=1, required_by=D(2026, 4, 30)),
        ),
        suites=(Suite("A", False, D(2026, 3, 2), 1, 0),),
    )
    plan = dispatch_plan(problem)
    assert validate_plan(problem, plan).ok and not plan.unscheduled


@pytest.mark.parametrize("seed", [0, 1])
def test_generated_instances_give_valid_plans(seed: int) -> None:
    problem = generate_problem(GeneratorConfig(orders=200, seed=seed, weekday_starts=seed == 1))
    report = validate_plan(problem, dispatch_plan(problem))
    assert report.ok, report.summary()


@pytest.mark.parametrize("k", [0.5, 1.0])
def test_apparent_tardiness_cost_rule_gives_a_valid_plan(k: float) -> None:
    problem = generate_problem(GeneratorConfig(orders=150, seed=2, weekday_starts=True))
    plan = dispatch_plan(problem, rule="atc", k=k)
    assert validate_plan(problem, plan).ok
    assert plan.info is not None and plan.info.options == {"rule": "atc", "k": k}


def test_an_unknown_rule_is_refused(small: Problem) -> None:
    with pytest.raises(ValueError, match="unknown dispatching rule"):
        dispatch_plan(small, rule="fifo")
