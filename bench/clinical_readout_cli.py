"""Benchmark: `v2v clinical readout DIR --json > file` on 10,000 subjects, whole process (issue 15).

Target 1 of issue 15: the command, start-up and output included, is no slower than a fresh
Python process that imports pandas and ``read_csv``'s the same four files (ratio <= 1, best of
3), with a peak RSS at most twice that process's. Both are run as child processes, alternately,
on the study that ``bench/clinical_readout.py`` generates (10,000 subjects, about a million
lesion assessments); wall time from spawn to exit, peak RSS from the child's own rusage
(``os.wait4``, what ``/usr/bin/time -v`` reports as "Maximum resident set size"; the study
is generated in a child process, so that this one stays small: a child's peak RSS counts from
its parent's at the fork). The readout's
stdout goes to a file, as in the issue. ``--no-timepoints`` (the documented option that leaves
out each subject's time points) is timed too, for information.

    .venv/bin/python bench/clinical_readout_cli.py [--subjects 10000] [--repeat 3] [--no-record]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from _machine import cpu_name, nproc

RESULTS = Path(__file__).with_name("RESULTS.md")
FILES = ("subjects.csv", "lesions.csv", "assessments.csv", "new_lesions.csv")
PANDAS = "import sys, pandas as pd\nfor f in sys.argv[1:]: pd.read_csv(f)"
# in a child process: a forked child's peak RSS starts from its parent's, so this process
# keeps away from numpy and pandas (it stays at a few MiB)
GENERATE = (
    "import json, sys; from pathlib import Path; from clinical_readout import write_study\n"
    "print(json.dumps(write_study(Path(sys.argv[1]), int(sys.argv[2]))))"
)


def run(argv: list[str], stdout: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, exit code) of one child process."""
    with stdout.open("wb") as out:
        t0 = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        err = child.stderr.read().decode(errors="replace") if child.stderr else ""
        raise SystemExit(f"{' '.join(argv[:4])}... failed ({child.returncode}): {err[-2000:]}")
    if child.stderr:
        child.stderr.close()
    return seconds, usage.ru_maxrss / 1024, child.returncode  # ru_maxrss is KiB on Linux


def v2v_command() -> list[str]:
    exe = Path(sys.executable).with_name("v2v")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("v2v")
    if found is None:
        raise SystemExit("v2v is not installed next to this Python (make venv)")
    return [found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    v2v = v2v_command()
    with tempfile.TemporaryDirectory(prefix="v2v-bench-") as tmp:
        root = Path(tmp) / "study"
        root.mkdir()
        made = subprocess.run(
            [sys.executable, "-c", GENERATE, str(root), str(args.subjects)],
            check=True,
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
        )
        sizes = json.loads(made.stdout)
        mib = sum(p.stat().st_size for p in root.iterdir()) / 2**20
        commands = {
            "pandas": [sys.executable, "-c", PANDAS, *(str(root / f) for f in FILES)],
            "v2v": [*v2v, "clinical", "readout", str(root), "--json"],
            "v2v --no-timepoints": [
                *v2v,
                "clinical",
                "readout",
                str(root),
                "--json",
                "--no-timepoints",
            ],
        }
        best: dict[str, tuple[float, float]] = {}
        out_size: dict[str, int] = {}
        for _ in range(args.repeat):
            for name, argv in commands.items():
                out = Path(tmp) / f"{name.replace(' ', '_')}.out"
                seconds, rss, _ = run(argv, out)
                out_size[name] = out.stat().st_size
                old = best.get(name, (float("inf"), 0.0))
                best[name] = (min(old[0], seconds), max(old[1], rss))
    t_pd, rss_pd = best["pandas"]
    t_v2v, rss_v2v = best["v2v"]
    t_no, rss_no = best["v2v --no-timepoints"]
    lines = [
        "",
        f"## clinical_readout_cli: `v2v clinical readout DIR --json > file`, whole process, "
        f"{sizes['subjects']:,} subjects (issue 15 target 1)",
        "",
        f"`.venv/bin/python bench/clinical_readout_cli.py`, {dt.date.today().isoformat()} (UTC).",
        "",
        f"Machine: {cpu_name()}, nproc {nproc()} (shared with other jobs), Python "
        f"{platform.python_version()}, pandas {version('pandas')}. Input: "
        f"{sizes['assessment_rows']:,} assessment rows, {mib:.1f} MiB of CSV. Each command is "
        f"a fresh process (spawn to exit, output to a file), best of {args.repeat}, run "
        "alternately; peak RSS from the child's rusage (the largest of the runs).",
        "",
        "| process | seconds | peak RSS | output |",
        "|---|---|---|---|",
        f"| python: `import pandas` + `read_csv` of the four files | {t_pd:.2f} | "
        f"{rss_pd:.0f} MiB | |",
        f"| `v2v clinical readout DIR --json` | {t_v2v:.2f} | {rss_v2v:.0f} MiB | "
        f"{out_size['v2v'] / 1e6:.1f} MB |",
        f"| `v2v clinical readout DIR --json --no-timepoints` | {t_no:.2f} | {rss_no:.0f} MiB | "
        f"{out_size['v2v --no-timepoints'] / 1e6:.1f} MB |",
        "",
        f"**Ratio v2v / pandas = {t_v2v / t_pd:.2f}** (target <= 1); peak RSS ratio "
        f"{rss_v2v / rss_pd:.2f} (target <= 2). With `--no-timepoints`: {t_no / t_pd:.2f} and "
        f"{rss_no / rss_pd:.2f}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_record:
        if not RESULTS.exists():
            RESULTS.write_text("# Benchmark results\n\n", encoding="utf-8")
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
