"""Reader for the CSV folder format (the one CLI users write by hand or export).

``subjects.csv``: ``subject_id, dose_group, dose_per_kg, infusion_date, death_date,
last_alive_date, new_therapy_date``. ``lesions.csv``: ``subject_id, lesion_id, role
(TARGET|NON-TARGET), organ, nodal (Y|N)``. ``assessments.csv``: ``subject_id, lesion_id, date,
diameter_mm, state``. ``new_lesions.csv`` (optional): ``subject_id, date, organ``.
``pd_dates.csv`` (optional): ``subject_id, pd_date``, progression dates from a separate source
(docs/clinical.md). Dates are ISO
(YYYY-MM-DD); blanks allowed where the issue allows them. Errors name file, row and field.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from vein2vein.core import plausible
from vein2vein.core.errors import InputError

from .csv_arrow import Parsed
from .dataset import STATES, ClinicalDataset, to_hundredths, validate
from .parsing import (
    Coded,
    factorized,
    lookup_ids,
    parse_choice,
    parse_dates,
    parse_numbers,
    read_csv_coded,
    read_csv_strings,
    sha256_file,
    spreadsheet_row,
    strip,
)

SUBJECT_COLUMNS = (
    "subject_id",
    "dose_group",
    "dose_per_kg",
    "infusion_date",
    "death_date",
    "last_alive_date",
    "new_therapy_date",
)
LESION_COLUMNS = ("subject_id", "lesion_id", "role", "organ", "nodal")
ASSESSMENT_COLUMNS = ("subject_id", "lesion_id", "date", "diameter_mm", "state")
NEW_LESION_COLUMNS = ("subject_id", "date", "organ")
ROLES = {"TARGET": 1, "NON-TARGET": 0, "NONTARGET": 0, "NON TARGET": 0}
YES_NO = {"Y": 1, "YES": 1, "N": 0, "NO": 0, "": 0}


def _unique_ids(ids: np.ndarray, file: str, field: str, what: str) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, raw in enumerate(ids):
        key = str(raw).strip()
        if not key:
            raise InputError(f"{what} is required", file=file, row=spreadsheet_row(i), field=field)
        if key in index:
            raise InputError(
                f"duplicate {what} {key!r} (first on row {spreadsheet_row(index[key])})",
                file=file,
                row=spreadsheet_row(i),
                field=field,
            )
        index[key] = i
    return index


def read_subjects(path: Path) -> pd.DataFrame:
    f = read_csv_strings(path, ("subject_id", "dose_group", "infusion_date"))
    name = path.name
    for col in SUBJECT_COLUMNS:
        if col not in f.columns:
            f[col] = ""
    ids = strip(f["subject_id"])
    _unique_ids(ids, name, "subject_id", "subject_id")
    out = pd.DataFrame(
        {
            "subject_id": ids.astype(str),
            "dose_group": strip(f["dose_group"]).astype(str),
            "dose_per_kg": parse_numbers(
                f["dose_per_kg"], file=name, field="dose_per_kg", within=plausible.DOSE_PER_KG
            ),
        }
    )
    for col in ("infusion_date", "death_date", "last_alive_date", "new_therapy_date"):
        out[col.replace("_date", "_day")] = parse_dates(f[col], file=name, field=col)
    out["src_row"] = np.arange(len(f)) + 2
    return out


def read_lesions(path: Path, subject_index: dict[str, int]) -> pd.DataFrame:
    f = read_csv_strings(path, LESION_COLUMNS)
    name = path.name
    subj = lookup_ids(
        f["subject_id"], subject_index, file=name, field="subject_id", what="subject_id"
    )
    lesion_ids = strip(f["lesion_id"]).astype(str)
    role = parse_choice(f["role"], ROLES, file=name, field="role")
    nodal = parse_choice(f["nodal"], YES_NO, file=name, field="nodal")
    organ = strip(f["organ"]).astype(str)
    blank = np.flatnonzero(lesion_ids == "")
    if len(blank):
        raise InputError(
            "lesion_id is required",
            file=name,
            row=spreadsheet_row(int(blank[0])),
            field="lesion_id",
        )
    keys = pd.DataFrame({"s": subj, "l": lesion_ids})
    dup = np.flatnonzero(keys.duplicated().to_numpy())
    if len(dup):
        i = int(dup[0])
        first = int(np.flatnonzero((subj == subj[i]) & (lesion_ids == lesion_ids[i]))[0])
        raise InputError(
            f"duplicate lesion {str(lesion_ids[i])!r} for subject {f['subject_id'].iat[i].strip()} "
            f"(first on row {spreadsheet_row(first)})",
            file=name,
            row=spreadsheet_row(i),
            field="lesion_id",
        )
    no_organ = np.flatnonzero((role == 1) & (organ == ""))
    if len(no_organ):
        raise InputError(
            "organ is required for a target lesion (at most 2 targets per organ)",
            file=name,
            row=spreadsheet_row(int(no_organ[0])),
            field="organ",
        )
    return pd.DataFrame(
        {
            "subj": subj,
            "lesion_id": lesion_ids,
            "target": role == 1,
            "organ": organ,
            "nodal": nodal == 1,
            "src_row": np.arange(len(f)) + 2,
        }
    )


def lesion_lookup(
    subj: np.ndarray,
    lesion_values: pd.Series | np.ndarray | Coded,
    lesions: pd.DataFrame,
    *,
    file: str,
) -> np.ndarray:
    """Row of ``lesions`` for each (subject row, lesion_id) pair; unknown pairs fail.

    Lesion ids are compared stripped. Each pair becomes one integer key (subject row times the
    number of known lesion ids, plus the id's number) looked up in a hash index of the
    lesions' keys: no sort of the million assessment rows."""
    codes, uniques = factorized(lesion_values)
    known_codes, known_ids = pd.factorize(lesions["lesion_id"].to_numpy(dtype=object))
    number = {str(v): i for i, v in enumerate(known_ids)}
    width = len(known_ids) + 1  # the last number is "not a known id": it matches no lesion
    ids = np.array([number.get(str(u).strip(), width - 1) for u in uniques] + [width - 1])
    keys = subj.astype(np.int64) * width + ids[codes]
    known = lesions["subj"].to_numpy(np.int64) * width + known_codes
    out = pd.Index(known).get_indexer(keys)
    if (out < 0).any():
        i = int(np.flatnonzero(out < 0)[0])
        raw = str(uniques[codes[i]]).strip() if codes[i] >= 0 else ""
        raise InputError(
            f"lesion {raw!r} is not listed for this subject in lesions.csv",
            file=file,
            row=spreadsheet_row(i),
            field="lesion_id",
        )
    return out.astype(np.int64)


def read_assessments(
    path: Path,
    subject_index: dict[str, int],
    lesions: pd.DataFrame,
    *,
    ahead: Future[Parsed] | None = None,
) -> pd.DataFrame:
    # a million rows: no string per cell
    f = read_csv_coded(path, ASSESSMENT_COLUMNS, ahead=ahead)
    name = path.name
    subj = lookup_ids(
        f["subject_id"], subject_index, file=name, field="subject_id", what="subject_id"
    )
    lesion = lesion_lookup(subj, f["lesion_id"], lesions, file=name)
    day = parse_dates(f["date"], file=name, field="date", required=True)
    diameter = parse_numbers(
        f["diameter_mm"], file=name, field="diameter_mm", within=plausible.LESION_DIAMETER_MM
    )
    state = parse_choice(f["state"], STATES, file=name, field="state")
    return pd.DataFrame(
        {
            "subj": subj,
            "lesion": lesion,
            "day": day.astype(np.int64),
            "value": to_hundredths(diameter),
            "state": state.astype(np.int8),
            "src_row": np.arange(len(subj), dtype=np.int64) + 2,
        }
    )


def read_new_lesions(path: Path, subject_index: dict[str, int]) -> pd.DataFrame:
    f = read_csv_strings(path, ("subject_id", "date"))
    name = path.name
    if "organ" not in f.columns:
        f["organ"] = ""
    subj = lookup_ids(
        f["subject_id"], subject_index, file=name, field="subject_id", what="subject_id"
    )
    day = parse_dates(f["date"], file=name, field="date", required=True)
    return pd.DataFrame(
        {
            "subj": subj,
            "day": day.astype(np.int64),
            "organ": strip(f["organ"]).astype(str),
            "src_row": np.arange(len(f), dtype=np.int64) + 2,
        }
    )


def read_csv_folder(folder: str | Path, *, ahead: Future[Parsed] | None = None) -> ClinicalDataset:
    """Read and validate a CSV folder; raises :class:`InputError` naming file, row and field.
    ``ahead``: ``assessments.csv`` as :func:`~.csv_arrow.read_ahead` began reading it."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder")
    paths = {
        "subjects": root / "subjects.csv",
        "lesions": root / "lesions.csv",
        "assessments": root / "assessments.csv",
        "new_lesions": root / "new_lesions.csv",
        "pd_dates": root / "pd_dates.csv",
    }
    for key in ("subjects", "lesions", "assessments"):
        if not paths[key].is_file():
            raise InputError(f"missing {paths[key].name} in {root}", file=paths[key].name)
    subjects = read_subjects(paths["subjects"])
    subject_index = {sid: i for i, sid in enumerate(subjects["subject_id"].tolist())}
    lesions = read_lesions(paths["lesions"], subject_index)
    assessments = read_assessments(paths["assessments"], subject_index, lesions, ahead=ahead)
    if paths["new_lesions"].is_file():
        new_lesions = read_new_lesions(paths["new_lesions"], subject_index)
    else:
        new_lesions = pd.DataFrame(
            {
                "subj": np.zeros(0, np.int64),
                "day": np.zeros(0, np.int64),
                "organ": [],
                "src_row": [],
            }
        )
    pd_dates = None
    if paths["pd_dates"].is_file():
        pd_dates = read_pd_dates_of(paths["pd_dates"], subject_index)
    present = {k: p for k, p in paths.items() if p.is_file()}
    ds = ClinicalDataset(
        subjects=subjects,
        lesions=lesions,
        assessments=assessments,
        new_lesions=new_lesions,
        files={k: p.name for k, p in paths.items()},
        file_hashes={p.name: sha256_file(p) for p in present.values()},
        source_format="csv",
        pd_dates=pd_dates,
    )
    return replace(ds, warnings=tuple(validate(ds)))


def read_pd_dates_of(path: Path, subject_index: dict[str, int]) -> pd.DataFrame:
    """``pd_dates.csv`` of a CSV folder (optional): ``subj, day, src_row``; a subject that is
    not in ``subjects.csv`` is bad input naming file, row and field."""
    from .responses import read_pd_dates

    f = read_pd_dates(path)
    subj = lookup_ids(
        f["subject_id"].to_numpy(dtype=object),
        subject_index,
        file=path.name,
        field="subject_id",
        what="subject",
        rows=f["src_row"].to_numpy(),
    )
    return pd.DataFrame({"subj": subj, "day": f["pd_day"].to_numpy(float), "src_row": f["src_row"]})
