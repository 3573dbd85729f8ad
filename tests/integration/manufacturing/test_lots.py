"""Material lots in the store, on SQLite and PostgreSQL: receipt into quarantine, QA's release
and rejection with reason and audit entry, the titer a vector lot needs before release, the scan
check through the store, and that lots are the CDMO's (a sponsor finds none)."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.integration.identity import world as W

from vein2vein.core.clock import utcnow
from vein2vein.core.errors import Conflict, InputError, NotFound, PermissionDenied, RuleViolation
from vein2vein.manufacturing import lots
from vein2vein.manufacturing.materials import LotRefused, LotStatus, RefusalReason
from vein2vein.store import audit
from vein2vein.store.database import Database

TODAY = dt.date.today()


def _materials(w: W.World) -> None:
    with w.db.uow(w.actor("qa")) as uow:
        qa = w.scopes["qa"]
        lots.add_material(
            uow, qa, code="lv-epcam", name="LV anti-EpCAM CAR", kind="lentiviral_vector", unit="mL"
        )
        lots.add_material(
            uow, qa, code="CD4-MB", name="CD4 beads", kind="selection_reagent", unit="vial"
        )
        uow.commit()


def _receive(
    w: W.World, material: str, number: str, *, days: int = 200, titer: str | None = None
) -> int:
    with w.db.uow(w.actor("operator")) as uow:
        lot = lots.receive_lot(
            uow,
            w.scopes["operator"],
            material=material,
            lot_number=number,
            supplier="Supplier",
            expiry=TODAY + dt.timedelta(days=days),
            quantity="12.5",
            titer=titer,
        )
        uow.commit()
        return lot.id


def _decide(
    w: W.World, lot_id: int, to: LotStatus, reason: str = "CoA reviewed", who: str = "qa"
) -> None:
    with w.db.uow(w.actor(who)) as uow:
        lots.decide_lot(uow, w.scopes[who], lot_id, to, reason)
        uow.commit()


def test_receive_release_reject_with_reasons_and_audit(db: Database) -> None:
    w = W.build(db)
    _materials(w)
    vector = _receive(w, "LV-EPCAM", "LV-001")
    with db.read() as session:
        assert lots.lot_detail(session, w.scopes["operator"], vector)["status"] == "quarantine"
    # a vector lot is not released without its titer
    with pytest.raises(RuleViolation, match="functional titer"):
        _decide(w, vector, LotStatus.RELEASED)
    with db.uow(w.actor("operator")) as uow:
        lots.record_titer(uow, w.scopes["operator"], vector, "3.2E8")
        uow.commit()
    # operators receive; only QA decides; a reason is needed
    with pytest.raises(PermissionDenied):
        _decide(w, vector, LotStatus.RELEASED, who="operator")
    with pytest.raises(InputError) as err:
        _decide(w, vector, LotStatus.RELEASED, reason="ok")
    assert err.value.field == "reason"
    _decide(w, vector, LotStatus.RELEASED, "certificate of analysis and titer reviewed")
    with (
        pytest.raises(Conflict, match="can no longer change"),
        db.uow(w.actor("operator")) as uow,
    ):
        lots.record_titer(uow, w.scopes["operator"], vector, "4E8")
    with pytest.raises(RuleViolation, match="cannot become released"):
        _decide(w, vector, LotStatus.RELEASED)
    _decide(w, vector, LotStatus.REJECTED, "supplier recall of the vector lot")
    with pytest.raises(RuleViolation, match="is rejected"):
        _decide(w, vector, LotStatus.RELEASED)
    with db.read() as session:
        entries = [
            e.to_dict() for e in audit.query(session, entity_type="mfg_lot", entity_id=str(vector))
        ]
        detail = lots.lot_detail(session, w.scopes["qa"], "LV-EPCAM:LV-001")
    assert [e["action"] for e in entries] == [
        "mfg.lot_receive",
        "mfg.lot_titer",
        "mfg.lot_release",
        "mfg.lot_reject",
    ]
    assert entries[2]["reason"] == "certificate of analysis and titer reviewed"
    assert entries[2]["actor"] == "qa" and entries[2]["after"]["status"] == "released"
    assert detail["status"] == "rejected" and detail["titer_tu_per_ml"] == 320000000
    assert len(detail["history"]) == 4


def test_the_scan_check_through_the_store_refuses_each_reason(db: Database) -> None:
    w = W.build(db)
    _materials(w)
    released = _receive(w, "CD4-MB", "CD4-OK")
    _decide(w, released, LotStatus.RELEASED)
    _receive(w, "CD4-MB", "CD4-Q")
    rejected = _receive(w, "CD4-MB", "CD4-R")
    _decide(w, rejected, LotStatus.REJECTED, "damaged in transit")
    _receive(w, "CD4-MB", "CD4-OLD", days=-1)  # expired yesterday
    now = utcnow()
    scope = w.scopes["operator"]
    with db.read() as session:
        assert lots.check_scanned_lot(session, scope, " CD4-OK ", "CD4-MB", now).id == released
        cases = {
            "CD4-Q": RefusalReason.NOT_RELEASED,
            "CD4-R": RefusalReason.REJECTED,
            "CD4-OLD": RefusalReason.EXPIRED,
        }
        for number, reason in cases.items():
            with pytest.raises(LotRefused) as refused:
                lots.check_scanned_lot(session, scope, number, "CD4-MB", now)
            assert refused.value.reason is reason and number in refused.value.message
        with pytest.raises(LotRefused) as wrong:
            lots.check_scanned_lot(session, scope, "CD4-OK", "LV-EPCAM", now)
        assert wrong.value.reason is RefusalReason.WRONG_MATERIAL
        assert "needs material LV-EPCAM, not CD4-MB" in wrong.value.message
        with pytest.raises(NotFound):
            lots.check_scanned_lot(session, scope, "NO-SUCH-LOT", "CD4-MB", now)
        listed = {r["lot_number"]: r["status"] for r in lots.list_lots(session, scope)}
        assert listed == {
            "CD4-OK": "released",
            "CD4-Q": "quarantine",
            "CD4-R": "rejected",
            "CD4-OLD": "expired",
        }
        assert [r["lot_number"] for r in lots.list_lots(session, scope, status="expired")] == [
            "CD4-OLD"
        ]


def test_an_expired_lot_cannot_be_released(db: Database) -> None:
    w = W.build(db)
    _materials(w)
    old = _receive(w, "CD4-MB", "CD4-OLD", days=-1)
    with pytest.raises(RuleViolation, match="expired lot cannot be released"):
        _decide(w, old, LotStatus.RELEASED)


def test_bad_input_names_the_field(db: Database) -> None:
    w = W.build(db)
    _materials(w)
    cases = {
        "titer": {"material": "CD4-MB", "titer": "1E8"},  # not a vector
        "quantity": {"quantity": "-1"},
        "expiry": {"expiry": "2026-02-30"},
        "lot_number": {"lot_number": "LV 001"},
    }
    for field, change in cases.items():
        values: dict[str, object] = dict(
            material="LV-EPCAM", lot_number="LV-002", supplier="S", expiry=TODAY, quantity="1"
        )
        values.update(change)
        with pytest.raises(InputError) as err, db.uow(w.actor("operator")) as uow:
            lots.receive_lot(uow, w.scopes["operator"], **values)  # type: ignore[arg-type]
        assert err.value.field == field, (field, err.value.message)
    _receive(w, "LV-EPCAM", "LV-002")
    with pytest.raises(Conflict, match="already received"):
        _receive(w, "LV-EPCAM", "LV-002")


def test_lots_are_the_cdmos_sponsors_find_none(db: Database) -> None:
    w = W.build(db)
    _materials(w)
    lot_id = _receive(w, "CD4-MB", "CD4-1")
    for who in ("a.clinical", "a.viewer"):
        with db.read() as session:
            with pytest.raises(NotFound):
                lots.lot_detail(session, w.scopes[who], lot_id)
            with pytest.raises(NotFound):
                lots.list_lots(session, w.scopes[who])
        with pytest.raises(NotFound):
            _decide(w, lot_id, LotStatus.RELEASED, who=who)
    # the administrator (IT) reads lots but neither receives nor decides them
    with pytest.raises(PermissionDenied):
        _decide(w, lot_id, LotStatus.RELEASED, who="admin")
    with pytest.raises(PermissionDenied), db.uow(w.actor("admin")) as uow:
        lots.receive_lot(
            uow,
            w.scopes["admin"],
            material="CD4-MB",
            lot_number="X",
            supplier="S",
            expiry=TODAY,
            quantity="1",
        )


def test_a_lot_number_in_digits_is_a_lot_number_not_an_id(db: Database) -> None:
    w = W.build(db)
    _materials(w)
    first = _receive(w, "CD4-MB", "CD4-A")
    second = _receive(w, "CD4-MB", str(first))  # its lot number is the other lot's id
    _decide(w, second, LotStatus.RELEASED)
    with db.read() as session:
        scanned = lots.check_scanned_lot(
            session, w.scopes["operator"], str(first), "CD4-MB", utcnow()
        )
        assert scanned.id == second
        assert lots.get_lot(session, w.scopes["operator"], first).lot_number == "CD4-A"
        _receive(w, "LV-EPCAM", "CD4-A")
    with db.read() as session, pytest.raises(InputError, match="CD4-MB:CD4-A, LV-EPCAM:CD4-A"):
        lots.get_lot(session, w.scopes["operator"], "CD4-A")
