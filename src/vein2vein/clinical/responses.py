"""Best overall response from collected overall responses only (``responses.csv``), as
admiralonco derives it from RS ``OVRLRESP``.

``responses.csv``: ``subject_id, reference_date, date, response``; a row with a blank date (and
blank response) stands for a subject without any assessment. Responses: CR, PR, SD,
NON-CR/NON-PD, PD, NE, ND (iRECIST labels iCR ... iCPD are accepted too). A subject whose
records hold NON-CR/NON-PD and no PR or SD is taken as non-target-only disease.

``pd_dates.csv`` (``--pd-dates``): ``subject_id, pd_date``, the date of first progression from
a separate source (admiralonco's ``source_pd``, e.g. an ADSL ``PDDT`` or an adjudication
committee's dates). Several rows of one subject: the earliest counts (``filter_pd`` takes the
first PD); a blank ``pd_date``: no progression from this source.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vein2vein.core.errors import InputError

from . import codes as C
from .bor import BorOptions, BorResult, derive_bor
from .dataset import iso_dates
from .parsing import (
    lookup_ids,
    parse_choice,
    parse_dates,
    read_csv_strings,
    sha256_file,
    spreadsheet_row,
    strip,
)

COLUMNS = ("subject_id", "reference_date", "date", "response")
PD_COLUMNS = ("subject_id", "pd_date")


def read_pd_dates(path: str | Path) -> pd.DataFrame:
    """Parse ``pd_dates.csv`` into ``subject_id, pd_day (NaN = none), src_row``; the frame's
    ``attrs`` name the file and its SHA-256 (the provenance of a readout that used it)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} is not a file", file=path.name)
    f = read_csv_strings(path, PD_COLUMNS)
    name = path.name
    ids = strip(f["subject_id"]).astype(str)
    if (ids == "").any():
        i = int(np.flatnonzero(ids == "")[0])
        raise InputError(
            "subject_id is required", file=name, row=spreadsheet_row(i), field="subject_id"
        )
    out = pd.DataFrame(
        {
            "subject_id": ids,
            "pd_day": parse_dates(f["pd_date"], file=name, field="pd_date"),
            "src_row": np.arange(len(f)) + 2,
        }
    )
    out.attrs = {"file": name, "sha256": sha256_file(path)}
    return out


def pd_days(pd_dates: pd.DataFrame, subject_ids: np.ndarray) -> np.ndarray:
    """The earliest progression date per subject of ``subject_ids`` (NaN = none); a subject of
    the file that is not among them is bad input naming the file, row and field."""
    index = {str(s): i for i, s in enumerate(subject_ids.tolist())}
    subj = lookup_ids(
        pd_dates["subject_id"].to_numpy(dtype=object),
        index,
        file=pd_dates.attrs.get("file", "pd_dates.csv"),
        field="subject_id",
        what="subject",
        rows=pd_dates["src_row"].to_numpy(),
    )
    out = np.full(len(subject_ids), np.nan)
    day = pd_dates["pd_day"].to_numpy(dtype=float)
    ok = ~np.isnan(day)
    np.fmin.at(out, subj[ok], day[ok])
    return out


def pd_source(pd_dates: pd.DataFrame) -> str:
    """How provenance names a progression-date file: its name and SHA-256."""
    return f"{pd_dates.attrs.get('file', 'pd_dates.csv')} (SHA-256 {pd_dates.attrs.get('sha256')})"


def read_responses(path: str | Path) -> pd.DataFrame:
    """Parse ``responses.csv`` into ``subject_id, ref_day, day (NaN = none), response (code,
    -1 = none), src_row``, in file order."""
    path = Path(path)
    f = read_csv_strings(path, COLUMNS)
    name = path.name
    ids = strip(f["subject_id"]).astype(str)
    if (ids == "").any():
        i = int(np.flatnonzero(ids == "")[0])
        raise InputError(
            "subject_id is required", file=name, row=spreadsheet_row(i), field="subject_id"
        )
    ref = parse_dates(f["reference_date"], file=name, field="reference_date", required=True)
    day = parse_dates(f["date"], file=name, field="date")
    resp = parse_choice(f["response"], {**C.PARSE, "": -1}, file=name, field="response")
    no_date = np.isnan(day)
    bad = no_date != (resp < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        field = "response" if not no_date[i] else "date"
        raise InputError(
            "date and response go together: both filled for an assessment, both blank for a "
            "subject without one",
            file=name,
            row=spreadsheet_row(i),
            field=field,
        )
    out = pd.DataFrame(
        {
            "subject_id": ids,
            "ref_day": ref,
            "day": day,
            "response": resp,
            "src_row": np.arange(len(f)) + 2,
        }
    )
    refs = out.groupby("subject_id", sort=False)["ref_day"].nunique()
    if (refs > 1).any():
        sid = refs.index[int(np.flatnonzero(refs.to_numpy() > 1)[0])]
        rows = out.loc[out["subject_id"] == sid, "src_row"].to_numpy()
        first_ref = out.loc[out["subject_id"] == sid, "ref_day"].to_numpy()
        i = int(np.flatnonzero(first_ref != first_ref[0])[0])
        raise InputError(
            f"subject {sid} has more than one reference_date",
            file=name,
            row=int(rows[i]),
            field="reference_date",
        )
    return out


def bor_from_responses(
    frame: pd.DataFrame,
    options: BorOptions = BorOptions(),
    pd_dates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per subject (file order): ``subject_id, bor, bor_date, bor_confirmed,
    bor_confirmed_date, confirmed_on, first_response_date, first_confirmed_response_date,
    clinical_benefit, clinical_benefit_confirmed``. ``pd_dates`` (:func:`read_pd_dates`): the
    progression dates that cut the records with ``after_pd="drop"``."""
    check_pd_source(options, pd_dates)
    ids, subj = np.unique(frame["subject_id"].to_numpy(), return_inverse=True)
    first_seen = pd.Series(np.arange(len(frame))).groupby(subj).min().to_numpy()
    n = len(ids)
    ref = np.full(n, np.nan)
    ref[subj] = frame["ref_day"].to_numpy()
    rec = ~np.isnan(frame["day"].to_numpy())
    r_subj = subj[rec]
    r_day = frame["day"].to_numpy()[rec].astype(np.int64)
    r_resp = frame["response"].to_numpy()[rec].astype(np.int64)
    has_nn = np.bincount(r_subj[r_resp == C.NN], minlength=n) > 0
    has_measured = np.bincount(r_subj[np.isin(r_resp, (C.PR, C.SD))], minlength=n) > 0
    res: BorResult = derive_bor(
        r_subj,
        r_day,
        r_resp,
        n,
        ref,
        options,
        nt_only=has_nn & ~has_measured,
        pd_day=None if pd_dates is None else pd_days(pd_dates, ids),
    )
    irecist = bool((r_resp == C.UPD).any())
    labels = np.array(C.IRECIST_LABELS if irecist else C.LABELS, dtype=object)
    out = pd.DataFrame(
        {
            "subject_id": ids,
            "bor": labels[res.bor],
            "bor_date": iso_dates(res.bor_day),
            "bor_confirmed": labels[res.cbor],
            "bor_confirmed_date": iso_dates(res.cbor_day),
            "confirmed_on": iso_dates(res.confirmed_on),
            "first_response_date": iso_dates(res.response_start),
            "first_confirmed_response_date": iso_dates(res.confirmed_response_start),
            "clinical_benefit": res.clinical_benefit,
            "clinical_benefit_confirmed": res.clinical_benefit_confirmed,
        }
    )
    return out.iloc[np.argsort(first_seen, kind="stable")].reset_index(drop=True)


def check_pd_source(options: BorOptions, pd_dates: pd.DataFrame | None) -> None:
    """Progression dates cut the records: with ``after_pd="keep"`` nothing is cut, so the two
    together are refused rather than the file silently ignored."""
    if pd_dates is not None and not options.truncate_at_first_pd:
        raise InputError(
            "progression dates from a separate file cut the assessments after progression: "
            "they need after-pd 'drop', not 'keep'",
            field="after_pd",
        )
