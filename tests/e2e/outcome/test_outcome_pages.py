"""The product ↔ outcome page and API on the demo (issue 14, "Done when"): the EpCAM IIT page
shows every subject with its batch, and its exact tests reproduce values computed here with
scipy (``scipy.stats.mannwhitneyu(method="exact")``, ``scipy.stats.permutation_test`` over all
C(n, n₁) splits when values tie, ``scipy.stats.spearmanr`` for ρ) and, for Spearman's exact p
at n = 10, with an enumeration of all 10! = 3,628,800 pairings in numpy (scipy's own exact
permutation test takes some 25 s there; it is compared with scipy at n = 8 in
tests/unit/insights/test_outcome_analysis.py). Sponsors see their own study, never another's;
refusals of a link name what differs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats
from tests.webclient import client, csrf_from, login

from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.insights.outcome_analysis import ATTRIBUTES
from vein2vein.store.database import Database

STUDY = "HLX-EPC-01-IIT"


def _as(db: Database, username: str):  # type: ignore[no-untyped-def]
    c = client(db)
    assert login(c, username, DEMO_PASSWORD).status_code == 200
    return c


def _study_id(c) -> int:  # type: ignore[no-untyped-def]
    rows = c.get("/api/outcome/studies").json()
    return next(r["id"] for r in rows if r["code"] == STUDY)


def _wmw_reference(x: list[float], y: list[float]) -> tuple[float, float]:
    both = x + y
    if len(set(both)) == len(both):
        r = stats.mannwhitneyu(x, y, alternative="two-sided", method="exact")
        return float(r.statistic), float(r.pvalue)
    r = stats.permutation_test(
        (x, y),
        lambda a, b, axis: stats.mannwhitneyu(a, b, axis=axis, method="asymptotic").statistic,
        permutation_type="independent",
        n_resamples=math.inf,
        vectorized=True,
    )
    return float(r.statistic), float(r.pvalue)


def _spearman_p_by_enumeration(x: list[float], y: list[float]) -> float:
    rx, ry = stats.rankdata(x), stats.rankdata(y)
    n = len(rx)
    perms = np.fromiter(
        itertools.chain.from_iterable(itertools.permutations(range(n))), dtype=np.int8
    ).reshape(-1, n)
    t = ry[perms] @ rx
    obs = float(ry @ rx)
    eps = 1e-9
    greater, less = np.mean(t >= obs - eps), np.mean(t <= obs + eps)
    return float(min(1.0, 2 * min(greater, less)))


def test_the_iit_page_shows_every_subject_with_its_batch_and_its_tests_match_scipy(
    demo: Database,
) -> None:
    c = _as(demo, "helixa.clinical")
    sid = _study_id(c)
    page = c.get(f"/outcome/studies/{sid}")
    assert page.status_code == 200
    html = page.text
    for n in range(1, 11):
        assert f'data-subject="IIT-G{n:02d}"' in html
    assert 'data-batch=""' not in html  # every subject with its batch
    assert "Exploratory analysis" in html
    assert "Wilcoxon–Mann–Whitney, exact" in html and "Spearman rank correlation, exact" in html

    doc = c.get(f"/api/outcome/studies/{sid}").json()
    rows = doc["rows"]
    assert len(rows) == 10 and all(r["linked"] and r["batch_id"] for r in rows)
    assert {r["site"] for r in rows} == {"Site A — Leiden", "Site B — Ghent"}
    analysis = doc["analysis"]
    assert (
        analysis["provenance"]["input_hash"]
        and "scipy" in analysis["provenance"]["library_versions"]
    )
    by_attr = {m["attribute"]: m for m in analysis["by_response"]}
    for a in ATTRIBUTES:
        x = [r[a.key] for r in rows if r["bor"] in ("CR", "PR") and r[a.key] is not None]
        y = [r[a.key] for r in rows if r["bor"] not in ("CR", "PR") and r[a.key] is not None]
        u, p = _wmw_reference(x, y)
        got = by_attr[a.key]
        assert (got["n_responders"], got["n_others"]) == (len(x), len(y))
        assert got["u"] == pytest.approx(u) and got["p"] == pytest.approx(p, rel=1e-12), a.key
    pairs = [(r["dose_per_kg"], r["best_pct_change"]) for r in rows]
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    sp = analysis["dose_vs_change"]
    assert sp["n"] == 10
    assert sp["rho"] == pytest.approx(float(stats.spearmanr(xs, ys).statistic), rel=1e-12)
    assert sp["p"] == pytest.approx(_spearman_p_by_enumeration(xs, ys), rel=1e-12)
    km = {k["endpoint"]: k for k in analysis["km"]}
    assert sum(c["n"] for c in km["OS"]["curves"]) == 10
    assert km["OS"]["test"].startswith("log-rank")


def test_sponsors_see_their_own_study_only_and_roles_without_it_are_refused(
    demo: Database,
) -> None:
    helixa = _as(demo, "helixa.clinical")
    sid = _study_id(helixa)
    corvane = _as(demo, "corvane.clinical")
    assert corvane.get("/api/outcome/studies").json() == []
    assert corvane.get(f"/outcome/studies/{sid}").status_code == 404
    assert corvane.get(f"/api/outcome/studies/{sid}").status_code == 404
    assert _as(demo, "qa.approver").get(f"/outcome/studies/{sid}").status_code == 200
    for who in ("operator", "qc", "helixa.viewer"):
        assert _as(demo, who).get(f"/outcome/studies/{sid}").status_code == 403, who


def test_a_link_that_is_not_the_same_patient_is_refused_and_unlinking_keeps_history(
    demo: Database,
) -> None:
    c = _as(demo, "helixa.clinical")
    sid = _study_id(c)
    doc = c.get(f"/api/outcome/studies/{sid}").json()
    g01 = next(r for r in doc["rows"] if r["subject_id"] == "IIT-G01")
    link = next(lk for lk in doc["links"] if lk["subject_id"] == "IIT-G01")
    page = c.get(f"/outcome/studies/{sid}")
    token = csrf_from(page.text)
    # already linked: refused until unlinked
    again = c.post(
        f"/outcome/studies/{sid}/links",
        data={"csrf_token": token, "subject_id": "IIT-G01", "coi": g01["coi"]},
    )
    assert again.status_code == 422  # a form answers a refusal with the form again
    assert "already linked to order" in again.text
    done = c.post(
        f"/outcome/links/{link['id']}/unlink",
        data={"csrf_token": token, "reason": "wrong bag label transcribed"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    wrong_year = c.post(
        f"/outcome/studies/{sid}/links",
        data={"csrf_token": token, "subject_id": "IIT-G01", "coi": g01["coi"],
              "year_of_birth": "1900"},
    )  # fmt: skip
    assert wrong_year.status_code == 422
    assert "not the same patient: year of birth entered" in wrong_year.text
    relinked = c.post(
        f"/outcome/studies/{sid}/links",
        data={"csrf_token": token, "subject_id": "IIT-G01", "coi": g01["coi"],
              "year_of_birth": "1961"},
        follow_redirects=False,
    )  # fmt: skip
    assert relinked.status_code == 303
    history = [lk for lk in c.get(f"/api/outcome/studies/{sid}").json()["links"]
               if lk["subject_id"] == "IIT-G01"]  # fmt: skip
    assert [lk["unlinked_at"] is None for lk in history] == [False, True]
    assert history[0]["unlink_reason"] == "wrong bag label transcribed"
