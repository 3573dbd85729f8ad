"""Best overall response (BOR), unconfirmed and confirmed, from dated overall responses.

The rules are admiralonco's (pharmaverse, ``R/derive_param_bor.R`` and
``R/derive_param_confirmed_bor.R``; their tests are reproduced in our test suite), which encode
RECIST 1.1 section 4.4 and table 3:

* Records are cut at new anticancer therapy (kept only when dated before it), several records
  on one date are reduced to the worst (admiralonco ``adrs`` vignette ``worst_resp``), and
  records after the first PD are dropped (the PD date itself is kept).
* **Unconfirmed BOR**: best of CR > PR > SD > NON-CR/NON-PD > PD > NE > ND, earliest date on
  ties; SD and NON-CR/NON-PD count only on or after ``reference date + sd_min_days``
  (otherwise NE); no record -> MISSING (option: NE).
* **Confirmed BOR**: a CR is confirmed by the first later CR at least ``confirm_days`` later with
  only CR/NE in between; a PR by the first later CR/PR at least ``confirm_days`` later with only
  CR/PR/SD/NE in between, no PR after a CR, and no SD (one with ``accept_sd``). At most
  ``max_ne`` NE in between. Unconfirmed CR/PR and SD on or after the SD minimum count as SD
  (NON-CR/NON-PD for non-target-only disease); earlier ones as NE.
* CR followed by PR: counts as SD by default (admiralonco); with ``cr_then_pr="PD"`` a PR after
  a CR is taken as progression (RECIST 1.1: if the CR was real, reappearing disease is PD).
* After the first PD: ``after_pd="drop"`` (default) cuts the records there, at the PD record's
  date or at a progression date from a separate source (``pd_day``, admiralonco's
  ``source_pd``/``filter_pd``); ``"keep"`` uses every record (admiralonco with
  ``source_pd = NULL``).
* **Clinical benefit**: the subject's BOR (unconfirmed, and confirmed) is one of the
  ``benefit`` categories (admiralonco ``derive_param_clinbenefit``'s ``clinben_vals``, default
  CR, PR, SD, NON-CR/NON-PD). The dates of the first response (first CR/PR) and of the first
  confirmed response (first record of a confirmed CR/PR) are admiralonco's ``RSP`` and ``CRSP``
  dates.

Vectorised: each record finds its confirming record with a binary search and prefix counts,
so 10,000 subjects take milliseconds. ``tests/unit/clinical/bor_oracle.py`` is a plain
per-subject restatement that property tests compare against.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from vein2vein.clinical.codes import (
    BEST_ORDER,
    CR,
    MISSING,
    ND,
    NE,
    NN,
    PD,
    PR,
    SD,
    UPD,
    WORST_ORDER,
)

_DAYS = 1 << 22
_OFFSET = 1 << 20

#: The categories that may count as clinical benefit, in their order; the default counts all.
BENEFIT: tuple[str, ...] = ("CR", "PR", "SD", "NON-CR/NON-PD")
_BENEFIT_CODES = {"CR": CR, "PR": PR, "SD": SD, "NON-CR/NON-PD": NN}
_BENEFIT_ALIASES = {"NN": "NON-CR/NON-PD", "NONCR/NONPD": "NON-CR/NON-PD"}
AFTER_PD = ("drop", "keep")


def parse_benefit(text: str) -> tuple[str, ...]:
    """``"CR,PR,SD"`` -> the categories in their canonical order; an unknown or repeated one,
    or none at all, is a ``ValueError`` naming it."""
    given = [part.strip().upper() for part in str(text).split(",")]
    given = [_BENEFIT_ALIASES.get(g, g) for g in given if g]
    return _checked_benefit(given)


def _checked_benefit(given: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if not given:
        raise ValueError(f"benefit needs at least one of {', '.join(BENEFIT)}")
    for g in given:
        if g not in BENEFIT:
            raise ValueError(f"benefit: unknown category {g!r} (choose from {', '.join(BENEFIT)})")
    if len(set(given)) != len(given):
        raise ValueError("benefit: a category is listed twice")
    return tuple(c for c in BENEFIT if c in given)


@dataclass(frozen=True)
class BorOptions:
    confirm_days: int = 28
    sd_min_days: int = 42
    max_ne: int = 1
    accept_sd: bool = False
    cr_then_pr: Literal["SD", "PD"] = "SD"
    missing_as: Literal["MISSING", "NE"] = "MISSING"
    truncate_at_first_pd: bool = True  # after_pd: True = "drop", False = "keep"
    benefit: tuple[str, ...] = BENEFIT

    @classmethod
    def with_after_pd(cls, after_pd: str, **kwargs: Any) -> BorOptions:
        if after_pd not in AFTER_PD:
            raise ValueError("after_pd must be 'keep' or 'drop'")
        return cls(truncate_at_first_pd=after_pd == "drop", **kwargs)

    @property
    def after_pd(self) -> str:
        return "drop" if self.truncate_at_first_pd else "keep"

    @property
    def benefit_codes(self) -> tuple[int, ...]:
        return tuple(_BENEFIT_CODES[c] for c in self.benefit)

    def __post_init__(self) -> None:
        object.__setattr__(self, "benefit", _checked_benefit(tuple(self.benefit)))
        for name in ("confirm_days", "sd_min_days", "max_ne"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be 0 or more")
        if self.cr_then_pr not in ("SD", "PD"):
            raise ValueError("cr_then_pr must be 'SD' or 'PD'")
        if self.missing_as not in ("MISSING", "NE"):
            raise ValueError("missing_as must be 'MISSING' or 'NE'")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["after_pd"] = self.after_pd
        out["benefit"] = list(self.benefit)
        return out


@dataclass(frozen=True)
class BorResult:
    """Per subject (index = subject row): codes and day numbers (NaN = none)."""

    bor: np.ndarray
    bor_day: np.ndarray
    cbor: np.ndarray
    cbor_day: np.ndarray
    confirmed_on: np.ndarray  # day of the assessment that confirmed the CR/PR
    response_start: np.ndarray  # first CR/PR (unconfirmed)
    confirmed_response_start: np.ndarray  # first confirmed CR/PR
    pd_day: np.ndarray  # first PD among the records kept (NaN = none)
    clinical_benefit: np.ndarray  # bool: the unconfirmed BOR is a benefit category
    clinical_benefit_confirmed: np.ndarray  # bool: the confirmed BOR is one


def _first_per_subject(subj: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Indices of the first record per subject after sorting by ``keys`` (last key primary)."""
    order = np.lexsort((*keys, subj))
    s = subj[order]
    first = np.ones(len(order), bool)
    first[1:] = s[1:] != s[:-1]
    return order[first]


def _prefix(ind: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(ind, dtype=np.int64)])


def _next_index(mask: np.ndarray) -> np.ndarray:
    """For each position p (and p = n), the smallest index >= p where ``mask``; n if none."""
    n = len(mask)
    arr = np.where(mask, np.arange(n), n)
    nxt = np.minimum.accumulate(arr[::-1])[::-1] if n else arr
    return np.concatenate([nxt, [n]])


def derive_bor(
    subj: np.ndarray,
    day: np.ndarray,
    resp: np.ndarray,
    n_subjects: int,
    ref_day: np.ndarray,
    options: BorOptions = BorOptions(),
    *,
    stop_day: np.ndarray | None = None,
    pd_day: np.ndarray | None = None,
    nt_only: np.ndarray | None = None,
) -> BorResult:
    """BOR for ``n_subjects`` subjects from records (``subj`` row, ``day``, response code).

    ``ref_day``: reference (infusion) day per subject, NaN allowed. ``stop_day``: first new
    anticancer therapy per subject (records on or after it are dropped). ``pd_day``: PD date per
    subject overriding the first PD record (admiralonco's ``source_pd``). ``nt_only``: subjects
    with non-target disease only, whose unconfirmed CR counts as NON-CR/NON-PD.
    """
    subj = np.asarray(subj, dtype=np.int64)
    day = np.asarray(day, dtype=np.int64)
    resp = np.asarray(resp, dtype=np.int64)
    ref_day = np.asarray(ref_day, dtype=float)
    keep = np.ones(len(subj), bool)
    if stop_day is not None:
        keep &= ~(day >= stop_day[subj])
    subj, day, resp = subj[keep], day[keep], resp[keep]

    # one record per date: the worst
    order = np.lexsort((-WORST_ORDER[resp], day, subj))
    subj, day, resp = subj[order], day[order], resp[order]
    first = np.ones(len(subj), bool)
    first[1:] = (subj[1:] != subj[:-1]) | (day[1:] != day[:-1])
    subj, day, resp = subj[first], day[first], resp[first]

    if options.cr_then_pr == "PD" and len(subj):
        cum_cr = _prefix(resp == CR)
        starts = np.searchsorted(subj, subj, side="left")
        cr_before = cum_cr[np.arange(len(subj))] - cum_cr[starts]
        resp = np.where((resp == PR) & (cr_before > 0), PD, resp)

    first_pd = np.full(n_subjects, np.nan)
    is_pd = resp == PD
    if is_pd.any():
        idx = _first_per_subject(subj[is_pd], day[is_pd])
        first_pd[subj[is_pd][idx]] = day[is_pd][idx]
    cut = pd_day if pd_day is not None else first_pd
    if options.truncate_at_first_pd:
        keep = ~(day > cut[subj])
        subj, day, resp = subj[keep], day[keep], resp[keep]
        first_pd = np.where(first_pd <= cut, first_pd, np.nan) if pd_day is None else first_pd

    window = day >= ref_day[subj] + options.sd_min_days
    missing = NE if options.missing_as == "NE" else MISSING

    # ---- unconfirmed
    adj = np.where(np.isin(resp, (SD, NN)) & ~window, NE, resp)
    bor = np.full(n_subjects, missing, dtype=np.int64)
    bor_day = np.full(n_subjects, np.nan)
    if len(subj):
        idx = _first_per_subject(subj, day, BEST_ORDER[adj])
        bor[subj[idx]] = adj[idx]
        bor_day[subj[idx]] = day[idx]
    response_start = np.full(n_subjects, np.nan)
    rsp = np.isin(resp, (CR, PR))
    if rsp.any():
        idx = _first_per_subject(subj[rsp], day[rsp])
        response_start[subj[rsp][idx]] = day[rsp][idx]

    # ---- confirmed
    n = len(subj)
    ar = np.arange(n)
    key = subj * _DAYS + (day + _OFFSET)
    start = np.maximum(np.searchsorted(key, key + options.confirm_days, side="left"), ar + 1)
    p_ne, p_sd, p_cr = _prefix(resp == NE), _prefix(resp == SD), _prefix(resp == CR)
    p_not_cr = _prefix(~np.isin(resp, (CR, NE)))
    p_not_pr = _prefix(~np.isin(resp, (CR, PR, SD, NE)))

    def window_ok(j: np.ndarray, bad_prefix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        found = j < n
        jj = np.minimum(j, max(n - 1, 0))
        found &= subj[jj] == subj if n else found
        lo, hi = ar + 1, jj + 1
        ok = found & (bad_prefix[hi] - bad_prefix[lo] == 0)
        ok &= p_ne[hi] - p_ne[lo] <= options.max_ne
        return ok, jj

    cr_ok, j_cr = window_ok(_next_index(resp == CR)[start], p_not_cr)
    cr_ok &= resp == CR
    pr_ok, j_pr = window_ok(_next_index(np.isin(resp, (CR, PR)))[start], p_not_pr)
    pr_ok &= resp == PR
    if n:
        pr_ok &= p_sd[j_pr + 1] - p_sd[ar + 1] <= (1 if options.accept_sd else 0)
        last_pr = np.maximum.accumulate(np.where(resp == PR, ar, -1))[j_pr]
        cr_then_pr = (last_pr > ar) & (p_cr[np.maximum(last_pr, 0)] - p_cr[ar + 1] > 0)
        pr_ok &= ~cr_then_pr

    nt = np.zeros(n_subjects, bool) if nt_only is None else np.asarray(nt_only, bool)
    sd_like = np.isin(resp, (CR, PR, SD)) & window
    groups = [
        (cr_ok, 1, np.full(n, CR), day[j_cr] if n else day),
        (pr_ok, 2, np.full(n, PR), day[j_pr] if n else day),
        (sd_like & ~nt[subj], 3, np.full(n, SD), None),
        ((sd_like & nt[subj]) | ((resp == NN) & window), 4, np.full(n, NN), None),
        (np.isin(resp, (PD, UPD)), 5, resp, None),
        ((resp == NE) | (np.isin(resp, (CR, PR, SD, NN)) & ~window), 6, np.full(n, NE), None),
        (resp == ND, 7, np.full(n, ND), None),
    ]
    c_subj = np.concatenate([subj[m] for m, *_ in groups])
    c_order = np.concatenate([np.full(int(m.sum()), o) for m, o, *_ in groups])
    c_day = np.concatenate([day[m] for m, *_ in groups])
    c_code = np.concatenate([code[m] for m, _, code, _ in groups])
    c_conf = np.concatenate(
        [conf[m] if conf is not None else np.full(int(m.sum()), -1) for m, _, _, conf in groups]
    )
    cbor = np.full(n_subjects, missing, dtype=np.int64)
    cbor_day = np.full(n_subjects, np.nan)
    confirmed_on = np.full(n_subjects, np.nan)
    if len(c_subj):
        idx = _first_per_subject(c_subj, c_day, c_order)
        s = c_subj[idx]
        cbor[s] = c_code[idx]
        cbor_day[s] = c_day[idx]
        conf = c_conf[idx].astype(float)
        confirmed_on[s] = np.where(conf >= 0, conf, np.nan)
    confirmed_response_start = np.full(n_subjects, np.nan)
    ok = cr_ok | pr_ok
    if ok.any():
        idx = _first_per_subject(subj[ok], day[ok])
        confirmed_response_start[subj[ok][idx]] = day[ok][idx]
    return BorResult(
        bor=bor,
        bor_day=bor_day,
        cbor=cbor,
        cbor_day=cbor_day,
        confirmed_on=confirmed_on,
        response_start=response_start,
        confirmed_response_start=confirmed_response_start,
        pd_day=first_pd,
        clinical_benefit=np.isin(bor, options.benefit_codes),
        clinical_benefit_confirmed=np.isin(cbor, options.benefit_codes),
    )
