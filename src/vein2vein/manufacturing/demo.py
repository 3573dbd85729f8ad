"""Demo master batch records: the EpCAM product's process as version 1 at Ghent and version 2 at
Leiden after the transfer (``mbr/epcam_v1.yaml``, ``mbr/epcam_v2.yaml``), each imported by the
demo's operator and signed by three demo users (author, QA reviewer, QA approver) through the
real services, so both are effective and audited."""

from __future__ import annotations

from pathlib import Path

from vein2vein.auth import service as auth
from vein2vein.auth.scope import Scope
from vein2vein.demo.context import DemoContext
from vein2vein.manufacturing import mbrs
from vein2vein.store.uow import UnitOfWork

MBR_DIR = Path(__file__).resolve().parent / "mbr"
FILES = ("epcam_v1.yaml", "epcam_v2.yaml")
#: who authors, reviews and approves the demo MBRs (demo users of demo/generator.py)
SIGNERS = (("operator", "authored"), ("qa.reviewer", "reviewed"), ("qa.approver", "approved"))


def _scope(uow: UnitOfWork, username: str) -> Scope:
    return auth.scope_of(auth.user_by_username(uow.session, username))


def load_mbr_demo(uow: UnitOfWork, ctx: DemoContext) -> None:
    from vein2vein.demo.generator import DEMO_PASSWORD

    author = _scope(uow, "operator")
    for name in FILES:
        row = mbrs.import_yaml(uow, author, (MBR_DIR / name).read_text(encoding="utf-8"), name)
        for username, meaning in SIGNERS:
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
    """The feature's demo: the EpCAM master batch records, then material lots and deviations."""
    from vein2vein.manufacturing.materials_demo import load_materials_demo

    load_mbr_demo(uow, ctx)
    load_materials_demo(uow, ctx)
