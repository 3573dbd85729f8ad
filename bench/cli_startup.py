"""Benchmark: start-up of the command line (issue 15: each in <= 0.3 s).

Times whole processes, hyperfine-style: one warm-up run, then ``--runs`` runs (default 5), stdout
and stderr to /dev/null; reports the best (the figure the target is read against, least disturbed
by other jobs), the mean and the standard deviation. Commands: ``v2v --help``,
``v2v coi din check "G123 498 654 321 H"``, ``v2v stats --help``, and ``python -c pass`` as the
floor no command can go below.

Run: ``.venv/bin/python bench/cli_startup.py [--runs 5]``; results are printed and appended to
bench/RESULTS.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _machine import cpu_name, nproc

RESULTS = Path(__file__).with_name("RESULTS.md")
TARGET = 0.3


def v2v() -> str:
    found = Path(sys.executable).with_name("v2v")
    return str(found) if found.exists() else shutil.which("v2v") or "v2v"


COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "v2v --help": [v2v(), "--help"],
    'v2v coi din check "G123 498 654 321 H"': [v2v(), "coi", "din", "check", "G123 498 654 321 H"],
    "v2v stats --help": [v2v(), "stats", "--help"],
}


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = []
    for name, command in COMMANDS.items():
        timed(command)  # warm-up: file system cache, .pyc files
        times = [timed(command) for _ in range(args.runs)]
        best, mean = min(times), statistics.mean(times)
        sd = statistics.stdev(times) if len(times) > 1 else 0.0
        verdict = "" if name.startswith("python") else ("met" if best <= TARGET else "MISSED")
        rows.append(f"| `{name}` | {best:.3f} | {mean:.3f} ± {sd:.3f} | {verdict} |")
    table = [
        f"| command | best of {args.runs} (s) | mean ± sd (s) | <= {TARGET} s |",
        "|---|---:|---:|---|",
        *rows,
    ]
    print("\n".join(table))
    if not args.no_record:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        machine = (
            f"{cpu_name()}, nproc {nproc()}, load average {load:.1f} at the start, "
            f"Python {platform.python_version()}"
        )
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(f"\ncli_startup run {stamp} ({machine}):\n\n")
            fh.write("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
