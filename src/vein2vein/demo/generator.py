"""Demo data: a CDMO with two manufacturing sites, two sponsors, one user per role.

Loaded by ``make demo`` into an empty database; later features add their records here. Loading
goes through the same services as any user, so the audit trail records it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from vein2vein.auth import service as auth
from vein2vein.auth.passwords import remembering_verifications
from vein2vein.auth.scope import administration_scope
from vein2vein.auth.tables import Organisation
from vein2vein.demo.context import DemoContext
from vein2vein.programs import service as programs
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor, UnitOfWork

#: a feature's demo loader: ``loader(uow, ctx)`` inside the demo's one unit of work
DemoLoader = Callable[[UnitOfWork, DemoContext], Any]

CDMO = "Northbridge Cell Therapy CDMO"
SPONSOR_EPCAM = "Helixa Therapeutics"
SPONSOR_OTHER = "Corvane Bio"

#: Documented demo log-ins (README): demo only, never for a real installation.
DEMO_PASSWORD = "Vein2Vein-demo!"


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    organisation: str
    role: str


DEMO_USERS = (
    DemoUser("admin", "Alex Morgan", CDMO, "admin"),
    DemoUser("operator", "Priya Natarajan", CDMO, "operator"),
    DemoUser("qc", "Tomasz Wójcik", CDMO, "qc_analyst"),
    DemoUser("qa.reviewer", "Grace Okafor", CDMO, "qa_reviewer"),
    DemoUser("qa.approver", "Henrik Lindqvist", CDMO, "qa_approver"),
    DemoUser("helixa.viewer", "Mei Chen", SPONSOR_EPCAM, "sponsor_viewer"),
    DemoUser("helixa.clinical", "Dr. Samuel Reyes", SPONSOR_EPCAM, "sponsor_clinical"),
    DemoUser("corvane.clinical", "Dr. Laura Bianchi", SPONSOR_OTHER, "sponsor_clinical"),
)


def is_empty(db: Database) -> bool:
    with db.read() as session:
        return not session.scalar(select(func.count()).select_from(Organisation))


def load_demo(db: Database, loaders: Sequence[DemoLoader] | None = None) -> bool:
    """Load the demo program into an empty database; return False (and change nothing) otherwise.

    The foundation (organisations, sites, programs, users) first, then each feature's loader
    as the composition root lists them (``loaders`` replaces that list in tests).
    """
    if loaders is None:
        from vein2vein.features import demo_loaders

        loaders = demo_loaders()
    if not is_empty(db):
        return False
    with db.uow(Actor(name="demo-loader")) as uow:
        loader = administration_scope("demo-loader")
        cdmo = auth.create_organisation(uow, loader, CDMO, "CDMO")
        auth.add_site(uow, loader, cdmo.id, "Site A — Leiden", "Leiden", "NL")
        auth.add_site(uow, loader, cdmo.id, "Site B — Ghent", "Ghent", "BE")
        helixa = auth.create_organisation(uow, loader, SPONSOR_EPCAM, "SPONSOR")
        auth.add_site(
            uow,
            loader,
            helixa.id,
            "University Hospital Gastro-Oncology",
            "Utrecht",
            "NL",
            purpose="TREATMENT",
        )
        corvane = auth.create_organisation(uow, loader, SPONSOR_OTHER, "SPONSOR")
        auth.add_site(
            uow,
            loader,
            corvane.id,
            "Regional Haematology Centre",
            "Antwerp",
            "BE",
            purpose="TREATMENT",
        )
        orgs = {CDMO: cdmo, SPONSOR_EPCAM: helixa, SPONSOR_OTHER: corvane}
        ctx = DemoContext(settings=db.settings, organisations=orgs, cdmo_name=CDMO)
        ctx.programs["HLX-EPC-01"] = programs.create_program(
            uow,
            loader,
            helixa.id,
            code="HLX-EPC-01",
            name="EpCAM CAR-T in advanced gastric cancer",
            product="HLX-101 autologous anti-EpCAM CAR-T cells",
            target="EpCAM",
            indication="Advanced gastric cancer",
            phase="IIT",
            description="Investigator-initiated dose-escalation trial: three dose levels, "
            "GMP batches at two CDMO sites.",
        )
        ctx.programs["CRV-CD19-02"] = programs.create_program(
            uow,
            loader,
            corvane.id,
            code="CRV-CD19-02",
            name="CD19 CAR-T in relapsed B-cell lymphoma",
            product="CRV-19 autologous anti-CD19 CAR-T cells",
            target="CD19",
            indication="Relapsed/refractory DLBCL",
            phase="Phase 1",
        )
        for u in DEMO_USERS:
            auth.create_user(
                uow,
                loader,
                db.settings,
                username=u.username,
                full_name=u.full_name,
                organisation=orgs[u.organisation].id,
                role=u.role,
                password=DEMO_PASSWORD,
            )
        # the demo users sign a few hundred records: each password is put through Argon2
        # once, then remembered until the load ends (auth/passwords.py)
        with remembering_verifications():
            for loader in loaders:
                loader(uow, ctx)
        uow.commit()
    return True
