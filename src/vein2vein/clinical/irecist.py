"""iRECIST time-point responses (Seymour L et al., Lancet Oncol 2017;18:e143-52), built on the
RECIST 1.1 time points, for immunotherapies such as CAR-T where inflammation can look like
progression.

* The first RECIST PD is **iUPD** (unconfirmed). Assessment continues past it.
* At a later assessment that again meets PD, **iCPD** (confirmed) when: the target SoD rose a
  further >= 5 mm over the iUPD sum (target PD at iUPD), or targets now meet PD when they did not
  at iUPD; non-target lesions are again recorded as UNEQUIVOCAL PROGRESSION (the lesion states
  carry no finer grading, so the investigator's renewed call stands for "further increase");
  or new lesions are recorded again (more new lesions, or new lesions as a new category).
  Otherwise the time point stays iUPD.
* An iCR/iPR/iSD/non-iCR/non-iUPD after iUPD **resets** the bar: a later PD is a new iUPD.
* NE after iUPD leaves the iUPD pending.
* For PFS, progression is dated at the iUPD that was later confirmed, or at an iUPD still
  unconfirmed at the end of the data (conservative; the guideline asks that the reason for a
  missing confirmation be recorded). The best overall response (iBOR) uses every time point up
  to the first iCPD; iUPD ranks with PD and breaks a confirmation in progress.

The confirmation is sought at the next assessments whatever their timing (the guideline
recommends 4-8 weeks after iUPD); the dates are in the output for review.
"""

from __future__ import annotations

import numpy as np

from vein2vein.clinical.codes import NE, PD, UPD
from vein2vein.clinical.recist import PD_ABSOLUTE


def irecist_overall(
    subj: np.ndarray,
    day: np.ndarray,
    overall: np.ndarray,
    target: np.ndarray,
    non_target: np.ndarray,
    new_lesion: np.ndarray,
    sums: np.ndarray,
    n_subjects: int,
    stop_day: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """iRECIST overall codes aligned with the (subject, date)-sorted time points, and the
    progression day per subject for PFS (NaN = none). Time points on or after ``stop_day``
    (new therapy) keep their RECIST code and are not used."""
    out = overall.astype(np.int64).copy()
    pd_day = np.full(n_subjects, np.nan)
    bounds = np.flatnonzero(np.diff(subj)) + 1
    starts = np.concatenate([[0], bounds]) if len(subj) else np.zeros(0, int)
    ends = np.concatenate([bounds, [len(subj)]]) if len(subj) else np.zeros(0, int)
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        s = int(subj[lo])
        stop = stop_day[s]
        pending = False
        upd_day = upd_sum = 0
        upd_target = False
        for k in range(lo, hi):
            if day[k] >= stop:
                break
            r = int(overall[k])
            if r == PD:
                if not pending:
                    pending, upd_day, upd_sum = True, int(day[k]), int(sums[k])
                    upd_target = bool(target[k] == PD)
                    out[k] = UPD
                    continue
                target_more = target[k] == PD and (
                    not upd_target or int(sums[k]) - upd_sum >= PD_ABSOLUTE
                )
                if target_more or non_target[k] == PD or new_lesion[k]:
                    out[k] = PD
                    pd_day[s] = upd_day
                    pending = False
                    break
                out[k] = UPD
            elif r == NE:
                out[k] = NE
            else:
                pending = False
        if pending:
            pd_day[s] = upd_day
    return out, pd_day
