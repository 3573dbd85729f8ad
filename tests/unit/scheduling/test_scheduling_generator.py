"""Seeded synthetic instances: reproducible, loaded as asked, shaped like a CAR-T CDMO."""

from __future__ import annotations

import pytest

from vein2vein.scheduling.generator import (
    GeneratorConfig,
    expected_occupation,
    generate_problem,
)


def test_same_seed_same_instance_other_seed_other_instance() -> None:
    a = generate_problem(GeneratorConfig(orders=50, seed=7))
    assert a == generate_problem(GeneratorConfig(orders=50, seed=7))
    assert a != generate_problem(GeneratorConfig(orders=50, seed=8))


@pytest.mark.parametrize("target", [0.85, 0.95])
def test_offered_load_matches_the_target(target: float) -> None:
    config = GeneratorConfig(orders=2000, seed=1, utilisation=target)
    problem = generate_problem(config)
    receipts = [o.receipt_date for o in problem.orders]
    span = (max(receipts) - min(receipts)).days + 1
    load = len(problem.orders) * expected_occupation(config) / (config.suites * span)
    assert load == pytest.approx(target, rel=0.06)


def test_shape_of_the_instance() -> None:
    problem = generate_problem(GeneratorConfig(orders=1000, seed=2))
    assert len(problem.suites) == 12
    assert sum(s.infectious for s in problem.suites) == 2
    infectious = sum(o.infectious for o in problem.orders) / 1000
    fresh = sum(o.fresh for o in problem.orders) / 1000
    assert 0.05 < infectious < 0.11 and 0.07 < fresh < 0.13
    assert all(o.receipt_date.weekday() != 6 for o in problem.orders)  # no Sunday apheresis
    assert all(o.required_by >= o.receipt_date for o in problem.orders)
    assert problem.qc_capacity is not None and problem.qc_capacity >= 1
    assert all(s.downtime for s in problem.suites)


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        generate_problem(GeneratorConfig(orders=0))
    with pytest.raises(ValueError):
        generate_problem(GeneratorConfig(suites=2, infectious_suites=3))
