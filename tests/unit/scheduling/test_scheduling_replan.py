"""Rolling re-planning: started batches stay, events apply, few published batches move."""

from __future__ import annotations

import pytest

from vein2vein.core.errors import Conflict, NotFound, RuleViolation
from vein2vein.scheduling.generator import GeneratorConfig, generate_problem
from vein2vein.scheduling.greedy import greedy_plan
from vein2vein.scheduling.model import Problem, Suite
from vein2vein.scheduling.replan import (
    BatchFailed,
    OrderArrived,
    OrderCancelled,
    SuiteDown,
    apply_events,
    replan,
)
from vein2vein.scheduling.validator import validate_plan

from .conftest import D, order

FAST = {"time_limit": 3.0, "num_workers": 2}


@pytest.fixture
def published() -> tuple[Problem, object]:
    problem = generate_problem(GeneratorConfig(orders=40, seed=5))
    return problem, greedy_plan(problem)


def mid(problem: Problem, plan) -> object:
    starts = sorted(a.start for a in plan.assignments)
    return starts[len(starts) // 2]


@pytest.mark.parametrize("method", ["greedy", "cpsat"])
def test_new_order_started_batches_stay(published, method) -> None:
    problem, plan = published
    now = mid(problem, plan)
    new = order("NEW", now, required_by=now + (D(2026, 1, 30) - D(2026, 1, 1)), max_hold_days=60)
    result = replan(problem, plan, now, [OrderArrived(new)], method=method, **FAST)
    report = validate_plan(result.problem, result.plan)
    assert report.ok, report.summary()
    for a in plan.assignments:
        if a.start < now:
            assert result.plan.by_order[a.order_id] == a
    assert "NEW" in result.plan.by_order
    assert [c.kind for c in result.changes if c.order_id == "NEW"] == ["new"]


def test_nothing_happened_nothing_moves(published) -> None:
    problem, plan = published
    result = replan(problem, plan, mid(problem, plan), [], method="cpsat", **FAST)
    assert validate_plan(result.problem, result.plan).ok
    assert result.moved == 0


def test_batch_failure_blocks_the_suite_and_replaces_the_batch(published) -> None:
    problem, plan = published
    now = mid(problem, plan)
    victim = max((a for a in plan.assignments if a.start < now), key=lambda a: a.start)
    on = victim.start
    result = replan(problem, plan, now, [BatchFailed(victim.order_id, on)], method="cpsat", **FAST)
    assert validate_plan(result.problem, result.plan).ok
    suite = result.problem.suite_by_id[victim.suite_id]
    assert any("failed batch" in w.reason for w in suite.downtime)
    retry = result.problem.order_by_id[victim.order_id]
    assert retry.fixed is None and retry.receipt_date == on
    new = result.plan.by_order.get(victim.order_id)
    assert new is None or new.start >= now
    kinds = {c.kind for c in result.changes if c.order_id == victim.order_id}
    assert kinds <= {"replaced", "unscheduled"}


def test_suite_down_moves_its_batches(published) -> None:
    problem, plan = published
    now = mid(problem, plan)
    suite = plan.assignments[-1].suite_id
    result = replan(problem, plan, now, [SuiteDown(suite, now)], method="greedy")
    assert validate_plan(result.problem, result.plan).ok
    assert all(a.suite_id != suite or a.start < now for a in result.plan.assignments)


def test_cancelled_order_leaves(published) -> None:
    problem, plan = published
    now = mid(problem, plan)
    later = next(a for a in plan.assignments if a.start >= now)
    result = replan(problem, plan, now, [OrderCancelled(later.order_id)], method="greedy")
    assert later.order_id not in result.problem.order_by_id
    assert [c.kind for c in result.changes if c.order_id == later.order_id] == ["cancelled"]


def test_events_are_checked(published) -> None:
    problem, plan = published
    now = mid(problem, plan)
    started = next(a for a in plan.assignments if a.start < now)
    waiting = next(a for a in plan.assignments if a.start >= now)
    with pytest.raises(Conflict):
        apply_events(problem, plan, now, [OrderArrived(problem.orders[0])])
    with pytest.raises(NotFound):
        apply_events(problem, plan, now, [OrderCancelled("nope")])
    with pytest.raises(RuleViolation, match="started"):
        apply_events(problem, plan, now, [OrderCancelled(started.order_id)])
    with pytest.raises(RuleViolation, match="no batch in manufacturing"):
        apply_events(problem, plan, now, [BatchFailed(waiting.order_id, now)])
    with pytest.raises(NotFound):
        apply_events(problem, plan, now, [SuiteDown("nope", now)])


def test_replan_prefers_fewer_changes_over_shorter_vein_to_vein() -> None:
    # Published plan serves O1 then O2 in one suite; a new order with a long hold arrives. It
    # must not push the published batches around when it can go after them.
    base = Problem(
        orders=(order("O1", D(2026, 3, 2)), order("O2", D(2026, 3, 2))),
        suites=(Suite("A", False, D(2026, 3, 2), 1, 0),),
    )
    plan = greedy_plan(base)
    arrival = order("O3", D(2026, 3, 2), max_hold_days=40, required_by=D(2026, 5, 1))
    result = replan(base, plan, D(2026, 3, 1), [OrderArrived(arrival)], method="cpsat", **FAST)
    assert validate_plan(result.problem, result.plan).ok
    assert result.moved == 0
