"""Demo product ↔ outcome: every subject of the EpCAM IIT (``HLX-EPC-01-IIT``,
``clinical/demo_data.py``) linked to an order of the same program and sponsor, each with its
batch, by the sponsor's clinical user (Dr. Samuel Reyes) through the real service.

The demo had five infused EpCAM orders (HLX-EPC-01-0001, -0007 … -0010), all at dose level
DL2 (2 × 10^6 /kg of the IIT specification), and one released and at the treatment site
(-0002). Four orders are added here at the dose levels of their subjects' cohorts (DL1 =
1 × 10^6 /kg: middle dose; DL3 = 3 × 10^6 /kg: high dose), made at Leiden (MBR v2) through the
same services and the same story as the manufacturing and QC release demos (approved batch,
released with every result in, custody walked to the infusion):

=============  =========  =======================  ==========================================
subject        cohort     order                    note
=============  =========  =======================  ==========================================
IIT-G01 … G03  low        -0007, -0008, -0009      DL2 orders: the page shows the dose warning
IIT-G04, G05   middle     -0014, -0015 (new, DL1)
IIT-G06, G07   middle     -0010, -0001             DL2: dose warning
IIT-G08        middle     -0002                    not infused yet in custody: warning
IIT-G09, G10   high       -0016, -0017 (new, DL3)
=============  =========  =======================  ==========================================

The dataset's dates (2022-2023, fixed) and the chain of identity's (relative to the load) do
not agree; the link compares no dates (``outcome_rules``). Each link is asked for with the
order's CoI identifier and the patient's year of birth, as a site would from its records.
"""

from __future__ import annotations

import random
from dataclasses import replace

from sqlalchemy import select

from vein2vein.auth import service as auth
from vein2vein.auth.tables import Site
from vein2vein.clinical.tables import Study
from vein2vein.demo.context import DemoContext
from vein2vein.identity import demo as identity_demo
from vein2vein.identity.domain import Step
from vein2vein.identity.tables import Order, Patient
from vein2vein.insights.outcome_links import link_subject
from vein2vein.manufacturing import batch_demo as mfg
from vein2vein.manufacturing import batches
from vein2vein.manufacturing.tables import Batch
from vein2vein.store.uow import Actor, UnitOfWork

STUDY = "HLX-EPC-01-IIT"
#: new orders: the patient, the dose level, its CAR+ viable T cells per kg, the Leiden suite
NEW = (
    (identity_demo.DemoPatient("HLX-EPC-01-014", "1963-02-11", "NKR", Step.INFUSED, 70, 30),
     "DL1", 1e6, "LEI-01"),
    (identity_demo.DemoPatient("HLX-EPC-01-015", "1959-09-03", "ABV", Step.INFUSED, 64, 30),
     "DL1", 1e6, "LEI-02"),
    (identity_demo.DemoPatient("HLX-EPC-01-016", "1967-05-27", "CMS", Step.INFUSED, 58, 30),
     "DL3", 3e6, "LEI-03"),
    (identity_demo.DemoPatient("HLX-EPC-01-017", "1972-12-30", "EVW", Step.INFUSED, 52, 30),
     "DL3", 3e6, "LEI-02"),
)  # fmt: skip
#: subject → the patient (subject id in the chain of identity) whose order it received
LINKS = (
    ("IIT-G01", "HLX-EPC-01-007"),
    ("IIT-G02", "HLX-EPC-01-008"),
    ("IIT-G03", "HLX-EPC-01-009"),
    ("IIT-G04", "HLX-EPC-01-014"),
    ("IIT-G05", "HLX-EPC-01-015"),
    ("IIT-G06", "HLX-EPC-01-010"),
    ("IIT-G07", "HLX-EPC-01-001"),
    ("IIT-G08", "HLX-EPC-01-002"),
    ("IIT-G09", "HLX-EPC-01-016"),
    ("IIT-G10", "HLX-EPC-01-017"),
)


def _new_infused_orders(uow: UnitOfWork, ctx: DemoContext) -> None:
    from vein2vein.quality import demo as quality_demo

    people = {
        name: auth.scope_of(auth.user_by_username(uow.session, name))
        for name in ("operator", "qa.reviewer", "qa.approver", "helixa.clinical")
    }
    scopes = {
        "site": people["helixa.clinical"],
        "operator": people["operator"],
        "approver": people["qa.approver"],
        "qa": people["qa.reviewer"],
    }
    program = ctx.programs[mfg.PROGRAM]
    site = uow.session.scalars(
        select(Site).where(Site.organisation_id == program.organisation_id)
    ).first()
    assert site is not None
    rng = random.Random(20261208)
    at = quality_demo._At(uow, ctx)
    qc_rng = random.Random(20261209)
    for patient, level, per_kg, suite in NEW:
        order = identity_demo.add_patient(
            uow,
            scopes,
            program,
            site,
            replace(patient, reached=Step.MANUFACTURING_STARTED),
            mfg.ZONE,
            "S1234100",
            level,
            ctx.settings,
        )
        run = mfg._Run(uow, ctx, people, mfg._manufacturing_started(uow, order))
        run.batch = run.act(
            "operator",
            batches.create_batch,
            order_id=order.id,
            site=mfg.LEIDEN,
            suite=suite,
            dose_per_kg=per_kg,
            minutes=0,
        )
        run.through("FREEZE", mfg._values(rng, 2))
        run.approve(mfg.STEP_HOURS["FREEZE"] + 20)
        batch = uow.session.get(Batch, run.id)
        assert batch is not None
        quality_demo._test_and_release(at, batch, qc_rng)
        identity_demo.resume_walk(uow, scopes, order, patient, mfg.ZONE, site.name, ctx.settings)


def load_outcome_demo(uow: UnitOfWork, ctx: DemoContext) -> None:
    loader = uow.actor
    s = uow.session
    study = s.scalars(select(Study).where(Study.code == STUDY)).first()
    if study is None:
        return
    _new_infused_orders(uow, ctx)
    clinical = auth.scope_of(auth.user_by_username(s, "helixa.clinical"))
    uow.actor = Actor(clinical.username, clinical.user_id, clinical.organisation_id)
    for subject, patient in LINKS:
        order = s.scalars(select(Order).join(Patient).where(Patient.subject_id == patient)).one()
        dob = order.patient.date_of_birth
        link_subject(
            uow,
            clinical,
            study.id,
            subject,
            order.coi,
            year_of_birth=dob.year if dob else None,
            reason="subject's infusion record: CoI label of the bag infused",
        )
    uow.actor = loader
