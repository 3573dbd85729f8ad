"""The lower bound on days late: exact where it can be checked by hand, never above the optimum
(CP-SAT solved to optimality on small random instances) nor above any plan, and its evaluation
equal to brute force."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vein2vein.scheduling.bounds import (
    _RangeMin,
    _Relaxation,
    bound_seconds,
    days_late_bound,
    plan_days_late,
    with_days_late_bound,
)
from vein2vein.scheduling.cpsat import solve_cpsat
from vein2vein.scheduling.dispatch import dispatch_plan
from vein2vein.scheduling.generator import GeneratorConfig, generate_problem
from vein2vein.scheduling.greedy import greedy_plan
from vein2vein.scheduling.instance import Instance
from vein2vein.scheduling.model import Downtime, FixedBatch, Order, Problem, Suite
from vein2vein.scheduling.objectives import Objectives
from vein2vein.scheduling.planner import make_plan, plan_to_json
from vein2vein.scheduling.validator import validate_plan

from .conftest import D, order

LATE_ONLY = Objectives.parse("unscheduled,days_late")


def test_two_urgent_batches_in_one_suite_bound_is_the_optimum() -> None:
    # Both are due exactly a lead time after receipt; one must wait for the other and its
    # changeover (5 + 1 days). The capacity-free floor says 0; the relaxation says 6.
    lead = 5 + 7 + 1
    problem = Problem(
        orders=tuple(
            order(oid, D(2026, 3, 2), required_by=D(2026, 3, 2) + dt.timedelta(days=lead))
            for oid in ("A", "B")
        ),
        suites=(Suite("S", False, D(2026, 3, 2), 1, 0),),
    )
    bound = days_late_bound(problem, time_limit=5.0)
    assert bound.floor == 0
    assert bound.value == 6
    plan = solve_cpsat(problem, time_limit=5.0, objectives=LATE_ONLY)
    assert validate_plan(problem, plan).metrics.total_days_late == 6
    assert plan.info is not None and plan.info.lower_bound_days_late == 6
    assert plan.info.days_late_gap == 0.0


def test_started_batches_count_and_take_their_suite() -> None:
    lead = 5 + 7 + 1
    started = order(
        "F",
        D(2026, 3, 1),
        required_by=D(2026, 3, 1),  # already 13 days late at its fixed start
        fixed=FixedBatch("S", D(2026, 3, 1)),
    )
    waiting = order("W", D(2026, 3, 2), required_by=D(2026, 3, 2) + dt.timedelta(days=lead))
    problem = Problem(
        orders=(started, waiting),
        suites=(Suite("S", False, D(2026, 3, 1), 1, 0),),
        today=D(2026, 3, 2),
    )
    bound = days_late_bound(problem, time_limit=5.0)
    # F runs 1-6 March (+1 day changeover): W starts on the 7th at the earliest, 5 days late.
    assert bound.value == 13 + 5
    assert validate_plan(problem, greedy_plan(problem)).metrics.total_days_late == 18


def test_infectious_material_only_counts_designated_suites() -> None:
    lead = 5 + 7 + 1
    due = D(2026, 3, 2) + dt.timedelta(days=lead)
    problem = Problem(
        orders=tuple(order(oid, D(2026, 3, 2), required_by=due, infectious=True) for oid in "AB"),
        suites=(
            Suite("INF", True, D(2026, 3, 2), 1, 2),
            Suite("ORD", False, D(2026, 3, 2), 1, 0),
        ),
    )
    # The ordinary suite is of no use: one batch waits 5 + 1 + 2 (decontamination) days.
    assert days_late_bound(problem, time_limit=5.0).value == 8


def test_downtime_and_weekdays_are_respected() -> None:
    lead = 5 + 7 + 1
    mon = D(2026, 3, 2)
    problem = Problem(
        orders=(
            order("A", mon, required_by=mon + dt.timedelta(lead), start_weekdays=frozenset({0})),
        ),
        suites=(Suite("S", False, mon, 1, 0, (Downtime(mon, mon + dt.timedelta(days=1)),)),),
    )
    # Down on Monday 2 March, and the product starts on Mondays only: 9 March, 7 days late.
    assert days_late_bound(problem, time_limit=1.0).value == 7


def test_orders_left_unplaced_lower_the_bound_only_as_allowed() -> None:
    lead = 5 + 7 + 1
    problem = Problem(
        orders=tuple(
            order(
                o, D(2026, 3, 2), max_hold_days=30, required_by=D(2026, 3, 2) + dt.timedelta(lead)
            )
            for o in "ABC"
        ),
        suites=(Suite("S", False, D(2026, 3, 2), 1, 0),),
    )
    assert days_late_bound(problem, time_limit=5.0).value == 0 + 6 + 12
    assert days_late_bound(problem, unplaced=1, time_limit=5.0).value == 6
    assert days_late_bound(problem, placed=["A", "B"], time_limit=5.0).value == 6


# -- evaluation: sparse tables and the Lagrangian value against brute force ------------------


@given(
    st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=60),
    st.data(),
)
def test_range_minimum_matches_brute_force(values: list[float], data: st.DataObject) -> None:
    array = np.array(values)
    table = _RangeMin(array, len(values))
    a = data.draw(st.integers(0, len(values) - 1))
    b = data.draw(st.integers(a, len(values) - 1))
    i = table.argmin(np.array([a]), np.array([b]))[0]
    assert a <= i <= b and array[i] == min(values[a : b + 1])


def test_lagrangian_value_equals_brute_force() -> None:
    problem = generate_problem(GeneratorConfig(orders=60, seed=4, weekday_starts=True))
    relax = _Relaxation(Instance(problem))
    rng = np.random.default_rng(7)
    multipliers = [rng.random(m.shape) * 0.5 for m in relax.zeros()]
    value, chosen = relax.price(multipliers, 0)
    lam, mu, nu = relax._split(multipliers)
    assert mu is not None and nu is not None
    costs = np.full(relax.n_jobs, np.inf)
    origin = relax.inst.origin
    for r in range(len(relax.job)):
        allowed = relax.inst.jobs[0].order.start_weekdays  # every order here: Monday to Friday
        for t in range(relax.lo[r], relax.hi[r] + 1):
            if allowed is not None and (origin.weekday() + t) % 7 not in allowed:
                continue
            occ, p, q = relax.occ[r], relax.p[r], relax.q[r]
            cost = max(0, t - relax.s[r]) + lam[relax.cls[r], t : t + occ].sum()
            cost += mu[t + p : t + p + q].sum() + nu[t]
            costs[relax.job[r]] = min(costs[relax.job[r]], cost)
    expected = costs.sum() - (relax.cap * lam).sum()
    expected -= (relax.qc_cap * mu).sum() + (relax.start_cap * nu).sum()
    assert value == pytest.approx(expected, abs=1e-6)
    assert (chosen >= 0).all()


# -- never above the optimum nor above any plan ---------------------------------------------


@st.composite
def small_problems(draw: st.DrawFn) -> Problem:
    mon = D(2026, 3, 2)
    n_suites = draw(st.integers(1, 3))
    suites = []
    for k in range(n_suites):
        down: tuple[Downtime, ...] = ()
        if draw(st.booleans()):
            first = mon + dt.timedelta(days=draw(st.integers(0, 12)))
            down = (Downtime(first, first + dt.timedelta(days=draw(st.integers(1, 4)))),)
        suites.append(
            Suite(
                f"S{k}",
                infectious=(k == 0 and draw(st.booleans())),
                available_from=mon + dt.timedelta(days=draw(st.integers(0, 3))),
                changeover_days=draw(st.integers(0, 2)),
                decon_days=draw(st.integers(0, 3)),
                downtime=down,
            )
        )
    orders = []
    for n in range(draw(st.integers(1, 6))):
        receipt = mon + dt.timedelta(days=draw(st.integers(0, 8)))
        p, q, ship = draw(st.integers(1, 6)), draw(st.integers(0, 5)), draw(st.integers(0, 2))
        orders.append(
            Order(
                order_id=f"O{n}",
                receipt_date=receipt,
                max_hold_days=draw(st.integers(0, 20)),
                required_by=receipt + dt.timedelta(days=p + q + ship + draw(st.integers(-2, 6))),
                infectious=draw(st.integers(0, 4)) == 0,
                process_days=p,
                qc_days=q,
                ship_days=ship,
                start_weekdays=draw(st.sampled_from([None, frozenset(range(5))])),
            )
        )
    return Problem(
        orders=tuple(orders),
        suites=tuple(suites),
        qc_capacity=draw(st.sampled_from([None, 1, 2])),
        max_starts_per_day=draw(st.sampled_from([None, 1, 2])),
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(small_problems())
def test_bound_never_exceeds_the_proven_optimum(problem: Problem) -> None:
    plan = solve_cpsat(problem, time_limit=10.0, num_workers=2, objectives=LATE_ONLY)
    assert plan.info is not None
    if plan.info.status != "OPTIMAL":
        return  # only proven optima are a reference
    best = validate_plan(problem, plan).metrics.total_days_late
    # every plan leaving as many orders unplaced as the optimum (the fewest possible)
    bound = days_late_bound(problem, unplaced=len(plan.unscheduled), time_limit=1.0)
    assert bound.floor <= bound.value <= best
    assert plan.info.lower_bound_days_late is not None
    assert plan.info.lower_bound_days_late <= best


@pytest.mark.parametrize(("orders", "seed"), [(40, 0), (150, 1), (400, 2), (1000, 1)])
def test_bound_never_exceeds_greedy_dispatch_or_cpsat(orders: int, seed: int) -> None:
    problem = generate_problem(GeneratorConfig(orders=orders, seed=seed))
    plans = [greedy_plan(problem), dispatch_plan(problem), dispatch_plan(problem, rule="atc")]
    if orders <= 400:
        plans.append(solve_cpsat(problem, time_limit=4.0, num_workers=2))
    bounds = {}
    for plan in plans:
        late = validate_plan(problem, plan).metrics.total_days_late
        assert late == plan_days_late(problem, plan)
        k = len(plan.unscheduled)
        if k not in bounds:
            bounds[k] = days_late_bound(problem, unplaced=k, time_limit=2.0, target=late)
        assert bounds[k].value <= late
        if orders >= 400:  # congested: far above the capacity-free floor
            assert bounds[k].floor == 0 and bounds[k].value >= 0.25 * late


def test_every_plan_reports_its_bound_and_gap() -> None:
    problem = generate_problem(GeneratorConfig(orders=120, seed=2))
    greedy = with_days_late_bound(problem, greedy_plan(problem), time_limit=2.0)
    cpsat = solve_cpsat(problem, time_limit=4.0, num_workers=2)
    for plan in (greedy, cpsat):
        info = plan.info
        assert info is not None and info.lower_bound_days_late is not None
        late = plan_days_late(problem, plan)
        assert 0 <= info.lower_bound_days_late <= late
        assert info.days_late_gap == pytest.approx(
            (late - info.lower_bound_days_late) / max(1, late)
        )
        assert info.bound is not None and info.bound["value"] <= info.lower_bound_days_late


def test_windows_gap_is_measured_from_the_bounds_not_from_the_floor() -> None:
    # Three infectious batches of fresh material (hold 1 day) arrive together for two suites:
    # one cannot be placed, and the unplaced count is proven, so the gap is the days-late one.
    mon = D(2026, 3, 2)
    problem = Problem(
        orders=tuple(
            order(o, mon, infectious=True, max_hold_days=1, required_by=mon + dt.timedelta(20))
            for o in ("I1", "I2", "I3")
        )
        + tuple(order(f"N{k}", mon + dt.timedelta(days=k), max_hold_days=40) for k in range(6)),
        suites=(
            Suite("INF1", True, mon, 1, 3),
            Suite("INF2", True, mon, 1, 3),
            Suite("A", False, mon, 1, 0),
        ),
    )
    plan = solve_cpsat(problem, time_limit=4.0, strategy="windows")
    info = plan.info
    assert info is not None and len(plan.unscheduled) == 1
    unscheduled = next(lv for lv in info.levels if lv.name == "unscheduled")
    assert unscheduled.status == "OPTIMAL" and unscheduled.bound == 1.0
    assert info.gap == next((lv.gap for lv in info.levels if lv.status != "OPTIMAL"), 0.0)
    assert info.lower_bound_days_late is not None
    assert info.lower_bound_days_late <= validate_plan(problem, plan).metrics.total_days_late


def test_bound_time_is_a_share_of_the_solver_limit() -> None:
    assert bound_seconds(60.0) == pytest.approx(6.0)
    assert bound_seconds(1.0) == pytest.approx(0.2)
    assert bound_seconds(3600.0) == pytest.approx(10.0)


def test_a_plan_without_solver_account_is_returned_as_it_is(small: Problem) -> None:
    plan = dataclasses.replace(greedy_plan(small), info=None)
    assert with_days_late_bound(small, plan) is plan


def test_the_plan_json_reports_the_bound_next_to_the_issue_metrics(small: Problem) -> None:
    for plan in (make_plan(small, method="greedy"), make_plan(small, time_limit=2.0)):
        data = plan_to_json(small, plan)
        assert set(data["metrics"]) == {
            "mean_vein_to_vein_days",
            "late_orders",
            "total_days_late",
            "utilisation",
            "gap",
        }
        solver = data["solver"]
        assert 0 <= solver["lower_bound_days_late"] <= data["metrics"]["total_days_late"]
        assert 0.0 <= solver["days_late_gap"] <= 1.0
        assert solver["bound"]["method"].startswith("lagrangian")


def test_no_time_for_a_single_step_gives_the_floor_not_an_error() -> None:
    """Found under load (bench/pages_under_load.py, 50 users beside a 5,000-order draft): the
    relaxation's share of the time was gone before its first pricing, ``math.ceil(-inf)``
    raised OverflowError, and the planner reported it as "a date ... too far from today"
    (HTTP 422). With no step the bound is the capacity-free floor, a valid lower bound."""
    problem = generate_problem(GeneratorConfig(orders=60, seed=3))
    bound = days_late_bound(problem, time_limit=0.0)
    assert bound.iterations == 0
    assert bound.value == bound.floor
    assert bound.value <= days_late_bound(problem, time_limit=2.0).value
    assert bound.value <= plan_days_late(problem, greedy_plan(problem))


def test_only_a_date_overflow_is_reported_as_a_date_too_far() -> None:
    """The planner's backstop turns a date beyond ``datetime``'s range into a form error; any
    other OverflowError (as the bound's ``math.ceil(-inf)`` above) is a fault and must surface
    as one, not as "a date ... too far from today"."""
    import datetime as dt
    import math

    from vein2vein.scheduling.planning import is_date_overflow

    with pytest.raises(OverflowError) as past_max:
        dt.date.max + dt.timedelta(days=1)
    with pytest.raises(OverflowError) as large_delta:
        dt.timedelta(days=10**9)
    with pytest.raises(OverflowError) as huge_delta:
        dt.timedelta(days=10**10)
    with pytest.raises(OverflowError) as ceil_inf:
        math.ceil(-math.inf)
    assert all(is_date_overflow(e.value) for e in (past_max, large_delta, huge_delta))
    assert not is_date_overflow(ceil_inf.value)
