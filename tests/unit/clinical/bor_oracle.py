"""A deliberately plain, per-subject restatement of admiralonco's BOR rules
(``derive_param_bor``, ``derive_param_confirmed_bor``), used as an oracle for the vectorised
engine in property tests. Records: list of (day, code) for one subject."""

from __future__ import annotations

from vein2vein.clinical.codes import CR, MISSING, ND, NE, NN, PD, PR, SD, UPD, WORST_ORDER

BEST = {CR: 1, PR: 2, SD: 3, NN: 4, PD: 5, UPD: 5, NE: 6, ND: 7}


def clean(records, *, stop=None, cr_then_pr="SD", truncate=True):
    recs = sorted(r for r in records if stop is None or r[0] < stop)
    by_day: dict[int, int] = {}
    for day, code in recs:
        if day not in by_day or WORST_ORDER[code] > WORST_ORDER[by_day[day]]:
            by_day[day] = code
    recs = sorted(by_day.items())
    if cr_then_pr == "PD":
        seen_cr, out = False, []
        for day, code in recs:
            out.append((day, PD if code == PR and seen_cr else code))
            seen_cr |= code == CR
        recs = out
    if truncate:
        pds = [day for day, code in recs if code == PD]
        if pds:
            recs = [(day, code) for day, code in recs if day <= pds[0]]
    return recs


def unconfirmed(recs, ref, sd_min, missing=MISSING):
    best = None
    for day, code in recs:
        if code in (SD, NN) and day < ref + sd_min:
            code = NE
        key = (BEST[code], day)
        if best is None or key < best[0]:
            best = (key, code, day)
    return (missing, None) if best is None else (best[1], best[2])


def confirmed(
    recs, ref, *, confirm=28, sd_min=42, max_ne=1, accept_sd=False, nt_only=False, missing=MISSING
):
    cands = []
    for i, (day, code) in enumerate(recs):
        window = day >= ref + sd_min
        if code in (CR, PR):
            upper = (CR,) if code == CR else (CR, PR)
            j = next(
                (
                    k
                    for k in range(i + 1, len(recs))
                    if recs[k][1] in upper and recs[k][0] >= day + confirm
                ),
                None,
            )
            if j is not None:
                between = [c for _, c in recs[i + 1 : j + 1]]
                allowed = (CR, NE) if code == CR else (CR, PR, SD, NE)
                ok = all(c in allowed for c in between) and between.count(NE) <= max_ne
                if code == PR:
                    ok &= between.count(SD) <= (1 if accept_sd else 0)
                    crs = [k for k, c in enumerate(between) if c == CR]
                    prs = [k for k, c in enumerate(between) if c == PR]
                    ok &= not (crs and prs and min(crs) < max(prs))
                if ok:
                    cands.append((1 if code == CR else 2, day, code))
        if code in (CR, PR, SD) and window:
            cands.append((4, day, NN) if nt_only else (3, day, SD))
        if code == NN and window:
            cands.append((4, day, NN))
        if code in (PD, UPD):
            cands.append((5, day, code))
        if code == NE or (code in (CR, PR, SD, NN) and not window):
            cands.append((6, day, NE))
        if code == ND:
            cands.append((7, day, ND))
    if not cands:
        return missing, None
    _, day, code = min(cands)
    return code, day
