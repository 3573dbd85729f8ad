"""Two people at once on the signed readout report (PostgreSQL takes the study's row lock;
SQLite serialises writers, same outcome): two members signing the same version both sign and
the version becomes final exactly once; two people generating at once make one version."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from tests.integration.clinical.report_world import BIOSTAT, ReportDemo

from vein2vein.auth.tables import Signature
from vein2vein.clinical import report_versions as rv
from vein2vein.clinical.tables import ReportVersion
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor


def _race(d: ReportDemo, who: tuple[str, str], work: Callable[[Any, Any], Any]) -> dict:
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def run(name: str) -> None:
        scope = d.scope(name)
        try:
            with d.db.uow(Actor(name, scope.user_id, scope.organisation_id)) as uow:
                start.wait()
                outcomes[name] = work(uow, scope)
                uow.commit()
        except Exception as exc:  # reported by the caller
            outcomes[name] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in who]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_two_generate_and_two_sign_at_once(demo_db: Database) -> None:
    d = ReportDemo(demo_db)
    members = ["helixa.clinical", BIOSTAT]
    made = _race(
        d,
        ("helixa.clinical", BIOSTAT),
        lambda uow, scope: rv.generate(uow, scope, d.study_id, members),
    )
    assert all(isinstance(m, rv.Generated) for m in made.values()), made
    assert sorted(m.new for m in made.values()) == [False, True]
    with demo_db.read() as s:
        assert s.scalar(select(func.count()).select_from(ReportVersion)) == 1
        rid = s.scalar(select(ReportVersion.id))

    def sign(uow: Any, scope: Any) -> Any:
        return rv.sign_report(
            uow, scope, demo_db.settings, rid, username=scope.username, password=DEMO_PASSWORD
        )

    signed = _race(d, ("helixa.clinical", BIOSTAT), sign)
    assert all(isinstance(s, Signature) for s in signed.values()), signed
    with demo_db.read() as s:
        assert rv.report_version(s, d.scope(BIOSTAT), rid)["final"]
        finals = [
            e for e in audit.query(s, entity_type=rv.RECORD) if e.action == "clinical.report.final"
        ]
        assert len(finals) == 1
        assert audit.verify(s).ok
