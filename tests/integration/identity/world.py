"""A small world for chain-of-identity tests, made through the real services.

CDMO with one facility (fictitious FIN A9999), two sponsors (A and B) each with a program, a
treatment site and users; helpers walk an order through its custody steps with correct scans.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from tests import factories

from vein2vein.auth import service as auth
from vein2vein.auth.scope import Scope
from vein2vein.identity import coi as coi_module
from vein2vein.identity import custody, intake, orders
from vein2vein.identity.domain import Step
from vein2vein.identity.isbt128 import Din
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

FIN = "A9999"
DOB = "1961-03-07"
INITIALS = "JQX"
MARKERS_NEG = {m: "negative" for m in ("hbv", "hcv", "hiv", "htlv", "syphilis")}


@dataclass
class World:
    db: Database
    scopes: dict[str, Scope] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def actor(self, who: str) -> Actor:
        s = self.scopes[who]
        return Actor(s.username, s.user_id, s.organisation_id)


def build(db: Database) -> World:
    w = World(db)
    cdmo = factories.org(db, "CDMO", "Northbridge")
    a = factories.org(db, "SPONSOR", "Helixa")
    b = factories.org(db, "SPONSOR", "Corvane")
    users = {
        "admin": (cdmo, "admin"),
        "operator": (cdmo, "operator"),
        "qa": (cdmo, "qa_reviewer"),
        "approver": (cdmo, "qa_approver"),
        "a.clinical": (a, "sponsor_clinical"),
        "a.viewer": (a, "sponsor_viewer"),
        "b.clinical": (b, "sponsor_clinical"),
    }
    for name, (org, role) in users.items():
        factories.user(db, org, role, username=name)
    pa = factories.program(db, a, "HLX-1")
    pb = factories.program(db, b, "CRV-1")
    with db.uow(Actor("factory")) as uow:
        for name in users:
            w.scopes[name] = auth.scope_of(auth.user_by_username(uow.session, name))
        sa = auth.add_site(uow, factories.SERVER, a.id, "Utrecht Hospital", "Utrecht", "NL")
        sb = auth.add_site(uow, factories.SERVER, b.id, "Antwerp Centre", "Antwerp", "BE")
        orders.register_facility(
            uow, uow.session.merge(cdmo), FIN, "Northbridge Leiden", "Europe/Amsterdam"
        )
        uow.commit()
    w.ids.update(
        cdmo=cdmo.id, a=a.id, b=b.id, program_a=pa.id, program_b=pb.id, site_a=sa.id, site_b=sb.id
    )
    return w


def enrol(w: World, who: str = "a.clinical", subject: str = "HLX-001", sponsor: str = "a") -> int:
    with w.db.uow(w.actor(who)) as uow:
        p = orders.enrol_patient(
            uow,
            w.scopes[who],
            program_id=w.ids[f"program_{sponsor}"],
            subject_id=subject,
            treatment_site_id=w.ids[f"site_{sponsor}"],
            date_of_birth=DOB,
            initials=INITIALS,
        )
        uow.commit()
        return p.id


def order(w: World, patient_id: int, who: str = "a.clinical", **changes: object) -> int:
    fields: dict[str, object] = dict(
        patient_id=patient_id,
        product_code="S1234100",
        dose_level="DL2",
        weight_kg="72.5",
        planned_apheresis=dt.date.today() - dt.timedelta(days=30),
        required_by=dt.date.today() + dt.timedelta(days=20),
        starting_material="fresh",
        markers=MARKERS_NEG,
        time_zone="Europe/Amsterdam",
    )
    fields.update(changes)
    with w.db.uow(w.actor(who)) as uow:
        o = orders.place_order(uow, w.scopes[who], intake.OrderRequest(**fields))  # type: ignore[arg-type]
        uow.commit()
        return o.id


def assign_din(w: World, order_id: int) -> str:
    with w.db.uow(w.actor("operator")) as uow:
        o = orders.assign_apheresis_din(uow, w.scopes["operator"], order_id)
        uow.commit()
        return str(o.apheresis_din)


def register_bags(w: World, order_id: int, bags: int = 2) -> None:
    with w.db.uow(w.actor("operator")) as uow:
        orders.register_product(uow, w.scopes["operator"], order_id, bags)
        uow.commit()


def label_scans(din: str, coi: str, product_code: str | None = None) -> list[str]:
    """What a scanner reads from a correct label: DIN with check flags, CoI, product code."""
    scans = [Din.from_code(din).barcode_data(), coi_module.get_format().to_structure(coi).encode()]
    if product_code:
        scans.append("=<" + product_code)
    return scans


SITE = {
    Step.COLLECTED,
    Step.PACKED,
    Step.SHIPPED,
    Step.PRODUCT_RECEIVED,
    Step.PRODUCT_STORED,
    Step.ISSUED,
    Step.THAWED,
    Step.INFUSED,
}
DETAILS = {
    Step.SHIPPED: {"courier": "ColdCourier", "shipper_id": "DS-1", "logger_id": "TL-1"},
    Step.PRODUCT_SHIPPED: {"courier": "ColdCourier", "shipper_id": "DS-2", "logger_id": "TL-2"},
    Step.RECEIVED: {"condition": "intact", "excursions": 0},
    Step.PRODUCT_RECEIVED: {"condition": "intact", "excursions": 0},
    Step.STORED: {"storage_location": "LN2-3", "position": "R2/B4/S7"},
    Step.MANUFACTURING_STARTED: {"batch_number": "B-0001"},
}


def who_records(step: Step) -> str:
    if step is Step.RELEASED:
        return "approver"
    return "a.clinical" if step in SITE else "operator"


def record(
    w: World,
    order_id: int,
    step: Step,
    at: dt.datetime,
    *,
    scans: list[str] | None = None,
    patient: dict[str, str] | None = None,
    who: str | None = None,
    details: dict[str, object] | None = None,
) -> None:
    """Record ``step`` with the correct scans unless others are given."""
    who = who or who_records(step)
    with w.db.read() as session:
        from vein2vein.identity.tables import Order

        o = session.get_one(Order, order_id)
        product = step in custody.PRODUCT_STEPS
        din = o.product_din if product else o.apheresis_din
        default = label_scans(din, o.coi, o.product_code if product else None) if din else []
    if patient is None and step in custody.PATIENT_CHECK_STEPS:
        patient = {"subject_id": "HLX-001", "date_of_birth": DOB}
    req = intake.EventRequest(
        step=step.value,
        occurred_at=at,
        location="Ward 3" if step in SITE else "Leiden GMP",
        time_zone="Europe/Amsterdam",
        scans=scans if scans is not None else default,
        patient_identifiers=patient or {},
        details=details or DETAILS.get(step, {}),
    )
    with w.db.uow(w.actor(who)) as uow:
        custody.record_event(uow, w.scopes[who], order_id, req)
        uow.commit()


MAIN = [Step.COLLECTED, Step.PACKED, Step.SHIPPED, Step.RECEIVED, Step.MANUFACTURING_STARTED]
PRODUCT = [
    Step.RELEASED,
    Step.PRODUCT_PACKED,
    Step.PRODUCT_SHIPPED,
    Step.PRODUCT_RECEIVED,
    Step.ISSUED,
    Step.THAWED,
    Step.INFUSED,
]


def walk(w: World, order_id: int, until: Step, start: dt.datetime | None = None) -> dt.datetime:
    """Record every main step up to ``until`` (bags registered after start of manufacturing)."""
    at = start or (dt.datetime.now(dt.UTC) - dt.timedelta(days=25))
    for step in MAIN + PRODUCT:
        if step is Step.RELEASED:
            register_bags(w, order_id)
        record(w, order_id, step, at)
        at += dt.timedelta(hours=20)
        if step is until:
            break
    return at
