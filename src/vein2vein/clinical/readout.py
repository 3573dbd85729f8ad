"""The clinical readout: one call from a dataset to every number of a steering-committee report.

``readout(dataset, options) -> ReadoutResult``. The result holds per-subject and per-time-point
tables (pandas), group summaries (ORR/DCR with Clopper-Pearson intervals, KM medians with
Brookmeyer-Crowley intervals), the fitted curves, RS disagreements, warnings and provenance;
``to_dict()`` is the JSON of ``v2v clinical readout --json``, and ``plot_data()`` (see
:mod:`vein2vein.clinical.figures`) gives the waterfall/spider/swimmer/KM data any plotting
library can draw.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from vein2vein.core.errors import InputError
from vein2vein.core.provenance import Provenance, library_versions
from vein2vein.core.results import Result, frozen_frame, frozen_mapping

from . import codes as C
from .bor import BorOptions, derive_bor
from .dataset import ClinicalDataset, day_of, iso_dates
from .endpoints import (
    duration_of_response,
    group_max,
    group_min,
    overall_survival,
    progression_free_survival,
)
from .irecist import irecist_overall
from .rates import Proportion, clopper_pearson
from .recist import derive_timepoints
from .survival import CONF_TYPES, KaplanMeier, kaplan_meier

ALL = "ALL"
ENDPOINTS = ("os", "pfs", "dor")
_LIBRARIES = ("numpy", "scipy", "pandas", "lifelines", "matplotlib")


@dataclass(frozen=True)
class ReadoutOptions:
    """Every rule that has more than one accepted convention, with the defaults of issue 3."""

    bor: BorOptions = field(default_factory=BorOptions)
    use_confirmed: bool = True  # ORR/DCR/DOR from the confirmed BOR
    conf_type: str = "log-log"  # KM band for the median interval: log-log | log | plain
    level: float = 0.95
    cutoff: dt.date | None = None
    irecist: bool = False
    population: Literal["evaluable", "infused"] = "evaluable"
    #: the progression-date file that cut the BOR records (name and SHA-256), if one was used
    pd_source: str | None = None

    def __post_init__(self) -> None:
        if self.conf_type not in CONF_TYPES:
            raise ValueError(f"conf_type must be one of {', '.join(CONF_TYPES)}")
        if self.population not in ("evaluable", "infused"):
            raise ValueError("population must be 'evaluable' or 'infused'")
        if not 0 < self.level < 1:
            raise ValueError("level must be between 0 and 1")

    @property
    def dcr_text(self) -> str:
        """How a caption states DCR: ``DCR = CR + PR + SD + NON-CR/NON-PD`` by default, the
        study's clinical-benefit categories otherwise."""
        return "DCR = " + " + ".join(self.bor.benefit)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["cutoff"] = self.cutoff.isoformat() if self.cutoff else None
        out["days"] = "plain date difference (end - infusion), no +1"
        out["km_median"] = "R/SAS: first S<=0.5, midpoint of a flat step at 0.5"
        out["rates_ci"] = "Clopper-Pearson exact"
        out["criteria"] = "iRECIST" if self.irecist else "RECIST 1.1"
        out["bor"] = self.bor.to_dict()
        out["dcr"] = "subjects whose BOR is one of: " + ", ".join(self.bor.benefit)
        if self.pd_source is None:
            out.pop("pd_source")
        return out


@dataclass(frozen=True)
class GroupSummary:
    dose_group: str
    dose_per_kg: float | None
    n: int
    orr: Proportion
    dcr: Proportion
    bor_counts: dict[str, int]
    os: KaplanMeier
    pfs: KaplanMeier
    dor: KaplanMeier

    def __post_init__(self) -> None:
        object.__setattr__(self, "bor_counts", frozen_mapping(self.bor_counts))

    def to_dict(self) -> dict[str, Any]:
        return {
            "dose_group": self.dose_group,
            "dose_per_kg": self.dose_per_kg,
            "n": self.n,
            "orr": self.orr.to_dict(),
            "dcr": self.dcr.to_dict(),
            "bor_counts": dict(self.bor_counts),
            "os": self.os.summary_dict(),
            "pfs": self.pfs.summary_dict(),
            "dor": self.dor.summary_dict(),
        }


SUBJECT_FIELDS = (
    "subject_id",
    "dose_group",
    "dose_per_kg",
    "infusion_date",
    "evaluable",
    "in_population",
    "bor",
    "bor_date",
    "bor_confirmed",
    "bor_confirmed_date",
    "confirmed_on",
    "first_response_date",
    "first_confirmed_response_date",
    "clinical_benefit",
    "clinical_benefit_confirmed",
    "best_pct_change",
    "pfs_days",
    "pfs_event",
    "pfs_reason",
    "os_days",
    "os_event",
    "os_reason",
    "dor_days",
    "dor_event",
    "dor_reason",
    "new_therapy_date",
)
TIMEPOINT_FIELDS = (
    "date",
    "sum_mm",
    "pct_change_baseline",
    "pct_change_nadir",
    "target",
    "non_target",
    "new_lesion",
    "overall",
    "used_for_bor",
)


def _columns(frame: pd.DataFrame, names: tuple[str, ...]) -> dict[str, list[Any]]:
    """Columns as Python lists with None for NaN, ready for JSON."""
    out: dict[str, list[Any]] = {}
    for name in names:
        col = frame[name].to_numpy()
        if col.dtype.kind == "f":
            obj = col.astype(object)
            obj[np.isnan(col)] = None
            out[name] = obj.tolist()
        else:
            out[name] = col.tolist()
    return out


def _num(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, float | np.floating):
        return None if math.isnan(x) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


@dataclass(frozen=True)
class ReadoutResult(Result):
    """The house result type (:class:`vein2vein.core.results.Result`): immutable (its tables are
    read-only frames, its group counts read-only mappings, its fitted curves read-only arrays)
    and carrying its provenance: method, options, the dataset's input hash and the versions of
    numpy, scipy, pandas, lifelines and matplotlib."""

    options: ReadoutOptions
    subjects: pd.DataFrame
    timepoints: pd.DataFrame
    groups: tuple[GroupSummary, ...]
    disagreements: pd.DataFrame
    warnings: tuple[str, ...]
    provenance: Provenance

    def group(self, name: str) -> GroupSummary:
        for g in self.groups:
            if g.dose_group == name:
                return g
        raise KeyError(name)

    def __post_init__(self) -> None:
        for name in ("subjects", "timepoints", "disagreements"):
            object.__setattr__(self, name, frozen_frame(getattr(self, name)))
        object.__setattr__(self, "groups", tuple(self.groups))
        object.__setattr__(self, "warnings", tuple(self.warnings))

    def subject(self, subject_id: str) -> dict[str, Any]:
        for s in self.iter_subject_dicts(only=subject_id):
            return s
        raise KeyError(subject_id)

    def iter_subject_dicts(self, only: str | None = None) -> Iterator[dict[str, Any]]:
        """Subjects as JSON-ready dicts (with their time points), in file order."""
        s, tp = self.subjects, self.timepoints
        if only is not None:
            keep = s["subject_id"].to_numpy() == only
            rows = np.flatnonzero(keep)
        else:
            rows = np.arange(len(s))
        starts = np.searchsorted(tp["subj"].to_numpy(), np.arange(len(s) + 1))
        tp_cols = _columns(tp, TIMEPOINT_FIELDS)
        tp_rows = list(zip(*tp_cols.values(), strict=True))
        names = list(tp_cols)
        sub = s.iloc[rows]
        subject_cols = _columns(sub, SUBJECT_FIELDS)
        for k in ("pfs_event", "os_event", "dor_event"):
            subject_cols[k] = [None if v is None or v < 0 else v for v in subject_cols[k]]
        keys = list(subject_cols)
        for i, values in zip(rows.tolist(), zip(*subject_cols.values(), strict=True), strict=True):
            out = dict(zip(keys, values, strict=True))
            out["timepoints"] = [
                dict(zip(names, r, strict=True)) for r in tp_rows[starts[i] : starts[i + 1]]
            ]
            yield out

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``v2v clinical readout --json`` (issue 3): ``subjects``, ``groups``
        (dose groups then ``ALL``), ``disagreements``, ``warnings``, ``provenance``.
        :mod:`vein2vein.clinical.readout_json` writes the same document as a stream."""
        rest = self.to_dict_without_subjects()
        return {"criteria": rest.pop("criteria"), "subjects": list(self.iter_subject_dicts())} | (
            rest
        )

    def to_dict_without_subjects(self) -> dict[str, Any]:
        """:meth:`to_dict` but ``subjects`` (the per-subject and per-time-point rows)."""
        return {
            "criteria": "iRECIST" if self.options.irecist else "RECIST 1.1",
            "groups": [g.to_dict() for g in self.groups],
            "disagreements": [
                {k: _num(v) for k, v in r.items()}
                for r in self.disagreements.drop(columns=["subj"], errors="ignore").to_dict(
                    "records"
                )
            ],
            "warnings": list(self.warnings),
            "provenance": self.provenance.to_dict(),
        }

    def response_table(self) -> pd.DataFrame:
        """Rows: BOR categories, ORR and DCR; columns: dose groups then ALL (text cells)."""
        cols: dict[str, list[str]] = {}
        cats = list(dict.fromkeys(c for g in self.groups for c in g.bor_counts))
        for g in self.groups:
            col = [f"{g.bor_counts.get(c, 0)}" for c in cats]
            col += [g.orr.text(), g.dcr.text()]
            for ep in (g.os, g.pfs):
                med = "NR" if math.isnan(ep.median) else f"{ep.median:g}"
                lo = "NR" if math.isnan(ep.median_lower) else f"{ep.median_lower:g}"
                hi = "NR" if math.isnan(ep.median_upper) else f"{ep.median_upper:g}"
                col.append(f"{med} ({lo}-{hi})" if ep.n else "-")
            cols[f"{g.dose_group} (n={g.n})"] = col
        index = [*cats, "ORR (95% CI)", "DCR (95% CI)", "Median OS, days", "Median PFS, days"]
        return pd.DataFrame(cols, index=index)

    def summary(self) -> str:
        # the text of `v2v clinical readout` (provenance, then warnings), kept as it was
        basis = "confirmed" if self.options.use_confirmed else "unconfirmed"
        lines = [
            f"Clinical readout ({'iRECIST' if self.options.irecist else 'RECIST 1.1'}; "
            f"{basis} BOR; population: {self.options.population})",
            self.response_table().to_string(),
            "",
            self.provenance.summary(),
        ]
        if self.warnings:
            lines += ["", "Warnings:", *(f"- {w}" for w in self.warnings)]
        return "\n".join(lines)

    def plot_data(self) -> dict[str, Any]:
        from .figures import plot_data

        return plot_data(self)


def _apply_cutoff(ds: ClinicalDataset, cutoff: dt.date | None) -> tuple[ClinicalDataset, dict]:
    s = ds.subjects
    ref = s["infusion_day"].to_numpy(float).copy()
    death = s["death_day"].to_numpy(float).copy()
    alive = s["last_alive_day"].to_numpy(float).copy()
    nt = s["new_therapy_day"].to_numpy(float).copy()
    if cutoff is None:
        return ds, {"ref": ref, "death": death, "alive": alive, "nt": nt, "cut": math.inf}
    cut = float(day_of(cutoff))
    if not (ref <= cut).any():
        raise InputError(
            f"no subject was infused on or before the data cut-off {cutoff.isoformat()}: "
            "choose a later cut-off",
            field="cutoff",
        )
    ref[ref > cut] = np.nan
    alive = np.where(death > cut, cut, alive)  # dying after the cut-off: alive at it
    death[death > cut] = np.nan
    nt[nt > cut] = np.nan
    alive = np.where(alive > cut, cut, alive)
    a = ds.assessments
    nl = ds.new_lesions
    inv = ds.investigator
    ds = replace(
        ds,
        assessments=a[a["day"].to_numpy() <= cut],
        new_lesions=nl[nl["day"].to_numpy() <= cut],
        investigator=None if inv is None else inv[inv["day"].to_numpy() <= cut],
    )
    return ds, {"ref": ref, "death": death, "alive": alive, "nt": nt, "cut": cut}


def readout(
    dataset: ClinicalDataset,
    options: ReadoutOptions | None = None,
    pd_dates: pd.DataFrame | None = None,
) -> ReadoutResult:
    """Derive time points, BOR, endpoints and group summaries for every subject.

    ``pd_dates`` (:func:`vein2vein.clinical.responses.read_pd_dates`): progression dates from a
    separate source that cut the BOR records instead of the first derived PD (admiralonco's
    ``source_pd``); PFS keeps the progression derived from the scans."""
    from .responses import check_pd_source, pd_days, pd_source

    options = options or ReadoutOptions()
    if pd_dates is not None and dataset.pd_dates is not None:
        raise InputError(
            "the dataset has its own pd_dates.csv: give progression dates once, in the dataset "
            "or as a separate file",
            field="pd_dates",
        )
    check_pd_source(options.bor, pd_dates if pd_dates is not None else dataset.pd_dates)
    if pd_dates is not None and options.pd_source is None:
        options = replace(options, pd_source=pd_source(pd_dates))
    elif dataset.pd_dates is not None and options.pd_source is None:
        name = dataset.file("pd_dates")
        sha = dataset.file_hashes.get(name)
        options = replace(options, pd_source=f"{name} of the dataset (SHA-256 {sha})")
    ds, d = _apply_cutoff(dataset, options.cutoff)
    ref, death, alive, nt = d["ref"], d["death"], d["alive"], d["nt"]
    n = ds.n_subjects
    tps = derive_timepoints(ds, ref)
    f = tps.frame
    t_subj = f["subj"].to_numpy()
    t_day = f["day"].to_numpy()
    nt_only = (tps.n_targets == 0) & (tps.n_nontargets > 0)
    if options.irecist:
        resp, irecist_pd = irecist_overall(
            t_subj,
            t_day,
            f["overall"].to_numpy(),
            f["target"].to_numpy(),
            f["non_target"].to_numpy(),
            f["new_lesion"].to_numpy(),
            f["sum"].to_numpy(),
            n,
            nt,
        )
    else:
        resp = f["overall"].to_numpy().astype(np.int64)
    pd_cut = None
    if pd_dates is not None:
        pd_cut = pd_days(pd_dates, ds.subjects["subject_id"].to_numpy())
    elif ds.pd_dates is not None:
        pd_cut = np.full(n, np.nan)
        day = ds.pd_dates["day"].to_numpy(float)
        ok = ~np.isnan(day)
        np.fmin.at(pd_cut, ds.pd_dates["subj"].to_numpy(np.int64)[ok], day[ok])
    bor = derive_bor(
        t_subj, t_day, resp, n, ref, options.bor, stop_day=nt, nt_only=nt_only, pd_day=pd_cut
    )

    before_nt = ~(t_day >= nt[t_subj])
    is_pd = (resp == C.PD) & before_nt
    first_pd = group_min(t_subj[is_pd], t_day[is_pd], n)
    pd_for_pfs = np.where(~(irecist_pd >= nt), irecist_pd, np.nan) if options.irecist else first_pd
    adequate = (resp != C.NE) & before_nt
    last_adequate = group_max(t_subj[adequate], t_day[adequate], n)

    pfs = progression_free_survival(ref, death, nt, pd_for_pfs, last_adequate)
    seen = [alive, nt, ref]
    a = ds.assessments
    seen.append(group_max(a["subj"].to_numpy(), a["day"].to_numpy(), n))
    nl = ds.new_lesions
    seen.append(group_max(nl["subj"].to_numpy(), nl["day"].to_numpy(), n))
    last_known_alive = np.fmin(np.fmax.reduce(np.vstack(seen), axis=0), d["cut"])
    os_ = overall_survival(ref, death, last_known_alive)
    start = bor.confirmed_response_start if options.use_confirmed else bor.response_start
    dor = duration_of_response(start, pfs)

    to_first_pd = before_nt & ~(t_day > first_pd[t_subj])
    used = before_nt
    if options.bor.truncate_at_first_pd:
        used = used & ~(t_day > (first_pd if pd_cut is None else pd_cut)[t_subj])
    complete = f["complete"].to_numpy() & to_first_pd
    base = tps.base_sum[t_subj].astype(float)
    sums = f["sum"].to_numpy().astype(float)
    nadir = f["nadir"].to_numpy().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct_base = np.where(
            f["complete"].to_numpy() & (base > 0), (sums - base) / base * 100, np.nan
        )
        pct_nadir = np.where(
            f["complete"].to_numpy() & (nadir > 0), (sums - nadir) / nadir * 100, np.nan
        )
    best_pct = group_min(t_subj[complete], pct_base[complete], n)

    infused = ~np.isnan(ref)
    has_post = np.bincount(t_subj, minlength=n) > 0
    evaluable = infused & (tps.n_targets > 0) & has_post
    in_pop = evaluable if options.population == "evaluable" else infused

    labels = np.array(C.IRECIST_LABELS if options.irecist else C.LABELS, dtype=object)
    s = ds.subjects
    subjects = pd.DataFrame(
        {
            "subject_id": s["subject_id"].to_numpy(),
            "dose_group": s["dose_group"].to_numpy(),
            "dose_per_kg": s["dose_per_kg"].to_numpy(float),
            "infusion_date": iso_dates(ref),
            "new_therapy_date": iso_dates(nt),
            "infused": infused,
            "measurable": tps.n_targets > 0,
            "evaluable": evaluable,
            "in_population": in_pop,
            "bor_code": bor.bor,
            "cbor_code": bor.cbor,
            "bor": labels[bor.bor],
            "bor_date": iso_dates(bor.bor_day),
            "bor_confirmed": labels[bor.cbor],
            "bor_confirmed_date": iso_dates(bor.cbor_day),
            "confirmed_on": iso_dates(bor.confirmed_on),
            "first_response_date": iso_dates(bor.response_start),
            "first_confirmed_response_date": iso_dates(bor.confirmed_response_start),
            "clinical_benefit": bor.clinical_benefit.astype(object),
            "clinical_benefit_confirmed": bor.clinical_benefit_confirmed.astype(object),
            "response_start_date": iso_dates(start),
            "best_pct_change": best_pct,
            "first_pd_date": iso_dates(first_pd),
            "death_date": iso_dates(death),
            "last_known_alive_date": iso_dates(last_known_alive),
        }
    )
    for name, ep in (("pfs", pfs), ("os", os_), ("dor", dor)):
        subjects[f"{name}_days"] = ep.days
        subjects[f"{name}_event"] = ep.event
        subjects[f"{name}_reason"] = ep.reason
    for col in (
        "bor",
        "bor_date",
        "bor_confirmed",
        "bor_confirmed_date",
        "confirmed_on",
        "first_response_date",
        "first_confirmed_response_date",
        "clinical_benefit",
        "clinical_benefit_confirmed",
    ):
        subjects.loc[~infused, col] = None

    timepoints = pd.DataFrame(
        {
            "subj": t_subj,
            "subject_id": s["subject_id"].to_numpy()[t_subj],
            "date": iso_dates(t_day.astype(float)),
            "day": t_day - ref[t_subj],
            "sum_mm": np.where(f["complete"].to_numpy(), sums / 100, np.nan),
            "pct_change_baseline": pct_base,
            "pct_change_nadir": pct_nadir,
            "target": labels[f["target"].to_numpy()],
            "non_target": labels[f["non_target"].to_numpy()],
            "new_lesion": f["new_lesion"].to_numpy(),
            "overall": labels[resp],
            "overall_code": resp,
            "used_for_bor": used,
        }
    )
    if options.irecist:
        # target and non-target columns keep RECIST 1.1 wording
        base_labels = np.array(C.LABELS, dtype=object)
        timepoints["target"] = base_labels[f["target"].to_numpy()]
        timepoints["non_target"] = base_labels[f["non_target"].to_numpy()]

    groups = _group_summaries(subjects, options)
    disagreements = _disagreements(ds, tps.frame, resp, labels)
    warnings = tuple(ds.warnings)
    prov = Provenance(
        method=f"{'iRECIST' if options.irecist else 'RECIST 1.1'} readout of a "
        f"{dataset.source_format} dataset",
        options=options.to_dict(),
        input_hash=dataset.input_hash(),
        library_versions=library_versions(_LIBRARIES),
    )
    return ReadoutResult(options, subjects, timepoints, groups, disagreements, warnings, prov)


def _group_order(subjects: pd.DataFrame) -> list[tuple[str, float | None]]:
    g = subjects.groupby("dose_group", sort=False)["dose_per_kg"].min()
    items = [(str(k), None if math.isnan(v) else float(v)) for k, v in g.items()]
    return sorted(items, key=lambda kv: (math.inf if kv[1] is None else kv[1], kv[0]))


def _group_summaries(subjects: pd.DataFrame, options: ReadoutOptions) -> tuple[GroupSummary, ...]:
    pop = subjects[subjects["in_population"].to_numpy()]
    code_col = "cbor_code" if options.use_confirmed else "bor_code"
    order = [C.CR, C.PR, C.SD, C.NN, C.PD, C.UPD, C.NE, C.ND, C.MISSING]
    labels = C.IRECIST_LABELS if options.irecist else C.LABELS
    out = []
    for name, dose in [*_group_order(subjects), (ALL, None)]:
        g = pop if name == ALL else pop[pop["dose_group"].to_numpy() == name]
        codes = g[code_col].to_numpy()
        counts = {str(labels[c]): int((codes == c).sum()) for c in order}
        for c in (C.ND, C.UPD):  # shown only when they occur
            if counts.get(str(labels[c])) == 0:
                counts.pop(str(labels[c]))
        k_orr = int(np.isin(codes, C.RESPONDER).sum())
        k_dcr = int(np.isin(codes, options.bor.benefit_codes).sum())
        curves = {}
        for ep in ENDPOINTS:
            ev = g[f"{ep}_event"].to_numpy()
            ok = ev >= 0
            curves[ep] = kaplan_meier(
                g[f"{ep}_days"].to_numpy()[ok],
                ev[ok],
                conf_type=options.conf_type,
                level=options.level,
            )
        out.append(
            GroupSummary(
                dose_group=name,
                dose_per_kg=dose,
                n=len(g),
                orr=clopper_pearson(k_orr, len(g), options.level),
                dcr=clopper_pearson(k_dcr, len(g), options.level),
                bor_counts=counts,
                os=curves["os"],
                pfs=curves["pfs"],
                dor=curves["dor"],
            )
        )
    return tuple(out)


def _disagreements(
    ds: ClinicalDataset, frame: pd.DataFrame, resp: np.ndarray, labels: np.ndarray
) -> pd.DataFrame:
    cols = ["subj", "subject_id", "date", "investigator", "derived"]
    inv = ds.investigator
    if inv is None or inv.empty:
        return pd.DataFrame(columns=cols)
    derived = pd.DataFrame(
        {"subj": frame["subj"].to_numpy(), "day": frame["day"].to_numpy(), "derived": resp}
    )
    recorded = inv[["subj", "day", "response"]].rename(columns={"response": "investigator"})
    merged = recorded.merge(derived, on=["subj", "day"], how="outer")
    inv_l = np.array(C.LABELS, dtype=object)
    a = merged["investigator"].to_numpy()
    b = merged["derived"].to_numpy()
    a_lab = np.array([None if pd.isna(x) else inv_l[int(x)] for x in a], dtype=object)
    b_lab = np.array([None if pd.isna(x) else labels[int(x)] for x in b], dtype=object)
    # iRECIST labels are compared on their RECIST meaning
    same = np.array(
        [
            (not pd.isna(x) and not pd.isna(y) and int(x) == int(y))
            or (not pd.isna(x) and not pd.isna(y) and {int(x), int(y)} == {C.PD, C.UPD})
            for x, y in zip(a, b, strict=True)
        ],
        dtype=bool,
    )
    out = pd.DataFrame(
        {
            "subj": merged["subj"].to_numpy(),
            "subject_id": ds.subjects["subject_id"].to_numpy()[
                merged["subj"].to_numpy().astype(int)
            ],
            "date": iso_dates(merged["day"].to_numpy().astype(float)),
            "investigator": a_lab,
            "derived": b_lab,
        }
    )[~same]
    return out.sort_values(["subj", "date"]).reset_index(drop=True)
