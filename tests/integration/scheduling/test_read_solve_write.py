"""Computing a draft reads, solves and writes in separate steps, on SQLite and PostgreSQL: no
transaction is open while the solver runs (another unit of work commits meanwhile), and the
draft is refused when what it was computed from changed during the solve. The solver is stubbed
to wait on an event, so the tests control when it finishes."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.integration.scheduling import world as S

from vein2vein.core.errors import Conflict
from vein2vein.scheduling import planning, settings
from vein2vein.scheduling.tables import PlanDraft
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor


@contextmanager
def solving(
    w: S.World, monkeypatch: pytest.MonkeyPatch, who: str = "admin"
) -> Iterator[Callable[[], Any]]:
    """Start computing a draft in another thread and yield once its solver is running (and
    waiting); leaving the block lets the solver finish. The yielded function returns the draft
    id or raises what the computation raised."""
    entered, release = threading.Event(), threading.Event()
    real = planning.make_plan

    def waiting_solver(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert release.wait(30), "the test never let the solver finish"
        return real(*args, **kwargs)

    monkeypatch.setattr(planning, "make_plan", waiting_solver)
    outcome: dict[str, Any] = {}

    def compute() -> None:
        try:
            outcome["draft"] = planning.compute_draft_in_steps(
                w.db, w.actor(who), w.scopes[who], method="greedy", mode="plan"
            )
        except Exception as exc:  # handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=compute)
    thread.start()

    def result() -> Any:
        thread.join(30)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["draft"]

    try:
        assert entered.wait(30), "the solver was never reached"
        yield result
    finally:
        release.set()
        thread.join(30)


def _world(db: Database) -> S.World:
    w = S.build(db)
    S.place(w, subject="HLX-001")
    S.place(w, subject="HLX-002", material="fresh")
    return w


def _drafts(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(PlanDraft)) or 0)


def test_another_unit_of_work_commits_while_a_plan_is_computed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = _world(db)
    with solving(w, monkeypatch) as result:
        started = time.perf_counter()
        with db.uow(Actor("someone else")) as uow:
            uow.record("test.change", "thing", 1)  # a write unrelated to planning
            uow.commit()
        assert time.perf_counter() - started < 1.0
        with db.read() as session:  # and a read-only unit answers, too
            assert session.scalar(select(func.count()).select_from(PlanDraft)) == 0
    draft_id = result()
    with db.read() as session:
        draft = session.get_one(PlanDraft, draft_id)
        assert draft.payload["plan"]["validation"]["ok"]
    actions = [e["action"] for e in S.audit_actions(db)]
    assert actions[-1] == "schedule.draft_compute"


def test_a_draft_is_refused_when_the_store_changed_while_it_was_computed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = _world(db)
    # settings are written during the solve
    with solving(w, monkeypatch) as result, db.uow(w.actor("qa")) as uow:
        settings.add_downtime(
            uow,
            w.scopes["qa"],
            w.ids["suite_1"],
            first_day=dt.date.today(),
            last_day=dt.date.today(),
            reason="filter change",
        )
        uow.commit()
    with pytest.raises(Conflict, match="changed while this plan was being computed"):
        result()
    assert _drafts(db) == 0
    assert "schedule.draft_compute" not in [e["action"] for e in S.audit_actions(db)]


def test_a_draft_is_refused_when_a_version_was_published_while_it_was_computed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = _world(db)
    first = S.draft(w, method="greedy")
    with solving(w, monkeypatch) as result:
        S.publish(w, first, who="qa")  # publishing is not held up by the computation either
    with pytest.raises(Conflict, match="was published while this plan was being computed"):
        result()
    assert _drafts(db) == 1


def test_the_draft_computed_in_steps_is_the_one_computed_in_one_unit_of_work(
    db: Database,
) -> None:
    w = _world(db)
    in_one = S.draft(w, method="greedy", mode="plan")
    in_steps = planning.compute_draft_in_steps(
        db, w.actor("admin"), w.scopes["admin"], method="greedy", mode="plan"
    )
    with db.read() as session:
        a, b = session.get_one(PlanDraft, in_one), session.get_one(PlanDraft, in_steps)
        assert (a.inputs_sha256, a.plan_sha256) == (b.inputs_sha256, b.plan_sha256)
        assert a.payload["plan"]["assignments"] == b.payload["plan"]["assignments"]
        assert b.payload["plan"]["provenance"]["input_hash"]
