"""A plan is a result with provenance: solver, options, the hash of the problem it was made from
and the installed OR-Tools version (core.results), in the plan and in its JSON."""

from __future__ import annotations

from dataclasses import replace
from importlib import metadata

from vein2vein.core.canonical import sha256_hex
from vein2vein.core.results import Result
from vein2vein.scheduling import (
    Plan,
    Problem,
    dispatch_plan,
    greedy_plan,
    plan_from_json,
    plan_to_json,
    solve_cpsat,
)


def test_a_cpsat_plan_records_the_installed_ortools_version(small: Problem) -> None:
    plan = solve_cpsat(small, time_limit=2, num_workers=1, seed=3)
    made = plan.provenance
    assert isinstance(plan, Result) and made is not None
    assert made.library_versions["ortools"] == metadata.version("ortools")
    assert made.method == "cpsat"
    assert made.options["time_limit"] == 2 and made.options["seed"] == 3
    assert made.options["num_workers"] == 1
    assert made.input_hash == sha256_hex({"problem_sha256": small.sha256})
    printed = plan_to_json(small, plan)["provenance"]
    assert printed["library_versions"]["ortools"] == metadata.version("ortools")
    assert printed["input_hash"] == made.input_hash
    assert "ortools" in plan.summary() and plan.to_dict()["provenance"]["method"] == "cpsat"


def test_every_solver_states_its_provenance_and_the_problem_decides_the_hash(
    small: Problem,
) -> None:
    greedy, dispatch = greedy_plan(small), dispatch_plan(small)
    assert greedy.provenance is not None and dispatch.provenance is not None
    assert greedy.provenance.method == "greedy" and dispatch.provenance.method == "dispatch"
    assert greedy.provenance.input_hash == dispatch.provenance.input_hash
    assert "ortools" in greedy.provenance.library_versions
    other = small.replace(qc_capacity=(small.qc_capacity or 1) + 1)
    assert greedy_plan(other).provenance.input_hash != greedy.provenance.input_hash  # type: ignore[union-attr]


def test_provenance_does_not_change_what_a_plan_is(small: Problem) -> None:
    first, second = greedy_plan(small), greedy_plan(small)
    # the solver's timings differ; the provenance (with the time it was computed) is not compared
    assert replace(first, info=None) == replace(second, info=None, provenance=None)
    back = plan_from_json(plan_to_json(small, first))
    assert back.provenance is None and back.assignments == first.assignments
    assert plan_to_json(small, Plan(first.assignments))["provenance"] is None
