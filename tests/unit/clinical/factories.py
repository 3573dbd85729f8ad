"""Small studies for tests, written in the CSV folder format and read back, so every test also
exercises the reader."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from vein2vein.clinical.csv_reader import read_csv_folder
from vein2vein.clinical.dataset import ClinicalDataset
from vein2vein.clinical.readout import ReadoutOptions, ReadoutResult, readout

INFUSION = dt.date(2024, 1, 1)


def d(days: int) -> str:
    return (INFUSION + dt.timedelta(days=days)).isoformat()


def write_study(
    root: Path,
    subjects: list[dict[str, Any]],
    lesions: list[dict[str, Any]],
    assessments: list[dict[str, Any]],
    new_lesions: list[dict[str, Any]] | None = None,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    cols = [
        "subject_id",
        "dose_group",
        "dose_per_kg",
        "infusion_date",
        "death_date",
        "last_alive_date",
        "new_therapy_date",
    ]
    pd.DataFrame(subjects, columns=cols).fillna("").to_csv(root / "subjects.csv", index=False)
    pd.DataFrame(lesions, columns=["subject_id", "lesion_id", "role", "organ", "nodal"]).to_csv(
        root / "lesions.csv", index=False
    )
    pd.DataFrame(
        assessments, columns=["subject_id", "lesion_id", "date", "diameter_mm", "state"]
    ).fillna("").to_csv(root / "assessments.csv", index=False)
    if new_lesions is not None:
        pd.DataFrame(new_lesions, columns=["subject_id", "date", "organ"]).to_csv(
            root / "new_lesions.csv", index=False
        )
    return root


def subject(sid: str = "S1", group: str = "DL1", dose: float = 1e6, **dates: int | None) -> dict:
    """A subject row; ``dates`` are days after :data:`INFUSION` (death, last_alive,
    new_therapy)."""
    row = {"subject_id": sid, "dose_group": group, "dose_per_kg": dose, "infusion_date": d(0)}
    for key in ("death", "last_alive", "new_therapy"):
        if dates.get(key) is not None:
            row[f"{key}_date"] = d(dates[key])  # type: ignore[arg-type]
    return row


def one_subject(
    root: Path,
    targets: dict[str, tuple[str, bool]],
    non_targets: dict[str, tuple[str, bool]],
    visits: list[tuple[int, dict[str, Any]]],
    *,
    new_lesion_days: tuple[int, ...] = (),
    sid: str = "S1",
    **dates: int | None,
) -> Path:
    """Visits: (day after infusion, {lesion_id: mm | "ABSENT" | "TOO SMALL" | None (not
    evaluated) | non-target state}); day <= 0 is baseline."""
    lesions = [
        {
            "subject_id": sid,
            "lesion_id": k,
            "role": "TARGET",
            "organ": o,
            "nodal": "Y" if n else "N",
        }
        for k, (o, n) in targets.items()
    ] + [
        {
            "subject_id": sid,
            "lesion_id": k,
            "role": "NON-TARGET",
            "organ": o,
            "nodal": "Y" if n else "N",
        }
        for k, (o, n) in non_targets.items()
    ]
    rows = []
    for day, values in visits:
        for lid, v in values.items():
            row = {"subject_id": sid, "lesion_id": lid, "date": d(day)}
            if v is None:
                row |= {"diameter_mm": "", "state": "NOT EVALUATED"}
            elif isinstance(v, str):
                row |= {"diameter_mm": "", "state": v}
            else:
                row |= {"diameter_mm": v, "state": ""}
            rows.append(row)
    new = [{"subject_id": sid, "date": d(x), "organ": "LIVER"} for x in new_lesion_days]
    return write_study(root, [subject(sid, **dates)], lesions, rows, new)


def run(root: Path, **options: Any) -> ReadoutResult:
    return readout(read_csv_folder(root), ReadoutOptions(**options))


def load(root: Path) -> ClinicalDataset:
    return read_csv_folder(root)


def overall(result: ReadoutResult) -> list[str]:
    return result.timepoints["overall"].tolist()


def targets(result: ReadoutResult) -> list[str]:
    return result.timepoints["target"].tolist()
