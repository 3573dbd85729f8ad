"""The normalised clinical dataset that every reader produces and the engine consumes.

Columnar on purpose (pandas frames of integer codes and day numbers): a readout of 10,000
subjects and a million lesion measurements runs as array operations, not Python loops.

Dates are day numbers (days since 1970-01-01); subject-level dates that may be missing are
floats with NaN. Diameters are integers in hundredths of a millimetre, so that RECIST's
thresholds (-30 %, +20 %, +5 mm) are decided exactly: 35.0 mm against 50.0 mm is exactly -30 %.
Every row keeps ``src_row``, the 1-based row of its source file as a spreadsheet shows it, so
errors and warnings can name file, row and field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vein2vein.core.errors import InputError

#: Assessment ``state`` codes.
BLANK, PRESENT, ABSENT, TOO_SMALL, UNEQUIVOCAL, NOT_EVALUATED = range(6)
STATES = {
    "": BLANK,
    "PRESENT": PRESENT,
    "ABSENT": ABSENT,
    "TOO SMALL": TOO_SMALL,
    "TOO SMALL TO MEASURE": TOO_SMALL,
    "UNEQUIVOCAL PROGRESSION": UNEQUIVOCAL,
    "NOT EVALUATED": NOT_EVALUATED,
    "NOT EVALUABLE": NOT_EVALUATED,
    "NE": NOT_EVALUATED,
}

#: "Too small to measure" counts as 5 mm (RECIST 1.1 appendix II), in hundredths of a mm.
TOO_SMALL_VALUE = 500
NOT_MEASURED = -1

MAX_TARGETS = 5
MAX_TARGETS_PER_ORGAN = 2

EPOCH = dt.date(1970, 1, 1)


def day_of(value: dt.date) -> int:
    return (value - EPOCH).days


def date_of(day: float | int | None) -> dt.date | None:
    if day is None or (isinstance(day, float) and np.isnan(day)):
        return None
    return EPOCH + dt.timedelta(days=int(day))


def iso_dates(days: np.ndarray) -> np.ndarray:
    """Day numbers (float, NaN = none) to ISO date strings (None for NaN)."""
    days = np.asarray(days, dtype=float)
    out = np.full(len(days), None, dtype=object)
    ok = ~np.isnan(days)
    uniq, inv = np.unique(days[ok], return_inverse=True)
    text = uniq.astype("int64").astype("datetime64[D]").astype(str).astype(object)
    out[ok] = text[inv]
    return out


def to_hundredths(mm: np.ndarray) -> np.ndarray:
    """Millimetres (float, NaN = blank) to integer hundredths of a mm (-1 = blank)."""
    out = np.full(mm.shape, NOT_MEASURED, dtype=np.int64)
    ok = ~np.isnan(mm)
    out[ok] = np.rint(mm[ok] * 100.0).astype(np.int64)
    return out


@dataclass(frozen=True)
class ClinicalDataset:
    """Subjects, lesions, lesion assessments, new lesions and (optionally) collected responses.

    ``subjects``: ``subject_id, dose_group, dose_per_kg, infusion_day, death_day,
    last_alive_day, new_therapy_day, src_row``. ``lesions``: ``subj`` (row of ``subjects``),
    ``lesion_id, target, organ, nodal, src_row``. ``assessments``: ``subj, lesion`` (row of
    ``lesions``), ``day, value`` (hundredths of a mm, -1 blank), ``state`` (code), ``src_row``.
    ``new_lesions``: ``subj, day, organ, src_row``. ``investigator``: responses the site
    recorded (SDTM RS ``OVRLRESP``), ``subj, day, response, src_row``, compared with the derived
    ones. ``pd_dates``: progression dates from a separate source (``pd_dates.csv``), ``subj, day``
    (NaN = none), ``src_row``, that cut the BOR records (admiralonco's ``source_pd``). ``files``
    names the source of each frame; ``file_hashes`` holds SHA-256 of the raw files.
    """

    subjects: pd.DataFrame
    lesions: pd.DataFrame
    assessments: pd.DataFrame
    new_lesions: pd.DataFrame
    investigator: pd.DataFrame | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    file_hashes: Mapping[str, str] = field(default_factory=dict)
    source_format: str = "memory"
    warnings: tuple[str, ...] = ()
    field_names: Mapping[str, str] = field(default_factory=dict)
    pd_dates: pd.DataFrame | None = None

    @property
    def n_subjects(self) -> int:
        return len(self.subjects)

    def file(self, frame: str) -> str:
        return self.files.get(frame, frame)

    def field(self, frame: str, name: str) -> str:
        """The source's name for a field (SDTM variables differ from the CSV columns)."""
        return self.field_names.get(f"{frame}.{name}", name)

    def input_hash(self) -> str:
        """SHA-256 of the raw files when read from disk, else of the frames' contents."""
        h = hashlib.sha256()
        if self.file_hashes:
            for name in sorted(self.file_hashes):
                h.update(f"{name}:{self.file_hashes[name]}\n".encode())
            return h.hexdigest()
        frames = ("subjects", "lesions", "assessments", "new_lesions", "investigator", "pd_dates")
        for name in frames:
            frame = getattr(self, name)
            if frame is None:
                continue
            h.update(name.encode())
            h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        return h.hexdigest()


def _first(mask: np.ndarray, rows: np.ndarray) -> int | None:
    """Index (into ``rows``) of the offending row that comes first in its file, or None."""
    if not mask.any():
        return None
    idx = np.flatnonzero(mask)
    return int(idx[np.argmin(rows[idx])])


def validate(ds: ClinicalDataset) -> list[str]:
    """Cross-file checks every reader shares. Raises :class:`InputError` naming file, row and
    field for the first violation in file order; returns warnings (non-measurable baselines)."""
    s, les, a, nl = ds.subjects, ds.lesions, ds.assessments, ds.new_lesions
    death = s["death_day"].to_numpy(float)
    infusion = s["infusion_day"].to_numpy(float)

    last_alive = s["last_alive_day"].to_numpy(float)
    s_rows = s["src_row"].to_numpy()
    # the order of events: infusion <= death, infusion <= last contact (issue 10: an infusion
    # after the death date used to pass here and fail later, in the readout)
    for column, label in (("death_day", "death_date"), ("last_alive_day", "last_alive_date")):
        i = _first(s[column].to_numpy(float) < infusion, s_rows)
        if i is not None:
            raise InputError(
                f"subject {s['subject_id'].iat[i]}: the infusion date is after the "
                f"{label.replace('_', ' ')}",
                file=ds.file("subjects"),
                row=int(s["src_row"].iat[i]),
                field=ds.field("subjects", "infusion_date"),
            )
    i = _first(last_alive > death, s_rows)
    if i is not None:
        raise InputError(
            f"subject {s['subject_id'].iat[i]} was last known alive after the death date",
            file=ds.file("subjects"),
            row=int(s["src_row"].iat[i]),
            field=ds.field("subjects", "last_alive_date"),
        )

    a_subj = a["subj"].to_numpy()
    a_day = a["day"].to_numpy()
    a_rows = a["src_row"].to_numpy()
    i = _first(a_day > death[a_subj], a_rows)
    if i is not None:
        raise InputError(
            f"assessment of subject {s['subject_id'].iat[a_subj[i]]} is dated after the death date",
            file=ds.file("assessments"),
            row=int(a_rows[i]),
            field=ds.field("assessments", "date"),
        )
    nl_subj = nl["subj"].to_numpy()
    i = _first(nl["day"].to_numpy() > death[nl_subj], nl["src_row"].to_numpy())
    if i is not None:
        raise InputError(
            f"new lesion of subject {s['subject_id'].iat[nl_subj[i]]} is dated after the "
            "death date",
            file=ds.file("new_lesions"),
            row=int(nl["src_row"].iat[i]),
            field=ds.field("new_lesions", "date"),
        )

    a_lesion = a["lesion"].to_numpy()
    key = a_lesion.astype(np.int64) * (1 << 24) + (a_day - a_day.min() if len(a_day) else 0)
    order = np.argsort(key, kind="stable")
    dup = np.zeros(len(a), bool)
    dup[order[1:]] = key[order[1:]] == key[order[:-1]]
    i = _first(dup, a_rows)
    if i is not None:
        raise InputError(
            f"lesion {les['lesion_id'].iat[a_lesion[i]]} of subject "
            f"{s['subject_id'].iat[a_subj[i]]} is assessed twice on the same date",
            file=ds.file("assessments"),
            row=int(a_rows[i]),
            field=ds.field("assessments", "date"),
        )

    target = les["target"].to_numpy(bool)
    state = a["state"].to_numpy()
    i = _first(target[a_lesion] & (state == UNEQUIVOCAL), a_rows)
    if i is not None:
        raise InputError(
            "a target lesion is measured, not judged: UNEQUIVOCAL PROGRESSION applies to "
            "non-target lesions only",
            file=ds.file("assessments"),
            row=int(a_rows[i]),
            field=ds.field("assessments", "state"),
        )

    _check_target_counts(ds)
    return _check_baselines(ds, infusion)


def _check_target_counts(ds: ClinicalDataset) -> None:
    les = ds.lesions[ds.lesions["target"].to_numpy(bool)]
    if les.empty:
        return
    les = les.sort_values("src_row", kind="stable")
    per_subject = les.groupby("subj", sort=False).cumcount().to_numpy() + 1
    per_organ = les.groupby(["subj", "organ"], sort=False).cumcount().to_numpy() + 1
    rows = les["src_row"].to_numpy()
    subject_ids = ds.subjects["subject_id"].to_numpy()
    for mask, limit, what in (
        (per_subject > MAX_TARGETS, MAX_TARGETS, "in total"),
        (per_organ > MAX_TARGETS_PER_ORGAN, MAX_TARGETS_PER_ORGAN, "per organ"),
    ):
        i = _first(mask, rows)
        if i is not None:
            subj = int(les["subj"].iat[i])
            raise InputError(
                f"subject {subject_ids[subj]} has more than {limit} target lesions {what} "
                f"(RECIST 1.1: at most {MAX_TARGETS} in total and {MAX_TARGETS_PER_ORGAN} "
                f"per organ); lesion {les['lesion_id'].iat[i]}"
                + (f" in {les['organ'].iat[i]}" if what == "per organ" else "")
                + " is one too many",
                file=ds.file("lesions"),
                row=int(rows[i]),
                field=ds.field("lesions", "role"),
            )


def baseline_rows(ds: ClinicalDataset, infusion: np.ndarray) -> np.ndarray:
    """Per lesion, the row of ``assessments`` that is its baseline (latest on or before the
    infusion date), or -1."""
    a = ds.assessments
    a_subj = a["subj"].to_numpy()
    a_day = a["day"].to_numpy()
    cand = np.flatnonzero(a_day <= infusion[a_subj])  # NaN infusion: never true
    out = np.full(len(ds.lesions), -1, dtype=np.int64)
    if len(cand) == 0:
        return out
    lesion = a["lesion"].to_numpy()[cand]
    order = np.lexsort((a_day[cand], lesion))
    last = np.ones(len(order), bool)
    last[:-1] = lesion[order[1:]] != lesion[order[:-1]]
    chosen = cand[order[last]]
    out[lesion[order[last]]] = chosen
    return out


def effective_target_values(value: np.ndarray, state: np.ndarray) -> np.ndarray:
    """Target measurements in hundredths of a mm (-1 = not evaluated): a stated ABSENT or TOO
    SMALL wins over the diameter cell; NOT EVALUATED or a blank diameter is not evaluated."""
    out = value.copy()
    out[state == ABSENT] = 0
    out[state == TOO_SMALL] = TOO_SMALL_VALUE
    out[state == NOT_EVALUATED] = NOT_MEASURED
    return out


def _check_baselines(ds: ClinicalDataset, infusion: np.ndarray) -> list[str]:
    les = ds.lesions
    a = ds.assessments
    base = baseline_rows(ds, infusion)
    target = les["target"].to_numpy(bool)
    infused = ~np.isnan(infusion[les["subj"].to_numpy()])
    subject_ids = ds.subjects["subject_id"].to_numpy()

    no_row = target & infused & (base < 0)
    i = _first(no_row, les["src_row"].to_numpy())
    if i is not None:
        raise InputError(
            f"target lesion {les['lesion_id'].iat[i]} of subject "
            f"{subject_ids[les['subj'].iat[i]]} has no assessment on or before the infusion "
            "date, so it has no baseline diameter",
            file=ds.file("lesions"),
            row=int(les["src_row"].iat[i]),
            field=ds.field("lesions", "lesion_id"),
        )
    has = target & (base >= 0)
    rows = base[has]
    vals = effective_target_values(a["value"].to_numpy()[rows], a["state"].to_numpy()[rows])
    bad = vals < 0
    if bad.any():
        arow = a["src_row"].to_numpy()[rows]
        j = int(np.flatnonzero(bad)[np.argmin(arow[bad])])
        raise InputError(
            "target lesion has no diameter at baseline (the latest assessment on or before the "
            "infusion date)",
            file=ds.file("assessments"),
            row=int(arow[j]),
            field=ds.field("assessments", "diameter_mm"),
        )
    warnings = []
    nodal = les["nodal"].to_numpy(bool)[has]
    small = np.where(nodal, vals < 1500, vals < 1000)
    for k in np.flatnonzero(small)[:50]:
        lesion_row = np.flatnonzero(has)[k]
        warnings.append(
            f"{ds.file('lesions')} row {les['src_row'].iat[lesion_row]}: target lesion "
            f"{les['lesion_id'].iat[lesion_row]} of subject "
            f"{subject_ids[les['subj'].iat[lesion_row]]} measures {vals[k] / 100:g} mm at "
            "baseline, below RECIST 1.1's measurable size "
            f"({'15 mm short axis for a node' if nodal[k] else '10 mm'})"
        )
    if small.sum() > 50:
        warnings.append(f"... and {int(small.sum()) - 50} more non-measurable baseline targets")
    return warnings
