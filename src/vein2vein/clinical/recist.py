"""RECIST 1.1 time-point responses from lesion measurements (Eisenhauer et al., Eur J Cancer
2009;45:228-247, sections 4.3-4.4 and tables 1-2).

Vectorised over all subjects: one row per (subject, assessment date after infusion). The rules:

* Sum of diameters (SoD) = longest diameters of non-nodal targets + short axes of nodal targets.
* Target CR: every non-nodal target 0 mm and every nodal target < 10 mm short axis (the SoD can
  then be > 0). CR is tested before PD, so a node that grows from 4 to 9 mm stays normal.
* Target PD: SoD >= 120 % of the nadir **and** >= nadir + 5 mm (both inclusive). The nadir is the
  smallest SoD before the time point, baseline included, over time points with every target
  measured (not-evaluable visits never update it).
* Target PR: SoD <= 70 % of the baseline SoD (inclusive). Otherwise SD.
* A target not evaluated makes the time point NE, unless the targets that were measured already
  meet PD against the nadir (guideline example: 80 mm from a 50 mm baseline with a lesion
  missing is PD).
* Non-target: any UNEQUIVOCAL PROGRESSION -> PD; else any not evaluated -> NE; else all absent
  (nodes < 10 mm count as normal) -> CR; else NON-CR/NON-PD.
* New lesion -> PD. Overall response by RECIST table 1 (targets) or table 2 (non-target only).

All comparisons are in integer hundredths of a mm (``10 * SoD <= 7 * baseline``), never floats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from vein2vein.clinical.codes import CR, NE, NN, NONE, PD, PR, SD
from vein2vein.clinical.dataset import (
    ABSENT,
    BLANK,
    NOT_EVALUATED,
    NOT_MEASURED,
    UNEQUIVOCAL,
    ClinicalDataset,
    baseline_rows,
    effective_target_values,
)

NODE_NORMAL = 1000  # 10 mm short axis, hundredths
PD_ABSOLUTE = 500  # 5 mm
_OFFSET = 1 << 20  # day numbers are shifted to stay positive inside the packed keys
_DAYS = 1 << 22
_BIG = 1 << 40  # "no value" for sums in hundredths of a mm


@dataclass(frozen=True)
class Timepoints:
    """Time-point table plus per-subject baseline facts.

    ``frame`` columns: ``subj, day, complete, sum, n_measured, nadir, target, non_target,
    new_lesion, n_new, n_up, overall`` (codes from :mod:`vein2vein.clinical.codes`), sorted by
    subject then date. ``sum`` is the SoD in hundredths of a mm (the partial sum of the measured
    targets when ``complete`` is false); ``nadir`` is the nadir *before* the time point.
    """

    frame: pd.DataFrame
    n_targets: np.ndarray
    n_nontargets: np.ndarray
    base_sum: np.ndarray  # hundredths of a mm; 0 without targets
    baseline_day: np.ndarray  # latest baseline assessment day (NaN if none)


def segmented_cummin(values: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Inclusive running minimum that restarts at each new ``seg`` (sorted, non-negative)."""
    shifted = values - seg * (_BIG * 4)
    return np.minimum.accumulate(shifted) + seg * (_BIG * 4)


def derive_timepoints(ds: ClinicalDataset, infusion: np.ndarray) -> Timepoints:
    """Time-point responses for every subject; ``infusion`` is the reference day per subject
    (NaN = not infused, no time points). Assessments on or before it are baseline."""
    n_subj = ds.n_subjects
    les, a, nl = ds.lesions, ds.assessments, ds.new_lesions
    l_subj = les["subj"].to_numpy()
    l_target = les["target"].to_numpy(bool)
    l_nodal = les["nodal"].to_numpy(bool)
    n_targets = np.bincount(l_subj[l_target], minlength=n_subj)
    n_nontargets = np.bincount(l_subj[~l_target], minlength=n_subj)

    a_subj = a["subj"].to_numpy()
    a_lesion = a["lesion"].to_numpy()
    a_day = a["day"].to_numpy().astype(np.int64)
    a_value = a["value"].to_numpy().astype(np.int64)
    a_state = a["state"].to_numpy()

    base = baseline_rows(ds, infusion)
    t_base = base[l_target]
    base_vals = np.where(
        t_base >= 0,
        effective_target_values(a_value[np.maximum(t_base, 0)], a_state[np.maximum(t_base, 0)]),
        0,
    )
    base_sum = np.bincount(
        l_subj[l_target], weights=np.maximum(base_vals, 0), minlength=n_subj
    ).astype(np.int64)
    baseline_day = np.full(n_subj, np.nan)
    if (base >= 0).any():
        b = base[base >= 0]
        bd = pd.Series(a_day[b]).groupby(a_subj[b]).max()
        baseline_day[bd.index.to_numpy()] = bd.to_numpy()

    post = a_day > infusion[a_subj]  # False when not infused
    p_subj, p_day = a_subj[post], a_day[post]
    p_lesion, p_value, p_state = a_lesion[post], a_value[post], a_state[post]
    nl_subj = nl["subj"].to_numpy()
    nl_day = nl["day"].to_numpy().astype(np.int64)
    nl_post = nl_day > infusion[nl_subj]
    nl_subj, nl_day = nl_subj[nl_post], nl_day[nl_post]

    a_key = p_subj.astype(np.int64) * _DAYS + (p_day + _OFFSET)
    n_key = nl_subj.astype(np.int64) * _DAYS + (nl_day + _OFFSET)
    keys, inverse = np.unique(np.concatenate([a_key, n_key]), return_inverse=True)
    tp_a, tp_n = inverse[: len(a_key)], inverse[len(a_key) :]
    m = len(keys)
    subj = (keys // _DAYS).astype(np.int64)
    day = keys % _DAYS - _OFFSET

    is_t = l_target[p_lesion]
    nodal = l_nodal[p_lesion]
    t_val = effective_target_values(p_value, p_state)
    t_ok = is_t & (t_val >= 0)
    n_measured = np.bincount(tp_a[t_ok], minlength=m)
    tsum = np.bincount(tp_a[t_ok], weights=t_val[t_ok], minlength=m).astype(np.int64)
    nonnodal_left = np.bincount(tp_a[t_ok & ~nodal & (t_val > 0)], minlength=m)
    nodes_big = np.bincount(tp_a[t_ok & nodal & (t_val >= NODE_NORMAL)], minlength=m)

    nt = ~is_t
    nt_up = nt & (p_state == UNEQUIVOCAL)
    nt_ne = nt & ((p_state == NOT_EVALUATED) | ((p_state == BLANK) & (p_value == NOT_MEASURED)))
    nt_normal = nt & (
        (p_state == ABSENT) | (nodal & (p_value >= 0) & (p_value < NODE_NORMAL) & ~nt_up & ~nt_ne)
    )
    n_up = np.bincount(tp_a[nt_up], minlength=m)
    nt_evaluated = np.bincount(tp_a[nt & ~nt_ne], minlength=m)
    n_normal = np.bincount(tp_a[nt_normal], minlength=m)
    n_new = np.bincount(tp_n, minlength=m)

    nt_count = n_targets[subj]
    complete = n_measured == nt_count
    s_eval = np.where(complete & (nt_count > 0), tsum, _BIG)
    running = segmented_cummin(s_eval, subj)
    prev = np.full(m, _BIG, dtype=np.int64)
    if m > 1:
        same = subj[1:] == subj[:-1]
        prev[1:] = np.where(same, running[:-1], _BIG)
    nadir = np.minimum(base_sum[subj], prev)

    pd_t = (10 * tsum >= 12 * nadir) & (tsum - nadir >= PD_ABSOLUTE)
    cr_t = complete & (nonnodal_left == 0) & (nodes_big == 0)
    pr_t = complete & (10 * tsum <= 7 * base_sum[subj])
    target = np.select(
        [nt_count == 0, cr_t, pd_t, ~complete, pr_t],
        [NONE, CR, PD, NE, PR],
        default=SD,
    )
    nnt = n_nontargets[subj]
    non_target = np.select(
        [nnt == 0, n_up > 0, nt_evaluated < nnt, n_normal == nnt],
        [NONE, PD, NE, CR],
        default=NN,
    )
    new = n_new > 0
    overall = np.select(
        [
            new | (target == PD) | (non_target == PD),
            (target == CR) & ((non_target == CR) | (non_target == NONE)),
            target == CR,
            target == PR,
            target == SD,
            target == NE,
            (target == NONE) & (non_target == CR),
            (target == NONE) & (non_target == NN),
        ],
        [PD, CR, PR, PR, SD, NE, CR, NN],
        default=NE,
    )
    frame = pd.DataFrame(
        {
            "subj": subj,
            "day": day,
            "complete": complete & (nt_count > 0),
            "sum": tsum,
            "n_measured": n_measured,
            "nadir": np.where(nt_count > 0, nadir, 0),
            "target": target.astype(np.int8),
            "non_target": non_target.astype(np.int8),
            "new_lesion": new,
            "n_new": n_new,
            "n_up": n_up,
            "overall": overall.astype(np.int8),
        }
    )
    return Timepoints(frame, n_targets, n_nontargets, base_sum, baseline_day)


def target_response(
    sum_mm: float | None,
    baseline_mm: float,
    nadir_mm: float,
    *,
    all_nonnodal_zero: bool = False,
    all_nodes_normal: bool = True,
    complete: bool = True,
) -> str:
    """Scalar form of the target rule, for documentation and tests (mm in, label out)."""
    s = round((sum_mm or 0.0) * 100)
    b, n = round(baseline_mm * 100), round(nadir_mm * 100)
    if complete and all_nonnodal_zero and all_nodes_normal:
        return "CR"
    if 10 * s >= 12 * n and s - n >= PD_ABSOLUTE:
        return "PD"
    if not complete:
        return "NE"
    if 10 * s <= 7 * b:
        return "PR"
    return "SD"
