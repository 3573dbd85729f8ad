"""Time-to-event endpoints per subject: OS, PFS and DOR with the FDA censoring conventions
(FDA guidance "Clinical Trial Endpoints for the Approval of Cancer Drugs and Biologics", 2018,
and its 2007 appendix table), in the ADTTE spirit of admiralonco (``R/tte_sources.R``).

Days are the plain date difference (end - origin, no +1); the origin is the infusion date.

* **OS**: death -> event at the death date; otherwise censored at the last known alive date,
  the latest of ``last_alive_date`` and every dated record of the subject (admiral's
  ``LSTALVDT``), capped at the data cut-off.
* **PFS**: the first PD time point dated before new anticancer therapy -> event; else death
  before new therapy -> event at the death date however long after the last assessment; else
  censored at the last adequate (not NE) assessment before new therapy; with no adequate
  assessment, censored at day 0. Death on or after new therapy with no PD before it is censored.
* **DOR**: responders only, from the first (confirmed, by default) CR/PR to the PFS end point,
  with the PFS event flag and censoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Endpoint:
    days: np.ndarray  # float, NaN = not applicable
    event: np.ndarray  # 1 event, 0 censored, -1 not applicable
    end_day: np.ndarray
    reason: np.ndarray  # object: event or censoring description


def group_max(subj: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -np.inf)
    if len(subj):
        np.maximum.at(out, subj, values.astype(float))
    out[np.isinf(out)] = np.nan
    return out


def group_min(subj: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.inf)
    if len(subj):
        np.minimum.at(out, subj, values.astype(float))
    out[np.isinf(out)] = np.nan
    return out


def overall_survival(ref: np.ndarray, death: np.ndarray, last_known_alive: np.ndarray) -> Endpoint:
    has_death = ~np.isnan(death)
    end = np.where(has_death, death, np.fmax(last_known_alive, ref))
    days = end - ref
    event = np.where(np.isnan(ref), -1, has_death.astype(int))
    reason = np.where(has_death, "death", "censored: last known alive").astype(object)
    reason[np.isnan(ref)] = None
    return Endpoint(days, event, end, reason)


def progression_free_survival(
    ref: np.ndarray,
    death: np.ndarray,
    new_therapy: np.ndarray,
    pd_day: np.ndarray,
    last_adequate: np.ndarray,
) -> Endpoint:
    """``pd_day`` and ``last_adequate`` must already be restricted to before new therapy."""
    has_pd = ~np.isnan(pd_day)
    death_counts = ~np.isnan(death) & ~(death >= new_therapy)
    has_nt = ~np.isnan(new_therapy)
    no_assessment = np.isnan(last_adequate)
    end = np.select(
        [has_pd, death_counts, no_assessment], [pd_day, death, ref], default=last_adequate
    )
    event = np.where(has_pd | death_counts, 1, 0)
    reason = np.select(
        [
            has_pd,
            death_counts,
            no_assessment & has_nt,
            no_assessment,
            has_nt,
        ],
        [
            "progression",
            "death",
            "censored: new anticancer therapy, no adequate assessment (day 0)",
            "censored: no adequate assessment (day 0)",
            "censored: last adequate assessment before new anticancer therapy",
        ],
        default="censored: last adequate assessment",
    ).astype(object)
    not_applicable = np.isnan(ref)
    event[not_applicable] = -1
    reason[not_applicable] = None
    return Endpoint(end - ref, event, end, reason)


def duration_of_response(response_start: np.ndarray, pfs: Endpoint) -> Endpoint:
    responder = ~np.isnan(response_start)
    days = np.where(responder, pfs.end_day - response_start, np.nan)
    event = np.where(responder, pfs.event, -1)
    reason = pfs.reason.copy()
    reason[~responder] = None
    return Endpoint(days, event, np.where(responder, pfs.end_day, np.nan), reason)
