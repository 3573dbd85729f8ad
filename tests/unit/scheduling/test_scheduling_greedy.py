"""First-come-first-served baseline: behaviour on hand-made cases, validity on generated ones."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vein2vein.core.errors import RuleViolation
from vein2vein.scheduling.generator import GeneratorConfig, generate_problem
from vein2vein.scheduling.greedy import greedy_plan
from vein2vein.scheduling.model import FixedBatch, Problem, Suite
from vein2vein.scheduling.validator import validate_plan

from .conftest import D, order


def one_suite(*orders, **kw) -> Problem:
    return Problem(orders=tuple(orders), suites=(Suite("A", False, D(2026, 3, 2), 1, 0),), **kw)


def test_first_come_first_served_in_one_suite() -> None:
    # O2 is more urgent but received later: the baseline still serves O1 first.
    problem = one_suite(
        order("O1", D(2026, 3, 2), required_by=D(2026, 5, 1)),
        order("O2", D(2026, 3, 3), required_by=D(2026, 3, 20)),
    )
    plan = greedy_plan(problem)
    assert validate_plan(problem, plan).ok
    assert plan.by_order["O1"].start == D(2026, 3, 2)
    assert plan.by_order["O2"].start == D(2026, 3, 8)  # after 5 days + 1 changeover


def test_earliest_suite_and_spare_infectious_suite() -> None:
    problem = Problem(
        orders=(order("N1", D(2026, 3, 2)), order("I1", D(2026, 3, 2), infectious=True)),
        suites=(Suite("INF", True, D(2026, 3, 2), 1, 3), Suite("A", False, D(2026, 3, 2), 1, 0)),
    )
    plan = greedy_plan(problem)
    assert plan.by_order["N1"].suite_id == "A"  # ties keep the infectious suite free
    assert plan.by_order["I1"].suite_id == "INF"


def test_gap_filling_uses_room_left_by_later_bookings() -> None:
    # O1 holds A until 6 March (3 + 1). O2 may start only on Mondays: 9 March. O3, received
    # after both, fits in the gap from 6 to 9 March (2 days + 1 changeover).
    problem = one_suite(
        order("O1", D(2026, 3, 2), process_days=3),
        order("O2", D(2026, 3, 3), start_weekdays=frozenset({0})),
        order("O3", D(2026, 3, 4), process_days=2),
    )
    plan = greedy_plan(problem)
    assert validate_plan(problem, plan).ok
    assert [plan.by_order[o].start.day for o in ("O1", "O2", "O3")] == [2, 9, 6]


def test_fresh_material_moves_a_cryopreserved_batch() -> None:
    # C1 (cryopreserved) books the suite first; F1 (fresh, 1-day hold) would expire: the
    # planner moves C1 after F1.
    problem = one_suite(
        order("C1", D(2026, 3, 2), max_hold_days=60),
        order("F1", D(2026, 3, 3), max_hold_days=1),
    )
    plan = greedy_plan(problem)
    assert validate_plan(problem, plan).ok
    assert not plan.unscheduled
    assert plan.by_order["F1"].start <= D(2026, 3, 4)
    assert plan.by_order["C1"].start > plan.by_order["F1"].start


def test_unplaceable_orders_are_reported_with_a_reason() -> None:
    problem = one_suite(order("I1", D(2026, 3, 2), infectious=True))
    plan = greedy_plan(problem)
    assert [u.order_id for u in plan.unscheduled] == ["I1"]
    assert "infectious" in plan.unscheduled[0].reason
    assert validate_plan(problem, plan).ok


def test_expired_hold_before_today() -> None:
    problem = one_suite(order("O1", D(2026, 3, 2), max_hold_days=2), today=D(2026, 3, 10))
    plan = greedy_plan(problem)
    assert "hold expired" in plan.unscheduled[0].reason


def test_fixed_batches_stay_and_clashes_are_refused() -> None:
    fixed = order("F", D(2026, 3, 2), fixed=FixedBatch("A", D(2026, 3, 4)))
    problem = one_suite(order("O1", D(2026, 3, 2)), fixed)
    plan = greedy_plan(problem)
    assert plan.by_order["F"].start == D(2026, 3, 4)
    assert validate_plan(problem, plan).ok
    clash = dataclasses.replace(fixed, order_id="G", fixed=FixedBatch("A", D(2026, 3, 6)))
    with pytest.raises(RuleViolation, match="fixed"):
        greedy_plan(one_suite(fixed, clash))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generated_instances_give_valid_plans(seed: int) -> None:
    problem = generate_problem(GeneratorConfig(orders=150, seed=seed, weekday_starts=seed == 2))
    plan = greedy_plan(problem)
    report = validate_plan(problem, plan)
    assert report.ok, report.summary()
    assert report.metrics.scheduled + report.metrics.unscheduled == 150


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 20),  # receipt offset
            st.integers(0, 15),  # hold
            st.integers(1, 8),  # process
            st.integers(0, 6),  # qc
            st.booleans(),  # infectious
            st.sets(st.integers(0, 6), min_size=1),  # start weekdays
        ),
        min_size=1,
        max_size=12,
    ),
    st.integers(1, 3),
    st.one_of(st.none(), st.integers(1, 3)),
    st.one_of(st.none(), st.integers(1, 2)),
)
def test_greedy_plans_always_pass_the_validator(rows, suites, qc, starts) -> None:
    orders = [
        order(
            f"O{k}",
            D(2026, 3, 2 + r),
            max_hold_days=h,
            process_days=p,
            qc_days=q,
            infectious=inf,
            start_weekdays=frozenset(days),
        )
        for k, (r, h, p, q, inf, days) in enumerate(rows)
    ]
    problem = Problem(
        orders=tuple(orders),
        suites=tuple(Suite(f"S{k}", k == 0, D(2026, 3, 2 + k), 1, 2) for k in range(suites)),
        qc_capacity=qc,
        max_starts_per_day=starts,
    )
    report = validate_plan(problem, greedy_plan(problem))
    assert report.ok, report.summary()
