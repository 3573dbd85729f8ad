"""Problem snapshots (what a published plan was validated on) and re-planning that trusts the
problem's own started batches (the store records the start of manufacturing)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.scheduling.conftest import D, order

from vein2vein.core.errors import InputError
from vein2vein.scheduling import greedy_plan, validate_plan
from vein2vein.scheduling.model import FixedBatch, Plan, Problem
from vein2vein.scheduling.replan import BatchFailed, apply_events, replan
from vein2vein.scheduling.snapshot import problem_from_json, problem_to_json


def test_snapshot_round_trip_keeps_every_field(small: Problem) -> None:
    fixed = dataclasses.replace(
        small.orders[0], fixed=FixedBatch("A", D(2026, 3, 2)), start_weekdays=frozenset({0, 2})
    )
    problem = small.replace(orders=(fixed, *small.orders[1:]), qc_capacity=2, today=D(2026, 3, 3))
    assert problem_from_json(problem_to_json(problem)) == problem


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    hold=st.integers(0, 400),
    process=st.integers(1, 30),
    shift=st.integers(0, 60),
    infectious=st.booleans(),
)
def test_snapshot_round_trip_property(
    small: Problem, hold: int, process: int, shift: int, infectious: bool
) -> None:
    o = order(
        "P",
        D(2026, 1, 1) + dt.timedelta(days=shift),
        max_hold_days=hold,
        process_days=process,
        infectious=infectious,
    )
    problem = small.replace(orders=(o,))
    assert problem_from_json(problem_to_json(problem)) == problem


def test_malformed_snapshot_names_the_field(small: Problem) -> None:
    data = problem_to_json(small)
    data["orders"][0]["receipt_date"] = "03/02/2026"
    with pytest.raises(InputError) as err:
        problem_from_json(data)
    assert err.value.field == "receipt_date"


def test_started_from_problem_trusts_the_recorded_start_not_the_plan(small: Problem) -> None:
    published = greedy_plan(small)
    first = published.assignments[0]
    # the store says this batch really started two days later than planned, in the same suite
    real = first.start + dt.timedelta(days=2)
    orders = tuple(
        dataclasses.replace(o, fixed=FixedBatch(first.suite_id, real))
        if o.order_id == first.order_id
        else o
        for o in small.orders
    )
    store = small.replace(orders=orders)
    now = real + dt.timedelta(days=1)
    by_plan = apply_events(store, published, now).order_by_id[first.order_id].fixed
    by_store = apply_events(store, published, now, started_from="problem")
    assert by_plan == FixedBatch(first.suite_id, first.start)  # the published dates win
    assert by_store.order_by_id[first.order_id].fixed == FixedBatch(first.suite_id, real)
    # batches the plan had started before `now` but the store has not are not fixed
    assert all(o.fixed is None for o in by_store.orders if o.order_id != first.order_id)
    result = replan(store, published, now, method="greedy", started_from="problem")
    assert validate_plan(result.problem, result.plan).ok
    assert result.plan.by_order[first.order_id].start == real
    failed = replan(
        store,
        published,
        now,
        [BatchFailed(first.order_id, now)],
        method="greedy",
        started_from="problem",
    )
    assert [c.kind for c in failed.changes if c.order_id == first.order_id] == ["replaced"]
    with pytest.raises(ValueError, match="started_from"):
        apply_events(store, Plan(()), now, started_from="guess")
