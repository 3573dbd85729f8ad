"""CPV in the store, on SQLite and PostgreSQL, on the demo (insights/cpv_demo.py): the frozen
Ghent baseline and its signature; the chart's numbers are the statistics engine's on the same
stored values; a batch QA releases enters the chart at once, judged against the frozen limits;
a new freeze supersedes; a stale freeze, the wrong roles, a sponsor and a wrong password are
refused; the database refuses any change of a frozen baseline; two people freezing the same
series at once make one baseline (the other is refused)."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from tests.integration.quality.test_release_store import Demo

from vein2vein.auth import service as auth
from vein2vein.auth.scope import administration_scope
from vein2vein.auth.signatures import find_bad_signatures
from vein2vein.core.errors import AuthenticationFailed, Conflict, NotFound, PermissionDenied
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.features import signed_contents
from vein2vein.insights import cpv_baselines, cpv_views
from vein2vein.insights.cpv_tables import CpvBaseline
from vein2vein.quality import release
from vein2vein.stats.charts import imr_chart
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

pytestmark = pytest.mark.filterwarnings("ignore::vein2vein.stats.errors.SmallSampleWarning")
UNRELEASED = "HLX-EPC-01-0011"


def ghent_dashboard(
    d: Demo, who: str = "qa.approver", attribute: str = "viability"
) -> dict[str, Any]:
    scope = d.scope(who)
    with d.db.read() as s:
        row = next(
            r
            for r in cpv_views.series_list(s, scope)
            if r["attribute"] == attribute and "Ghent" in r["site"]
        )
        return cpv_views.dashboard(
            s, scope, row["program_id"], site=row["site_id"], attribute=attribute
        )


def _freeze(d: Demo, page: dict[str, Any], who: str = "qa.approver", **kw: Any) -> CpvBaseline:
    args = {
        "program_id": page["key"]["program_id"],
        "site_id": page["key"]["site_id"],
        "test": page["key"]["attribute"],
        "start": page["points"][0]["made_on"],
        "end": page["points"][-1]["made_on"],
        "reason": "every approved Ghent batch",
        "current": page["baseline"]["id"] if page["baseline"] else None,
    } | kw
    return d.signed(who, cpv_baselines.freeze_baseline, **args)  # type: ignore[no-any-return]


def test_frozen_baseline_chart_after_release_and_supersession(demo_db: Database) -> None:
    d = Demo(demo_db)
    page = ghent_dashboard(d)
    b = page["baseline"]
    assert (b["frozen_by"], b["n"], b["status"], page["frozen"]) == (
        "qa.approver", 4, "effective", True,
    )  # fmt: skip
    values = [p["value"] for p in page["points"]]
    assert len(values) == 4 and page["waiting"] == 2  # 0011 unreleased, 0012 in review
    engine = imr_chart(values)
    assert (b["center"], b["sigma"], b["lcl"], b["ucl"]) == (
        engine.center, engine.sigma, engine.lcl, engine.ucl,
    )  # fmt: skip
    # the invalidated OOS result (64.2 %, laboratory error) is left out and named
    assert [r["value"] for r in page["invalidated"]] == ["64.2"]
    assert re.fullmatch(r"OOS-\d{4}-0001", page["invalidated"][0]["investigation"])
    with demo_db.read() as s:
        detail = cpv_views.baseline_detail(s, d.scope("qc"), b["id"])
        assert [x["meaning"] for x in detail["signatures"]] == ["approved"]
        assert not find_bad_signatures(s, signed_contents())

    # QA releases the unreleased Ghent batch: it enters the chart, judged on the frozen limits
    d.signed("qa.approver", release.release, d.batch[UNRELEASED])
    after = ghent_dashboard(d)
    values = [p["value"] for p in after["points"]]
    assert len(values) == 5 and after["waiting"] == 1
    assert [p["phase"] for p in after["points"]] == ["baseline"] * 4 + ["monitoring"]
    assert after["points"][-1]["batch"] == UNRELEASED
    judged = imr_chart(values, center=b["center"], sigma=b["sigma"])
    assert (after["chart"]["lcl"], after["chart"]["ucl"]) == (judged.lcl, judged.ucl)
    assert [p["rules"] for p in after["points"]] == [list(p.rules) for p in judged.points]

    # a stale freeze is refused; a fresh one supersedes
    with pytest.raises(Conflict, match="effective one is now baseline"):
        _freeze(d, after, current=None)
    new = _freeze(d, after)
    with demo_db.read() as s:
        old = s.get_one(CpvBaseline, b["id"])
        assert (old.status, new.supersedes_id, new.n) == ("superseded", b["id"], 5)
        assert old.superseded_at is not None
        assert not find_bad_signatures(s, signed_contents())
    assert ghent_dashboard(d)["baseline"]["id"] == new.id


def test_freeze_refusals_and_scope(demo_db: Database) -> None:
    d = Demo(demo_db)
    page = ghent_dashboard(d, attribute="cd3")
    assert page["baseline"] is None and not page["frozen"]
    with pytest.raises(PermissionDenied):
        _freeze(d, page, who="qa.reviewer")
    with pytest.raises(PermissionDenied):
        _freeze(d, page, who="helixa.viewer")
    with pytest.raises(NotFound):
        _freeze(d, page, who="corvane.clinical")
    with pytest.raises(AuthenticationFailed):
        d.act(
            "qa.approver", cpv_baselines.freeze_baseline, demo_db.settings,
            program_id=page["key"]["program_id"], site_id=page["key"]["site_id"],
            test="cd3", start=page["points"][0]["made_on"], end=page["points"][-1]["made_on"],
            reason="x", current=None, username="qa.approver", password="wrong",
        )  # fmt: skip
    with demo_db.read() as s:
        frozen = s.scalars(select(CpvBaseline).where(CpvBaseline.test_code == "cd3")).all()
        assert frozen == []
        # the sponsor sees its own product's charts; another sponsor sees none of them
        assert cpv_views.series_list(s, d.scope("helixa.viewer"))
        assert cpv_views.series_list(s, d.scope("corvane.clinical")) == []
        with pytest.raises(NotFound):
            cpv_views.dashboard(s, d.scope("corvane.clinical"), page["key"]["program_id"])


def test_the_database_refuses_any_change_of_a_frozen_baseline(demo_db: Database) -> None:
    d = Demo(demo_db)
    baseline_id = ghent_dashboard(d)["baseline"]["id"]
    refused = (IntegrityError, DBAPIError)
    for statement in (
        "UPDATE cpv_baseline SET center = 1 WHERE id = :i",
        "UPDATE cpv_baseline SET content = 'x' WHERE id = :i",
        "UPDATE cpv_baseline SET status = 'draft' WHERE id = :i",
        "DELETE FROM cpv_baseline WHERE id = :i",
    ):
        with demo_db.uow(Actor("t")) as uow, pytest.raises(refused):
            uow.session.execute(text(statement), {"i": baseline_id})
            uow.session.flush()


def _second_approver(d: Demo) -> None:
    cdmo = d.scope("qa.approver").organisation_id
    with d.db.uow(Actor("admin")) as uow:
        auth.create_user(
            uow, administration_scope("admin", cdmo), d.db.settings, username="qa.two",
            full_name="Qa Two", organisation=cdmo, role="qa_approver", password=DEMO_PASSWORD,
        )  # fmt: skip
        uow.commit()


def test_two_people_freezing_the_same_series_make_one_baseline(demo_db: Database) -> None:
    d = Demo(demo_db)
    _second_approver(d)
    page = ghent_dashboard(d, attribute="car_positive")
    current = page["baseline"]["id"]
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def run(name: str) -> None:
        scope = d.scope(name)
        try:
            with d.db.uow(Actor(name, scope.user_id, scope.organisation_id)) as uow:
                start.wait()
                cpv_baselines.freeze_baseline(
                    uow, scope, d.db.settings, program_id=page["key"]["program_id"],
                    site_id=page["key"]["site_id"], test="car_positive",
                    start=page["points"][0]["made_on"], end=page["points"][-1]["made_on"],
                    reason=f"frozen by {name}", current=current, username=name,
                    password=DEMO_PASSWORD,
                )  # fmt: skip
                uow.commit()
            outcomes[name] = "done"
        except Exception as exc:  # reported below
            outcomes[name] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in ("qa.approver", "qa.two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [n for n, o in outcomes.items() if o == "done"]
    others = [o for o in outcomes.values() if o != "done"]
    assert len(done) == 1 and len(others) == 1, outcomes
    assert isinstance(others[0], Conflict), outcomes
    with demo_db.read() as s:
        rows = s.scalars(select(CpvBaseline).where(CpvBaseline.test_code == "car_positive")).all()
        assert sorted(r.status for r in rows) == ["effective", "superseded"]
        assert [r.frozen_by for r in rows if r.status == "effective"] == done
