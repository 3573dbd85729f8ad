"""iRECIST mode: iUPD, confirmation to iCPD, reset after iSD/iPR/iCR (Seymour et al. 2017)."""

from __future__ import annotations

from .factories import one_subject, run

LIVER = ("LIVER", False)


def study(tmp_path, sums, new=(), **kw):
    rows = [(-7, {"T1": 50.0})] + [(42 * (i + 1), {"T1": v}) for i, v in enumerate(sums)]
    return run(
        one_subject(tmp_path, {"T1": LIVER}, {}, rows, new_lesion_days=new, death=900),
        irecist=True,
        **kw,
    )


def overall(r):
    return r.timepoints["overall"].tolist()


def test_pseudoprogression_resets_and_later_response_counts(tmp_path):
    r = study(tmp_path, [45.0, 60.0, 40.0, 30.0, 30.0])
    assert overall(r) == ["iSD", "iUPD", "iSD", "iPR", "iPR"]
    s = r.subjects.iloc[0]
    assert (s.bor_confirmed, s.pfs_days) == ("iPR", 900)  # no progression: death is the event


def test_iupd_confirmed_by_5_mm_more_dates_progression_at_iupd(tmp_path):
    r = study(tmp_path, [45.0, 60.0, 65.0])
    assert overall(r) == ["iSD", "iUPD", "iCPD"]
    s = r.subjects.iloc[0]
    assert (s.pfs_days, s.pfs_event) == (84, 1)
    assert s.bor_confirmed == "iSD"


def test_iupd_without_further_growth_stays_iupd(tmp_path):
    r = study(tmp_path, [45.0, 60.0, 62.0])
    assert overall(r) == ["iSD", "iUPD", "iUPD"]
    s = r.subjects.iloc[0]
    assert (s.pfs_days, s.pfs_event) == (84, 1)  # unconfirmed iUPD at the end of the data


def test_new_category_confirms(tmp_path):
    r = study(tmp_path, [45.0, 60.0, 61.0], new=(126,))
    assert overall(r) == ["iSD", "iUPD", "iCPD"]


def test_after_reset_a_new_iupd_needs_its_own_confirmation(tmp_path):
    r = study(tmp_path, [45.0, 60.0, 44.0, 60.0])
    assert overall(r) == ["iSD", "iUPD", "iSD", "iUPD"]


def test_recist_mode_stops_at_first_pd(tmp_path):
    rows = [(-7, {"T1": 50.0})] + [
        (42 * (i + 1), {"T1": v}) for i, v in enumerate([45.0, 60.0, 30.0, 30.0])
    ]
    r = run(one_subject(tmp_path, {"T1": LIVER}, {}, rows, death=900))
    assert r.timepoints["used_for_bor"].tolist() == [True, True, False, False]
    assert r.subjects.iloc[0].bor == "SD"
