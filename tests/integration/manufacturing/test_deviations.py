"""Deviations in the store, on SQLite and PostgreSQL: opened by hand and from another feature,
classified with root cause and CAPA, closed with QA's electronic signature and then locked (by
the service, and by the database), visible read-only to the sponsor of the order and to no
other client; and two QA people closing the same deviation at once make one closure."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from tests.factories import PASSWORD
from tests.integration.identity import world as W

from vein2vein.auth.tables import Signature
from vein2vein.core.errors import (
    AuthenticationFailed,
    InputError,
    NotFound,
    PermissionDenied,
    RecordLocked,
    RuleViolation,
)
from vein2vein.manufacturing import deviations
from vein2vein.manufacturing.tables import Deviation
from vein2vein.store import audit
from vein2vein.store.database import Database


def _open(w: W.World, order_id: int | None, who: str = "operator") -> int:
    with w.db.uow(w.actor(who)) as uow:
        dev = deviations.open_deviation(
            uow,
            w.scopes[who],
            title="Incubator CO2 alarm",
            description="CO2 at 4.1 % for 25 minutes on day 6",
            order_id=order_id,
            batch_id=17,
            step_id=3,
            entry_id=41,
        )
        uow.commit()
        return dev.id


def _classify(w: W.World, dev_id: int, level: str = "major", who: str = "qa") -> None:
    with w.db.uow(w.actor(who)) as uow:
        deviations.classify(
            uow,
            w.scopes[who],
            dev_id,
            classification=level,
            root_cause="CO2 bottle change overran its planned time",
            capa="second bottle on standby; change procedure updated",
        )
        uow.commit()


def _close(w: W.World, dev_id: int, who: str = "qa", password: str = PASSWORD) -> None:
    with w.db.uow(w.actor(who)) as uow:
        deviations.close(
            uow,
            w.scopes[who],
            w.db.settings,
            dev_id,
            username=w.scopes[who].username,
            password=password,
        )
        uow.commit()


def test_lifecycle_with_signature_and_lock(db: Database) -> None:
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    dev_id = _open(w, oid)
    with db.read() as session:
        d = deviations.deviation_detail(session, w.scopes["qa"], dev_id)
    assert d["number"].startswith("DEV-") and d["number"].endswith("-0001")
    assert (d["batch_id"], d["step_id"], d["entry_id"]) == (17, 3, 41)
    assert d["order"] == {"id": oid, "number": "HLX-1-0001"} and d["status"] == "open"
    # closing needs a classification; operators neither classify nor close
    with pytest.raises(RuleViolation, match="classify it before closing"):
        _close(w, dev_id)
    with pytest.raises(PermissionDenied):
        _classify(w, dev_id, who="operator")
    with pytest.raises(InputError) as err, db.uow(w.actor("qa")) as uow:
        deviations.classify(
            uow, w.scopes["qa"], dev_id, classification="critical", root_cause="a", capa=""
        )
    assert err.value.field == "root_cause"
    _classify(w, dev_id)
    # a wrong password signs nothing and closes nothing
    with pytest.raises(AuthenticationFailed):
        _close(w, dev_id, password="wrong-password-1")
    with db.read() as session:
        assert session.get_one(Deviation, dev_id).status == "open"
    _close(w, dev_id)
    with db.read() as session:
        d = deviations.deviation_detail(session, w.scopes["qa"], dev_id)
        actions = [e.action for e in audit.query(session, entity_type="mfg_deviation")]
    assert d["status"] == "closed" and d["closed_by"] == "qa"
    assert [(s["meaning"], s["username"]) for s in d["signatures"]] == [("reviewed", "qa")]
    assert actions == [
        "mfg.deviation_open",
        "mfg.deviation_classify",
        "signature.sign",
        "mfg.deviation_close",
    ]
    # edits after closing are refused, by the service ...
    with pytest.raises(RecordLocked):
        _classify(w, dev_id, "minor")
    with pytest.raises(RecordLocked):
        _close(w, dev_id, who="approver")
    # ... and by the database
    for sql in (
        "UPDATE mfg_deviation SET root_cause = 'rewritten'",
        "DELETE FROM mfg_deviation",
    ):
        with pytest.raises((IntegrityError, DBAPIError)), db.uow(w.actor("qa")) as uow:
            uow.session.execute(text(sql))
            uow.session.flush()
    with db.read() as session:
        assert session.get_one(Deviation, dev_id).root_cause.startswith("CO2 bottle")


def test_sponsor_reads_its_own_deviations_only_and_changes_none(db: Database) -> None:
    w = W.build(db)
    own = _open(w, W.order(w, W.enrol(w)))
    b_patient = W.enrol(w, who="b.clinical", subject="CRV-001", sponsor="b")
    other = _open(w, W.order(w, b_patient, who="b.clinical"))
    cdmo_only = _open(w, None)
    with db.read() as session:
        seen = [d["id"] for d in deviations.list_deviations(session, w.scopes["a.viewer"])]
        assert seen == [own]
        assert deviations.deviation_detail(session, w.scopes["a.viewer"], own)["id"] == own
        for hidden in (other, cdmo_only):
            with pytest.raises(NotFound):
                deviations.deviation_detail(session, w.scopes["a.viewer"], hidden)
        assert {d["id"] for d in deviations.list_deviations(session, w.scopes["qa"])} == {
            own,
            other,
            cdmo_only,
        }
    with pytest.raises(PermissionDenied):
        _classify(w, own, who="a.clinical")
    with pytest.raises(NotFound):
        _classify(w, other, who="a.clinical")
    with pytest.raises(PermissionDenied), db.uow(w.actor("a.clinical")) as uow:
        deviations.open_deviation(
            uow, w.scopes["a.clinical"], title="x", description="something happened"
        )


def test_filters(db: Database) -> None:
    w = W.build(db)
    first, second = _open(w, None), _open(w, None)
    _classify(w, first, "minor")
    _close(w, first)
    with db.read() as session:
        qa = w.scopes["qa"]

        def ids(**f: str) -> list[int]:
            return [d["id"] for d in deviations.list_deviations(session, qa, **f)]

        assert ids(status="open") == [second] and ids(status="closed") == [first]
        assert ids(classification="minor") == [first]
        assert ids(classification="unclassified") == [second]
        with pytest.raises(InputError):
            ids(status="pending")


def test_two_qa_people_closing_at_once_make_one_closure(db: Database) -> None:
    """PostgreSQL: the row lock decides; SQLite: the write lock serialises, same outcome."""
    w = W.build(db)
    dev_id = _open(w, None)
    _classify(w, dev_id)
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def closer(who: str) -> None:
        try:
            with db.uow(w.actor(who)) as uow:
                start.wait()
                deviations.close(
                    uow,
                    w.scopes[who],
                    db.settings,
                    dev_id,
                    username=w.scopes[who].username,
                    password=PASSWORD,
                )
                uow.commit()
            outcomes[who] = "closed"
        except Exception as exc:  # reported below
            outcomes[who] = exc

    threads = [threading.Thread(target=closer, args=(who,)) for who in ("qa", "approver")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    closed = [who for who, o in outcomes.items() if o == "closed"]
    refused = [o for o in outcomes.values() if o != "closed"]
    assert len(closed) == 1, outcomes
    assert len(refused) == 1 and isinstance(refused[0], RecordLocked), outcomes
    with db.read() as session:
        sigs = session.scalar(
            select(func.count())
            .select_from(Signature)
            .where(Signature.record_type == "mfg_deviation")
        )
        assert sigs == 1
        assert session.get_one(Deviation, dev_id).closed_by == closed[0]
        assert audit.verify(session).ok
