"""Best overall response from collected overall responses only (``responses.csv``), as
admiralonco derives it from RS ``OVRLRESP``.

``responses.csv``: ``subject_id, reference_date, date, response``; a row with a blank date (and
blank response) stands for a subject without any assessment. Responses: CR, PR, SD,
NON-CR/NON-PD, PD, NE, ND (iRECIST labels iCR ... iCPD are accepted too). A subject whose
records hold NON-CR/NON-PD and no PR or SD is taken as non-target-only disease.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vein2vein.core.errors import InputError

from . import codes as C
from .bor import BorOptions, BorResult, derive_bor
from .dataset import iso_dates
from .parsing import parse_choice, parse_dates, read_csv_strings, spreadsheet_row, strip

COLUMNS = ("subject_id", "reference_date", "date", "response")


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


def bor_from_responses(frame: pd.DataFrame, options: BorOptions = BorOptions()) -> pd.DataFrame:
    """One row per subject (file order): ``subject_id, bor, bor_date, bor_confirmed,
    bor_confirmed_date, confirmed_on``."""
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
        r_subj, r_day, r_resp, n, ref, options, nt_only=has_nn & ~has_measured
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
        }
    )
    return out.iloc[np.argsort(first_seen, kind="stable")].reset_index(drop=True)
