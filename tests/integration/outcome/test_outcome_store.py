"""Product ↔ outcome links in the store, on SQLite and PostgreSQL (``demo_db``): every demo
subject linked; a CDMO administrator cannot link another sponsor's order (refused by name);
two people linking the same subject at once make one link, the other is refused as already
linked (PostgreSQL takes the study's row lock; SQLite serialises writers); the database refuses
DELETE of a link and any change but unlinking, once; link and unlink are audited."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from vein2vein.auth import service as auth
from vein2vein.auth.scope import Scope, administration_scope
from vein2vein.clinical.tables import Study
from vein2vein.core.errors import Conflict, NotFound, RuleViolation
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.identity.tables import Order, Patient
from vein2vein.insights import outcome_links
from vein2vein.insights.outcome_tables import OutcomeLink
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor


def _scope(db: Database, username: str) -> Scope:
    with db.read() as s:
        return auth.scope_of(auth.user_by_username(s, username))


def _ids(db: Database) -> tuple[int, dict[str, str]]:
    with db.read() as s:
        study = s.scalars(select(Study).where(Study.code == "HLX-EPC-01-IIT")).one()
        cois = {
            p: c for p, c in s.execute(select(Patient.subject_id, Order.coi).join(Order.patient))
        }
        return study.id, cois


def test_links_of_the_demo_refusals_and_the_guards(demo_db: Database) -> None:
    study, cois = _ids(demo_db)
    with demo_db.read() as s:
        links = s.scalars(select(OutcomeLink).where(OutcomeLink.unlinked_at.is_(None))).all()
        assert sorted(lk.subject_id for lk in links) == [f"IIT-G{n:02d}" for n in range(1, 11)]
        entries = audit.query(s, entity_type="outcome_link")
        assert len([e for e in entries if e.action == "outcome.link"]) == 10
    admin = _scope(demo_db, "admin")
    admin_actor = Actor("admin", admin.user_id, admin.organisation_id)
    with demo_db.uow(admin_actor) as uow, pytest.raises(RuleViolation, match="another sponsor"):
        outcome_links.link_subject(uow, admin, study, "IIT-G01", cois["CRV-CD19-02-101"])
    clinical = _scope(demo_db, "helixa.clinical")
    with demo_db.uow(Actor("helixa.clinical", clinical.user_id, clinical.organisation_id)) as uow:
        with pytest.raises(NotFound, match="no order with chain-of-identity identifier"):
            outcome_links.link_subject(uow, clinical, study, "IIT-G01", cois["CRV-CD19-02-101"])
        with pytest.raises(Conflict, match="IIT-G02 is already linked to order HLX-EPC-01-0008"):
            outcome_links.link_subject(uow, clinical, study, "IIT-G02", cois["HLX-EPC-01-007"])
        with pytest.raises(RuleViolation, match="not in the newest dataset version"):
            outcome_links.link_subject(uow, clinical, study, "NEW-1", cois["HLX-EPC-01-011"])
    corvane = _scope(demo_db, "corvane.clinical")
    with demo_db.uow(Actor("corvane.clinical")) as uow, pytest.raises(NotFound):
        outcome_links.link_subject(uow, corvane, study, "IIT-G01", cois["CRV-CD19-02-101"])
    # the guards: no DELETE, no change of a link's identity, an ended link stays as it is
    with demo_db.read() as s:
        first = s.scalars(select(OutcomeLink).order_by(OutcomeLink.id)).first()
        assert first is not None
        first_id = first.id
    for stmt in (
        delete(OutcomeLink).where(OutcomeLink.id == first_id),
        update(OutcomeLink).where(OutcomeLink.id == first_id).values(subject_id="X"),
    ):
        with pytest.raises(Exception, match="outcome_link"), demo_db.engine.begin() as conn:
            conn.execute(stmt)
    with demo_db.uow(Actor("helixa.clinical", clinical.user_id, clinical.organisation_id)) as uow:
        outcome_links.unlink(uow, clinical, first_id, "test")
        uow.commit()
    with pytest.raises(Exception, match="outcome_link"), demo_db.engine.begin() as conn:
        conn.execute(
            update(OutcomeLink).where(OutcomeLink.id == first_id).values(unlink_reason="rewritten")
        )


def test_two_people_linking_the_same_subject_make_one_link(demo_db: Database) -> None:
    study, cois = _ids(demo_db)
    clinical = _scope(demo_db, "helixa.clinical")
    with demo_db.uow(Actor("admin")) as uow:
        auth.create_user(
            uow, administration_scope("admin", clinical.organisation_id), demo_db.settings,
            username="helixa.clinical2", full_name="Second Clinician",
            organisation=clinical.organisation_id, role="sponsor_clinical",
            password=DEMO_PASSWORD,
        )  # fmt: skip
        uow.commit()
    with demo_db.read() as s:
        g01 = s.scalars(
            select(OutcomeLink).where(
                OutcomeLink.subject_id == "IIT-G01", OutcomeLink.unlinked_at.is_(None)
            )
        ).one()
    with demo_db.uow(Actor("helixa.clinical", clinical.user_id, clinical.organisation_id)) as uow:
        outcome_links.unlink(uow, clinical, g01.id, "relinked in the race test")
        uow.commit()
    start = threading.Barrier(2)
    outcomes: dict[str, Any] = {}
    targets = {"helixa.clinical": "HLX-EPC-01-011", "helixa.clinical2": "HLX-EPC-01-012"}

    def run(name: str) -> None:
        scope = _scope(demo_db, name)
        try:
            with demo_db.uow(Actor(name, scope.user_id, scope.organisation_id)) as uow:
                start.wait()
                outcome_links.link_subject(uow, scope, study, "IIT-G01", cois[targets[name]])
                uow.commit()
            outcomes[name] = "done"
        except Exception as exc:  # reported below
            outcomes[name] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [n for n, o in outcomes.items() if o == "done"]
    refused = [o for o in outcomes.values() if o != "done"]
    assert len(done) == 1, outcomes
    assert len(refused) == 1 and isinstance(refused[0], Conflict), outcomes
    assert "already linked to order" in str(refused[0])
    with demo_db.read() as s:
        current = s.scalars(
            select(OutcomeLink).where(
                OutcomeLink.subject_id == "IIT-G01", OutcomeLink.unlinked_at.is_(None)
            )
        ).all()
        assert len(current) == 1
