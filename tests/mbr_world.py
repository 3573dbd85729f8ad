"""A CDMO with two sites, a sponsor's EpCAM program and the people who sign master batch records,
made through the real services (shared by the MBR tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests import factories
from tests.factories import PASSWORD
from vein2vein.auth import service
from vein2vein.auth.scope import Scope
from vein2vein.auth.tables import User
from vein2vein.manufacturing import mbrs
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

MBR_DIR = Path(mbrs.__file__).resolve().parent / "mbr"
V1 = MBR_DIR / "epcam_v1.yaml"
V2 = MBR_DIR / "epcam_v2.yaml"


@dataclass
class MbrWorld:
    author: Scope
    reviewer: Scope
    approver: Scope
    approver2: Scope
    sponsor: Scope
    other_sponsor: Scope
    program_id: int


def scope_of(db: Database, user: User) -> Scope:
    with db.read() as session:
        return service.scope_of(session.get_one(User, user.id))


def actor(scope: Scope) -> Actor:
    return Actor(scope.username, scope.user_id, scope.organisation_id)


def make_world(db: Database) -> MbrWorld:
    cdmo = factories.org(db, "CDMO", "Northbridge")
    helixa = factories.org(db, "SPONSOR", "Helixa")
    corvane = factories.org(db, "SPONSOR", "Corvane")
    with db.uow(Actor("t")) as uow:
        service.add_site(uow, factories.SERVER, cdmo.id, "Site B — Ghent", "Ghent", "BE")
        service.add_site(uow, factories.SERVER, cdmo.id, "Site A — Leiden", "Leiden", "NL")
        uow.commit()
    program = factories.program(db, helixa, "HLX-EPC-01")
    return MbrWorld(
        author=scope_of(db, factories.user(db, cdmo, "operator", username="author")),
        reviewer=scope_of(db, factories.user(db, cdmo, "qa_reviewer", username="reviewer")),
        approver=scope_of(db, factories.user(db, cdmo, "qa_approver", username="approver")),
        approver2=scope_of(db, factories.user(db, cdmo, "qa_approver", username="approver2")),
        sponsor=scope_of(db, factories.user(db, helixa, "sponsor_viewer", username="hx.viewer")),
        other_sponsor=scope_of(
            db, factories.user(db, corvane, "sponsor_clinical", username="cv.clinical")
        ),
        program_id=program.id,
    )


def import_file(db: Database, scope: Scope, path: Path, text: str | None = None) -> int:
    with db.uow(actor(scope)) as uow:
        row = mbrs.import_yaml(uow, scope, text or path.read_text(encoding="utf-8"), path.name)
        uow.commit()
        return row.id


def sign(db: Database, scope: Scope, mbr_id: int, meaning: str) -> None:
    with db.uow(actor(scope)) as uow:
        mbrs.sign_mbr(
            uow,
            scope,
            db.settings,
            mbr_id,
            meaning,
            username=scope.username,
            password=PASSWORD,
        )
        uow.commit()


def make_effective(db: Database, world: MbrWorld, mbr_id: int) -> None:
    sign(db, world.author, mbr_id, "authored")
    sign(db, world.reviewer, mbr_id, "reviewed")
    sign(db, world.approver, mbr_id, "approved")
