"""The validator catches each kind of violation: one hand-made bad plan per rule."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from vein2vein.scheduling.model import FixedBatch, Plan, Problem, Transfer, Unscheduled
from vein2vein.scheduling.validator import RULES, validate_plan

from .conftest import GOOD, D, plan_of


def broken(problem: Problem, plan: Plan) -> set[str]:
    return validate_plan(problem, plan).rules_broken


def with_order(problem: Problem, oid: str, **changes: object) -> Problem:
    orders = tuple(
        dataclasses.replace(o, **changes) if o.order_id == oid else o for o in problem.orders
    )
    return problem.replace(orders=orders)


def moved(rows: list, oid: str, suite: str, start: dt.date) -> list:
    return [(o, suite, start) if o == oid else (o, s, t) for o, s, t in rows]


def test_good_plan_passes_with_hand_computed_metrics(small: Problem) -> None:
    report = validate_plan(small, plan_of(small, GOOD))
    assert report.ok, report.summary()
    m = report.metrics
    # ship - receipt: O1 15 Mar - 2 Mar, O2 16 Mar - 3 Mar, O3 21 Mar - 4 Mar
    assert m.mean_vein_to_vein_days == pytest.approx((13 + 13 + 17) / 3)
    assert m.max_vein_to_vein_days == 17
    assert (m.late_orders, m.total_days_late) == (0, 0)
    # origin 1 Mar (availability) to last end 13 Mar: 12 days x 2 suites; occupied O1 6 (5 +
    # changeover), O2 8 (4 + 1 + 3 decon), O3 5 of 6 (clipped at the last end).
    assert m.utilisation == pytest.approx(19 / 24)
    assert m.makespan_days == (D(2026, 3, 20) - D(2026, 3, 1)).days


def test_lateness_counts_days_after_required_by(small: Problem) -> None:
    problem = with_order(small, "O3", required_by=D(2026, 3, 18))
    m = validate_plan(problem, plan_of(problem, GOOD)).metrics
    assert (m.late_orders, m.total_days_late) == (1, 3)  # delivered 21 March


def test_every_rule_has_a_test_below() -> None:
    tested = {name.removeprefix("test_rule_") for name in globals() if name.startswith("test_")}
    # suite_overlap has two tests: after a changeover and after a decontamination.
    assert set(RULES) <= tested | {"suite_overlap"}


def test_rule_unknown_order(small: Problem) -> None:
    extra = dataclasses.replace(plan_of(small, GOOD).assignments[0], order_id="O9")
    plan = plan_of(small, GOOD)
    assert broken(small, Plan((*plan.assignments, extra))) == {"unknown_order"}


def test_rule_unknown_suite(small: Problem) -> None:
    assert broken(small, plan_of(small, moved(GOOD, "O3", "Z", D(2026, 3, 8)))) == {
        "unknown_suite",
        "missing_order",
    }


def test_rule_duplicate_order(small: Problem) -> None:
    plan = plan_of(small, GOOD, unscheduled=(Unscheduled("O1", "?"),))
    assert broken(small, plan) == {"duplicate_order"}


def test_rule_missing_order(small: Problem) -> None:
    assert broken(small, plan_of(small, GOOD[:2])) == {"missing_order"}


def test_rule_dates(small: Problem) -> None:
    plan = plan_of(small, GOOD)
    a = plan.assignments[0]
    bad = dataclasses.replace(a, release=a.release - dt.timedelta(days=2))
    assert broken(small, Plan((bad, *plan.assignments[1:]))) == {"dates"}


def test_rule_infectious_suite(small: Problem) -> None:
    rows = [("O1", "A", D(2026, 3, 2)), ("O2", "A", D(2026, 3, 8)), ("O3", "B", D(2026, 3, 4))]
    assert broken(small, plan_of(small, rows)) == {"infectious_suite"}


def test_rule_before_receipt(small: Problem) -> None:
    assert broken(small, plan_of(small, moved(GOOD, "O1", "A", D(2026, 3, 1)))) == {
        "before_receipt"
    }


def _two_sites(problem: Problem, *, route_days: int | None) -> Problem:
    """O1's material received at Leiden; suite A at Leiden, B at Ghent (O2 and O3 have no site
    and stay unbound), with or without a Leiden -> Ghent route of ``route_days``."""
    suites = tuple(
        dataclasses.replace(s, site="Leiden" if s.suite_id == "A" else "Ghent")
        for s in problem.suites
    )
    routes = () if route_days is None else (Transfer("Leiden", "Ghent", route_days),)
    return with_order(problem, "O1", material_site="Leiden").replace(
        suites=suites, transfers=routes
    )


def test_rule_wrong_site(small: Problem) -> None:
    problem = _two_sites(small, route_days=None)
    # O1 to Ghent's B on 8 March (B is free then, after O2 and its decon, until the downtime)
    rows = [("O1", "B", D(2026, 3, 11)), ("O2", "B", D(2026, 3, 3)), ("O3", "A", D(2026, 3, 8))]
    assert broken(problem, plan_of(problem, rows)) == {"wrong_site"}
    # the same plan with a route is valid: the material has had 9 days to travel
    assert broken(_two_sites(small, route_days=1), plan_of(problem, rows)) == set()


def test_rule_before_transfer(small: Problem) -> None:
    problem = _two_sites(small, route_days=10)
    rows = [("O1", "B", D(2026, 3, 11)), ("O2", "B", D(2026, 3, 3)), ("O3", "A", D(2026, 3, 8))]
    # received at Leiden 2 March + 10 days' shipping = at Ghent on 12 March
    report = validate_plan(problem, plan_of(problem, rows))
    assert report.rules_broken == {"before_transfer"}
    assert "arrives at Ghent on 2026-03-12" in report.violations[0].message
    later = [("O1", "B", D(2026, 3, 12)), *rows[1:]]
    assert broken(problem, plan_of(problem, later)) == set()


def test_rule_hold_exceeded(small: Problem) -> None:
    # O3 received 4 March with a 10-day hold: the last start is 14 March.
    assert broken(small, plan_of(small, moved(GOOD, "O3", "A", D(2026, 3, 15)))) == {
        "hold_exceeded"
    }


def test_rule_before_today(small: Problem) -> None:
    problem = small.replace(today=D(2026, 3, 3))
    assert broken(problem, plan_of(problem, GOOD)) == {"before_today"}


def test_rule_suite_unavailable(small: Problem) -> None:
    suites = (dataclasses.replace(small.suites[0], available_from=D(2026, 3, 5)), small.suites[1])
    problem = small.replace(suites=suites)
    assert broken(problem, plan_of(problem, GOOD)) == {"suite_unavailable"}


def test_rule_downtime(small: Problem) -> None:
    # O2 from 13 March: ends 17, cleaning and decon keep B closed until 21; down from 20.
    assert broken(small, plan_of(small, moved(GOOD, "O2", "B", D(2026, 3, 13)))) == {"downtime"}
    # From 12 March it is closed until 20 March exactly: allowed.
    assert broken(small, plan_of(small, moved(GOOD, "O2", "B", D(2026, 3, 12)))) == set()


def test_rule_suite_overlap_changeover(small: Problem) -> None:
    # O1 ends 7 March; with one day of changeover A is ready on 8 March.
    assert broken(small, plan_of(small, moved(GOOD, "O3", "A", D(2026, 3, 7)))) == {"suite_overlap"}


def test_rule_suite_overlap_decontamination(small: Problem) -> None:
    # O2 (infectious) ends 7 March in B: changeover 1 + decon 3 -> ready 11 March, not 8.
    report = validate_plan(small, plan_of(small, moved(GOOD, "O3", "B", D(2026, 3, 8))))
    assert report.rules_broken == {"suite_overlap"}
    assert "decontamination" in report.violations[0].message
    assert broken(small, plan_of(small, moved(GOOD, "O3", "B", D(2026, 3, 11)))) == set()


def test_rule_qc_capacity(small: Problem) -> None:
    # QC: O1 and O2 from 7 to 13 March, O3 from 13 March: three at once on 13 March.
    assert broken(small.replace(qc_capacity=3), plan_of(small, GOOD)) == set()
    report = validate_plan(small.replace(qc_capacity=2), plan_of(small, GOOD))
    assert report.rules_broken == {"qc_capacity"}
    assert "2026-03-13" in report.violations[0].message


def test_rule_start_weekday(small: Problem) -> None:
    problem = with_order(small, "O1", start_weekdays=frozenset({1, 2, 3, 4}))  # Tue-Fri
    assert broken(problem, plan_of(problem, GOOD)) == {"start_weekday"}  # 2 March: a Monday


def test_rule_starts_per_day(small: Problem) -> None:
    rows = moved(GOOD, "O2", "B", D(2026, 3, 8))  # O2 and O3 both start on 8 March
    assert broken(small.replace(max_starts_per_day=2), plan_of(small, rows)) == set()
    assert broken(small.replace(max_starts_per_day=1), plan_of(small, rows)) == {"starts_per_day"}


def test_rule_fixed_moved(small: Problem) -> None:
    problem = with_order(small, "O1", fixed=FixedBatch("A", D(2026, 3, 1)))
    assert broken(problem, plan_of(problem, GOOD)) == {"fixed_moved"}
    rows = [("O1", "A", D(2026, 3, 1)), *GOOD[1:]]
    assert broken(problem, plan_of(problem, rows)) == set()
    dropped = plan_of(problem, GOOD[1:], unscheduled=(Unscheduled("O1", "no room"),))
    assert broken(problem, dropped) == {"fixed_moved"}


def test_fixed_batches_are_history_for_start_rules(small: Problem) -> None:
    # Started before today and before receipt: history, not a violation.
    problem = with_order(small, "O1", fixed=FixedBatch("A", D(2026, 3, 1))).replace(
        today=D(2026, 3, 3)
    )
    rows = [("O1", "A", D(2026, 3, 1)), ("O2", "B", D(2026, 3, 3)), ("O3", "A", D(2026, 3, 8))]
    assert broken(problem, plan_of(problem, rows)) == set()


def test_unscheduled_orders_are_counted_not_violations(small: Problem) -> None:
    plan = plan_of(small, GOOD[:2], unscheduled=(Unscheduled("O3", "hold expired"),))
    report = validate_plan(small, plan)
    assert report.ok
    assert (report.metrics.scheduled, report.metrics.unscheduled) == (2, 1)


def test_summary_lists_violations(small: Problem) -> None:
    report = validate_plan(small, plan_of(small, moved(GOOD, "O3", "A", D(2026, 3, 7))))
    assert "suite_overlap" in report.summary()
    assert "O3" in report.summary()
