"""OS, PFS and DOR censoring (FDA 2018 endpoints guidance; issue 3 rules)."""

from __future__ import annotations

import datetime as dt

from .factories import INFUSION, one_subject, run, subject, write_study

LIVER = ("LIVER", False)


def study(tmp_path, visits, **dates):
    rows = [(-7, {"T1": 50.0})] + [(day, {"T1": v}) for day, v in visits]
    return run(one_subject(tmp_path, {"T1": LIVER}, {}, rows, **dates)).subjects.iloc[0]


def test_pd_is_a_pfs_event_and_dor_ends_there(tmp_path):
    s = study(tmp_path, [(42, 30.0), (84, 30.0), (126, 45.0)], death=300)
    assert (s.pfs_days, s.pfs_event, s.pfs_reason) == (126, 1, "progression")
    assert (s.os_days, s.os_event) == (300, 1)
    assert (s.dor_days, s.dor_event) == (126 - 42, 1)


def test_death_without_pd_is_a_pfs_event_however_late(tmp_path):
    s = study(tmp_path, [(42, 48.0)], death=400)
    assert (s.pfs_days, s.pfs_event, s.pfs_reason) == (400, 1, "death")


def test_new_therapy_censors_pfs_at_last_adequate_assessment_before_it(tmp_path):
    s = study(
        tmp_path, [(42, 30.0), (84, 30.0), (120, None), (200, 60.0)], new_therapy=150, death=400
    )
    assert (s.pfs_days, s.pfs_event) == (84, 0)  # the NE visit at 120 is not adequate
    assert "before new anticancer therapy" in s.pfs_reason
    assert (s.os_days, s.os_event) == (400, 1)  # OS is not affected
    assert (s.dor_days, s.dor_event) == (42, 0)
    assert s.bor_confirmed == "PR"


def test_death_on_new_therapy_date_is_censored(tmp_path):
    s = study(tmp_path, [(42, 48.0)], new_therapy=100, death=100)
    assert (s.pfs_days, s.pfs_event) == (42, 0)


def test_no_adequate_assessment_censored_at_day_0(tmp_path):
    s = study(tmp_path, [(42, None)], last_alive=90)
    assert (s.pfs_days, s.pfs_event) == (0, 0)
    assert s.pfs_reason == "censored: no adequate assessment (day 0)"


def test_death_before_first_assessment_is_an_event(tmp_path):
    root = one_subject(tmp_path, {"T1": LIVER}, {}, [(-7, {"T1": 50.0})], death=20)
    s = run(root, population="infused").subjects.iloc[0]
    assert (s.pfs_days, s.pfs_event, s.os_days, s.os_event) == (20, 1, 20, 1)
    assert s.bor == "MISSING" and not s.evaluable and s.in_population


def test_os_censored_at_latest_known_alive_date(tmp_path):
    s = study(tmp_path, [(42, 48.0), (200, 47.0)], last_alive=150)
    assert (s.os_days, s.os_event) == (200, 0)  # the scan at day 200 proves life
    s = study(tmp_path / "b", [(42, 48.0)], last_alive=150)
    assert (s.os_days, s.os_event) == (150, 0)


def test_non_responder_has_no_dor(tmp_path):
    s = study(tmp_path, [(42, 48.0)], death=100)
    assert s.dor_event == -1 and s.dor_days != s.dor_days  # NaN


def test_cutoff_drops_later_data(tmp_path):
    rows = [(-7, {"T1": 50.0}), (42, {"T1": 30.0}), (84, {"T1": 30.0}), (126, {"T1": 45.0})]
    root = one_subject(tmp_path, {"T1": LIVER}, {}, rows, death=300)
    s = run(root, cutoff=INFUSION + dt.timedelta(days=100)).subjects.iloc[0]
    assert (s.pfs_days, s.pfs_event) == (84, 0)
    assert (s.os_days, s.os_event) == (100, 0)  # alive at the cut-off (death after it)


def test_subject_infused_after_cutoff_is_not_analysed(tmp_path):
    root = write_study(
        tmp_path,
        [subject("S1"), {**subject("S2"), "infusion_date": "2030-01-01"}],
        [{"subject_id": "S1", "lesion_id": "T1", "role": "TARGET", "organ": "LIVER", "nodal": "N"}],
        [{"subject_id": "S1", "lesion_id": "T1", "date": "2023-12-25", "diameter_mm": 30}],
    )
    r = run(root, cutoff=dt.date(2025, 1, 1), population="infused")
    assert r.subjects["in_population"].tolist() == [True, False]
    assert r.group("ALL").n == 1
