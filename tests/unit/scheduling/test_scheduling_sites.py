"""Plans respect the site where the starting material is: a worked example with one order
received at Leiden and a suite at each of Leiden and Ghent, through every solver.

Worked by hand (2 March 2026 is a Monday): the order is received at Leiden on 2 March, may wait
10 days, takes 5 days to make, 7 days of QC and 1 day to ship to the patient.

- Leiden's suite free: every solver starts it there on 2 March (delivered 2 + 5 + 7 + 1 = 15 March).
- Leiden's suite down 1-19 March, a Leiden -> Ghent route of 2 days: the material reaches Ghent on
  4 March, the batch starts there that day (delivered 17 March) and the plan flags the move.
- Leiden's suite down, no route: nothing can take it; the order is unscheduled, saying why.
"""

from __future__ import annotations

import datetime as dt

import pytest

from vein2vein.scheduling.cpsat import solve_cpsat
from vein2vein.scheduling.dispatch import dispatch_plan
from vein2vein.scheduling.greedy import greedy_plan
from vein2vein.scheduling.model import (
    CrossSite,
    Downtime,
    Order,
    Plan,
    Problem,
    Suite,
    Transfer,
    cross_site_batches,
)
from vein2vein.scheduling.planner import plan_to_json
from vein2vein.scheduling.snapshot import problem_from_json, problem_to_json
from vein2vein.scheduling.validator import validate_plan

D = dt.date
RECEIPT = D(2026, 3, 2)


def _problem(*, leiden_down: bool, route_days: int | None) -> Problem:
    down = (Downtime(D(2026, 3, 1), D(2026, 3, 20), "requalification"),) if leiden_down else ()
    return Problem(
        orders=(
            Order(
                "LEI-ORDER",
                RECEIPT,
                max_hold_days=10,
                required_by=D(2026, 3, 31),
                infectious=False,
                process_days=5,
                qc_days=7,
                ship_days=1,
                material_site="Leiden",
            ),
        ),
        suites=(
            Suite("LEI-01", False, D(2026, 1, 1), 1, 0, downtime=down, site="Leiden"),
            Suite("GHE-01", False, D(2026, 1, 1), 1, 0, site="Ghent"),
        ),
        transfers=() if route_days is None else (Transfer("Leiden", "Ghent", route_days),),
    )


SOLVERS = {
    "greedy": greedy_plan,
    "dispatch": dispatch_plan,
    "cpsat": lambda p: solve_cpsat(p, time_limit=5, num_workers=1),
}


def _only(plan: Plan) -> tuple[str, dt.date, dt.date]:
    (a,) = plan.assignments
    return a.suite_id, a.start, a.ship


@pytest.mark.parametrize("method", sorted(SOLVERS))
def test_material_stays_at_its_site_when_a_suite_there_is_free(method: str) -> None:
    problem = _problem(leiden_down=False, route_days=2)
    plan = SOLVERS[method](problem)
    assert _only(plan) == ("LEI-01", D(2026, 3, 2), D(2026, 3, 15))
    assert cross_site_batches(problem, plan) == ()
    assert validate_plan(problem, plan).ok


@pytest.mark.parametrize("method", sorted(SOLVERS))
def test_material_goes_to_another_site_only_with_the_shipping_days(method: str) -> None:
    problem = _problem(leiden_down=True, route_days=2)
    plan = SOLVERS[method](problem)
    assert _only(plan) == ("GHE-01", D(2026, 3, 4), D(2026, 3, 17))
    assert cross_site_batches(problem, plan) == (
        CrossSite("LEI-ORDER", "GHE-01", "Leiden", "Ghent", 2),
    )
    report = validate_plan(problem, plan)
    assert report.ok, report.summary()
    # 17 March - 2 March: the two days on the road count in vein-to-vein time
    assert report.metrics.max_vein_to_vein_days == 15


@pytest.mark.parametrize("method", sorted(SOLVERS))
def test_without_a_route_the_order_is_not_planned_at_the_other_site(method: str) -> None:
    problem = _problem(leiden_down=True, route_days=None)
    plan = SOLVERS[method](problem)
    assert plan.assignments == ()
    (u,) = plan.unscheduled
    assert u.order_id == "LEI-ORDER"
    assert "no shipping route" in u.reason
    assert validate_plan(problem, plan).ok


def test_the_plan_json_flags_the_move_and_the_snapshot_keeps_sites_and_routes() -> None:
    problem = _problem(leiden_down=True, route_days=2)
    plan = greedy_plan(problem)
    (row,) = plan_to_json(problem, plan)["assignments"]
    assert row["transfer"] == {"from_site": "Leiden", "to_site": "Ghent", "days": 2}
    again = problem_from_json(problem_to_json(problem))
    assert again == problem and validate_plan(again, plan).ok
    home = _problem(leiden_down=False, route_days=2)
    assert "transfer" not in plan_to_json(home, greedy_plan(home))["assignments"][0]


def test_a_problem_without_sites_snapshots_as_before() -> None:
    plain = Problem(
        orders=(Order("X", RECEIPT, 3, D(2026, 4, 1), False, 5, 7, 1),),
        suites=(Suite("S", False, RECEIPT, 1, 0),),
    )
    data = problem_to_json(plain)
    assert "transfers" not in data and "site" not in data["suites"][0]
    assert "material_site" not in data["orders"][0]


@pytest.mark.parametrize("method", sorted(SOLVERS))
def test_overlapping_downtime_windows_of_a_suite_are_one_closure(method: str) -> None:
    """A what-if taking a suite down while a maintenance window already closes it used to make
    the CP-SAT model infeasible ("the fixed batches clash"): two fixed intervals overlapped in
    the suite's no-overlap constraint. Down 1-9 March and 5-14 March is down 1-14 March."""
    problem = _problem(leiden_down=False, route_days=None)
    windows = (
        Downtime(D(2026, 3, 1), D(2026, 3, 10), "maintenance"),
        Downtime(D(2026, 3, 5), D(2026, 3, 15), "what-if: suite down"),
    )
    suites = (Suite("LEI-01", False, D(2026, 1, 1), 1, 0, downtime=windows, site="Leiden"),)
    problem = problem.replace(
        suites=suites + problem.suites[1:],
        orders=(
            Order(
                "LATE", D(2026, 3, 2), 30, D(2026, 4, 30), False, 5, 7, 1, material_site="Leiden"
            ),
        ),
    )
    plan = SOLVERS[method](problem)
    assert _only(plan)[:2] == ("LEI-01", D(2026, 3, 15))
    assert validate_plan(problem, plan).ok
