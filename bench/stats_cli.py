"""Benchmark: continued process verification through the command line (issue 15).

50 attributes x 20,000 lots, one CSV file per attribute (``lot,value``). Times, as whole processes
with start-up counted, best of ``--repeat`` runs taken in turn:

* ``v2v stats chart A.csv ... --phase1 100 --json`` (all files in one call), stdout to /dev/null
  as hyperfine does, and to a file;
* the same without ``--json`` (the text summaries);

against the plain Python loop in one process: read each CSV file with the ``csv`` module, take the
I-MR limits from the first 100 lots and apply the eight Nelson rules point by point
(``loop_rules`` of bench/stats_cpv.py). The ratio of points per second is the issue's target
(>= 10x). Once, the JSON is checked against the loop: every point breaks the same rules.
``--per-file`` also times the way before issue 15, one ``v2v stats chart`` call per file.

Run: ``.venv/bin/python bench/stats_cli.py [--attributes 50] [--lots 20000] [--repeat 3]``;
results are printed and appended to bench/RESULTS.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from itertools import pairwise
from pathlib import Path

from _machine import cpu_name, nproc
from stats_cpv import loop_rules, simulate

RESULTS = Path(__file__).with_name("RESULTS.md")
PHASE1 = 100
D2 = 1.1283791670955123  # d2(2) as vein2vein.stats computes it


def v2v() -> str:
    found = Path(sys.executable).with_name("v2v")
    return str(found) if found.exists() else shutil.which("v2v") or "v2v"


def write_files(folder: Path, attributes: int, lots: int) -> list[Path]:
    paths = []
    for a, row in enumerate(simulate(attributes, lots)):
        path = folder / f"attribute_{a:02d}.csv"
        lines = "".join(f"L{i:06d},{v!r}\n" for i, v in enumerate(row.tolist()))
        path.write_text("lot,value\n" + lines)
        paths.append(path)
    return paths


def plain_loop(paths: list[Path], limits: list[tuple[float, float]] | None = None) -> list:
    """Read each file with csv, I-MR limits from phase I, Nelson 1-8 point by point."""
    out = []
    for k, path in enumerate(paths):
        with path.open(newline="") as fh:
            rows = csv.reader(fh)
            next(rows)
            x = [float(row[1]) for row in rows]
        if limits is None:
            first = x[:PHASE1]
            center = sum(first) / len(first)
            mr = [abs(b - a) for a, b in pairwise(first)]
            sigma = sum(mr) / len(mr) / D2
        else:
            center, sigma = limits[k]
        out.append(loop_rules([(v - center) / sigma for v in x]))
    return out


def run(args: list[str], stdout: Path | None = None) -> float:
    target = stdout.open("wb") if stdout else subprocess.DEVNULL
    try:
        start = time.perf_counter()
        subprocess.run(args, stdout=target, stderr=subprocess.DEVNULL, check=True)
        return time.perf_counter() - start
    finally:
        if stdout:
            target.close()  # type: ignore[union-attr]


def check(output: Path, paths: list[Path], lots: int) -> int:
    """The JSON flags exactly the points the plain loop flags; returns the flagged count."""
    charts = json.loads(output.read_bytes())
    assert len(charts) == len(paths)
    loops = plain_loop(paths, [(c["center"], c["sigma"]) for c in charts])
    flagged = 0
    for chart, flags in zip(charts, loops, strict=True):
        per_point = [[lab for lab in flags if flags[lab][i]] for i in range(lots)]
        assert [p["rules"] for p in chart["points"]] == per_point, "CLI and loop disagree"
        flagged += sum(1 for p in per_point if p)
    return flagged


def version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attributes", type=int, default=50)
    parser.add_argument("--lots", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-file", action="store_true", help="also one call per file")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]  # other jobs on the machine slow both sides
    points = args.attributes * args.lots
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_files(folder, args.attributes, args.lots)
        files = [str(p) for p in paths]
        json_cmd = [v2v(), "stats", "chart", *files, "--phase1", str(PHASE1), "--json"]
        text_cmd = json_cmd[:-1]
        output = folder / "charts.json"
        times: dict[str, list[float]] = {"loop": [], "json": [], "json to file": [], "text": []}
        for _ in range(args.repeat):
            start = time.perf_counter()
            plain_loop(paths)
            times["loop"].append(time.perf_counter() - start)
            times["json"].append(run(json_cmd))
            times["json to file"].append(run(json_cmd, output))
            times["text"].append(run(text_cmd))
        size = output.stat().st_size
        flagged = check(output, paths, args.lots)
        if args.per_file:
            start = time.perf_counter()
            for f in files:
                run([v2v(), "stats", "chart", f, "--phase1", str(PHASE1), "--json"])
            times["one call per file"] = [time.perf_counter() - start]
    best = {name: min(t) for name, t in times.items()}
    loop_rate = points / best["loop"]
    lines = [
        f"attributes={args.attributes} lots={args.lots} points={points:,} "
        f"best of {args.repeat}; JSON {size / 2**20:.0f} MiB; flagged points {flagged:,}",
        f"plain Python loop (csv + Nelson 1-8, in process): {best['loop']:.2f} s, "
        f"{loop_rate:,.0f} points/s",
    ]
    labels = {
        "json": "v2v stats chart --json, all files, stdout to /dev/null",
        "json to file": "v2v stats chart --json, all files, stdout to a file",
        "text": "v2v stats chart (text), all files, stdout to /dev/null",
        "one call per file": "v2v stats chart --json, one call per file (before issue 15)",
    }
    for name, label in labels.items():
        if name in best:
            rate = points / best[name]
            lines.append(
                f"{label}: {best[name]:.2f} s, {rate:,.0f} points/s, "
                f"{rate / loop_rate:.1f}x the loop"
            )
    print("\n".join(lines))
    if not args.no_record:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        machine = (
            f"{cpu_name()}, nproc {nproc()}, load average {load:.1f} at the start; Python "
            f"{platform.python_version()}, numpy {version('numpy')}, pyarrow "
            f"{version('pyarrow')}, orjson {version('orjson')}"
        )
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(f"\nstats_cli run {stamp} ({machine}):\n\n")
            fh.write("".join(f"    {line}\n" for line in lines))


if __name__ == "__main__":
    main()
