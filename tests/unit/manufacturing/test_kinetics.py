"""Growth of a batch against earlier batches of the same MBR version (``manufacturing.kinetics``),
with worked numbers.

Reference values, by hand: 1.0 × 10^8 → 2.0 × 10^9 cells over 9 days gives a fold expansion of
20, log₂ 20 = 4.321928 population doublings and a doubling time of 9 × 24 / 4.321928 = 49.98 h
(ATCC Animal Cell Culture Guide; Roth 2006). Envelope of 2, 3, 4, 5 × 10^9 cells: lowest 2,
median (3 + 4)/2 = 3.5, highest 5 × 10^9 (R: ``quantile(c(2, 3, 4, 5), 0.5)`` = 3.5, type 7).
"""

from __future__ import annotations

import math

import pytest
from tests.unit.manufacturing.test_execution import MBR, new_record, run_step, through

from vein2vein.manufacturing import kinetics as K
from vein2vein.stats.errors import SmallSampleWarning
from vein2vein.stats.kinetics import expansion_kinetics

HARVEST = "HARVEST.viable_cells"
POINTS = K.count_points(MBR)


def test_count_points_are_the_viable_counts_on_their_process_days() -> None:
    assert [(p.point, p.day) for p in POINTS] == [
        ("ACTIVATE.seeded_cells", 0),
        ("TRANSDUCE.viable_cells", 1),
        ("EXPAND.viable_cells_d5", 5),
        ("HARVEST.viable_cells", 9),
    ]
    assert POINTS[-1].name == "Viable cells harvested"


def test_the_worked_example_by_stats() -> None:
    with pytest.warns(SmallSampleWarning, match="two points"):  # named, never silent
        r = expansion_kinetics([0, 9], [1e8, 2e9])
    assert math.isclose(r.fold_expansion, 20.0)
    assert math.isclose(r.doublings, 4.321928094887363)
    assert round(r.doubling_time * 24, 2) == 49.98  # 216 h / 4.321928 = 49.978 h


def test_growth_of_a_record_1e8_to_2e9_over_9_days() -> None:
    rec, clock = through("HARVEST")
    rec = run_step(rec, "HARVEST", clock, {"viable_cells": (2.0, "10^9 cells")})
    g = K.growth_of(rec)
    # counts 1.0e8 (day 0), 0.9e8 (day 1), 8.0e8 (day 5), 2.0e9 (day 9): FE = 2e9/1e8 = 20
    assert math.isclose(g.fold_expansion, 20.0)
    assert math.isclose(g.doublings, math.log2(20))
    assert g.counts_used == 4 and g.problem is None
    # the counts are entered minutes after the start of their day: elapsed ≈ 9 days
    assert math.isclose(g.elapsed_days, 9.0, abs_tol=0.02)
    assert math.isclose(g.doubling_time_h, g.elapsed_days * 24 / math.log2(20), rel_tol=1e-12)
    assert math.isclose(g.doubling_time_h, 49.98, abs_tol=0.15)
    assert math.isclose(g.doubling_time_h, g.doubling_time_days * 24)


def test_no_growth_numbers_before_two_counts_and_the_reason_is_given() -> None:
    g = K.growth_of(new_record())
    assert (g.fold_expansion, g.doublings, g.doubling_time_h) == (None, None, None)
    assert g.counts_used == 0
    assert g.problem == "kinetics need at least two cell counts entered"


def test_counts_of_a_record_in_cells_current_values() -> None:
    rec, _ = through("EXPAND")
    assert K.counts_of(rec, POINTS) == pytest.approx(
        {"ACTIVATE.seeded_cells": 1.0e8, "TRANSDUCE.viable_cells": 0.9e8}
    )


def test_counts_by_batch_take_the_last_entry_and_keep_batches_without_counts() -> None:
    entries = [
        (1, HARVEST, 3.0, "10^9 cells"),
        (1, HARVEST, 3.5, "10^9 cells"),  # a correction: the current value
        (2, HARVEST, 4.0e9, "cells"),
        (9, HARVEST, 1.0, "10^9 cells"),  # not one of the batches asked for
    ]
    got = K.counts_by_batch([1, 2, 3], entries)
    assert got == [{HARVEST: pytest.approx(3.5e9)}, {HARVEST: pytest.approx(4.0e9)}, {}]


def _earlier(*harvests: float) -> list[dict[str, float]]:
    return [{"ACTIVATE.seeded_cells": 1e8, HARVEST: h} for h in harvests]


def test_envelope_lowest_median_highest_at_each_point() -> None:
    env = K.envelope(POINTS, _earlier(2e9, 5e9, 3e9, 4e9))
    assert env.n_batches == 4 and env.drawn
    assert env.message == "envelope of 4 earlier batches of the same MBR version"
    by = {e.point: e for e in env.points}
    assert (by[HARVEST].n, by[HARVEST].low, by[HARVEST].median, by[HARVEST].high) == (
        4,
        2e9,
        3.5e9,
        5e9,
    )
    assert (by["ACTIVATE.seeded_cells"].median, by["ACTIVATE.seeded_cells"].day) == (1e8, 0)
    # nobody counted on day 5 here: no values, n = 0
    assert (by["EXPAND.viable_cells_d5"].n, by["EXPAND.viable_cells_d5"].median) == (0, None)
    # three values: the middle one
    assert K.envelope(POINTS, _earlier(2e9, 4e9, 3e9)).points[-1].median == 3e9


def test_fewer_than_three_earlier_batches_give_no_envelope() -> None:
    env = K.envelope(POINTS, _earlier(2e9, 5e9))
    assert not env.drawn
    assert env.message == (
        "no envelope yet: 2 earlier batches of the same MBR version (at least 3 needed)"
    )
    assert K.envelope(POINTS, _earlier(2e9)).message.startswith("no envelope yet: 1 earlier batch ")
    rows = K.table_rows(POINTS, {HARVEST: 2e9}, env)
    harvest = rows[-1]
    assert (harvest["cells"], harvest["n"]) == (2e9, 2)
    assert (harvest["low"], harvest["median"], harvest["high"]) == (None, None, None)
    figure = K.growth_figure(rows, env.drawn, "growth")
    assert [t["name"] for t in figure["data"]] == ["this batch"]  # no band drawn


def test_the_figure_draws_the_band_median_and_this_batch_on_a_log_scale() -> None:
    env = K.envelope(POINTS, _earlier(2e9, 5e9, 3e9, 4e9))
    rows = K.table_rows(POINTS, {"ACTIVATE.seeded_cells": 1e8, HARVEST: 2e9}, env)
    fig = K.growth_figure(rows, env.drawn, "Batch 7")
    high, low, median, mine = fig["data"]
    assert (high["x"], high["y"]) == ([0, 9], [1e8, 5e9])
    assert (low["y"], low["fill"]) == ([1e8, 2e9], "tonexty")
    assert median["y"] == [1e8, 3.5e9] and median["name"] == "earlier batches: median"
    assert (mine["x"], mine["y"]) == ([0, 9], [1e8, 2e9])
    assert fig["layout"]["yaxis"]["type"] == "log"
    assert fig["layout"]["xaxis"]["range"] == [-0.5, 9.5]
    # a count without a process day stays out of the chart (it is in the table)
    rows[-1] = rows[-1] | {"day": None}
    assert K.growth_figure(rows, env.drawn, "x")["data"][-1]["x"] == [0]


def test_cells_are_written_with_a_power_of_ten() -> None:
    assert K.cells_text(2.0e9) == "2.00 × 10⁹"
    assert K.cells_text(3.456e8) == "3.46 × 10⁸"
    assert K.cells_text(None) == "—"
