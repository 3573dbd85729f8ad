"""The demo IIT reproduces every figure quoted in issue 3 (press release of the sponsor), and the
readout's JSON has the shape the issue specifies."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from vein2vein.clinical.csv_reader import read_csv_folder
from vein2vein.clinical.demo_data import CUTOFF, HIGH, LOW, MIDDLE, write_demo_csv
from vein2vein.clinical.readout import ReadoutOptions, readout


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    folder = write_demo_csv(tmp_path_factory.mktemp("demo"))
    return readout(read_csv_folder(folder), ReadoutOptions(cutoff=CUTOFF))


def test_ten_evaluable_patients_dcr_90(result):
    everyone = result.group("ALL")
    assert everyone.n == 10
    assert (everyone.dcr.k, everyone.dcr.n, everyone.dcr.rate) == (9, 10, 0.9)


def test_low_dose_one_pr_of_three(result):
    g = result.group(LOW)
    assert (g.orr.k, g.orr.n) == (1, 3)
    assert round(100 * g.orr.rate, 1) == 33.3
    assert g.bor_counts["PR"] == 1


def test_middle_dose_two_pr_of_five(result):
    g = result.group(MIDDLE)
    assert (g.orr.k, g.orr.n, g.orr.rate) == (2, 5, 0.4)


def test_high_dose_two_patients_no_confirmed_pr(result):
    g = result.group(HIGH)
    assert (g.orr.k, g.orr.n) == (0, 2)


def test_middle_dose_median_os_above_55_weeks(result):
    os_ = result.group(MIDDLE).os
    assert os_.median != os_.median or os_.median > 55 * 7  # NR also satisfies "above"
    assert os_.median == 480


def test_confirmed_pr_by_week_24_gastrectomy_week_27_alive_22_months_later(result):
    s = result.subjects.set_index("subject_id").loc["IIT-G04"]
    assert s.dose_group == MIDDLE and s.bor_confirmed == "PR"
    infusion = dt.date.fromisoformat(s.infusion_date)
    confirmed = dt.date.fromisoformat(s.confirmed_on)
    surgery = dt.date.fromisoformat(s.new_therapy_date)
    assert (confirmed - infusion).days <= 24 * 7
    assert (surgery - infusion).days // 7 == 27
    alive = dt.date.fromisoformat(s.last_known_alive_date)
    assert s.os_event == 0
    months_after_surgery = (alive.year - surgery.year) * 12 + alive.month - surgery.month
    assert months_after_surgery > 22
    # the post-operative scan (no evidence of disease) does not enter BOR or PFS
    assert (s.pfs_days, s.pfs_event) == (168, 0)


def test_other_middle_dose_responder_minus_48_percent_by_week_16(result):
    tp = result.timepoints
    g05 = tp[(tp["subject_id"] == "IIT-G05") & (tp["day"] == 16 * 7)]
    assert g05["pct_change_baseline"].iat[0] == pytest.approx(-48.0)


def test_unconfirmed_orr_differs_by_one_patient(tmp_path):
    r = readout(read_csv_folder(write_demo_csv(tmp_path)), ReadoutOptions(use_confirmed=False))
    assert (r.group("ALL").orr.k, r.group(HIGH).orr.k) == (4, 1)


def test_groups_in_dose_order_then_all(result):
    assert [g.dose_group for g in result.groups] == [LOW, MIDDLE, HIGH, "ALL"]


def test_json_shape(result):
    d = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert set(d) >= {"subjects", "groups", "provenance"}
    s = d["subjects"][0]
    for key in (
        "subject_id",
        "dose_group",
        "bor",
        "bor_confirmed",
        "best_pct_change",
        "pfs_days",
        "pfs_event",
        "os_days",
        "os_event",
        "dor_days",
        "dor_event",
        "timepoints",
    ):
        assert key in s
    assert set(s["timepoints"][0]) >= {
        "date",
        "sum_mm",
        "pct_change_baseline",
        "pct_change_nadir",
        "target",
        "non_target",
        "new_lesion",
        "overall",
    }
    assert s["pfs_event"] in (0, 1)
    g = d["groups"][-1]
    assert g["dose_group"] == "ALL"
    assert set(g["orr"]) == {"k", "n", "rate", "ci_low", "ci_high"}
    assert set(g["os"]) == {"n", "events", "median_days", "ci_low", "ci_high"}
    assert g["orr"] == {
        "k": 3,
        "n": 10,
        "rate": 0.3,
        "ci_low": pytest.approx(0.0667, abs=1e-4),
        "ci_high": pytest.approx(0.6525, abs=1e-4),
    }
    low = d["groups"][0]
    assert low["os"]["ci_high"] is None  # "not reached" is null in JSON
    prov = d["provenance"]
    assert prov["options"]["conf_type"] == "log-log" and len(prov["input_hash"]) == 64
    assert "lifelines" in prov["library_versions"]
    non_responder = next(x for x in d["subjects"] if x["subject_id"] == "IIT-G02")
    assert non_responder["dor_days"] is None and non_responder["dor_event"] is None


def test_ci_options_change_only_intervals(tmp_path):
    ds = read_csv_folder(write_demo_csv(tmp_path))
    medians = set()
    for conf in ("log-log", "log", "plain"):
        r = readout(ds, ReadoutOptions(conf_type=conf, cutoff=CUTOFF))
        medians.add(r.group("ALL").os.median)
    assert medians == {315.0}


def test_empty_dose_group_still_renders_and_numeric_order(tmp_path):
    folder = write_demo_csv(tmp_path)
    subjects = (folder / "subjects.csv").read_text().splitlines()
    subjects.append("IIT-X,Screening only 1.0e7/kg,1.0e7,,,,")
    (folder / "subjects.csv").write_text("\n".join(subjects) + "\n")
    r = readout(read_csv_folder(folder), ReadoutOptions(cutoff=CUTOFF))
    names = [g.dose_group for g in r.groups]
    assert names == [LOW, MIDDLE, HIGH, "Screening only 1.0e7/kg", "ALL"]
    empty = r.group("Screening only 1.0e7/kg")
    assert empty.n == 0 and empty.orr.rate is None and empty.os.n == 0
    assert "Screening only 1.0e7/kg (n=0)" in r.response_table().columns
    json.dumps(r.to_dict(), allow_nan=False)
