"""Demo data: a CDMO with two manufacturing sites, two sponsors, one user per role.

Loaded by ``make demo`` into an empty database; later features add their records here. Loading
goes through the same services as any user, so the audit trail records it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from vein2vein.auth import service as auth
from vein2vein.auth.tables import Organisation
from vein2vein.clinical.demo import load_clinical_demo
from vein2vein.identity.demo import load_identity_demo
from vein2vein.programs import service as programs
from vein2vein.scheduling.demo import load_scheduling_demo
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

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


def load_demo(db: Database) -> bool:
    """Load the demo program into an empty database; return False (and change nothing) otherwise."""
    if not is_empty(db):
        return False
    with db.uow(Actor(name="demo-loader")) as uow:
        cdmo = auth.create_organisation(uow, CDMO, "CDMO")
        auth.add_site(uow, cdmo, "Site A — Leiden", "Leiden", "NL")
        auth.add_site(uow, cdmo, "Site B — Ghent", "Ghent", "BE")
        helixa = auth.create_organisation(uow, SPONSOR_EPCAM, "SPONSOR")
        auth.add_site(
            uow, helixa, "University Hospital Gastro-Oncology", "Utrecht", "NL", purpose="TREATMENT"
        )
        corvane = auth.create_organisation(uow, SPONSOR_OTHER, "SPONSOR")
        auth.add_site(
            uow, corvane, "Regional Haematology Centre", "Antwerp", "BE", purpose="TREATMENT"
        )
        orgs = {CDMO: cdmo, SPONSOR_EPCAM: helixa, SPONSOR_OTHER: corvane}
        epcam = programs.create_program(
            uow,
            helixa,
            code="HLX-EPC-01",
            name="EpCAM CAR-T in advanced gastric cancer",
            product="HLX-101 autologous anti-EpCAM CAR-T cells",
            target="EpCAM",
            indication="Advanced gastric cancer",
            phase="IIT",
            description="Investigator-initiated dose-escalation trial: three dose levels, "
            "GMP batches at two CDMO sites.",
        )
        programs.create_program(
            uow,
            corvane,
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
                db.settings,
                username=u.username,
                full_name=u.full_name,
                organisation=orgs[u.organisation],
                role=u.role,
                password=DEMO_PASSWORD,
            )
        load_identity_demo(uow, cdmo)
        load_clinical_demo(uow, epcam)
        load_scheduling_demo(uow, cdmo)
        uow.commit()
    return True
