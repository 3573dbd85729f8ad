"""RECIST 1.1 time-point rules at their boundaries (Eisenhauer et al. 2009; cases T01-T19 of
shared/references/clinical.md section 3.3)."""

from __future__ import annotations

import pytest

from vein2vein.clinical.recist import target_response

from .factories import one_subject, overall, run, targets

LIVER = ("LIVER", False)
LUNG = ("LUNG", False)
NODE = ("LYMPH NODE", True)


def series(tmp_path, base, *visits, nt=None, new=(), **kw):
    """One target lesion per value in ``base`` (T1, T2, ...); visits are tuples of values."""
    tg = {f"T{i + 1}": (LIVER if i % 2 == 0 else LUNG) for i in range(len(base))}
    rows = [(-7, {f"T{i + 1}": v for i, v in enumerate(base)})]
    for k, v in enumerate(visits):
        rows.append((28 * (k + 1), {f"T{i + 1}": x for i, x in enumerate(v)}))
    non_targets = {}
    if nt is not None:
        non_targets = {"NT1": ("PERITONEUM", False)}
        rows[0][1]["NT1"] = "PRESENT"
        for k, state in enumerate(nt):
            rows[k + 1][1]["NT1"] = state
    return run(one_subject(tmp_path, tg, non_targets, rows, new_lesion_days=new), **kw)


def test_t01_minus_30_percent_exactly_is_pr(tmp_path):
    assert targets(series(tmp_path, [50.0], [35.0])) == ["PR"]


def test_t02_minus_29_8_percent_is_sd(tmp_path):
    assert targets(series(tmp_path, [50.0], [35.1])) == ["SD"]


def test_exact_arithmetic_on_decimal_sums(tmp_path):
    # 20.1 + 14.9 = 35.0 against 33.3 + 16.7 = 50.0: exactly -30 % (floats would say 34.99...)
    assert targets(series(tmp_path, [33.3, 16.7], [20.1, 14.9])) == ["PR"]


def test_t03_plus_20_percent_but_4_mm_is_not_pd(tmp_path):
    assert targets(series(tmp_path, [25.0], [20.0], [24.0])) == ["SD", "SD"]


def test_t03b_still_pr_against_baseline(tmp_path):
    assert targets(series(tmp_path, [40.0], [20.0], [24.0])) == ["PR", "PR"]


def test_t04_plus_20_percent_and_5_mm_is_pd(tmp_path):
    assert targets(series(tmp_path, [40.0], [25.0], [30.0])) == ["PR", "PD"]


def test_pd_needs_both_limits_4_9_mm(tmp_path):
    # nadir 24.5 -> 29.4 is +20 % and +4.9 mm: not PD
    assert targets(series(tmp_path, [30.0], [24.5], [29.4])) == ["SD", "SD"]


def test_t05_node_under_10_mm_with_other_targets_gone_is_cr(tmp_path):
    root = one_subject(
        tmp_path,
        {"T1": LIVER, "N1": NODE},
        {},
        [(-7, {"T1": 30.0, "N1": 20.0}), (28, {"T1": "ABSENT", "N1": 9.0})],
    )
    r = run(root)
    assert targets(r) == ["CR"]
    assert r.timepoints["sum_mm"].tolist() == [9.0]  # SoD > 0 at CR


def test_t06_node_at_10_mm_is_not_cr(tmp_path):
    root = one_subject(
        tmp_path,
        {"T1": LIVER, "N1": NODE},
        {},
        [(-7, {"T1": 30.0, "N1": 20.0}), (28, {"T1": "ABSENT", "N1": 10.0})],
    )
    assert targets(run(root)) == ["PR"]


def test_t07_target_cr_with_non_target_present_is_pr(tmp_path):
    r = series(tmp_path, [30.0], ["ABSENT"], nt=["PRESENT"])
    assert (targets(r), overall(r)) == (["CR"], ["PR"])


def test_t08_target_cr_non_target_not_evaluated_is_pr(tmp_path):
    r = series(tmp_path, [30.0], ["ABSENT"], nt=["NOT EVALUATED"])
    assert overall(r) == ["PR"]
    assert r.timepoints["non_target"].tolist() == ["NE"]


def test_cr_needs_non_target_absent_too(tmp_path):
    r = series(tmp_path, [30.0], ["ABSENT"], nt=["ABSENT"])
    assert overall(r) == ["CR"]


def test_t09_missing_target_is_ne(tmp_path):
    assert targets(series(tmp_path, [25.0, 25.0], [20.0, 20.0], [20.0, None])) == ["SD", "NE"]


def test_t10_missing_target_but_measured_ones_already_pd(tmp_path):
    assert targets(series(tmp_path, [25.0, 25.0], [20.0, 20.0], [50.0, None])) == ["SD", "PD"]


def test_guideline_example_partial_sum_80_of_50(tmp_path):
    r = series(tmp_path, [20.0, 20.0, 10.0], [40.0, 40.0, None])
    assert targets(r) == ["PD"]


def test_t11_non_target_unequivocal_progression_is_pd(tmp_path):
    r = series(tmp_path, [30.0], [29.0], nt=["UNEQUIVOCAL PROGRESSION"])
    assert (targets(r), overall(r)) == (["SD"], ["PD"])


def test_t12_new_lesion_with_shrinking_targets_is_pd(tmp_path):
    r = series(tmp_path, [50.0], [30.0], new=(28,))
    assert (targets(r), overall(r)) == (["PR"], ["PD"])
    assert r.subjects["best_pct_change"].iat[0] == pytest.approx(-40.0)  # negative bar


def test_new_lesion_on_a_day_without_scans_is_its_own_pd_time_point(tmp_path):
    r = series(tmp_path, [50.0], [45.0], new=(40,))
    assert overall(r) == ["SD", "PD"]


def test_t13_and_t14(tmp_path):
    assert targets(series(tmp_path / "a", [60.0], [40.0], [47.0])) == ["PR", "SD"]
    assert targets(series(tmp_path / "b", [40.0], [48.0])) == ["PD"]


def test_t15_too_small_is_5_mm_and_absent_0(tmp_path):
    r = series(tmp_path, [20.0, 20.0], ["TOO SMALL", "ABSENT"])
    assert r.timepoints["sum_mm"].tolist() == [5.0]
    assert targets(r) == ["PR"]


def test_stated_state_wins_over_the_diameter_cell(tmp_path):
    root = one_subject(tmp_path, {"T1": LIVER}, {}, [(-7, {"T1": 30.0}), (28, {"T1": 30.0})])
    text = (root / "assessments.csv").read_text().replace("30.0,\n", "30.0,ABSENT\n", 2)
    lines = text.splitlines()
    lines[1] = lines[1].replace(",ABSENT", ",")  # baseline stays 30 mm
    (root / "assessments.csv").write_text("\n".join(lines) + "\n")
    r = run(root)
    assert r.timepoints["sum_mm"].tolist() == [0.0]
    assert targets(r) == ["CR"]


def test_t18_non_target_only_disease(tmp_path):
    root = one_subject(
        tmp_path,
        {},
        {"NT1": ("PERITONEUM", False)},
        [(-7, {"NT1": "PRESENT"}), (28, {"NT1": "PRESENT"}), (56, {"NT1": "ABSENT"})],
    )
    r = run(root, population="infused")
    assert overall(r) == ["NON-CR/NON-PD", "CR"]
    assert r.subjects["bor"].iat[0] == "CR"
    assert r.subjects["bor_confirmed"].iat[0] == "NON-CR/NON-PD"  # unconfirmed CR
    assert not r.subjects["evaluable"].iat[0]  # not measurable at baseline


def test_non_target_node_under_10_mm_counts_as_normal(tmp_path):
    root = one_subject(
        tmp_path,
        {"T1": LIVER},
        {"NT1": NODE},
        [(-7, {"T1": 30.0, "NT1": 14.0}), (28, {"T1": "ABSENT", "NT1": 8.0})],
    )
    r = run(root)
    assert (r.timepoints["non_target"].tolist(), overall(r)) == (["CR"], ["CR"])


def test_t19_ne_visit_never_updates_nadir(tmp_path):
    # nadir stays 40 (the NE visit's partial 10 mm is not a nadir); 48 is +20 % and +8 mm
    r = series(tmp_path, [25.0, 25.0], [20.0, 20.0], [10.0, None], [24.0, 24.0])
    assert targets(r) == ["SD", "NE", "PD"]


def test_baseline_is_latest_assessment_on_or_before_infusion(tmp_path):
    root = one_subject(
        tmp_path,
        {"T1": LIVER},
        {},
        [(-30, {"T1": 80.0}), (0, {"T1": 50.0}), (28, {"T1": 35.0})],
    )
    r = run(root)
    assert targets(r) == ["PR"]
    assert r.timepoints["pct_change_baseline"].tolist() == [-30.0]


def test_scalar_target_rule_matches():
    assert target_response(35.0, 50.0, 50.0) == "PR"
    assert target_response(35.1, 50.0, 50.0) == "SD"
    assert target_response(30.0, 40.0, 25.0) == "PD"
    assert target_response(29.4, 30.0, 24.5) == "SD"
    assert target_response(9.0, 30.0, 30.0, all_nonnodal_zero=True) == "CR"
    assert target_response(20.0, 50.0, 40.0, complete=False) == "NE"
    assert target_response(50.0, 50.0, 40.0, complete=False) == "PD"
