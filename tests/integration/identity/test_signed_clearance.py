"""The signed mismatch clearance (issue 12), on SQLite and PostgreSQL: the QA reviewer's
electronic signature is needed; the clearance names the other order the wrong identifier belongs
to, records a deviation linked to both orders, and appears in both orders' histories; another
client's order is linked for the CDMO but named to neither sponsor."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.factories import PASSWORD
from tests.integration.identity import world as W

from vein2vein.auth.signatures import signatures_for
from vein2vein.core.errors import AuthenticationFailed, InputError
from vein2vein.identity import custody, views
from vein2vein.identity.domain import Step
from vein2vein.identity.tables import HandoffMismatch, Order
from vein2vein.manufacturing import deviations
from vein2vein.store.database import Database


def _stop_with_label_of(w: W.World, oid: int, wrong_din: str) -> int:
    at = W.walk(w, oid, Step.SHIPPED)
    with w.db.read() as session:
        coi = session.get_one(Order, oid).coi
    with pytest.raises(custody.HandoffStopped) as stop:
        W.record(w, oid, Step.RECEIVED, at, scans=W.label_scans(wrong_din, coi))
    return stop.value.mismatch_id


def _clear(w: W.World, mid: int, password: str = PASSWORD) -> None:
    with w.db.uow(w.actor("qa")) as uow:
        custody.clear_mismatch(
            uow,
            w.scopes["qa"],
            w.db.settings,
            mid,
            "bag of HLX-002 picked up from the shelf; the right bag found and scanned",
            username="qa",
            password=password,
        )
        uow.commit()


def test_clearance_is_signed_names_the_other_order_and_shows_in_both_histories(
    db: Database,
) -> None:
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    other = W.order(w, W.enrol(w, subject="HLX-002"))
    W.assign_din(w, oid)
    mid = _stop_with_label_of(w, oid, W.assign_din(w, other))
    # no signature, or a wrong password: nothing cleared, no deviation
    with pytest.raises(InputError) as err:
        _clear(w, mid, password="")
    assert err.value.field == "password"
    with pytest.raises(AuthenticationFailed):
        _clear(w, mid, password="not-the-password-1")
    with db.read() as session:
        assert session.get_one(HandoffMismatch, mid).is_open
        assert deviations.list_deviations(session, w.scopes["qa"]) == []
    _clear(w, mid)
    qa = w.scopes["qa"]
    with db.read() as session:
        sigs = signatures_for(session, custody.MISMATCH_RECORD, mid)
        assert [(s.meaning, s.username) for s in sigs] == [("reviewed", "qa")]
        [dev] = deviations.list_deviations(session, qa)
        assert dev["source"] == "coi_mismatch" and dev["mismatch_id"] == mid
        assert dev["order"]["id"] == oid and dev["related_order"] == {
            "id": other,
            "number": "HLX-1-0002",
        }
        detail = deviations.deviation_detail(session, qa, dev["id"])
        assert "belongs to order HLX-1-0002" in detail["description"]
        for order_id, named in ((oid, "HLX-1-0002"), (other, "HLX-1-0001")):
            page = views.order_detail(session, qa, order_id)
            assert [d["number"] for d in page["deviations"]] == [dev["number"]]
            linked = [
                e
                for e in views.order_history(session, qa, order_id)
                if e["action"] == "mfg.deviation_linked"
            ]
            assert len(linked) == 1 and linked[0]["after"]["other_order"] == named
        # the sponsor reads it too (read-only), in both of its orders
        sponsor = views.order_detail(session, w.scopes["a.viewer"], other)
        assert [d["number"] for d in sponsor["deviations"]] == [dev["number"]]
    W.record(w, oid, Step.RECEIVED, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))


def test_another_clients_order_is_linked_but_named_to_no_sponsor(db: Database) -> None:
    w = W.build(db)
    oid = W.order(w, W.enrol(w))
    b_order = W.order(
        w, W.enrol(w, who="b.clinical", subject="CRV-001", sponsor="b"), who="b.clinical"
    )
    W.assign_din(w, oid)
    mid = _stop_with_label_of(w, oid, W.assign_din(w, b_order))
    _clear(w, mid)
    with db.read() as session:
        [dev] = deviations.list_deviations(session, w.scopes["qa"])
        assert dev["related_order"]["id"] == b_order  # the CDMO sees the link
        detail = deviations.deviation_detail(session, w.scopes["a.clinical"], dev["id"])
        assert detail["related_order"] == {"id": None, "number": "an order of another client"}
        assert "another client" in detail["description"]
        assert session.get_one(Order, b_order).number not in str(detail)
        # sponsor B's order history records the event without naming A's order
        b_history = views.order_history(session, w.scopes["b.clinical"], b_order)
        linked = [e for e in b_history if e["action"] == "mfg.deviation_linked"]
        assert linked and linked[0]["after"]["other_order"] is None
        assert linked[0]["after"]["other_order_of_another_client"] is True
        assert "HLX-1" not in str(b_history)
        # and sponsor B cannot open the deviation (it is sponsor A's)
        assert views.order_detail(session, w.scopes["b.clinical"], b_order)["deviations"] == []
