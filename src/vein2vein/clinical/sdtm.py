"""CDISC SDTM reader: DM, EX, TU, TR, RS (+ DS/DD for death; CM/PR for new anticancer therapy;
SV, AE, LB for the last known alive date), each as ``<domain>.csv`` or ``<domain>.xpt`` (SAS
transport, read with pyreadstat), mapped into the same :class:`ClinicalDataset` as the CSV
folder format.

Mapping (CDISC SDTMIG 3.x names; pharmaversesdtm ``tu_onco_recist``/``tr_onco_recist``/
``rs_onco_recist`` as worked examples):

* Subject: DM ``USUBJID``; dose group ``ACTARM`` (else ``ARM``); infusion = earliest EX
  ``EXSTDTC`` of the cell product (EX rows whose ``EXDOSU`` mentions cells, so lymphodepletion
  is skipped), else DM ``RFXSTDTC``; dose per kg from ``EXDOSE``/``EXDOSU`` ("10^6 CELLS/KG"
  scales by 10^6); death DM ``DTHDTC``, else DS ``DSSTDTC`` where ``DSDECOD = DEATH``, else DD
  ``DDDTC``; last known alive = latest date in DM, DS, SV, EX, AE, LB.
* Lesions: TU ``TUTESTCD = TUMIDENT``; ``TUSTRESC`` TARGET / NON-TARGET / NEW; ``TULNKID``;
  organ ``TULOC``; nodal when ``TULOC`` names a lymph node. NEW lesions become new lesions
  dated ``TUDTC`` (else their first TR date).
* Measurements: TR by ``TRLNKID`` and ``TRDTC``: nodes use ``SAXIS`` or ``LPERP`` (short axis),
  other lesions ``LDIAM`` or ``DIAMETER`` (``TRSTRESN``, mm); ``TUMSTATE`` gives the state;
  ``TRSTAT = NOT DONE`` means not evaluated.
* Investigator responses: RS ``RSTESTCD = OVRLRESP`` (``RSSTRESC``, ``RSDTC``), compared with
  the derived time points in the readout's disagreement report.
* New anticancer therapy: the earliest CM ``CMSTDTC`` / PR ``PRSTDTC`` after infusion whose
  category (``--CAT``/``--SCAT``) mentions anti-cancer or subsequent therapy.

Records are filtered to one evaluator (``TUEVAL``/``TREVAL``/``RSEVAL``, default
INVESTIGATOR) when those columns exist. Rows in errors are spreadsheet rows for CSV files
(header = row 1) and record numbers + 1 for .xpt, so both point at the same record.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from vein2vein.core import plausible
from vein2vein.core.errors import InputError

from . import codes as C
from .dataset import STATES, ClinicalDataset, to_hundredths, validate
from .parsing import lookup_ids, parse_choice, parse_dates, parse_numbers, sha256_file

REQUIRED = ("dm", "ex", "tu", "tr")
OPTIONAL = ("rs", "ds", "dd", "cm", "pr", "sv", "ae", "lb")
NODAL = re.compile(r"LYMPH|NODE|NODAL", re.I)
CELLS = re.compile(r"CELL", re.I)
THERAPY = re.compile(r"ANTI-?\s?CANCER|ANTINEOPLASTIC|SUBSEQUENT", re.I)


class _Domain:
    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.file = path.name
        if path.suffix.lower() == ".xpt":
            import pyreadstat

            try:
                frame, _ = pyreadstat.read_xport(str(path))
            except Exception as exc:  # pyreadstat raises its own ReadstatError types
                raise InputError(
                    f"not a readable SAS transport file ({exc})", file=self.file
                ) from exc
        else:
            try:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
                raise InputError(f"not a readable CSV file ({exc})", file=self.file) from exc
        frame.columns = [str(c).strip().upper() for c in frame.columns]
        self.frame = frame.reset_index(drop=True)
        self.rows = np.arange(len(frame)) + 2

    def col(self, name: str, default: str = "") -> pd.Series:
        if name in self.frame.columns:
            s = self.frame[name]
            return s.where(s.notna(), "").astype(str).str.strip()
        return pd.Series([default] * len(self.frame), dtype=object)

    def has(self, name: str) -> bool:
        return name in self.frame.columns

    def require(self, *names: str) -> None:
        for n in names:
            if n not in self.frame.columns:
                raise InputError(f"missing variable {n}", file=self.file, row=1, field=n)

    def subset(self, mask: np.ndarray) -> _Domain:
        out = object.__new__(_Domain)
        out.name, out.path, out.file = self.name, self.path, self.file
        out.frame = self.frame[mask].reset_index(drop=True)
        out.rows = self.rows[mask]
        return out


def _find(root: Path, name: str) -> Path | None:
    for p in root.iterdir():
        if p.stem.lower() == name and p.suffix.lower() in (".csv", ".xpt"):
            return p
    return None


def _evaluator(d: _Domain, prefix: str, evaluator: str | None) -> _Domain:
    col = f"{prefix}EVAL"
    if evaluator is None or not d.has(col):
        return d
    values = d.col(col).str.upper().to_numpy()
    keep = (values == evaluator.upper()) | (values == "")
    if len(values) and not keep.any():
        # a mistyped evaluator would otherwise give a valid-looking dataset with no lesions
        found = ", ".join(sorted(set(values) - {""})[:10])
        raise InputError(
            f"no {prefix} record is by the evaluator '{evaluator}'; the file has: {found}",
            file=d.file,
            field=col,
        )
    return d.subset(keep)


def _per_subject_min(subj: np.ndarray, day: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.inf)
    ok = ~np.isnan(day)
    np.minimum.at(out, subj[ok], day[ok])
    out[np.isinf(out)] = np.nan
    return out


def _per_subject_max(subj: np.ndarray, day: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -np.inf)
    ok = ~np.isnan(day)
    np.maximum.at(out, subj[ok], day[ok])
    out[np.isinf(out)] = np.nan
    return out


def _dose_per_kg(dose: np.ndarray, units: np.ndarray) -> np.ndarray:
    out = np.full(len(dose), np.nan)
    for i, (x, u) in enumerate(zip(dose, units, strict=True)):
        if np.isnan(x) or "/KG" not in u.upper().replace(" ", ""):
            continue
        m = re.search(r"10\s*\^?\s*(?:E)?\s*(\d+)", u, re.I)
        out[i] = x * (10 ** int(m.group(1)) if m else 1)
    return out


def read_sdtm(folder: str | Path, *, evaluator: str | None = "INVESTIGATOR") -> ClinicalDataset:
    """Read SDTM domains from ``folder`` (``dm.xpt`` or ``dm.csv`` ..., any case)."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder")
    doms: dict[str, _Domain] = {}
    for name in (*REQUIRED, *OPTIONAL):
        p = _find(root, name)
        if p is None:
            if name in REQUIRED:
                raise InputError(
                    f"missing SDTM domain {name.upper()} ({name}.xpt or {name}.csv) in {root}"
                )
            continue
        doms[name] = _Domain(name, p)

    dm = doms["dm"]
    dm.require("USUBJID")
    ids = dm.col("USUBJID").to_numpy(dtype=object)
    index: dict[str, int] = {}
    for i, sid in enumerate(ids):
        if not sid:
            raise InputError(
                "USUBJID is required", file=dm.file, row=int(dm.rows[i]), field="USUBJID"
            )
        if sid in index:
            raise InputError(
                f"duplicate USUBJID {sid!r}", file=dm.file, row=int(dm.rows[i]), field="USUBJID"
            )
        index[sid] = i
    n = len(ids)

    def subj_of(d: _Domain) -> np.ndarray:
        d.require("USUBJID")
        return lookup_ids(
            d.col("USUBJID"), index, file=d.file, field="USUBJID", what="USUBJID", rows=d.rows
        )

    def dates(d: _Domain, col: str, required: bool = False) -> np.ndarray:
        return parse_dates(d.col(col), file=d.file, field=col, required=required, rows=d.rows)

    group = dm.col("ACTARM").to_numpy(dtype=object)
    arm = dm.col("ARM").to_numpy(dtype=object)
    group = np.where(group == "", arm, group)

    ex = doms["ex"]
    ex.require("USUBJID", "EXSTDTC")
    ex_subj = subj_of(ex)
    ex_day = dates(ex, "EXSTDTC")
    units = ex.col("EXDOSU").to_numpy(dtype=object)
    product = (
        np.array([bool(CELLS.search(u)) for u in units])
        if ex.has("EXDOSU")
        else np.ones(len(ex_day), bool)
    )
    if not product.any():
        product = np.ones(len(ex_day), bool)
    infusion = _per_subject_min(ex_subj[product], ex_day[product], n)
    rfx = dates(dm, "RFXSTDTC")
    infusion = np.where(np.isnan(infusion), rfx, infusion)
    dose = parse_numbers(
        ex.col("EXDOSE"), file=ex.file, field="EXDOSE", rows=ex.rows, within=plausible.DOSE_ANY
    )
    per_kg = _dose_per_kg(dose, units)
    order = np.lexsort((ex_day, ex_subj))
    dose_per_kg = np.full(n, np.nan)
    for i in order[::-1]:
        if product[i] and not np.isnan(per_kg[i]):
            dose_per_kg[ex_subj[i]] = per_kg[i]
    group = np.array(
        [
            g if g else (f"{d:.1e}/kg" if not np.isnan(d) else "UNASSIGNED")
            for g, d in zip(group, dose_per_kg, strict=True)
        ],
        dtype=object,
    )

    death = dates(dm, "DTHDTC")
    alive_sources = [dates(dm, c) for c in ("RFPENDTC", "RFENDTC", "RFICDTC") if dm.has(c)]
    alive_sources.append(_per_subject_max(ex_subj, ex_day, n))
    if "ds" in doms:
        disp = doms["ds"]
        ds_subj, ds_day = subj_of(disp), dates(disp, "DSSTDTC")
        is_death = disp.col("DSDECOD").str.upper().to_numpy() == "DEATH"
        death = np.where(
            np.isnan(death), _per_subject_min(ds_subj[is_death], ds_day[is_death], n), death
        )
        alive_sources.append(_per_subject_max(ds_subj[~is_death], ds_day[~is_death], n))
    if "dd" in doms and doms["dd"].has("DDDTC"):
        dd = doms["dd"]
        death = np.where(
            np.isnan(death), _per_subject_min(subj_of(dd), dates(dd, "DDDTC"), n), death
        )
    for name, cols in (
        ("sv", ("SVSTDTC", "SVENDTC")),
        ("ae", ("AESTDTC", "AEENDTC")),
        ("lb", ("LBDTC",)),
    ):
        if name in doms:
            d = doms[name]
            s_ = subj_of(d)
            for c in cols:
                if d.has(c):
                    alive_sources.append(_per_subject_max(s_, dates(d, c), n))
    last_alive = (
        np.nanmax(np.vstack(alive_sources), axis=0) if alive_sources else np.full(n, np.nan)
    )
    last_alive = np.where(last_alive > death, np.nan, last_alive)

    new_therapy = np.full(n, np.nan)
    for name, prefix in (("cm", "CM"), ("pr", "PR")):
        if name not in doms:
            continue
        d = doms[name]
        cat = (d.col(f"{prefix}CAT") + " " + d.col(f"{prefix}SCAT")).to_numpy(dtype=object)
        mask = np.array([bool(THERAPY.search(c)) for c in cat], dtype=bool)
        if not mask.any():
            continue
        s_, day_ = subj_of(d), dates(d, f"{prefix}STDTC")
        mask &= day_ > infusion[s_]
        new_therapy = np.fmin(new_therapy, _per_subject_min(s_[mask], day_[mask], n))

    subjects = pd.DataFrame(
        {
            "subject_id": ids.astype(str),
            "dose_group": group.astype(str),
            "dose_per_kg": dose_per_kg,
            "infusion_day": infusion,
            "death_day": death,
            "last_alive_day": last_alive,
            "new_therapy_day": new_therapy,
            "src_row": dm.rows,
        }
    )

    # ---- lesions (TU)
    tu = _evaluator(doms["tu"], "TU", evaluator)
    tu.require("USUBJID", "TULNKID", "TUSTRESC")
    if tu.has("TUTESTCD"):
        tu = tu.subset(tu.col("TUTESTCD").str.upper().to_numpy() == "TUMIDENT")
    tu_subj = subj_of(tu)
    role = parse_choice(
        tu.col("TUSTRESC"),
        {"TARGET": 1, "NON-TARGET": 0, "NON TARGET": 0, "NEW": 2},
        file=tu.file,
        field="TUSTRESC",
        rows=tu.rows,
    )
    link = tu.col("TULNKID").to_numpy(dtype=object)
    loc = tu.col("TULOC").to_numpy(dtype=object)
    seen: dict[tuple[int, str], int] = {}
    for i, (s_, lid) in enumerate(zip(tu_subj.tolist(), link.tolist(), strict=True)):
        if not lid:
            raise InputError(
                "TULNKID is required", file=tu.file, row=int(tu.rows[i]), field="TULNKID"
            )
        if (s_, lid) in seen:
            raise InputError(
                f"duplicate lesion {lid!r} for {ids[s_]}",
                file=tu.file,
                row=int(tu.rows[i]),
                field="TULNKID",
            )
        seen[(s_, lid)] = i
    old = role != 2
    lesions = pd.DataFrame(
        {
            "subj": tu_subj[old],
            "lesion_id": link[old].astype(str),
            "target": role[old] == 1,
            "organ": loc[old].astype(str),
            "nodal": np.array([bool(NODAL.search(x)) for x in loc[old]], dtype=bool),
            "src_row": tu.rows[old],
        }
    ).reset_index(drop=True)
    lesion_index = {
        (int(s_), lid): i
        for i, (s_, lid) in enumerate(zip(lesions["subj"], lesions["lesion_id"], strict=True))
    }
    new_index = {(int(tu_subj[i]), str(link[i])): int(i) for i in np.flatnonzero(~old)}

    # ---- measurements (TR)
    tr = _evaluator(doms["tr"], "TR", evaluator)
    tr.require("USUBJID", "TRLNKID", "TRTESTCD", "TRDTC")
    tr_subj = subj_of(tr)
    tr_link = tr.col("TRLNKID").to_numpy(dtype=object)
    tr_day = dates(tr, "TRDTC", required=True)
    test = tr.col("TRTESTCD").str.upper().to_numpy(dtype=object)
    num = parse_numbers(
        tr.col("TRSTRESN") if tr.has("TRSTRESN") else tr.col("TRORRES"),
        file=tr.file,
        field="TRSTRESN",
        rows=tr.rows,
        within=plausible.LESION_DIAMETER_MM,
    )
    text = tr.col("TRSTRESC").str.upper().to_numpy(dtype=object)
    not_done = tr.col("TRSTAT").str.upper().to_numpy(dtype=object) == "NOT DONE"
    lesion_of = np.full(len(tr_subj), -1, dtype=np.int64)
    new_first_day: dict[int, float] = {}
    for i, (s_, lid) in enumerate(zip(tr_subj.tolist(), tr_link.tolist(), strict=True)):
        k = lesion_index.get((s_, lid))
        if k is not None:
            lesion_of[i] = k
        elif (s_, lid) in new_index:
            j = new_index[(s_, lid)]
            new_first_day[j] = min(new_first_day.get(j, np.inf), tr_day[i])
        else:
            raise InputError(
                f"lesion {lid!r} of {ids[s_]} is not identified in TU",
                file=tr.file,
                row=int(tr.rows[i]),
                field="TRLNKID",
            )
    nodal_l = lesions["nodal"].to_numpy(bool)
    keep = lesion_of >= 0
    rows = pd.DataFrame(
        {
            "lesion": lesion_of[keep],
            "subj": tr_subj[keep],
            "day": tr_day[keep].astype(np.int64),
            "test": test[keep],
            "num": num[keep],
            "text": text[keep],
            "not_done": not_done[keep],
            "src_row": tr.rows[keep],
        }
    )
    nod = nodal_l[rows["lesion"].to_numpy()]
    rank_nodal = {"SAXIS": 0, "LPERP": 1, "LDIAM": 2, "DIAMETER": 3}
    rank_other = {"LDIAM": 0, "DIAMETER": 1}
    r = np.array(
        [
            (rank_nodal if n_ else rank_other).get(t, 99) if t != "TUMSTATE" else 50
            for t, n_ in zip(rows["test"], nod, strict=True)
        ]
    )
    rows["rank"] = r
    rows = rows[rows["rank"] < 99]
    meas = (
        rows[rows["rank"] < 50]
        .sort_values(["lesion", "day", "rank"])
        .drop_duplicates(["lesion", "day"])
    )
    state_rows = rows[rows["rank"] == 50].drop_duplicates(["lesion", "day"])
    merged = meas[["lesion", "subj", "day", "num", "not_done", "src_row"]].merge(
        state_rows[["lesion", "subj", "day", "text", "not_done", "src_row"]],
        on=["lesion", "subj", "day"],
        how="outer",
        suffixes=("", "_state"),
    )
    state_text = merged["text"].fillna("").to_numpy(dtype=object)
    state = parse_choice(
        state_text,
        STATES,
        file=tr.file,
        field="TRSTRESC",
        rows=merged["src_row_state"].fillna(merged["src_row"]).to_numpy(),
    )
    nd = merged["not_done"].eq(True).to_numpy() | merged["not_done_state"].eq(True).to_numpy()
    value = to_hundredths(merged["num"].to_numpy(float))
    value[nd] = -1
    state = np.where(nd & (state == 0), STATES["NOT EVALUATED"], state)
    src = merged["src_row"].fillna(merged["src_row_state"]).to_numpy().astype(np.int64)
    assessments = (
        pd.DataFrame(
            {
                "subj": merged["subj"].to_numpy().astype(np.int64),
                "lesion": merged["lesion"].to_numpy().astype(np.int64),
                "day": merged["day"].to_numpy().astype(np.int64),
                "value": value,
                "state": state.astype(np.int8),
                "src_row": src,
            }
        )
        .sort_values("src_row", kind="stable")
        .reset_index(drop=True)
    )

    tu_day = parse_dates(tu.col("TUDTC"), file=tu.file, field="TUDTC", rows=tu.rows)
    nl_rows = np.flatnonzero(~old)
    nl_day = np.array(
        [
            tu_day[i] if not np.isnan(tu_day[i]) else new_first_day.get(int(i), np.nan)
            for i in nl_rows
        ]
    )
    if np.isnan(nl_day).any():
        i = nl_rows[int(np.flatnonzero(np.isnan(nl_day))[0])]
        raise InputError(
            "a NEW lesion needs a date (TUDTC or a TR record)",
            file=tu.file,
            row=int(tu.rows[i]),
            field="TUDTC",
        )
    new_lesions = pd.DataFrame(
        {
            "subj": tu_subj[nl_rows],
            "day": nl_day.astype(np.int64),
            "organ": loc[nl_rows].astype(str),
            "src_row": tu.rows[nl_rows],
        }
    )

    investigator = None
    if "rs" in doms:
        rs = _evaluator(doms["rs"], "RS", evaluator)
        rs.require("USUBJID", "RSTESTCD", "RSSTRESC", "RSDTC")
        rs = rs.subset(rs.col("RSTESTCD").str.upper().to_numpy() == "OVRLRESP")
        investigator = pd.DataFrame(
            {
                "subj": subj_of(rs),
                "day": dates(rs, "RSDTC", required=True).astype(np.int64),
                "response": parse_choice(
                    rs.col("RSSTRESC"), C.PARSE, file=rs.file, field="RSSTRESC", rows=rs.rows
                ),
                "src_row": rs.rows,
            }
        )

    files = {
        "subjects": doms["dm"].file,
        "lesions": tu.file,
        "assessments": tr.file,
        "new_lesions": tu.file,
    }
    if "rs" in doms:
        files["investigator"] = doms["rs"].file
    dataset = ClinicalDataset(
        subjects=subjects,
        lesions=lesions,
        assessments=assessments,
        new_lesions=new_lesions,
        investigator=investigator,
        files=files,
        file_hashes={d.file: sha256_file(d.path) for d in doms.values()},
        source_format="sdtm",
        field_names={
            "subjects.last_alive_date": "DTHDTC",
            "assessments.date": "TRDTC",
            "assessments.diameter_mm": "TRSTRESN",
            "assessments.state": "TRSTRESC",
            "lesions.role": "TUSTRESC",
            "lesions.lesion_id": "TULNKID",
            "new_lesions.date": "TUDTC",
        },
    )
    return replace(dataset, warnings=tuple(validate(dataset)))
