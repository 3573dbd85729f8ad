"""A synthetic investigator-initiated trial (IIT) of an EpCAM CAR-T in advanced gastric cancer,
written as the CSV folder format. Invented patients, consistent with every figure the sponsor's
press release quoted (issue 3):

* 10 evaluable patients; disease control rate 90 % (9/10);
* low dose: 1 confirmed PR of 3 (33.3 %); middle dose: 2 confirmed PR of 5 (40 %);
  high dose: 2 patients, no confirmed PR (inferred group size);
* middle-dose median OS above 55 weeks (385 days);
* one middle-dose patient (IIT-G04) with a PR confirmed by week 24, a radical gastrectomy at
  week 27 (new anticancer therapy: later scans leave the BOR and PFS) and alive more than
  22 months after surgery at the last contact;
* the other middle-dose responder (IIT-G05) with a 48 % reduction by week 16 (trade press).

Doses 0.3, 1 and 3 x 10^6 CAR-T cells/kg are the escalation levels of the ESMO 2022 abstract
737MO; the group labels and every patient are ours. One high-dose patient (IIT-G09) has an
*unconfirmed* PR (PR then a new lesion 4 weeks later), so unconfirmed ORR is 4/10 while the
confirmed ORR the release implies is 3/10.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

CUTOFF = dt.date(2025, 3, 1)
LOW, MIDDLE, HIGH = "Low 0.3e6/kg", "Middle 1e6/kg", "High 3e6/kg"
DOSES = {LOW: 3e5, MIDDLE: 1e6, HIGH: 3e6}


@dataclass(frozen=True)
class Visit:
    week: int
    factor: float | None = None  # target size relative to baseline; None = targets not done
    non_target: str = "PRESENT"
    new_lesion: str | None = None  # organ of an unequivocal new lesion
    missing: tuple[str, ...] = ()  # targets not evaluated at this visit
    absent: tuple[str, ...] = ()  # targets recorded ABSENT


@dataclass(frozen=True)
class Patient:
    subject_id: str
    group: str
    infusion: dt.date
    targets: tuple[tuple[str, str, bool, float], ...]  # lesion_id, organ, nodal, baseline mm
    non_targets: tuple[tuple[str, str, bool], ...]
    visits: tuple[Visit, ...]
    death_day: int | None = None
    last_alive: dt.date | None = None
    new_therapy_day: int | None = None
    note: str = ""
    extra_visits: tuple[Visit, ...] = field(default=())


def _v(week: int, factor: float | None, **kw: object) -> Visit:
    return Visit(week, factor, **kw)  # type: ignore[arg-type]


PATIENTS: tuple[Patient, ...] = (
    Patient(
        "IIT-G01",
        LOW,
        dt.date(2022, 6, 15),
        (("T1", "LIVER", False, 42.0), ("T2", "LYMPH NODE", True, 18.0)),
        (("NT1", "PERITONEUM", False),),
        (_v(4, 0.90), _v(8, 0.66), _v(12, 0.62), _v(16, 0.60), _v(24, 0.64), _v(32, 0.78)),
        death_day=330,
        note="confirmed PR (weeks 8 and 12), PD at week 32",
    ),
    Patient(
        "IIT-G02",
        LOW,
        dt.date(2022, 8, 3),
        (("T1", "LIVER", False, 35.0), ("T2", "LUNG", False, 22.0)),
        (("NT1", "LYMPH NODE", True),),
        (_v(4, 0.95), _v(8, 0.92), _v(12, 0.90), _v(16, 0.88), _v(24, 0.93), _v(32, 1.12)),
        death_day=290,
        note="SD, PD at week 32",
    ),
    Patient(
        "IIT-G03",
        LOW,
        dt.date(2022, 11, 9),
        (("T1", "LIVER", False, 48.0),),
        (("NT1", "PERITONEUM", False),),
        (
            _v(4, 1.05),
            _v(8, 1.08),
            _v(12, 1.10),
            _v(16, 1.12, non_target="UNEQUIVOCAL PROGRESSION"),
        ),
        death_day=205,
        note="SD, non-target progression at week 16",
    ),
    Patient(
        "IIT-G04",
        MIDDLE,
        dt.date(2022, 9, 7),
        (("T1", "STOMACH", False, 38.0), ("T2", "LYMPH NODE", True, 20.0)),
        (("NT1", "PERITONEUM", False),),
        (_v(4, 0.88), _v(8, 0.78), _v(12, 0.74), _v(16, 0.66), _v(24, 0.55)),
        last_alive=dt.date(2025, 2, 20),
        new_therapy_day=189,
        note="PR at week 16 confirmed at week 24; radical gastrectomy at week 27; alive",
        extra_visits=(_v(36, 0.3, non_target="ABSENT", absent=("T1",)),),
    ),
    Patient(
        "IIT-G05",
        MIDDLE,
        dt.date(2022, 10, 12),
        (("T1", "LIVER", False, 30.0), ("T2", "LUNG", False, 20.0)),
        (),
        (
            _v(4, 0.80),
            _v(8, 0.68),
            _v(12, 0.60),
            _v(16, 0.52),
            _v(24, 0.55),
            _v(32, 0.60),
            _v(40, 0.66),
        ),
        death_day=480,
        note="PR from week 8 (confirmed week 12), -48% at week 16, PD at week 40",
    ),
    Patient(
        "IIT-G06",
        MIDDLE,
        dt.date(2023, 1, 18),
        (("T1", "LIVER", False, 55.0),),
        (("NT1", "LYMPH NODE", True),),
        (_v(4, 0.97), _v(8, 0.95), _v(12, 0.93), _v(16, 0.96), _v(24, 1.0, new_lesion="LIVER")),
        death_day=300,
        note="SD, new liver lesion at week 24",
    ),
    Patient(
        "IIT-G07",
        MIDDLE,
        dt.date(2023, 2, 22),
        (("T1", "PERITONEUM", False, 40.0), ("T2", "LIVER", False, 25.0)),
        (("NT1", "PERITONEUM", False),),
        (
            _v(4, 0.95),
            _v(8, 0.90),
            _v(12, 0.90, missing=("T2",)),
            _v(16, 0.92),
            _v(24, 0.94),
            _v(32, 1.15),
        ),
        death_day=420,
        note="SD (one target not evaluated at week 12), PD at week 32",
    ),
    Patient(
        "IIT-G08",
        MIDDLE,
        dt.date(2023, 4, 5),
        (("T1", "LIVER", False, 33.0), ("T2", "LUNG", False, 15.0)),
        (("NT1", "PERITONEUM", False),),
        tuple(
            _v(w, f)
            for w, f in (
                (4, 0.98),
                (8, 0.94),
                (12, 0.90),
                (16, 0.90),
                (24, 0.92),
                (32, 0.95),
                (40, 0.96),
                (48, 0.97),
                (56, 0.98),
                (64, 0.99),
            )
        ),
        last_alive=dt.date(2023, 4, 5) + dt.timedelta(days=500),
        note="durable SD, alive at last contact",
    ),
    Patient(
        "IIT-G09",
        HIGH,
        dt.date(2023, 6, 14),
        (("T1", "LIVER", False, 44.0), ("T2", "LYMPH NODE", True, 21.0)),
        (("NT1", "PERITONEUM", False),),
        (_v(4, 0.85), _v(8, 0.68), _v(12, 0.75, new_lesion="BONE")),
        death_day=250,
        note="unconfirmed PR at week 8 (new lesion at week 12): confirmed BOR SD",
    ),
    Patient(
        "IIT-G10",
        HIGH,
        dt.date(2023, 8, 9),
        (("T1", "LIVER", False, 50.0), ("T2", "LUNG", False, 28.0)),
        (("NT1", "PERITONEUM", False),),
        (_v(4, 1.25, new_lesion="LIVER"),),
        death_day=150,
        note="PD at week 4",
    ),
)

BASELINE_DAYS_BEFORE = 10


def demo_tables() -> dict[str, pd.DataFrame]:
    """The four CSV tables of the demo study."""
    subjects, lesions, assessments, new_lesions = [], [], [], []
    for p in PATIENTS:
        day = lambda n, p=p: (p.infusion + dt.timedelta(days=n)).isoformat()  # noqa: E731
        subjects.append(
            {
                "subject_id": p.subject_id,
                "dose_group": p.group,
                "dose_per_kg": f"{DOSES[p.group]:.1e}",
                "infusion_date": p.infusion.isoformat(),
                "death_date": day(p.death_day) if p.death_day is not None else "",
                "last_alive_date": p.last_alive.isoformat() if p.last_alive else "",
                "new_therapy_date": day(p.new_therapy_day) if p.new_therapy_day else "",
            }
        )
        for lid, organ, nodal, _ in p.targets:
            lesions.append(
                {
                    "subject_id": p.subject_id,
                    "lesion_id": lid,
                    "role": "TARGET",
                    "organ": organ,
                    "nodal": "Y" if nodal else "N",
                }
            )
        for lid, organ, nodal in p.non_targets:
            lesions.append(
                {
                    "subject_id": p.subject_id,
                    "lesion_id": lid,
                    "role": "NON-TARGET",
                    "organ": organ,
                    "nodal": "Y" if nodal else "N",
                }
            )
        baseline = Visit(0, 1.0)
        for v in (baseline, *p.visits, *p.extra_visits):
            date = day(v.week * 7) if v.week else day(-BASELINE_DAYS_BEFORE)
            for lid, _, _, size in p.targets:
                row = {"subject_id": p.subject_id, "lesion_id": lid, "date": date}
                if lid in v.missing or v.factor is None:
                    row |= {"diameter_mm": "", "state": "NOT EVALUATED"}
                elif lid in v.absent:
                    row |= {"diameter_mm": "", "state": "ABSENT"}
                else:
                    row |= {"diameter_mm": f"{round(size * v.factor, 1):.1f}", "state": ""}
                assessments.append(row)
            for lid, _, _ in p.non_targets:
                assessments.append(
                    {
                        "subject_id": p.subject_id,
                        "lesion_id": lid,
                        "date": date,
                        "diameter_mm": "",
                        "state": v.non_target if v.week else "PRESENT",
                    }
                )
            if v.new_lesion:
                new_lesions.append(
                    {"subject_id": p.subject_id, "date": date, "organ": v.new_lesion}
                )
    return {
        "subjects": pd.DataFrame(subjects),
        "lesions": pd.DataFrame(lesions),
        "assessments": pd.DataFrame(assessments),
        "new_lesions": pd.DataFrame(new_lesions),
    }


def write_demo_csv(folder: str | Path) -> Path:
    """Write the demo study as a CSV folder (``subjects.csv``, ``lesions.csv``,
    ``assessments.csv``, ``new_lesions.csv``) and return the folder."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    for name, frame in demo_tables().items():
        frame.to_csv(root / f"{name}.csv", index=False)
    return root


#: The investigator's RS record that deliberately disagrees with the derived response, so the
#: demo shows the disagreement report: IIT-G09 week 8 recorded as SD (derived: PR, -32 %).
RS_DISAGREEMENT = ("IIT-G09", 8, "SD")
PRODUCT = "IMC001 EPCAM CAR-T"


def demo_sdtm_tables() -> dict[str, pd.DataFrame]:
    """The demo study as SDTM domains DM, EX, TU, TR, RS, DS, PR, SV (investigator RS from the
    derived time points, with :data:`RS_DISAGREEMENT`)."""
    from .csv_reader import read_csv_folder
    from .readout import readout

    study = "V2V-IIT-01"
    dm, ex, tu, tr, ds, pr, sv = [], [], [], [], [], [], []
    for p in PATIENTS:
        day = lambda n, p=p: (p.infusion + dt.timedelta(days=n)).isoformat()  # noqa: E731
        death = day(p.death_day) if p.death_day is not None else ""
        base = {"STUDYID": study, "USUBJID": p.subject_id}
        dm.append(
            base
            | {
                "DOMAIN": "DM",
                "ARM": p.group,
                "ACTARM": p.group,
                "RFXSTDTC": p.infusion.isoformat(),
                "DTHDTC": death,
                "DTHFL": "Y" if death else "",
            }
        )
        for drug, offset, dose, unit in (
            ("FLUDARABINE", -5, 30.0, "mg/m2"),
            ("CYCLOPHOSPHAMIDE", -5, 500.0, "mg/m2"),
            (PRODUCT, 0, DOSES[p.group] / 1e6, "10^6 CELLS/KG"),
        ):
            ex.append(
                base
                | {
                    "DOMAIN": "EX",
                    "EXTRT": drug,
                    "EXDOSE": dose,
                    "EXDOSU": unit,
                    "EXSTDTC": day(offset),
                }
            )
        if death:
            ds.append(base | {"DOMAIN": "DS", "DSDECOD": "DEATH", "DSSTDTC": death})
        if p.last_alive:
            sv.append(
                base
                | {
                    "DOMAIN": "SV",
                    "VISIT": "FOLLOW-UP CONTACT",
                    "SVSTDTC": p.last_alive.isoformat(),
                }
            )
        if p.new_therapy_day:
            pr.append(
                base
                | {
                    "DOMAIN": "PR",
                    "PRTRT": "RADICAL GASTRECTOMY",
                    "PRCAT": "SUBSEQUENT ANTI-CANCER THERAPY",
                    "PRSTDTC": day(p.new_therapy_day),
                }
            )
        baseline_date = day(-BASELINE_DAYS_BEFORE)
        for lid, organ, _, _ in p.targets:
            tu.append(
                base
                | {
                    "DOMAIN": "TU",
                    "TUTESTCD": "TUMIDENT",
                    "TULNKID": lid,
                    "TUSTRESC": "TARGET",
                    "TULOC": organ,
                    "TUEVAL": "INVESTIGATOR",
                    "TUDTC": baseline_date,
                }
            )
        for lid, organ, _ in p.non_targets:
            tu.append(
                base
                | {
                    "DOMAIN": "TU",
                    "TUTESTCD": "TUMIDENT",
                    "TULNKID": lid,
                    "TUSTRESC": "NON-TARGET",
                    "TULOC": organ,
                    "TUEVAL": "INVESTIGATOR",
                    "TUDTC": baseline_date,
                }
            )
        k = 0
        for v in (Visit(0, 1.0), *p.visits, *p.extra_visits):
            date = day(v.week * 7) if v.week else baseline_date
            for lid, _, nodal, size in p.targets:
                rec = base | {
                    "DOMAIN": "TR",
                    "TRLNKID": lid,
                    "TRDTC": date,
                    "TREVAL": "INVESTIGATOR",
                }
                test = "LPERP" if nodal else "LDIAM"
                if lid in v.missing or v.factor is None:
                    tr.append(
                        rec
                        | {"TRTESTCD": test, "TRSTRESC": "", "TRSTRESN": None, "TRSTAT": "NOT DONE"}
                    )
                elif lid in v.absent:
                    tr.append(
                        rec
                        | {
                            "TRTESTCD": "TUMSTATE",
                            "TRSTRESC": "ABSENT",
                            "TRSTRESN": None,
                            "TRSTAT": "",
                        }
                    )
                else:
                    x = round(size * v.factor, 1)
                    tr.append(
                        rec
                        | {"TRTESTCD": test, "TRSTRESC": f"{x:.1f}", "TRSTRESN": x, "TRSTAT": ""}
                    )
            for lid, _, _ in p.non_targets:
                tr.append(
                    base
                    | {
                        "DOMAIN": "TR",
                        "TRLNKID": lid,
                        "TRDTC": date,
                        "TREVAL": "INVESTIGATOR",
                        "TRTESTCD": "TUMSTATE",
                        "TRSTRESC": v.non_target if v.week else "PRESENT",
                        "TRSTRESN": None,
                        "TRSTAT": "",
                    }
                )
            if v.new_lesion:
                k += 1
                tu.append(
                    base
                    | {
                        "DOMAIN": "TU",
                        "TUTESTCD": "TUMIDENT",
                        "TULNKID": f"NEW{k}",
                        "TUSTRESC": "NEW",
                        "TULOC": v.new_lesion,
                        "TUEVAL": "INVESTIGATOR",
                        "TUDTC": date,
                    }
                )

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        result = readout(read_csv_folder(write_demo_csv(tmp)))
    rs = []
    infusion = {p.subject_id: p.infusion for p in PATIENTS}
    for rec in result.timepoints.itertuples():
        response = rec.overall
        sid, week, recorded = RS_DISAGREEMENT
        if (
            rec.subject_id == sid
            and rec.date == (infusion[sid] + dt.timedelta(days=7 * week)).isoformat()
        ):
            response = recorded
        rs.append(
            {
                "STUDYID": study,
                "DOMAIN": "RS",
                "USUBJID": rec.subject_id,
                "RSTESTCD": "OVRLRESP",
                "RSTEST": "Overall Response",
                "RSSTRESC": response,
                "RSEVAL": "INVESTIGATOR",
                "RSDTC": rec.date,
            }
        )
    frames = {"dm": dm, "ex": ex, "tu": tu, "tr": tr, "rs": rs, "ds": ds, "pr": pr, "sv": sv}
    return {k: pd.DataFrame(v) for k, v in frames.items()}


def write_demo_sdtm(folder: str | Path, fmt: str = "xpt") -> Path:
    """Write the demo study as SDTM domains, ``.xpt`` (SAS transport v5) or ``.csv``."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    for name, frame in demo_sdtm_tables().items():
        if fmt == "xpt":
            import pyreadstat

            pyreadstat.write_xport(
                frame, str(root / f"{name}.xpt"), table_name=name.upper(), file_format_version=5
            )
        elif fmt == "csv":
            frame.to_csv(root / f"{name}.csv", index=False)
        else:
            raise ValueError("fmt must be 'xpt' or 'csv'")
    return root
