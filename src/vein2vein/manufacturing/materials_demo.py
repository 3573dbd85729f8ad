"""Demo materials, lots and deviations, loaded through the real services (so they are audited)
inside the demo's one unit of work.

Materials of the EpCAM process, with the MBR's codes: CD4 and CD8 selection reagents, CD3/CD28
activation beads, the anti-EpCAM CAR lentiviral vector, expansion medium, IL-2,
cryopreservation medium, freezing bags. Lots, received 150 days before the load (before the
demo's first batch): most released; one vector lot in quarantine (titer recorded, awaiting QA),
one medium lot expired, one selection reagent lot rejected. Deviations: one by hand, classified
and closed with QA's signature; one open on a lot; the identity demo's mismatch clearance adds
its own.
Titers are of the order reported for clinical lentiviral vector lots (10^8 TU/mL).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from vein2vein.auth import service as auth
from vein2vein.auth.scope import Scope
from vein2vein.core.clock import clock_from, utcnow
from vein2vein.demo.context import DemoContext
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.identity.tables import Order
from vein2vein.manufacturing import deviations, lots
from vein2vein.manufacturing.materials import LotStatus
from vein2vein.store.uow import Actor, UnitOfWork

#: the materials of the EpCAM MBRs (``mbr/epcam_v*.yaml``), with the same codes: a lot is
#: scanned for the material code of the step
MATERIALS = (
    (
        "CD4CD8",
        "CD4 and CD8 immunomagnetic selection reagents (clinical grade)",
        "selection_reagent",
        "vial",
    ),
    ("BEADS", "CD3/CD28 T-cell activation beads (clinical grade)", "activation_reagent", "mL"),
    ("LV-EPCAM", "Lentiviral vector, anti-EpCAM CAR (4-1BB/CD3ζ)", "lentiviral_vector", "mL"),
    ("MEDIUM", "Serum-free T-cell expansion medium", "medium", "L"),
    ("IL2", "Interleukin-2, clinical grade", "cytokine", "µg"),
    ("CS10", "Cryopreservation medium, 10 % DMSO", "cryopreservation_medium", "mL"),
    ("BAG", "Cryopreservation bag, 250 mL", "consumable", "bag"),
)
#: (material, lot, supplier, expiry in days from today, quantity, titer TU/mL, decision, reason)
LOTS = (
    ("CD4CD8", "MB-25A117", "Miltenyi-type supplier", 240, "40", None, "released", "CoA reviewed"),
    (
        "CD4CD8",
        "MB-25B019",
        "Miltenyi-type supplier",
        300,
        "10",
        None,
        "rejected",
        "certificate of analysis lacks the sterility result; supplier informed",
    ),
    ("BEADS", "DB-4471", "Activation reagent supplier", 180, "50", None, "released", "CoA ok"),
    ("LV-EPCAM", "LV-EPC-2026-003", "Vector CDMO", 540, "40", "320000000", "released", "CoA ok"),
    ("LV-EPCAM", "LV-EPC-2026-004", "Vector CDMO", 600, "40", "210000000", None, None),
    ("MEDIUM", "TEX-9912", "Media supplier", 120, "25", None, "released", "CoA reviewed"),
    ("MEDIUM", "TEX-9740", "Media supplier", -3, "5", None, None, None),  # expired
    ("IL2", "IL2-0577", "Cytokine supplier", 365, "500", None, "released", "CoA reviewed"),
    ("CS10", "CS10-2231", "Cryomedium supplier", 400, "1000", None, "released", "CoA ok"),
    ("BAG", "CB250-0815", "Bag supplier", 700, "200", None, "released", "CoA ok"),
)
#: the lots arrived this many days ago (before the demo's earliest batch, batch_demo.py), one
#: an hour, and QA decided on each the next day
RECEIVED_DAYS_AGO = 150


def _scope(uow: UnitOfWork, username: str) -> Scope:
    return auth.scope_of(auth.user_by_username(uow.session, username))


def _as(uow: UnitOfWork, scope: Scope) -> None:
    uow.actor = Actor(scope.username, scope.user_id, scope.organisation_id)


def load_materials_demo(uow: UnitOfWork, ctx: DemoContext) -> None:
    loader = uow.actor
    qa, operator = _scope(uow, "qa.reviewer"), _scope(uow, "operator")
    now = utcnow().replace(second=0, microsecond=0)
    today = now.date()
    arrived = now - dt.timedelta(days=RECEIVED_DAYS_AGO)
    _as(uow, qa)
    with clock_from(lambda: arrived - dt.timedelta(hours=1)):
        for code, name, kind, unit in MATERIALS:
            lots.add_material(uow, qa, code=code, name=name, kind=kind, unit=unit)
    received = {}
    for i, (material, number, supplier, days, qty, titer, decision, reason) in enumerate(LOTS):
        _as(uow, operator)
        with clock_from(lambda i=i: arrived + dt.timedelta(hours=i)):  # type: ignore[misc]
            lot = lots.receive_lot(
                uow,
                operator,
                material=material,
                lot_number=number,
                supplier=supplier,
                expiry=today + dt.timedelta(days=days),
                quantity=qty,
                titer=titer,
            )
        received[number] = lot
        if decision and reason:
            _as(uow, qa)
            with clock_from(lambda i=i: arrived + dt.timedelta(days=1, hours=i)):  # type: ignore[misc]
                lots.decide_lot(uow, qa, lot.id, LotStatus(decision), reason)
    order = uow.session.scalar(
        select(Order).where(Order.batch_number.is_not(None)).order_by(Order.id)
    )
    _as(uow, operator)
    closed = deviations.open_deviation(
        uow,
        operator,
        title="Incubator CO2 alarm during expansion",
        description="CO2 fell to 4.1 % for 25 minutes on day 6 (set 5.0 %); cultures moved to "
        "the back-up incubator; the temperature stayed within 36.5-37.5 °C.",
        order_id=order.id if order is not None else None,
    )
    _as(uow, qa)
    deviations.classify(
        uow,
        qa,
        closed.id,
        classification="minor",
        root_cause="CO2 supply bottle change overran; the alarm worked as designed",
        capa="",
    )
    deviations.close(uow, qa, ctx.settings, closed.id, username=qa.username, password=DEMO_PASSWORD)
    _as(uow, operator)
    deviations.open_deviation(
        uow,
        operator,
        title="Activation reagent vial with a damaged seal at receipt",
        description="One vial of lot DB-4471 arrived with a cracked crimp seal; the vial was "
        "set aside and the rest of the lot inspected.",
        lot_id=received["DB-4471"].id,
    )
    uow.actor = loader
