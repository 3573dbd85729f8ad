"""Demo executed batch records of the EpCAM product at both CDMO sites, made through the real
services (``batches.py``, ``deviations.py``) in the demo's one unit of work, so every entry,
verification, signature and decision is audited as if typed.

=========================== ========== ===== ============================================
batches                     site       MBR   status
=========================== ========== ===== ============================================
five history batches        Ghent      v1    APPROVED (the earlier batches that out-of-trend
(HLX-EPC-01-007 … 011)                       and the kinetics envelope compare against);
                                             011 awaits QA's release (quality/demo.py)
HLX-EPC-01-012              Ghent      v1    IN_REVIEW: two values outside their PAR opened
                                             deviations; QA classified both, closed one; the
                                             open one keeps the record from approval
HLX-EPC-01-001, -002        Leiden     v2    APPROVED (the first batches after the transfer)
HLX-EPC-01-003              Leiden     v2    IN_PROGRESS: RECEIPT to TRANSDUCE signed off,
                                             EXPAND open with the day-5 count entered
HLX-EPC-01-013              Leiden     v2    FAILED at TRANSDUCE (positive in-process
                                             sterility), the failure signed
=========================== ========== ===== ============================================

People: the operator (Priya Natarajan) enters, scans, signs steps off and submits; the QA
reviewer (Grace Okafor) verifies as the second person and classifies and closes deviations;
the QA approver (Henrik Lindqvist) decides the holds and approves. Three different people, as
the rules demand.

Times: each batch starts when its order's custody records the start of manufacturing (the
identity demo's ``GAP_HOURS``; the Ghent orders are added here the same way, with custody at
Ghent up to the start of manufacturing, resumed by the QC release demo once QA released the
batch, ``resume_custody``) and its steps follow the MBR's process days (``STEP_HOURS``);
approval comes before QA's release, and that before the order's release to custody. The
services read the one clock (``core.clock``), which stands at each action's time while it runs.
The lots were received 150 days before the load (``materials_demo.py``), the MBR versions
approved before their first batch (``demo.py``).

Numbers (``_values``): within the MBR's normal operating ranges, of the order public
descriptions of approved lentiviral CAR-T processes give (the sources are cited in
``mbr/epcam_v1.yaml``): 2.6-4.2 × 10^9 nucleated cells at receipt at 92-98 % viability,
about 10^8 T cells seeded with CD3/CD28 beads at 3:1, transduced on day 1 at MOI 3 (2.5 at
Leiden), 5.5-9.5 × 10^8 viable cells on day 5 and 2.5-4.9 × 10^9 at harvest on day 9 (fold
expansion 25-50) at 85-94 % viability, 35-60 % CAR+, one bag of about 68 mL frozen at
-1 °C/min. Drawn from a seeded generator, so every load gives the same values (those drawn are
listed in docs/manufacturing.md, "Demo")."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from vein2vein.auth import service as auth
from vein2vein.auth.scope import Scope
from vein2vein.auth.tables import Site
from vein2vein.core.clock import as_utc, clock_from
from vein2vein.demo.context import DemoContext
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.identity import demo as identity_demo
from vein2vein.identity.domain import Step
from vein2vein.identity.tables import CustodyEventRow, Order, Patient
from vein2vein.manufacturing import batches, deviations, execution, mbrs
from vein2vein.manufacturing.tables import Batch
from vein2vein.store.uow import Actor, UnitOfWork

GHENT, LEIDEN = "Site B — Ghent", "Site A — Leiden"
PROGRAM = "HLX-EPC-01"
#: the sponsor's dose level DL2: CAR+ viable T cells per kg (the cells-for-dose calculation)
DOSE_PER_KG = 2e6
#: hours after the start of manufacturing at which each step starts (the MBR's process days:
#: day 0 receipt, enrichment and activation; transduction a day after activation; the day-5
#: count; harvest, formulation and freezing on day 9)
STEP_HOURS = {
    "RECEIPT": 0,
    "SELECT": 3,
    "ACTIVATE": 6,
    "TRANSDUCE": 30,
    "EXPAND": 126,
    "HARVEST": 222,
    "FORMULATE": 226,
    "FREEZE": 228,
}
STEPS = tuple(STEP_HOURS)
#: the lot scanned for each purchased material (released lots of ``materials_demo.py``)
LOTS = {
    "CD4CD8": "MB-25A117",
    "BEADS": "DB-4471",
    "LV-EPCAM": "LV-EPC-2026-003",
    "MEDIUM": "TEX-9912",
    "IL2": "IL2-0577",
    "CS10": "CS10-2231",
    "BAG": "CB250-0815",
}
#: Ghent's earlier patients (apheresis this many days before the load), all infused, and the
#: one whose batch is in QA review; custody at Ghent
GHENT_PATIENTS = (
    identity_demo.DemoPatient("HLX-EPC-01-007", "1961-03-22", "RVD", Step.INFUSED, 128, 30),
    identity_demo.DemoPatient("HLX-EPC-01-008", "1957-10-04", "KMA", Step.INFUSED, 114, 30),
    identity_demo.DemoPatient("HLX-EPC-01-009", "1970-05-16", "FJN", Step.INFUSED, 100, 30),
    identity_demo.DemoPatient("HLX-EPC-01-010", "1964-08-29", "SBL", Step.INFUSED, 86, 30),
    # awaiting QC release (the QC release demo leaves it to the QA approver)
    identity_demo.DemoPatient(
        "HLX-EPC-01-011", "1973-12-11", "OHT", Step.MANUFACTURING_STARTED, 28, 30
    ),
    identity_demo.DemoPatient(
        "HLX-EPC-01-012", "1968-07-02", "DWP", Step.MANUFACTURING_STARTED, 16, 30
    ),
)
GHENT_GMP = "Northbridge Ghent GMP"
ZONE = "Europe/Amsterdam"
#: Leiden's patient whose batch failed (no positive marker: the demo's infectious-donor
#: order, HLX-EPC-01-004, would need the scheduling demo's designated suite, loaded later)
LEIDEN_FAILED = identity_demo.DemoPatient(
    "HLX-EPC-01-013", "1966-04-18", "TVB", Step.MANUFACTURING_STARTED, 5, 30
)
Values = dict[str, dict[str, tuple[float, str]]]


# --------------------------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------------------------


def _values(rng: random.Random, version: int) -> Values:
    """One batch's typed values, inside the NOR of MBR ``version`` (calculated ones are left
    to the system: vector volume, feed volume, cells for the dose)."""

    def u(low: float, high: float, digits: int) -> float:
        return round(rng.uniform(low, high), digits)

    tnc = u(2.6, 4.2, 2)
    seeded = u(0.92, 1.08, 2)
    d5 = u(5.5, 9.5, 1)
    values: Values = {
        "RECEIPT": {
            "transit_temperature": (u(4.0, 6.5, 1), "°C"),
            "age_at_receipt": (24, "h"),  # collection to receipt in the custody record
            "tnc": (tnc, "10^9 cells"),
            "viability": (u(92, 98, 1), "%"),
        },
        "SELECT": {
            "input_tnc": (round(tnc * 0.96, 2), "10^9 cells"),
            "cd3_purity": (u(91, 97, 1), "%"),
        },
        "ACTIVATE": {
            "seeded_cells": (seeded, "10^8 cells"),
            "seeding_density": (seeded, "10^6 cells/mL"),  # in 100 mL
            "bead_ratio": (u(2.9, 3.1, 2), "beads/cell"),
            "il2": (u(292, 308, 0), "IU/mL"),
            "temperature": (u(36.8, 37.2, 1), "°C"),
        },
        "TRANSDUCE": {
            "viable_cells": (round(seeded * u(0.95, 1.15, 3), 2), "10^8 cells"),
            "moi": (3.0 if version == 1 else 2.5, "TU/cell"),
            "viability": (u(88, 95, 1), "%"),
        },
        "EXPAND": {
            "viable_cells_d5": (d5, "10^8 cells"),
            "culture_volume_d5": (u(250, 320, 0), "mL"),
            "target_density": (1.0, "10^6 cells/mL"),
            "temperature": (u(36.8, 37.2, 1), "°C"),
            "viability_d5": (u(89, 95, 1), "%"),
        },
        "HARVEST": {
            "culture_days": (9, "d"),
            "viable_cells": (round(d5 * u(4.5, 5.2, 2) / 10, 2), "10^9 cells"),
            "viability": (u(85, 94, 1), "%"),
            "car_positive": (u(35, 60, 1), "%"),
            "residual_beads": (u(1, 4, 1) * 1e-5, "beads/cell"),
        },
        "FORMULATE": {
            "final_volume": (u(66.5, 69.5, 1), "mL"),
            "time_to_freeze": (u(14, 28, 0), "min"),
            "temperature": (u(4.0, 6.0, 1), "°C"),
        },
        "FREEZE": {
            "cooling_rate": (u(0.95, 1.05, 2), "°C/min"),
            "end_temperature": (u(-105, -98, 0), "°C"),
            "storage_temperature": (u(-175, -165, 0), "°C"),
        },
    }
    if version == 2:  # the control added at the transfer
        values["HARVEST"]["vcn"] = (u(1.4, 2.6, 1), "copies/cell")
    return values


# --------------------------------------------------------------------------------------------
# working a batch through the services, at the times it happened
# --------------------------------------------------------------------------------------------


class _Run:
    """One batch of one order, worked by the demo's people at the times it happened: before
    each action the clock moves on (a few minutes, or to the step's process day)."""

    def __init__(
        self, uow: UnitOfWork, ctx: DemoContext, people: dict[str, Scope], start: dt.datetime
    ) -> None:
        self.uow, self.ctx, self.people = uow, ctx, people
        self.start = self.now = start
        self.batch: Batch | None = None

    @property
    def id(self) -> int:
        assert self.batch is not None
        return self.batch.id

    def act(
        self, who: str, fn: Callable[..., Any], *args: Any, minutes: float = 3, **kw: Any
    ) -> Any:
        self.now += dt.timedelta(minutes=minutes)
        scope = self.people[who]
        self.uow.actor = Actor(scope.username, scope.user_id, scope.organisation_id)
        with clock_from(lambda: self.now):
            return fn(self.uow, scope, *args, **kw)

    def signed(self, who: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        username = self.people[who].username
        return self.act(
            who, fn, self.ctx.settings, *args, username=username, password=DEMO_PASSWORD, **kw
        )

    def at_hour(self, hours: float) -> None:
        self.now = max(self.now, self.start + dt.timedelta(hours=hours))

    def create(self, order: Order, site: str, suite: str) -> None:
        self.batch = self.act(
            "operator",
            batches.create_batch,
            order_id=order.id,
            site=site,
            suite=suite,
            dose_per_kg=DOSE_PER_KG,
            minutes=0,
        )

    def record(self) -> execution.BatchRecord:
        assert self.batch is not None
        self.uow.session.expire(self.batch, ["events"])
        return batches.record_of(self.batch)

    def step(
        self, code: str, values: Values, *, finish: bool = True, hold_reason: str = ""
    ) -> None:
        """Start ``code``, enter its values, scan its lots (the apheresis by the batch's DIN),
        have the second person verify what needs it and, when ``finish``, sign it off and
        release its hold."""
        self.at_hour(STEP_HOURS[code])
        self.act("operator", batches.start_step, self.id, code, minutes=0)
        typed = [(entry, value, unit) for entry, (value, unit) in values.get(code, {}).items()]
        if typed:  # the step's form, sent whole
            self.act("operator", batches.enter_values, self.id, code, typed, minutes=12)
        if not finish:
            return
        assert self.batch is not None
        op = mbrs.model_of(self.batch.mbr).operation(code)
        for material in op.materials:
            lot = self.batch.din if material == "APH" else LOTS[material]
            self.act("operator", batches.scan_lot, self.id, code, material, lot)
        for equipment in op.equipment:  # the site's instrument, calibrated within the year
            instrument = f"{self.batch.planned_suite[:3]}-{equipment}-01"
            due = (self.start + dt.timedelta(days=200)).date()
            self.act(
                "operator", batches.record_equipment, self.id, code, equipment, instrument, due
            )
        rec = self.record()
        pending = [
            e.seq
            for e in rec.events
            if e.step == code
            and isinstance(e, execution.ValueEntered | execution.LotScanned)
            and (not isinstance(e, execution.ValueEntered) or rec.current(code, e.entry) is e)
            and execution.unverified(rec, e)
        ]
        if pending:
            self.act("qa.reviewer", batches.verify_entries, self.id, pending, minutes=5)
        self.signed("operator", batches.sign_off_step, self.id, code)
        if op.hold is not None:
            self.act(
                "qa.approver",
                batches.decide_hold,
                self.id,
                code,
                released=True,
                reason=hold_reason or "acceptance criteria met; record reviewed",
                minutes=40,
            )

    def through(self, last: str, values: Values) -> None:
        for code in STEPS[: STEPS.index(last) + 1]:
            self.step(code, values, hold_reason=_HOLD_REASONS.get(code, ""))

    def approve(self, after_hours: float) -> None:
        self.at_hour(after_hours)
        self.act("operator", batches.submit, self.id, minutes=0)
        self.at_hour(after_hours + 48)
        self.signed("qa.approver", batches.approve, self.id)


_HOLD_REASONS = {
    "RECEIPT": "DIN, shipper log and bag checked; TNC and viability within limits",
    "FREEZE": "freezing curve within the profile; bag to quarantine storage",
}


def _manufacturing_started(uow: UnitOfWork, order: Order) -> dt.datetime:
    at = uow.session.scalar(
        select(CustodyEventRow.occurred_at).where(
            CustodyEventRow.order_id == order.id,
            CustodyEventRow.step == Step.MANUFACTURING_STARTED.value,
        )
    )
    assert at is not None, f"order {order.number} has not started manufacturing"
    return as_utc(at)


# --------------------------------------------------------------------------------------------
# the demo's batches
# --------------------------------------------------------------------------------------------


def _new_orders(
    uow: UnitOfWork,
    ctx: DemoContext,
    people: dict[str, Scope],
    patients: tuple[identity_demo.DemoPatient, ...],
) -> list[Order]:
    program = ctx.programs[PROGRAM]
    site = uow.session.scalars(
        select(Site).where(Site.organisation_id == program.organisation_id)
    ).first()
    assert site is not None
    scopes = {
        "site": people["helixa.clinical"],
        "operator": people["operator"],
        "approver": people["qa.approver"],
        "qa": people["qa.reviewer"],
    }
    # custody up to the start of manufacturing: the product is released to custody only after
    # QA released its batch (the QC release demo resumes the walk, ``resume_custody``)
    return [
        identity_demo.add_patient(
            uow,
            scopes,
            program,
            site,
            replace(p, reached=_until_manufacturing(p.reached)),
            ZONE,
            "S1234100",
            "DL2",
            ctx.settings,
        )
        for p in patients
    ]


def _until_manufacturing(reached: Step | None) -> Step | None:
    path = identity_demo.PATH
    if reached is None or path.index(reached) <= path.index(Step.MANUFACTURING_STARTED):
        return reached
    return Step.MANUFACTURING_STARTED


def resume_custody(uow: UnitOfWork, ctx: DemoContext) -> None:
    """The rest of the Ghent orders' custody (release to custody, shipping, infusion), recorded
    once QA released their batches (called by the QC release demo)."""
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
    program = ctx.programs[PROGRAM]
    site = uow.session.scalars(
        select(Site).where(Site.organisation_id == program.organisation_id)
    ).first()
    assert site is not None
    for p in GHENT_PATIENTS:
        order = _order_of(uow, p.subject)
        identity_demo.resume_walk(
            uow, scopes, order, replace(p, cdmo=GHENT_GMP), ZONE, site.name, ctx.settings
        )


def _order_of(uow: UnitOfWork, subject: str) -> Order:
    return uow.session.scalars(
        select(Order).join(Patient).where(Patient.subject_id == subject)
    ).one()


def _approved(run: _Run, order: Order, site: str, suite: str, values: Values) -> None:
    run.create(order, site, suite)
    run.through("FREEZE", values)
    run.approve(STEP_HOURS["FREEZE"] + 20)


def _in_review_with_deviations(run: _Run, order: Order, values: Values) -> None:
    """Ghent: 11.2 °C in transit (PAR 1-10 °C) and 68 min from CS10 to freezing (PAR ≤ 60
    min) open two deviations; QA accepts the material under the first, classifies both,
    closes the minor one; the major one stays open, so the record waits in review."""
    values["RECEIPT"]["transit_temperature"] = (11.2, "°C")
    values["FORMULATE"]["time_to_freeze"] = (68, "min")
    run.create(order, GHENT, "GHE-03")
    accepted = "starting material accepted under the transit temperature deviation: logger "
    accepted += "above 10 °C for 1 h 40 min, viability within limits"
    run.step("RECEIPT", values, hold_reason=accepted)
    transit = batches.batch_deviations(run.uow.session, run.id)[-1]
    run.act(
        "qa.reviewer",
        deviations.classify,
        transit.id,
        classification="minor",
        root_cause="the courier's gel packs were conditioned at room temperature instead of "
        "2-8 °C; the logger shows 10.4-11.2 °C for the last 1 h 40 min of transit",
        capa="courier re-trained on pack conditioning; conditioning record added to the "
        "shipping checklist",
        minutes=90,
    )
    for code in STEPS[1:]:
        run.step(code, values, hold_reason=_HOLD_REASONS.get(code, ""))
    hold = batches.batch_deviations(run.uow.session, run.id)[-1]
    run.at_hour(STEP_HOURS["FREEZE"] + 20)
    run.act("operator", batches.submit, run.id, minutes=0)
    run.signed("qa.reviewer", deviations.close, transit.id)
    run.act(
        "qa.reviewer",
        deviations.classify,
        hold.id,
        classification="major",
        root_cause="the biosafety cabinet booked for formulation was held by another batch's "
        "harvest; the formulated bag waited 68 min in CS10 before the freezer run started",
        capa="formulation and harvest of two batches no longer booked on one cabinet; "
        "post-thaw viability and potency of this lot to be assessed before disposition",
        minutes=60,
    )


def _in_progress(run: _Run, order: Order, values: Values) -> None:
    """Leiden: RECEIPT to TRANSDUCE signed off; EXPAND started with the day-5 count and
    volume (the feed volume calculated), the rest of the step to do."""
    run.create(order, LEIDEN, "LEI-02")
    run.through("TRANSDUCE", values)
    expand = {"EXPAND": dict(list(values["EXPAND"].items())[:3])}
    run.step("EXPAND", expand, finish=False)


def _failed(run: _Run, order: Order, values: Values) -> None:
    """Leiden: the day-1 in-process sterility sample turned positive after transduction
    began; the operator records the failure."""
    run.create(order, LEIDEN, "LEI-03")
    run.through("ACTIVATE", values)
    run.step("TRANSDUCE", values, finish=False)
    run.at_hour(STEP_HOURS["TRANSDUCE"] + 20)
    run.signed(
        "operator",
        batches.record_failure,
        run.id,
        "TRANSDUCE",
        reason="in-process sterility sample of day 1 positive (BacT/ALERT, Gram-positive cocci "
        "at 16 h); culture discarded under the biohazard procedure; a new apheresis is needed",
    )


def load_batch_demo(uow: UnitOfWork, ctx: DemoContext) -> None:
    """The demo's executed batches at Ghent (v1) and Leiden (v2); see the module's table."""
    loader = uow.actor
    people = {
        name: auth.scope_of(auth.user_by_username(uow.session, name))
        for name in ("operator", "qa.reviewer", "qa.approver", "helixa.clinical")
    }
    rng = random.Random(20261206)
    ghent = _new_orders(uow, ctx, people, tuple(replace(p, cdmo=GHENT_GMP) for p in GHENT_PATIENTS))
    (failing,) = _new_orders(uow, ctx, people, (LEIDEN_FAILED,))
    for n, order in enumerate(ghent[:-1]):
        run = _Run(uow, ctx, people, _manufacturing_started(uow, order))
        _approved(run, order, GHENT, f"GHE-0{n % 2 + 1}", _values(rng, 1))
    review = ghent[-1]
    _in_review_with_deviations(
        _Run(uow, ctx, people, _manufacturing_started(uow, review)), review, _values(rng, 1)
    )
    for subject, suite in (("HLX-EPC-01-001", "LEI-01"), ("HLX-EPC-01-002", "LEI-02")):
        order = _order_of(uow, subject)
        run = _Run(uow, ctx, people, _manufacturing_started(uow, order))
        _approved(run, order, LEIDEN, suite, _values(rng, 2))
    order = _order_of(uow, "HLX-EPC-01-003")
    _in_progress(_Run(uow, ctx, people, _manufacturing_started(uow, order)), order, _values(rng, 2))
    _failed(_Run(uow, ctx, people, _manufacturing_started(uow, failing)), failing, _values(rng, 2))
    uow.actor = loader
