"""A world for executed batch records, made through the real services: the identity world
(CDMO, sponsors A and B, orders), the EpCAM v1 MBR made effective for sponsor A's program at
the CDMO's Ghent site (author, reviewer, approver: three people), released lots of every
purchased material the MBR uses (the vector with a functional titer of 3.2 × 10^8 TU/mL), and
an instrument in calibration for each piece of its equipment (:func:`use_equipment`)."""

from __future__ import annotations

import datetime as dt

from tests.factories import PASSWORD, SERVER
from tests.integration.identity import world as W
from tests.mbr_world import V1
from vein2vein.auth import service as auth
from vein2vein.manufacturing import batches, lots, mbrs
from vein2vein.store.uow import Actor

SITE = "Site B — Ghent"
SUITE = "Suite 2"
#: MBR material code → (kind, unit, lot number)
MATERIALS = {
    "CD4CD8": ("selection_reagent", "mL", "CD4CD8-L1"),
    "BEADS": ("activation_reagent", "mL", "BEADS-L1"),
    "LV-EPCAM": ("lentiviral_vector", "mL", "LV-EPC-2026-001"),
    "MEDIUM": ("medium", "L", "MEDIUM-L1"),
    "IL2": ("cytokine", "µg", "IL2-L1"),
    "CS10": ("cryopreservation_medium", "mL", "CS10-L1"),
    "BAG": ("consumable", "bag", "BAG-L1"),
}
TITER = "320000000"
#: days from today to the calibration due date of every instrument :func:`use_equipment` records
CALIBRATION_DAYS = 200


def instrument(code: str) -> tuple[str, dt.date]:
    """The instrument used for MBR equipment ``code``: asset number and calibration due date."""
    return f"{code}-0001", dt.date.today() + dt.timedelta(days=CALIBRATION_DAYS)


def mbr_text(path=V1) -> str:  # type: ignore[no-untyped-def]
    return path.read_text(encoding="utf-8").replace("product: HLX-EPC-01", "product: HLX-1")


def effective_mbr(w: W.World, text: str | None = None) -> int:
    with w.db.uow(w.actor("operator")) as uow:
        row = mbrs.import_yaml(uow, w.scopes["operator"], text or mbr_text(), "epcam.yaml")
        uow.commit()
        mbr_id = row.id
    for who, meaning in (("operator", "authored"), ("qa", "reviewed"), ("approver", "approved")):
        with w.db.uow(w.actor(who)) as uow:
            mbrs.sign_mbr(
                uow,
                w.scopes[who],
                w.db.settings,
                mbr_id,
                meaning,
                username=w.scopes[who].username,
                password=PASSWORD,
            )
            uow.commit()
    return mbr_id


def build(db) -> W.World:  # type: ignore[no-untyped-def]
    w = W.build(db)
    with db.uow(Actor("factory")) as uow:
        auth.add_site(uow, SERVER, w.ids["cdmo"], SITE, "Ghent", "BE")
        uow.commit()
    w.ids["mbr"] = effective_mbr(w)
    expiry = dt.date.today() + dt.timedelta(days=300)
    for code, (kind, unit, number) in MATERIALS.items():
        with db.uow(w.actor("qa")) as uow:
            lots.add_material(uow, w.scopes["qa"], code=code, name=code, kind=kind, unit=unit)
            lot = lots.receive_lot(
                uow,
                w.scopes["qa"],
                material=code,
                lot_number=number,
                supplier="supplier",
                expiry=expiry,
                quantity="10",
                titer=TITER if kind == "lentiviral_vector" else None,
            )
            lots.decide_lot(uow, w.scopes["qa"], lot.id, "released", "CoA reviewed")
            uow.commit()
            w.ids[f"lot:{code}"] = lot.id
    return w


def order_with_din(w: W.World, subject: str = "HLX-001") -> int:
    oid = W.order(w, W.enrol(w, subject=subject))
    W.assign_din(w, oid)
    return oid


def new_apheresis(w: W.World, order_id: int, reason: str = "batch failed") -> str:
    """After a failed batch: a new apheresis (a new DIN, collection 2) planned for tomorrow
    (in UTC: 'today' in UTC is still yesterday in the order's zone east of UTC just before
    midnight, when the failure's local day is already tomorrow)."""
    from vein2vein.identity import orders

    with w.db.uow(w.actor("operator")) as uow:
        tomorrow = dt.date.today() + dt.timedelta(days=1)
        o = orders.new_apheresis(
            uow, w.scopes["operator"], order_id, planned_apheresis=tomorrow, reason=reason
        )
        uow.commit()
        return str(o.apheresis_din)


def use_equipment(w: W.World, batch_id: int, step: str, who: str = "operator") -> None:
    """Record the instrument (:func:`instrument`) of every piece of equipment ``step`` lists."""
    with w.db.read() as session:
        record = batches.record_of(batches.get_batch(session, w.scopes[who], batch_id))
    for code in record.mbr.operation(step).equipment:
        asset, due = instrument(code)
        with w.db.uow(w.actor(who)) as uow:
            batches.record_equipment(uow, w.scopes[who], batch_id, step, code, asset, due)
            uow.commit()
