"""store.audited: a change to a table whose changes are always audited (here the chain of
identity's orders, the tables the orders-in-flight list reads) is refused at commit when the unit
of work wrote no audit entry, whether written through the ORM or as plain SQL; nothing of it is
kept. Both engines."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update
from tests import factories

from vein2vein.auth.tables import Organisation
from vein2vein.identity import views
from vein2vein.identity.tables import Order
from vein2vein.store import audit, audited
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor


def test_the_dashboards_inputs_are_watched() -> None:
    assert {"coi_order", "coi_custody_event", "sched_plan_slot", "mfg_batch"} <= audited.watched()
    assert set(views.DASHBOARD_INPUTS) <= audited.watched()


def test_unaudited_orm_change_is_refused_and_rolled_back(db: Database) -> None:
    org = factories.org(db, "SPONSOR", "Helixa")
    with db.uow(Actor("test")) as uow:
        uow.session.get_one(Organisation, org.id).name = "Renamed quietly"
        with pytest.raises(audited.UnauditedChange, match=r"organisation.*without an audit entry"):
            uow.commit()
    with db.read() as session:
        assert session.get_one(Organisation, org.id).name == "Helixa"


def test_unaudited_plain_sql_change_is_refused(db: Database) -> None:
    org = factories.org(db, "SPONSOR", "Helixa")
    with db.uow(Actor("test")) as uow:
        uow.session.execute(text("UPDATE organisation SET name = 'x' WHERE id = :i"), {"i": org.id})
        with pytest.raises(audited.UnauditedChange, match="organisation"):
            uow.commit()
    with db.uow(Actor("test")) as uow:  # a bulk statement through the ORM is seen too
        uow.session.execute(update(Order).where(Order.id == -1).values(weight_kg=1))
        with pytest.raises(audited.UnauditedChange, match="coi_order"):
            uow.commit()
    with db.read() as session:
        assert session.scalars(select(Organisation.name)).all() == ["Helixa"]


def test_audited_change_commits_and_next_transaction_starts_clean(db: Database) -> None:
    org = factories.org(db, "SPONSOR", "Helixa")
    with db.uow(Actor("test")) as uow:
        uow.session.get_one(Organisation, org.id).name = "Helixa Bio"
        uow.record("organisation.renamed", "organisation", org.id, after={"name": "Helixa Bio"})
        uow.commit()
        # the same unit of work, a second transaction: the first one's audit entry does not count
        uow.session.get_one(Organisation, org.id).name = "Helixa Again"
        with pytest.raises(audited.UnauditedChange):
            uow.commit()
    with db.read() as session:
        assert session.get_one(Organisation, org.id).name == "Helixa Bio"
        assert audit.head(session).seq >= 2


def test_tables_not_watched_are_not_checked(db: Database) -> None:
    factories.org(db, "SPONSOR", "Helixa")
    with db.uow(Actor("test")) as uow:
        before = audit.head(uow.session).seq
        # a web session row: not a GMP record, not read by any kept view
        uow.session.execute(text("DELETE FROM web_session WHERE id = -1"))
        uow.commit()
    with db.read() as session:
        assert audit.head(session).seq == before
