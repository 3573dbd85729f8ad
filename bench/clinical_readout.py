"""Benchmark: clinical readout of 10,000 subjects (about a million lesion assessments).

Writes a synthetic study in the CSV folder format, then times
  1. pandas alone reading the same CSV files (``pd.read_csv``, default options),
  2. vein2vein reading and validating them (``read_csv_folder``),
  3. the analysis (``readout``: time points, BOR, endpoints, rates, KM by dose group),
and records the ratio analysis / pandas read (target <= 1), the end-to-end ratio and the peak
memory (tracemalloc, separate runs) in bench/RESULTS.md.

    python bench/clinical_readout.py [--subjects 10000] [--repeat 3] [--no-record]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from vein2vein.clinical.csv_reader import read_csv_folder
from vein2vein.clinical.readout import readout

RESULTS = Path(__file__).with_name("RESULTS.md")
N_TARGETS, N_NON_TARGETS, N_VISITS = 3, 2, 27  # 5 lesions x (baseline + 27 visits), cut at death


def write_study(root: Path, n: int, seed: int = 20250301) -> dict[str, int]:
    """A synthetic study: 3 dose groups, 3 targets and 2 non-targets per subject, a scan every
    6 weeks, shrinkage or growth by subject, some new lesions, deaths and new therapies."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"S{i:06d}" for i in range(n)])
    groups = np.array(["DL1", "DL2", "DL3"])
    g = rng.integers(0, 3, n)
    infusion = np.datetime64("2020-01-01") + rng.integers(0, 1500, n).astype("timedelta64[D]")
    visit_days = np.arange(1, N_VISITS + 1) * 42
    died = rng.random(n) < 0.6
    death = infusion + (visit_days[-1] * rng.random(n) + 60).astype("timedelta64[D]")
    new_therapy = np.where(
        rng.random(n) < 0.1, infusion + np.timedelta64(400, "D"), np.datetime64("NaT")
    )
    pd.DataFrame(
        {
            "subject_id": ids,
            "dose_group": groups[g],
            "dose_per_kg": np.array([3e5, 1e6, 3e6])[g],
            "infusion_date": infusion.astype(str),
            "death_date": np.where(died, death.astype(str), ""),
            "last_alive_date": np.where(
                died, "", (infusion + np.timedelta64(900, "D")).astype(str)
            ),
            "new_therapy_date": np.where(np.isnat(new_therapy), "", new_therapy.astype(str)),
        }
    ).to_csv(root / "subjects.csv", index=False)

    n_les = N_TARGETS + N_NON_TARGETS
    lesion_ids = np.array(
        [f"T{i + 1}" for i in range(N_TARGETS)] + [f"NT{i + 1}" for i in range(N_NON_TARGETS)]
    )
    organs = np.array(["LIVER", "LIVER", "LUNG", "PERITONEUM", "LYMPH NODE"])
    pd.DataFrame(
        {
            "subject_id": np.repeat(ids, n_les),
            "lesion_id": np.tile(lesion_ids, n),
            "role": np.tile(["TARGET"] * N_TARGETS + ["NON-TARGET"] * N_NON_TARGETS, n),
            "organ": np.tile(organs, n),
            "nodal": np.tile(["N", "N", "N", "N", "Y"], n),
        }
    ).to_csv(root / "lesions.csv", index=False)

    # trajectories: baseline then a drift per subject plus noise
    days = np.concatenate([[-7], visit_days])
    n_dates = len(days)
    base = rng.uniform(12, 60, (n, N_TARGETS))
    drift = rng.normal(-0.02, 0.05, n)
    factor = np.exp(
        drift[:, None] * np.arange(n_dates)[None, :] + rng.normal(0, 0.03, (n, n_dates))
    )
    factor[:, 0] = 1.0
    # n x dates x targets, capped below core/plausible.py's 1,000 mm (a steep grower would pass it)
    size = np.round(np.minimum(base[:, None, :] * factor[:, :, None], 400.0), 1)
    missing = rng.random(size.shape) < 0.01
    missing[:, 0, :] = False
    diam = np.where(missing, "", np.char.mod("%.1f", size))
    nt_state = rng.choice(
        np.array(["PRESENT", "ABSENT", "UNEQUIVOCAL PROGRESSION", "NOT EVALUATED"]),
        p=[0.9, 0.06, 0.02, 0.02],
        size=(n, n_dates, N_NON_TARGETS),
    )
    nt_state[:, 0, :] = "PRESENT"
    dates = infusion[:, None] + days[None, :].astype("timedelta64[D]")
    alive_at = np.where(died, death, np.datetime64("2100-01-01"))
    keep_date = dates <= alive_at[:, None]
    cells_id = np.broadcast_to(ids[:, None, None], (n, n_dates, n_les))
    cells_lesion = np.broadcast_to(lesion_ids[None, None, :], (n, n_dates, n_les))
    cells_date = np.broadcast_to(dates.astype(str)[:, :, None], (n, n_dates, n_les))
    cells_diam = np.concatenate([diam, np.full((n, n_dates, N_NON_TARGETS), "")], axis=2)
    cells_state = np.concatenate([np.full((n, n_dates, N_TARGETS), ""), nt_state], axis=2)
    mask = np.broadcast_to(keep_date[:, :, None], (n, n_dates, n_les))
    assessments = pd.DataFrame(
        {
            "subject_id": cells_id[mask],
            "lesion_id": cells_lesion[mask],
            "date": cells_date[mask],
            "diameter_mm": cells_diam[mask],
            "state": cells_state[mask],
        }
    )
    assessments.to_csv(root / "assessments.csv", index=False)

    has_new = (rng.random((n, n_dates)) < 0.01) & keep_date
    has_new[:, 0] = False
    si, di = np.nonzero(has_new)
    pd.DataFrame(
        {"subject_id": ids[si], "date": dates[si, di].astype(str), "organ": "BONE"}
    ).to_csv(root / "new_lesions.csv", index=False)
    return {"subjects": n, "assessment_rows": len(assessments), "new_lesions": len(si)}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def pandas_read(root: Path) -> list[pd.DataFrame]:
    return [
        pd.read_csv(root / f)
        for f in ("subjects.csv", "lesions.csv", "assessments.csv", "new_lesions.csv")
    ]


def best_time(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def peak_mb(fn) -> float:  # type: ignore[no-untyped-def]
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sizes = write_study(root, args.subjects)
        mb = sum(p.stat().st_size for p in root.iterdir()) / 2**20
        t_pandas, _ = best_time(lambda: pandas_read(root), args.repeat)
        t_load, ds = best_time(lambda: read_csv_folder(root), args.repeat)
        t_analysis, result = best_time(lambda: readout(ds), args.repeat)
        t_json, _ = best_time(lambda: result.to_dict(), 1)
        mem_pandas = peak_mb(lambda: pandas_read(root))
        mem_load = peak_mb(lambda: read_csv_folder(root))
        mem_analysis = peak_mb(lambda: readout(ds))
    ratio = t_analysis / t_pandas
    ratio_total = (t_load + t_analysis) / t_pandas
    lines = [
        "",
        f"## clinical_readout — clinical readout of {sizes['subjects']:,} subjects (issue 3)",
        "",
        f"`.venv/bin/python bench/clinical_readout.py`, {dt.date.today().isoformat()} (UTC).",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}. "
        f"Input: {sizes['assessment_rows']:,} assessment rows, "
        f"{sizes['new_lesions']:,} new lesions, "
        f"{mb:.1f} MiB of CSV. Best of {args.repeat}.",
        "",
        "| step | seconds | peak memory (tracemalloc) |",
        "|---|---|---|",
        f"| pandas `read_csv` of the four files | {t_pandas:.3f} | {mem_pandas:.0f} MiB |",
        f"| `read_csv_folder` (parse + validate) | {t_load:.3f} | {mem_load:.0f} MiB |",
        f"| `readout` (time points, BOR, endpoints, rates, KM) | {t_analysis:.3f} "
        f"| {mem_analysis:.0f} MiB |",
        f"| `ReadoutResult.to_dict()` (JSON payload) | {t_json:.3f} | |",
        "",
        f"**Ratio analysis / pandas read = {ratio:.2f}** (target <= 1); "
        f"read + validate + analysis / pandas read = {ratio_total:.2f}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    counts = result.groups[-1].bor_counts  # type: ignore[union-attr]
    print("BOR counts (ALL):", counts)
    if not args.no_record:
        if not RESULTS.exists():
            RESULTS.write_text("# Benchmark results\n\n", encoding="utf-8")
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
