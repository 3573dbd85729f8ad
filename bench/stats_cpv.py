"""Benchmark: continued process verification over 50 attributes x 20,000 lots.

For each attribute: an I-MR chart (phase I = first 100 lots, frozen limits applied to all lots)
and all eight Nelson rules, with the vectorised engine of ``vein2vein.stats``; then the same rules
written as a plain Python loop over points (``loop_rules`` below, also used by the unit tests as an
independent implementation). Prints the times, points per second and the speed-up, and checks the
two implementations flag the same points.

Run: ``.venv/bin/python bench/stats_cpv.py [--attributes 50] [--lots 20000]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

from vein2vein.stats import imr_chart
from vein2vein.stats.errors import StatisticalWarning

RESULTS = Path(__file__).with_name("RESULTS.md")


def loop_rules(z: list[float], name: str = "nelson") -> dict[str, list[bool]]:
    """Nelson 1-8 or Western Electric 1-4 by explicit loops over points (the reference)."""
    n = len(z)

    def run_same_side(length: int) -> list[bool]:
        out, up, down = [], 0, 0
        for v in z:
            up = up + 1 if v > 0 else 0
            down = down + 1 if v < 0 else 0
            out.append(up >= length or down >= length)
        return out

    def k_of_m(limit: float, k: int, m: int) -> list[bool]:
        out = []
        for i in range(n):
            if i < m - 1:
                out.append(False)
                continue
            window = z[i - m + 1 : i + 1]
            above = sum(1 for v in window if v > limit)
            below = sum(1 for v in window if v < -limit)
            out.append((z[i] > limit and above >= k) or (z[i] < -limit and below >= k))
        return out

    beyond = [abs(v) > 3 for v in z]
    if name != "nelson":
        return {
            "WE1": beyond,
            "WE2": k_of_m(2.0, 2, 3),
            "WE3": k_of_m(1.0, 4, 5),
            "WE4": run_same_side(8),
        }
    trend, up, down = [], 0, 0
    for i in range(n):
        if i == 0:
            up = down = 0
        else:
            up = up + 1 if z[i] > z[i - 1] else 0
            down = down + 1 if z[i] < z[i - 1] else 0
        trend.append(up >= 5 or down >= 5)
    alternating, count = [], 0
    for i in range(n):
        if i >= 2:
            a, b = z[i - 1] - z[i - 2], z[i] - z[i - 1]
            count = count + 1 if a * b < 0 else 0
        alternating.append(count >= 12)
    within, count = [], 0
    for v in z:
        count = count + 1 if abs(v) <= 1 else 0
        within.append(count >= 15)
    mixture = []
    for i in range(n):
        window = z[max(0, i - 7) : i + 1]
        ok = (
            len(window) == 8
            and all(abs(v) > 1 for v in window)
            and any(v > 1 for v in window)
            and any(v < -1 for v in window)
        )
        mixture.append(ok)
    return {
        "N1": beyond,
        "N2": run_same_side(9),
        "N3": trend,
        "N4": alternating,
        "N5": k_of_m(2.0, 2, 3),
        "N6": k_of_m(1.0, 4, 5),
        "N7": within,
        "N8": mixture,
    }


def simulate(attributes: int, lots: int, seed: int = 1) -> np.ndarray:
    """In-control noise with a few shifts and trends, so that every rule has work to do."""
    rng = np.random.default_rng(seed)
    data = rng.normal(100.0, 2.0, (attributes, lots))
    for a in range(attributes):
        start = int(rng.integers(200, lots - 200))
        data[a, start : start + 150] += rng.choice([-3.0, 3.0])
        t0 = int(rng.integers(200, lots - 50))
        data[a, t0 : t0 + 10] += np.linspace(0, 8, 10)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attributes", type=int, default=50)
    parser.add_argument("--lots", type=int, default=20_000)
    parser.add_argument(
        "--loop-attributes",
        type=int,
        default=None,
        help="attributes for the plain loop (default: all)",
    )
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    data = simulate(args.attributes, args.lots)
    points = args.attributes * args.lots

    warnings.simplefilter("ignore", StatisticalWarning)
    t0 = time.perf_counter()
    charts = [imr_chart(row, phase1=100, rules="nelson") for row in data]
    fast = time.perf_counter() - t0

    loop_n = args.loop_attributes or args.attributes
    t0 = time.perf_counter()
    slow_flags = []
    for chart, row in zip(charts[:loop_n], data[:loop_n], strict=True):
        z = ((row - chart.center) / chart.sigma).tolist()
        slow_flags.append(loop_rules(z))
    slow = (time.perf_counter() - t0) * args.attributes / loop_n

    for chart, flags in zip(charts, slow_flags, strict=False):
        loop_per_point = [[lab for lab in flags if flags[lab][i]] for i in range(args.lots)]
        assert [list(p.rules) for p in chart.points] == loop_per_point, "implementations disagree"

    signals = sum(len(c.flagged) for c in charts)
    scaling = []
    for lots in (5_000, 20_000, 80_000):
        series = simulate(5, lots, seed=2)
        t0 = time.perf_counter()
        for row in series:
            imr_chart(row, phase1=100, rules="nelson")
        scaling.append((lots, (time.perf_counter() - t0) / (5 * lots) * 1e6))
    lines = [
        f"attributes={args.attributes} lots={args.lots} points={points}",
        f"vectorised (I-MR chart + Nelson 1-8, result objects): {fast:.3f} s, "
        f"{points / fast:,.0f} points/s",
        f"plain Python loop (rules only)"
        f"{' (extrapolated)' if loop_n < args.attributes else ''}: {slow:.3f} s, "
        f"{points / slow:,.0f} points/s",
        f"speed-up: {slow / fast:.1f}x; flagged points: {signals}",
        "linear time, microseconds per point: "
        + ", ".join(f"{lots} lots {us:.2f}" for lots, us in scaling),
    ]
    print("\n".join(lines))
    if not args.no_record:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        machine = f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}"
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(f"\nstats_cpv run {stamp} ({machine}):\n\n")
            fh.write("".join(f"    {line}\n" for line in lines))


if __name__ == "__main__":
    main()
