"""A world for scheduling tests, made through the real services: the chain-of-identity world
(CDMO with facility A9999, sponsors A and B) plus two manufacturing sites with suites, product
settings for the test product ``S1234`` and the QC laboratory's limits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.integration.identity import world as W

from vein2vein.auth import service as auth
from vein2vein.auth.tables import Organisation
from vein2vein.identity.domain import Step
from vein2vein.scheduling import planning, settings
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

World = W.World


def build(db: Database, suites: tuple[int, int] = (3, 2)) -> W.World:
    """``suites``: (ordinary, infectious-capable) suites at site A; one more ordinary at site B."""
    w = W.build(db)
    planner = w.scopes["admin"]
    with db.uow(w.actor("admin")) as uow:
        cdmo = uow.session.get_one(Organisation, w.ids["cdmo"])
        site_a = auth.add_site(uow, planner, cdmo.id, "Site A", "Leiden", "NL")
        site_b = auth.add_site(uow, planner, cdmo.id, "Site B", "Ghent", "BE")
        uow.commit()
    w.ids.update(mfg_a=site_a.id, mfg_b=site_b.id)
    since = dt.date.today() - dt.timedelta(days=400)
    with db.uow(w.actor("admin")) as uow:
        ordinary, infectious = suites
        for n in range(ordinary):
            s = settings.add_suite(
                uow,
                planner,
                site_id=site_a.id,
                code=f"LEI-{n + 1:02d}",
                changeover_days=1,
                decon_days=0,
                available_from=since,
            )
            w.ids[f"suite_{n + 1}"] = s.id
        for n in range(infectious):
            s = settings.add_suite(
                uow,
                planner,
                site_id=site_a.id,
                code=f"LEI-X{n + 1}",
                infectious=True,
                changeover_days=1,
                decon_days=3,
                available_from=since,
            )
            w.ids[f"suite_x{n + 1}"] = s.id
        s = settings.add_suite(
            uow,
            planner,
            site_id=site_b.id,
            code="GHE-01",
            changeover_days=2,
            decon_days=0,
            available_from=since,
        )
        w.ids["suite_ghent"] = s.id
        settings.set_product(
            uow,
            planner,
            product_code="S1234100",
            name="HLX-101",
            process_days=10,
            start_weekdays="Mon-Sun",
            qc_method="rapid",
            qc_days_rapid=3,
            qc_days_compendial=14,
            fresh_hold_days=3,
            cryo_hold_days=180,
            inbound_days=1,
            ship_days=2,
        )
        settings.set_lab(uow, planner, qc_capacity=4, max_starts_per_day=3, risk_margin_days=2)
        uow.commit()
    return w


def place(
    w: W.World,
    sponsor: str = "a",
    *,
    subject: str,
    apheresis_in_days: int = 2,
    required_in_days: int = 30,
    material: str = "cryopreserved",
    positive: str | None = None,
) -> int:
    """Enrol a patient and place an order (apheresis in ``apheresis_in_days`` days)."""
    who = f"{sponsor}.clinical"
    pid = W.enrol(w, who, subject, sponsor)
    today = dt.date.today()
    markers = dict(W.MARKERS_NEG)
    if positive:
        markers[positive] = "positive"
    return W.order(
        w,
        pid,
        who,
        planned_apheresis=today + dt.timedelta(days=apheresis_in_days),
        required_by=today + dt.timedelta(days=apheresis_in_days + required_in_days),
        starting_material=material,
        markers=markers,
    )


def start_manufacturing(
    w: W.World, order_id: int, subject: str, sponsor: str = "a", days_ago: int = 3
) -> None:
    """Walk an order through collection, shipment and receipt to the start of manufacturing
    (started ``days_ago`` days ago)."""
    W.assign_din(w, order_id)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    if days_ago >= 1:  # at noon UTC: the same calendar day in the sites' zones (Europe)
        start = start.replace(hour=12, minute=0, second=0, microsecond=0)
    at = start - dt.timedelta(hours=80)
    patient = {"subject_id": subject, "date_of_birth": W.DOB}
    for step in W.MAIN:
        who = f"{sponsor}.clinical" if step in W.SITE else None
        W.record(
            w, order_id, step, at, who=who, patient=patient if step is Step.COLLECTED else None
        )
        at += dt.timedelta(hours=20)
        if step is Step.MANUFACTURING_STARTED:
            break


def draft(w: W.World, who: str = "admin", **options: Any) -> int:
    with w.db.uow(w.actor(who)) as uow:
        d = planning.compute_draft(uow, w.scopes[who], **options)
        uow.commit()
        return d.id


def publish(w: W.World, draft_id: int, who: str = "admin", comment: str = "") -> int:
    with w.db.uow(w.actor(who)) as uow:
        p = planning.publish(uow, w.scopes[who], draft_id, comment)
        uow.commit()
        return p.id


def assert_published_plans_valid(db: Database) -> int:
    """Re-validate every published plan against the problem it was published on; return how
    many there are."""
    from sqlalchemy import select

    from vein2vein.scheduling.planner import plan_from_json
    from vein2vein.scheduling.snapshot import problem_from_json
    from vein2vein.scheduling.tables import PublishedPlan
    from vein2vein.scheduling.validator import validate_plan

    with db.read() as session:
        plans = session.scalars(select(PublishedPlan)).all()
        for p in plans:
            report = validate_plan(problem_from_json(p.problem), plan_from_json(p.plan))
            assert report.ok, report.summary()
            assert p.validation["ok"] is True
        return len(plans)


def audit_actions(db: Database) -> list[dict[str, Any]]:
    from vein2vein.store import audit

    with db.read() as session:
        return [e.to_dict() for e in audit.query(session) if e.action.startswith("schedule.")]


def cdmo_actor() -> Actor:
    return Actor("t")
