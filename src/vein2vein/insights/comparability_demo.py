"""Demo comparability protocol of the EpCAM transfer (``protocols/epcam_transfer.yaml``):
written by the QA reviewer (Grace Okafor) ten days before the first Leiden batch was made,
signed by her as authored, approved by the QA approver (Henrik Lindqvist) the next day, and
run once on the approved results at the time of the load (the Ghent MBR v1 batches against
the Leiden MBR v1 batches, process v2; docs/comparability.md, "Demo")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from vein2vein.auth import service as auth
from vein2vein.auth.tables import Site
from vein2vein.core.clock import as_utc, clock_from
from vein2vein.demo.context import DemoContext
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.insights import comparability_service as service
from vein2vein.manufacturing.tables import Batch
from vein2vein.store.uow import Actor, UnitOfWork

TEST_SITE = "Site A — Leiden"
PROTOCOL_FILE = Path(__file__).parent / "protocols" / "epcam_transfer.yaml"


def load_comparability_demo(uow: UnitOfWork, ctx: DemoContext) -> None:
    s = uow.session
    leiden = s.scalars(select(Site.id).where(Site.name == TEST_SITE)).first()
    test_batches = list(
        s.scalars(select(Batch).where(Batch.gmp.is_(True), Batch.site_id == leiden))
    )
    if not test_batches:
        return
    loader = uow.actor
    people = {
        name: auth.scope_of(auth.user_by_username(s, name))
        for name in ("qa.reviewer", "qa.approver")
    }

    def act(who: str, when: dt.datetime | None, fn, *a, signed: bool = False):  # type: ignore[no-untyped-def]
        scope = people[who]
        uow.actor = Actor(scope.username, scope.user_id, scope.organisation_id)
        kw = {"username": scope.username, "password": DEMO_PASSWORD} if signed else {}
        extra = (ctx.settings,) if signed else ()
        if when is None:
            return fn(uow, scope, *extra, *a, **kw)
        with clock_from(lambda: when):
            return fn(uow, scope, *extra, *a, **kw)

    written = min(as_utc(b.created_at) for b in test_batches) - dt.timedelta(days=10)
    text = PROTOCOL_FILE.read_text(encoding="utf-8")
    row = act("qa.reviewer", written, service.create, text, PROTOCOL_FILE.name)
    act("qa.reviewer", written + dt.timedelta(hours=2), service.sign_authored, row.id, signed=True)
    act("qa.approver", written + dt.timedelta(days=1), service.approve, row.id, signed=True)
    act("qa.reviewer", None, service.run, row.id)
    uow.actor = loader
