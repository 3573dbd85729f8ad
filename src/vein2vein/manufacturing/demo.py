"""Demo master batch records: the EpCAM product's process as version 1 at Ghent and version 2 at
Leiden after the transfer (``mbr/epcam_v1.yaml``, ``mbr/epcam_v2.yaml``), each imported by the
demo's operator and signed by three demo users (author, QA reviewer, QA approver) through the
real services, so both are effective and audited; at the times they happened (``FILES``), before
the batches made from them (``batch_demo.py``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from vein2vein.auth import service as auth
from vein2vein.auth.scope import Scope
from vein2vein.core.clock import clock_from, utcnow
from vein2vein.demo.context import DemoContext
from vein2vein.manufacturing import mbrs
from vein2vein.store.uow import UnitOfWork

MBR_DIR = Path(__file__).resolve().parent / "mbr"
#: each file with the days before the load it was imported: Ghent's version 1 long before the
#: demo's first batch, Leiden's version 2 at the transfer, before Leiden's first batch; the
#: signatures follow a day apart
FILES = (("epcam_v1.yaml", 200), ("epcam_v2.yaml", 75))
#: who authors, reviews and approves the demo MBRs (demo users of demo/generator.py)
SIGNERS = (("operator", "authored"), ("qa.reviewer", "reviewed"), ("qa.approver", "approved"))


def _scope(uow: UnitOfWork, username: str) -> Scope:
    return auth.scope_of(auth.user_by_username(uow.session, username))


def load_mbr_demo(uow: UnitOfWork, ctx: DemoContext) -> None:
    from vein2vein.demo.generator import DEMO_PASSWORD

    author = _scope(uow, "operator")
    now = utcnow().replace(second=0, microsecond=0)
    for name, days_ago in FILES:
        day = now - dt.timedelta(days=days_ago)
        text = (MBR_DIR / name).read_text(encoding="utf-8")
        with clock_from(lambda day=day: day):  # type: ignore[misc]
            row = mbrs.import_yaml(uow, author, text, name)
        for n, (username, meaning) in enumerate(SIGNERS, start=1):
            with clock_from(lambda n=n, day=day: day + dt.timedelta(days=n)):  # type: ignore[misc]
                mbrs.sign_mbr(
                    uow,
                    _scope(uow, username),
                    ctx.settings,
                    row.id,
                    meaning,
                    username=username,
                    password=DEMO_PASSWORD,
                )


def load_manufacturing_demo(uow: UnitOfWork, ctx: DemoContext) -> None:
    """The feature's demo: the EpCAM master batch records, material lots and deviations, then
    executed batches at both sites."""
    from vein2vein.manufacturing.batch_demo import load_batch_demo
    from vein2vein.manufacturing.materials_demo import load_materials_demo

    load_mbr_demo(uow, ctx)
    load_materials_demo(uow, ctx)
    load_batch_demo(uow, ctx)
