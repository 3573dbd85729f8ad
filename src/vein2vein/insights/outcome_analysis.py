"""Product attributes beside clinical outcome: the exploratory analyses of an early CAR-T trial
(pure: no database, web or template code; issue 14, "Product ↔ outcome").

Every analysis here is **exploratory**: a phase I / IIT of 10-20 subjects can suggest, never
show, that an attribute goes with response or survival. So the tests are the ones whose p is
exact at such sizes, every result names its test and its n, and nothing is adjusted or called
significant.

Sections
--------
1. The attributes and the subject row (what the store hands in).
2. Attribute by response category: exact Wilcoxon–Mann–Whitney, responders (CR or PR) against
   the others.
3. Delivered dose against best % change in target lesions: Spearman's rank correlation with the
   exact permutation p.
4. Kaplan–Meier split at an attribute's median (PFS and OS).
5. The analysis of a study: all of the above with provenance.

Conventions and sources
-----------------------
* **Wilcoxon–Mann–Whitney** (Mann & Whitney 1947; Hollander, Wolfe & Chicken, *Nonparametric
  Statistical Methods*, 3rd ed. 2014, §4.1). U is the statistic of the responders' sample
  (scipy's convention: U₁ = number of pairs (x, y) with x > y, ties counted ½). Without ties
  the p is scipy's exact distribution of U (``scipy.stats.mannwhitneyu(method="exact")``);
  with ties that distribution is no longer exact, so the p is the exact permutation
  distribution of the same U over all C(n, n₁) splits of the observed values
  (``scipy.stats.permutation_test(permutation_type="independent", n_resamples=inf)``). Two-sided
  p = min(1, 2 · min(P(U ≤ u), P(U ≥ u))), scipy's convention.
* **Spearman's ρ** (Spearman 1904) is Pearson's r of the mid-ranks. Its exact null
  distribution is that of Σ aᵢ b_π(i) over all n! pairings π of the ranks (Hollander, Wolfe &
  Chicken §8.5; the permutation test of scipy's ``permutation_test(permutation_type="pairings")``,
  which is what the tests compare against). It is computed here by counting, over subsets of
  paired positions, how many pairings give each sum (doubled mid-ranks are integers, so the
  counts are exact): n · 2ⁿ⁻¹ small array additions, 5,120 at n = 10, in milliseconds, where
  enumerating 10! = 3,628,800 pairings takes seconds. Exact up to ``EXACT_MAX_N`` (14)
  subjects; above it the p of Spearman's t approximation (``scipy.stats.spearmanr``) is given and
  named as such. The t approximation is *not* used at small n: at n = 10 it can be off by a
  factor of two in the tail (Zar 1972, J Am Stat Assoc 67:578-580).
  Two-sided p as above (scipy's convention); ties keep their multiplicity (a pairing of equal
  values counts once per arrangement, as permuting the observed values does).
* **Kaplan–Meier** with lifelines' ``KaplanMeierFitter`` (log-log confidence band; median as
  the first time with S(t) ≤ 0.5: shared/references/clinical.md §4); the split is at the
  attribute's median over the subjects with both the attribute and the endpoint: "≤ median" and
  "> median" (the median subject goes low, so an odd n splits (n+1)/2 : (n-1)/2). The p that goes
  with the two curves is the **log-rank test** (lifelines ``logrank_test``; asymptotic χ² with
  1 degree of freedom: with 3-7 subjects per curve it is a description, not evidence).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vein2vein.core.provenance import Provenance
from vein2vein.core.results import Result, provenance

__all__ = [
    "ATTRIBUTES",
    "EXACT_MAX_N",
    "Attribute",
    "KaplanMeierSplit",
    "MannWhitney",
    "OutcomeAnalysis",
    "Spearman",
    "analyse",
    "attribute",
    "km_split",
    "mann_whitney",
    "spearman",
]

LABEL = "Exploratory analysis: not pre-specified, no adjustment for multiplicity"
RESPONSE = ("CR", "PR")
EXACT_MAX_N = 14
#: with ties, the exact permutation test of U enumerates every split of the two groups; above
#: this many (C(20, 10) = 184,756 splits is well under it; C(30, 15) = 1.55e8 is not) it would
#: not finish in a page's time, so the normal approximation with the tie correction is used
EXACT_MAX_SPLITS = 1_000_000

# --------------------------------------------------------------------------------------------
# 1. The attributes and the subject row
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribute:
    key: str
    name: str
    unit: str
    digits: int


#: the product attributes set beside outcome, in the order of the page's columns
ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("dose_per_kg", "Delivered dose", "10^6 CAR+ viable T cells/kg", 3),
    Attribute("car_positive", "CAR-positive", "%", 1),
    Attribute("viability", "Viability", "%", 1),
    Attribute("vcn", "Vector copy number", "copies/transduced cell", 2),
    Attribute("fold_expansion", "Fold expansion", "fold", 1),
    Attribute("doubling_time_h", "Doubling time", "h", 1),
    Attribute("vein_to_vein_days", "Vein-to-vein", "days", 1),
)


def attribute(key: str) -> Attribute:
    for a in ATTRIBUTES:
        if a.key == key:
            return a
    raise KeyError(f"unknown attribute {key!r}; one of {', '.join(a.key for a in ATTRIBUTES)}")


def _value(row: Mapping[str, Any], key: str) -> float | None:
    v = row.get(key)
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _two_sided(p_less: float, p_greater: float) -> float:
    return min(1.0, 2.0 * min(p_less, p_greater))


def _median(values: Sequence[float]) -> float | None:
    import statistics

    return statistics.median(values) if values else None


# --------------------------------------------------------------------------------------------
# 2. Attribute by response category: exact Wilcoxon–Mann–Whitney
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MannWhitney(Result):
    """Responders' values against the others' for one attribute."""

    attribute: str
    n_responders: int
    n_others: int
    median_responders: float | None
    median_others: float | None
    u: float | None
    p: float | None
    test: str
    note: str = ""

    def _summary_lines(self) -> list[str]:
        p = "not computed" if self.p is None else f"{self.p:.4g}"
        return [
            f"{self.attribute}: responders n={self.n_responders}, others n={self.n_others}, "
            f"U={self.u}, p={p} ({self.test}) {self.note}".rstrip()
        ]


def mann_whitney(x: Sequence[float], y: Sequence[float], attribute: str = "") -> MannWhitney:
    """Two-sided Wilcoxon–Mann–Whitney of ``x`` (responders) against ``y`` (the others), with
    the exact p (scipy's exact distribution without ties, the exact permutation distribution of U
    with ties up to :data:`EXACT_MAX_SPLITS` splits, the tie-corrected normal approximation
    above, named in ``test``). Fewer than 2 values in a group: no test (``p`` None, ``note``
    says why)."""
    import numpy as np
    from scipy import stats

    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)

    def result(u: float | None, p: float | None, test: str, note: str = "") -> MannWhitney:
        medians = _median(list(xs)), _median(list(ys))
        return MannWhitney(attribute, len(xs), len(ys), *medians, u, p, test, note)

    if len(xs) < 2 or len(ys) < 2:
        return result(
            None, None, "Wilcoxon–Mann–Whitney, not computed", "fewer than 2 subjects in a group"
        )
    both = np.concatenate([xs, ys])
    if len(np.unique(both)) == len(both):
        res = stats.mannwhitneyu(xs, ys, alternative="two-sided", method="exact")
        test = "Wilcoxon–Mann–Whitney, exact (no ties)"
    elif math.comb(len(both), len(xs)) > EXACT_MAX_SPLITS:
        # too many splits to enumerate: the normal approximation with the tie correction
        res = stats.mannwhitneyu(xs, ys, alternative="two-sided", method="asymptotic")
        test = (
            "Wilcoxon–Mann–Whitney, normal approximation with tie correction (ties present; "
            f"more than {EXACT_MAX_SPLITS:,} splits to enumerate)"
        )
    else:

        def u_stat(a: Any, b: Any, axis: int) -> Any:
            return stats.mannwhitneyu(a, b, axis=axis, method="asymptotic").statistic

        res = stats.permutation_test(
            (xs, ys),
            u_stat,
            permutation_type="independent",
            n_resamples=math.inf,
            alternative="two-sided",
            vectorized=True,
        )
        test = "Wilcoxon–Mann–Whitney, exact permutation distribution of U (ties present)"
    return result(float(res.statistic), float(res.pvalue), test)


# --------------------------------------------------------------------------------------------
# 3. Spearman's rank correlation with the exact p
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spearman(Result):
    x: str
    y: str
    n: int
    rho: float | None
    p: float | None
    test: str
    note: str = ""

    def _summary_lines(self) -> list[str]:
        p = "not computed" if self.p is None else f"{self.p:.4g}"
        return [f"{self.x} vs {self.y}: n={self.n}, rho={self.rho}, p={p} ({self.test})"]


def _pairing_distribution(a: Sequence[int], b: Sequence[int]) -> list[int]:
    """Counts of T = Σ aᵢ b_π(i) over all pairings π (index: T), a, b non-negative integers.

    Positions of ``a`` are paired in order with a subset of ``b``'s positions; the counts of
    the partial sums are kept per subset, so each subset is reached once per layer."""
    import numpy as np

    n = len(a)
    top = sum(sorted(a)[i] * sorted(b)[i] for i in range(n))
    layer: dict[int, Any] = {0: np.zeros(top + 1, dtype=np.int64)}
    layer[0][0] = 1
    for i in range(n):
        nxt: dict[int, Any] = {}
        for mask, counts in layer.items():
            for j in range(n):
                if mask >> j & 1:
                    continue
                w = a[i] * b[j]
                key = mask | 1 << j
                arr = nxt.get(key)
                if arr is None:
                    arr = nxt[key] = np.zeros(top + 1, dtype=np.int64)
                arr[w:] += counts[: top + 1 - w]
        layer = nxt
    return [int(v) for v in layer[(1 << n) - 1]]


def spearman(
    x: Sequence[float], y: Sequence[float], names: tuple[str, str] = ("x", "y")
) -> Spearman:
    """Spearman's ρ of paired values and its two-sided p: exact (all n! pairings) up to
    :data:`EXACT_MAX_N` subjects, else the t approximation, named in ``test``."""
    import numpy as np
    from scipy import stats

    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(xs)
    if n < 3 or len(np.unique(xs)) < 2 or len(np.unique(ys)) < 2:
        return Spearman(
            *names,
            n,
            None,
            None,
            "Spearman rank correlation, not computed",
            "fewer than 3 subjects or a constant variable",
        )
    rx, ry = stats.rankdata(xs), stats.rankdata(ys)
    rho = float(np.corrcoef(rx, ry)[0, 1])
    if n > EXACT_MAX_N:
        res = stats.spearmanr(xs, ys)
        return Spearman(
            *names,
            n,
            float(res.statistic),
            float(res.pvalue),
            "Spearman rank correlation, t approximation (n above the exact limit)",
        )
    a = [round(2 * float(v)) for v in rx]
    b = [round(2 * float(v)) for v in ry]
    counts = np.asarray(_pairing_distribution(a, b), dtype=float)
    total = counts.sum()
    t_obs = sum(p * q for p, q in zip(a, b, strict=True))
    p_greater = counts[t_obs:].sum() / total
    p_less = counts[: t_obs + 1].sum() / total
    return Spearman(
        *names,
        n,
        rho,
        float(_two_sided(p_less, p_greater)),
        f"Spearman rank correlation, exact permutation p (all {math.factorial(n):,} pairings)",
    )


# --------------------------------------------------------------------------------------------
# 4. Kaplan–Meier split at an attribute's median
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    label: str
    n: int
    events: int
    median_days: float | None  # None: not reached
    times: tuple[float, ...]
    survival: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]


@dataclass(frozen=True)
class KaplanMeierSplit(Result):
    attribute: str
    endpoint: str  # PFS | OS
    cut: float | None
    curves: tuple[Curve, ...]
    p: float | None
    test: str
    note: str = ""

    def _summary_lines(self) -> list[str]:
        arms = "; ".join(f"{c.label} n={c.n} events={c.events}" for c in self.curves)
        return [f"{self.endpoint} by {self.attribute} (cut {self.cut}): {arms}; p={self.p}"]


def _curve(label: str, durations: Sequence[float], events: Sequence[bool]) -> Curve:
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter(alpha=0.05).fit(list(durations), list(events), label=label)
    sf = kmf.survival_function_[label]
    ci = kmf.confidence_interval_
    median = float(kmf.median_survival_time_)
    return Curve(
        label,
        len(durations),
        int(sum(bool(e) for e in events)),
        median if math.isfinite(median) else None,
        tuple(float(t) for t in sf.index),
        tuple(float(v) for v in sf.to_numpy()),
        tuple(float(v) for v in ci.iloc[:, 0].to_numpy()),
        tuple(float(v) for v in ci.iloc[:, 1].to_numpy()),
    )


def km_split(
    values: Sequence[float],
    durations: Sequence[float],
    events: Sequence[bool],
    attribute: str = "",
    endpoint: str = "",
) -> KaplanMeierSplit:
    """Kaplan–Meier curves of the subjects at or below the attribute's median and above it,
    with the log-rank test between them (lifelines)."""
    from lifelines.statistics import logrank_test

    n = len(values)
    if n < 4:
        return KaplanMeierSplit(
            attribute,
            endpoint,
            None,
            (),
            None,
            "log-rank, not computed",
            "fewer than 4 subjects with the attribute and the endpoint",
        )
    cut = float(_median(list(values)))  # type: ignore[arg-type]
    low = [i for i, v in enumerate(values) if v <= cut]
    high = [i for i, v in enumerate(values) if v > cut]
    if not high or not low:
        return KaplanMeierSplit(
            attribute,
            endpoint,
            cut,
            (),
            None,
            "log-rank, not computed",
            "every subject has the same value",
        )
    pick = lambda idx, seq: [seq[i] for i in idx]  # noqa: E731
    curves = (
        _curve(f"≤ median (n={len(low)})", pick(low, durations), pick(low, events)),
        _curve(f"> median (n={len(high)})", pick(high, durations), pick(high, events)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = logrank_test(
            pick(low, durations), pick(high, durations), pick(low, events), pick(high, events)
        )
    return KaplanMeierSplit(
        attribute,
        endpoint,
        cut,
        curves,
        float(test.p_value),
        "log-rank test (asymptotic χ², 1 df)",
    )


# --------------------------------------------------------------------------------------------
# 5. The analysis of a study
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeAnalysis(Result):
    label: str
    n_subjects: int
    n_linked: int
    by_response: tuple[MannWhitney, ...]
    dose_vs_change: Spearman
    km: tuple[KaplanMeierSplit, ...]
    warnings: tuple[str, ...] = field(default=())
    provenance: Provenance | None = None

    def _summary_lines(self) -> list[str]:
        lines = [self.label, f"subjects {self.n_subjects}, linked to a batch {self.n_linked}"]
        lines += [m.summary() for m in self.by_response]
        lines.append(self.dose_vs_change.summary())
        lines += [k.summary() for k in self.km]
        return lines


def _responder(bor: Any) -> bool | None:
    if bor is None or (isinstance(bor, float) and math.isnan(bor)) or bor == "":
        return None
    return str(bor).upper() in RESPONSE


def _endpoint(row: Mapping[str, Any], prefix: str) -> tuple[float, bool] | None:
    days = _value(row, f"{prefix}_days")
    event = row.get(f"{prefix}_event")
    if days is None or event is None:
        return None
    return days, bool(event)


def analyse(
    rows: Iterable[Mapping[str, Any]], km_attribute: str = "car_positive"
) -> OutcomeAnalysis:
    """Every exploratory analysis of one study's subjects. ``rows``: one mapping per subject
    with ``subject_id``, ``linked`` (a batch is linked), ``bor``, ``best_pct_change``,
    ``pfs_days``/``pfs_event``, ``os_days``/``os_event`` and the :data:`ATTRIBUTES`. Only
    linked subjects enter the analyses; ``km_attribute`` is the attribute the survival
    curves are split by."""
    attribute(km_attribute)
    rows = [dict(r) for r in rows]
    linked = [r for r in rows if r.get("linked")]
    notes: list[str] = []
    if len(linked) < len(rows):
        notes.append(f"{len(rows) - len(linked)} subject(s) without a linked batch are left out")
    by_response = []
    for a in ATTRIBUTES:
        resp = [
            v
            for r in linked
            if _responder(r.get("bor")) is True and (v := _value(r, a.key)) is not None
        ]
        other = [
            v
            for r in linked
            if _responder(r.get("bor")) is False and (v := _value(r, a.key)) is not None
        ]
        by_response.append(mann_whitney(resp, other, a.key))
    pairs = [
        (d, c)
        for r in linked
        if (d := _value(r, "dose_per_kg")) is not None
        and (c := _value(r, "best_pct_change")) is not None
    ]
    dose_vs_change = spearman(
        [p[0] for p in pairs], [p[1] for p in pairs], ("dose_per_kg", "best_pct_change")
    )
    km = []
    for endpoint in ("pfs", "os"):
        sel = [
            (v, e)
            for r in linked
            if (v := _value(r, km_attribute)) is not None and (e := _endpoint(r, endpoint))
        ]
        km.append(
            km_split(
                [s[0] for s in sel],
                [s[1][0] for s in sel],
                [s[1][1] for s in sel],
                km_attribute,
                endpoint.upper(),
            )
        )
    inputs = {
        "subjects": [
            {
                k: r.get(k)
                for k in (
                    "subject_id",
                    "bor",
                    "best_pct_change",
                    "pfs_days",
                    "pfs_event",
                    "os_days",
                    "os_event",
                )
            }
            | {a.key: _value(r, a.key) for a in ATTRIBUTES}
            for r in linked
        ]
    }
    prov = provenance(
        "product attributes beside outcome: exact Wilcoxon–Mann–Whitney, exact Spearman, "
        "Kaplan–Meier split at the median with log-rank",
        {"responders": list(RESPONSE), "km_attribute": km_attribute, "exact_max_n": EXACT_MAX_N},
        inputs,
        libraries=("numpy", "scipy", "lifelines"),
    )
    return OutcomeAnalysis(
        LABEL,
        len(rows),
        len(linked),
        tuple(by_response),
        dose_vs_change,
        tuple(km),
        tuple(notes),
        prov,
    )
