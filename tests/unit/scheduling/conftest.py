"""A small hand-made scheduling problem (two suites, three orders) and plan builders."""

from __future__ import annotations

import datetime as dt

import pytest

from vein2vein.scheduling.model import Assignment, Downtime, Order, Plan, Problem, Suite

D = dt.date


def order(oid: str, receipt: dt.date, **kw: object) -> Order:
    values: dict[str, object] = {
        "order_id": oid,
        "receipt_date": receipt,
        "max_hold_days": 10,
        "required_by": receipt + dt.timedelta(days=30),
        "infectious": False,
        "process_days": 5,
        "qc_days": 7,
        "ship_days": 1,
    }
    values.update(kw)
    return Order(**values)  # type: ignore[arg-type]


@pytest.fixture
def small() -> Problem:
    """Suite A (ordinary) and B (infectious material, 3 days decon, down 20-22 March 2026).

    2 March 2026 is a Monday.
    """
    return Problem(
        orders=(
            order("O1", D(2026, 3, 2), required_by=D(2026, 3, 25)),
            order(
                "O2",
                D(2026, 3, 3),
                required_by=D(2026, 3, 30),
                infectious=True,
                process_days=4,
                ship_days=2,
            ),
            order("O3", D(2026, 3, 4), required_by=D(2026, 4, 10)),
        ),
        suites=(
            Suite("A", False, D(2026, 3, 1), changeover_days=1, decon_days=0),
            Suite(
                "B",
                True,
                D(2026, 3, 1),
                changeover_days=1,
                decon_days=3,
                downtime=(Downtime(D(2026, 3, 20), D(2026, 3, 23), "maintenance"),),
            ),
        ),
    )


def plan_of(problem: Problem, rows: list[tuple[str, str, dt.date]], **kw: object) -> Plan:
    """A plan with the dates derived correctly from each (order, suite, start)."""
    by_id = problem.order_by_id
    return Plan(tuple(Assignment.of(by_id[o], s, start) for o, s, start in rows), **kw)  # type: ignore[arg-type]


GOOD = [("O1", "A", D(2026, 3, 2)), ("O2", "B", D(2026, 3, 3)), ("O3", "A", D(2026, 3, 8))]
