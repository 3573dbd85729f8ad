"""Demo chain of identity: patients and orders of both demo sponsors at every stage, including
one hand-off mismatch cleared by QA. Loaded through the real services (so it is audited) in the
demo loader's single unit of work. Subject ids, DINs (fictitious FIN ``A9999``), dates of birth
and initials are synthetic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from vein2vein.auth import service as auth
from vein2vein.auth.scope import Scope
from vein2vein.auth.tables import Site
from vein2vein.core.clock import utcnow
from vein2vein.demo.context import DemoContext
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.identity import custody, intake, orders
from vein2vein.identity.domain import Step
from vein2vein.identity.isbt128 import Din
from vein2vein.identity.tables import MARKERS, Order
from vein2vein.programs.tables import Program
from vein2vein.store.uow import Actor, UnitOfWork

DEMO_FIN = "A9999"
PATH = [
    Step.COLLECTED,
    Step.PACKED,
    Step.SHIPPED,
    Step.RECEIVED,
    Step.STORED,
    Step.MANUFACTURING_STARTED,
    Step.RELEASED,
    Step.PRODUCT_PACKED,
    Step.PRODUCT_SHIPPED,
    Step.PRODUCT_RECEIVED,
    Step.ISSUED,
    Step.THAWED,
    Step.INFUSED,
]
#: Hours after the previous step (typical of a ~3-4 week vein-to-vein time).
GAP_HOURS = {
    Step.PACKED: 2,
    Step.SHIPPED: 2,
    Step.RECEIVED: 20,
    Step.STORED: 2,
    Step.MANUFACTURING_STARTED: 30,
    Step.RELEASED: 17 * 24,
    Step.PRODUCT_PACKED: 20,
    Step.PRODUCT_SHIPPED: 3,
    Step.PRODUCT_RECEIVED: 26,
    Step.ISSUED: 48,
    Step.THAWED: 1,
    Step.INFUSED: 1,
}
DETAILS = {
    Step.SHIPPED: {"courier": "Cryo Courier BV", "shipper_id": "DS-2201", "logger_id": "TL-7731"},
    Step.PRODUCT_SHIPPED: {
        "courier": "Cryo Courier BV",
        "shipper_id": "LN2-0907",
        "logger_id": "TL-8810",
    },
    Step.RECEIVED: {"condition": "intact", "excursions": 0},
    Step.PRODUCT_RECEIVED: {"condition": "intact", "excursions": 0},
    Step.STORED: {"storage_location": "LN2 dewar 3", "position": "rack 2 / box 4 / slot 7"},
}


@dataclass(frozen=True)
class DemoPatient:
    subject: str
    date_of_birth: str
    initials: str
    reached: Step | None  # last step recorded (None: order placed, DIN issued)
    days_ago: int  # apheresis this many days ago (or planned in -days for not started)
    required_in_days: int  # required-by date relative to apheresis
    positive: str | None = None  # a positive infectious-disease marker
    mismatch_at: Step | None = None  # a hand-off stopped here, then cleared by QA
    cdmo: str = "Northbridge Leiden GMP"  # where the CDMO's custody steps happen


HELIXA = (
    DemoPatient("HLX-EPC-01-001", "1958-04-12", "MVD", Step.INFUSED, 48, 30),
    DemoPatient("HLX-EPC-01-002", "1966-09-30", "AKR", Step.PRODUCT_RECEIVED, 27, 29),
    DemoPatient("HLX-EPC-01-003", "1971-01-17", "JBS", Step.MANUFACTURING_STARTED, 9, 21),
    DemoPatient(
        "HLX-EPC-01-004",
        "1962-06-05",
        "LTH",
        Step.MANUFACTURING_STARTED,
        6,
        26,
        "hbv",
        Step.RECEIVED,
    ),
    DemoPatient("HLX-EPC-01-005", "1975-11-23", "PW", Step.SHIPPED, 1, 26),
    DemoPatient("HLX-EPC-01-006", "1969-02-08", "ENO", None, -4, 28),
)
CORVANE = (
    DemoPatient("CRV-CD19-02-101", "1955-07-19", "GDV", Step.INFUSED, 40, 28),
    DemoPatient("CRV-CD19-02-102", "1960-12-02", "HVL", Step.RELEASED, 22, 20),
    DemoPatient("CRV-CD19-02-103", "1979-03-14", "SDB", Step.COLLECTED, 0, 25),
)


def _scope(uow: UnitOfWork, username: str) -> Scope:
    return auth.scope_of(auth.user_by_username(uow.session, username))


def _scans(order: Order, step: Step) -> list[str]:
    product = step in custody.PRODUCT_STEPS
    din = order.product_din if product else order.apheresis_din
    assert din is not None
    scans = [Din.from_code(din).barcode_data(), "&c" + order.coi]
    return scans + (["=<" + order.product_code] if product else [])


def _request(
    step: Step,
    at: dt.datetime,
    zone: str,
    where: str,
    scans: list[str],
    patient: dict[str, str],
    order: Order,
) -> intake.EventRequest:
    return intake.EventRequest(
        step=step.value,
        occurred_at=at,
        time_zone=zone,
        location=where,
        scans=scans,
        patient_identifiers=patient,
        details=DETAILS.get(step, {"batch_number": f"B-{order.number}"}),
    )


def _walk(
    uow: UnitOfWork,
    scopes: dict[str, Scope],
    order: Order,
    p: DemoPatient,
    zone: str,
    site: str,
    settings: Any,
    after: Step | None = None,
) -> None:
    """Record ``order``'s custody up to ``p.reached`` at the demo's times; ``after``: the
    steps up to and including it are already recorded (a walk resumed after release)."""
    at = utcnow().replace(second=0, microsecond=0) - dt.timedelta(days=p.days_ago, hours=6)
    # the wrong label at the stopped hand-off: the bag of the sponsor's previous order (a
    # mix-up at receipt), so the signed clearance names the order it belongs to
    neighbour = uow.session.scalar(
        select(Order.apheresis_din)
        .where(
            Order.organisation_id == order.organisation_id,
            Order.id != order.id,
            Order.apheresis_din.is_not(None),
        )
        .order_by(Order.id.desc())
        .limit(1)
    )
    wrong = (
        Din.from_code(neighbour).barcode_data()
        if neighbour
        else "=" + Din("A9999", at.year % 100, 999999).code + "00"
    )
    skipping = after is not None
    for step in PATH:
        if step is not Step.COLLECTED:
            at += dt.timedelta(hours=GAP_HOURS[step])
        if skipping:
            skipping = step is not after
            continue
        if step is Step.STORED and p.subject.endswith(("003", "102")):
            continue  # fresh material straight into manufacturing
        if step is Step.RELEASED:
            orders.register_product(uow, scopes["operator"], order.id, 2)
        who = "approver" if step is Step.RELEASED else ("site" if step in _SITE else "operator")
        patient = {"subject_id": p.subject, "date_of_birth": p.date_of_birth}
        where = site if step in _SITE else p.cdmo

        if step is p.mismatch_at:
            try:
                custody.record_event(
                    uow,
                    scopes[who],
                    order.id,
                    _request(step, at, zone, where, [wrong], patient, order),
                    commit_on_stop=False,
                )
            except custody.HandoffStopped as stop:
                # cleared by the QA reviewer, a different person from whoever was stopped
                loader, qa = uow.actor, scopes["qa"]
                uow.actor = Actor(qa.username, qa.user_id, qa.organisation_id)
                custody.clear_mismatch(
                    uow,
                    qa,
                    settings,
                    stop.mismatch_id,
                    "shipper label of another consignment scanned; the bag's own label matches",
                    username=qa.username,
                    password=DEMO_PASSWORD,
                )
                uow.actor = loader
            at += dt.timedelta(minutes=20)
        req = _request(step, at, zone, where, _scans(order, step), patient, order)
        custody.record_event(uow, scopes[who], order.id, req)
        if step is p.reached:
            return


_SITE = {
    Step.COLLECTED,
    Step.PACKED,
    Step.SHIPPED,
    Step.PRODUCT_RECEIVED,
    Step.ISSUED,
    Step.THAWED,
    Step.INFUSED,
}


def load_identity_demo(uow: UnitOfWork, ctx: DemoContext) -> None:
    """Facility, patients, orders and custody events of both demo sponsors (one unit of work)."""
    cdmo = ctx.cdmo
    s = uow.session
    orders.register_facility(
        uow, cdmo, DEMO_FIN, "Northbridge Leiden (demo FIN)", "Europe/Amsterdam"
    )
    sponsors = (
        ("helixa.clinical", "HLX-EPC-01", HELIXA, "Europe/Amsterdam", "S1234100", "DL2"),
        ("corvane.clinical", "CRV-CD19-02", CORVANE, "Europe/Brussels", "S5678100", "DL1"),
    )
    for clinical, code, patients, zone, product, dose in sponsors:
        scopes = {
            "site": _scope(uow, clinical),
            "operator": _scope(uow, "operator"),
            "approver": _scope(uow, "qa.approver"),
            "qa": _scope(uow, "qa.reviewer"),
        }
        program = s.scalars(select(Program).where(Program.code == code)).one()
        site = s.scalars(
            select(Site).where(Site.organisation_id == program.organisation_id)
        ).first()
        assert site is not None
        for p in patients:
            add_patient(uow, scopes, program, site, p, zone, product, dose, ctx.settings)


def add_patient(
    uow: UnitOfWork,
    scopes: dict[str, Scope],
    program: Program,
    site: Site,
    p: DemoPatient,
    zone: str,
    product: str,
    dose: str,
    settings: Any,
) -> Order:
    """Enrol one demo patient at the sponsor's treatment ``site``, place the order, assign the
    apheresis DIN and record its custody up to ``p.reached``; ``scopes``: ``site`` (the
    sponsor's clinical user), ``operator``, ``approver``, ``qa``."""
    today = utcnow().date()
    patient = orders.enrol_patient(
        uow,
        scopes["site"],
        program_id=program.id,
        subject_id=p.subject,
        treatment_site_id=site.id,
        date_of_birth=p.date_of_birth,
        initials=p.initials,
    )
    markers = dict.fromkeys(MARKERS, "negative")
    if p.positive:
        markers[p.positive] = "positive"
    apheresis = today - dt.timedelta(days=p.days_ago)
    order = orders.place_order(
        uow,
        scopes["site"],
        intake.OrderRequest(
            patient_id=patient.id,
            product_code=product,
            product_name=program.product,
            dose_level=dose,
            weight_kg="71.4",
            planned_apheresis=apheresis,
            required_by=apheresis + dt.timedelta(days=p.required_in_days),
            starting_material="fresh" if p.subject.endswith(("003", "102")) else "cryopreserved",
            markers=markers,
            time_zone=zone,
        ),
    )
    orders.assign_apheresis_din(uow, scopes["operator"], order.id)
    if p.reached is not None:
        _walk(uow, scopes, order, p, zone, site.name, settings)
    return order


def resume_walk(
    uow: UnitOfWork,
    scopes: dict[str, Scope],
    order: Order,
    p: DemoPatient,
    zone: str,
    site: str,
    settings: Any,
) -> None:
    """Record the rest of ``order``'s custody, from the step after the last one recorded up
    to ``p.reached`` (the manufacturing demo stops at the start of manufacturing; the product
    is released to custody only after QA released its batch)."""
    last = Step(order.current_step) if order.current_step else None
    if last is None or p.reached is None or PATH.index(p.reached) <= PATH.index(last):
        return
    _walk(uow, scopes, order, p, zone, site, settings, after=last)
