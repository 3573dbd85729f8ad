"""Two people at once (PostgreSQL takes the row locks; SQLite serialises writers, same outcome):
two analysts entering the same test of a batch store one result, the other is refused as a
result already there; two QA approvers approving the same specification draft make one
approval; two people asking for the same certificate get one document number."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from tests.integration.quality.test_release_store import Demo

from vein2vein.auth import service as auth
from vein2vein.auth.scope import administration_scope
from vein2vein.core.errors import RuleViolation
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.quality import certificates, results, spec_yaml, specs
from vein2vein.quality.results import ResultInput
from vein2vein.quality.tables import QcCoa, QcResult, QcSpec
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor


def _user(d: Demo, username: str, role: str) -> None:
    cdmo = d.scope("qa.approver").organisation_id
    with d.db.uow(Actor("admin")) as uow:
        auth.create_user(
            uow,
            administration_scope("admin", cdmo),
            d.db.settings,
            username=username,
            full_name=username.title(),
            organisation=cdmo,
            role=role,
            password=DEMO_PASSWORD,
        )
        uow.commit()


def _race(d: Demo, who: tuple[str, str], work: Callable[[Any, Any], Any]) -> dict[str, object]:
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def run(name: str) -> None:
        scope = d.scope(name)
        try:
            with d.db.uow(Actor(name, scope.user_id, scope.organisation_id)) as uow:
                start.wait()
                work(uow, scope)
                uow.commit()
            outcomes[name] = "done"
        except Exception as exc:  # reported by the caller
            outcomes[name] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in who]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def _one_done(outcomes: dict[str, object], refusal: str) -> None:
    done = [n for n, o in outcomes.items() if o == "done"]
    others = [o for o in outcomes.values() if o != "done"]
    assert len(done) == 1, outcomes
    assert len(others) == 1 and isinstance(others[0], RuleViolation), outcomes
    assert refusal in str(others[0]), outcomes


def test_two_people_at_once_make_one_change(demo_db: Database) -> None:
    d = Demo(demo_db)
    _user(d, "qc.two", "qc_analyst")
    _user(d, "qa.two", "qa_approver")
    target = d.batch["HLX-EPC-01-0003"]

    def enter(uow: Any, scope: Any) -> None:
        results.enter_result(
            uow, scope, ResultInput(batch=target, test="viability", value="90.1", unit="%")
        )

    _one_done(_race(d, ("qc", "qc.two"), enter), "already has a valid result")
    with demo_db.read() as s:
        rows = s.scalars(
            select(QcResult).where(QcResult.batch_id == target, QcResult.test_code == "viability")
        ).all()
        assert len(rows) == 1

    text = (spec_yaml.DEMO_DIR / "epcam_iit_v1.yaml").read_text(encoding="utf-8")
    draft = d.act("qc", specs.import_spec, text.replace("IIT release", "IIT release (v2)"))

    def approve(uow: Any, scope: Any) -> None:
        specs.approve(
            uow, scope, demo_db.settings, draft.id, username=scope.username, password=DEMO_PASSWORD
        )

    _one_done(_race(d, ("qa.approver", "qa.two"), approve), "already effective")
    with demo_db.read() as s:
        versions = {v.version: v.status for v in s.scalars(select(QcSpec))}
        assert versions == {1: "superseded", 2: "effective"}

    released = d.batch["HLX-EPC-01-0007"]
    outcomes = _race(
        d,
        ("qa.approver", "helixa.viewer"),
        lambda uow, scope: certificates.issue(uow, scope, released),
    )
    assert set(outcomes.values()) == {"done"}, outcomes
    with demo_db.read() as s:
        assert s.scalar(select(func.count()).select_from(QcCoa)) == 1
        assert audit.verify(s).ok
