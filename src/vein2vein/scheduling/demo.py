"""Demo capacity plan: 6 + 6 GMP suites at the CDMO's two manufacturing sites (one of each
infectious-capable), settings for both demo products, a maintenance window, the QC laboratory's
limits, Leiden as the site receiving the demo facility's material with one day's shipping to
Ghent and back, and version 1 of the plan over the demo orders, published by QA. Loaded through
the real services (so it is audited) in the demo loader's single unit of work."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from vein2vein.auth import service as auth
from vein2vein.auth.tables import Site
from vein2vein.core.clock import utcnow
from vein2vein.demo.context import DemoContext
from vein2vein.identity.tables import Facility
from vein2vein.scheduling import planning, settings
from vein2vein.scheduling.tables import Suite
from vein2vein.store.uow import UnitOfWork

#: (site name prefix, suite code prefix) of the demo CDMO's manufacturing sites.
SITES = (("Site A", "LEI"), ("Site B", "GHE"))
#: days to ship starting material between Leiden and Ghent (about 200 km by road: a
#: temperature-controlled courier collects one day and hands over at the other site the next)
TRANSFER_DAYS = 1
PRODUCTS = (
    # code, name, process days, start days, QC method, rapid, compendial, fresh, cryo, in, ship
    ("S1234", "HLX-101 anti-EpCAM CAR-T", 10, "Mon-Fri", "rapid", 3, 14, 2, 365, 1, 2),
    ("S5678", "CRV-19 anti-CD19 CAR-T", 9, "Mon-Thu", "compendial", 4, 14, 2, 365, 1, 1),
)


def load_scheduling_demo(uow: UnitOfWork, ctx: DemoContext) -> None:
    """Suites at both CDMO sites, downtime, product settings and a published plan."""
    cdmo = ctx.cdmo
    s = uow.session
    qa = auth.scope_of(auth.user_by_username(s, "qa.approver"))
    since = utcnow().date() - dt.timedelta(days=365)
    for prefix, code in SITES:
        site = s.scalars(
            select(Site).where(Site.organisation_id == cdmo.id, Site.name.startswith(prefix))
        ).one()
        for n in range(1, 7):
            infectious = n == 6
            settings.add_suite(
                uow,
                qa,
                site_id=site.id,
                code=f"{code}-{n:02d}",
                name=f"{site.city} suite {n}" + (" (segregated)" if infectious else ""),
                infectious=infectious,
                changeover_days=1,
                decon_days=3 if infectious else 0,
                available_from=since,
            )
    for code, name, days, weekdays, qc, rapid, comp, fresh, cryo, inbound, ship in PRODUCTS:
        settings.set_product(
            uow,
            qa,
            product_code=code,
            name=name,
            process_days=days,
            start_weekdays=weekdays,
            qc_method=qc,
            qc_days_rapid=rapid,
            qc_days_compendial=comp,
            fresh_hold_days=fresh,
            cryo_hold_days=cryo,
            inbound_days=inbound,
            ship_days=ship,
        )
    settings.set_lab(uow, qa, qc_capacity=4, max_starts_per_day=3, risk_margin_days=2)
    leiden, ghent_site = (
        s.scalars(
            select(Site).where(Site.organisation_id == cdmo.id, Site.name.startswith(prefix))
        ).one()
        for prefix, _ in SITES
    )
    for facility in s.scalars(select(Facility).where(Facility.organisation_id == cdmo.id)):
        # the demo facility (FIN) receives apheresis material at Leiden
        settings.set_receiving_site(uow, qa, facility_id=facility.id, site_id=leiden.id)
    for origin, to in ((leiden, ghent_site), (ghent_site, leiden)):
        settings.set_transfer(uow, qa, from_site_id=origin.id, to_site_id=to.id, days=TRANSFER_DAYS)
    ghent = s.scalar(select(Suite).where(Suite.code == "GHE-03"))
    assert ghent is not None
    start = utcnow().date() + dt.timedelta(days=7)
    settings.add_downtime(
        uow,
        qa,
        ghent.id,
        first_day=start,
        last_day=start + dt.timedelta(days=4),
        reason="annual HVAC requalification",
    )
    draft = planning.compute_draft(uow, qa, method="greedy", mode="plan")
    planning.publish(uow, qa, draft.id, "Demo: first plan over the orders in flight")
