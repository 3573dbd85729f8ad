"""Demo CPV baselines, frozen after the QC release demo through the real service: the QA
approver (Henrik Lindqvist) freezes the viability and CAR+ limits of the EpCAM product at
Ghent from the Ghent history (the batches released before the transfer to Leiden), a day after
the last of them was released. Later Ghent batches (HLX-EPC-01-011 once QA releases it) are
then judged against these frozen limits; Leiden has no baseline yet (provisional limits)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from vein2vein.auth import service as auth
from vein2vein.auth.tables import Site
from vein2vein.core.clock import as_utc, clock_from, utcnow
from vein2vein.demo.context import DemoContext
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.insights import cpv_baselines, cpv_data
from vein2vein.manufacturing.batch_demo import GHENT, PROGRAM
from vein2vein.quality.tables import QcRelease
from vein2vein.store.uow import Actor, UnitOfWork

ATTRIBUTES = ("viability", "car_positive")
FREEZER = "qa.approver"


def load_cpv_demo(uow: UnitOfWork, ctx: DemoContext) -> None:
    program = ctx.programs.get(PROGRAM)
    site = uow.session.scalars(select(Site).where(Site.name == GHENT)).first()
    if program is None or site is None:
        return
    scope = auth.scope_of(auth.user_by_username(uow.session, FREEZER))
    loader = uow.actor
    for test in ATTRIBUTES:
        key = cpv_data.SeriesKey(program.id, site.id, test)
        points, _ = cpv_data.approved_points(uow.session, scope, key)
        if len(points) < 3:
            continue
        released = uow.session.scalars(
            select(QcRelease.decided_at).where(QcRelease.batch_id.in_([p.batch_id for p in points]))
        ).all()
        when = min(max(as_utc(t) for t in released) + dt.timedelta(days=1), utcnow())
        uow.actor = Actor(scope.username, scope.user_id, scope.organisation_id)
        with clock_from(lambda when=when: when):
            cpv_baselines.freeze_baseline(
                uow, scope, ctx.settings, program_id=program.id, site_id=site.id, test=test,
                start=points[0].made_at.date(), end=points[-1].made_at.date(),
                reason=(
                    "Ghent history before the transfer to Leiden: every batch released under "
                    "specification v1, the OOS of HLX-EPC-01-0010 invalidated (laboratory "
                    "error); limits to be re-frozen at 20 batches"
                ),
                current=None, username=scope.username, password=DEMO_PASSWORD,
            )  # fmt: skip
    uow.actor = loader
