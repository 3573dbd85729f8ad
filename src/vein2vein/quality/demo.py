"""Demo QC release of the EpCAM batches, made through the real services at the times it
happened (``core.clock``), after the manufacturing demo.

* The IIT drug-product specification (``spec/epcam_iit_v1.yaml``) is written by the QC analyst
  (Tomasz Wójcik) and approved by the QA approver (Henrik Lindqvist) 30 days before the first
  demo batch was made, so every batch is judged against version 1.
* Every approved or in-review batch gets its release results from the QC analyst two hours
  before its record was approved (the laboratory tests the retained vial while QA reviews the
  record); vector copies arrive 7 days after freezing and sterility (14-day culture) 14 days
  after; a result whose time has not come yet stays pending.
* Results are near the batch record's harvest values (product viability a few points below the
  harvest's after thawing, CAR+ as at harvest, TNC as formulated), drawn from a seeded
  generator so every load gives the same numbers.

====================  ======================================================================
batch of order        release story
====================  ======================================================================
HLX-EPC-01-0007 …09   released: every result in and conforming
HLX-EPC-01-0010       viability 64 % (out of specification): OOS investigation, laboratory
                      error found (sample left 2 h at room temperature before staining),
                      invalidated by the QA reviewer, retest 91 %; released
HLX-EPC-01-0011       every result in and conforming, **not released yet** (the QA
                      approver's work: the browser test releases it)
HLX-EPC-01-0012       results in; the batch record is still in review: release blocked
HLX-EPC-01-0001       released, conditionally at first (sterility came 14 days after
                      freezing), completed since; infused
HLX-EPC-01-0002       released conditionally: vector copy number still pending
====================  ======================================================================
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from vein2vein.auth import service as auth
from vein2vein.auth.scope import Scope
from vein2vein.core.clock import as_utc, clock_from, utcnow
from vein2vein.demo.context import DemoContext
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.identity.domain import Step
from vein2vein.identity.tables import Order
from vein2vein.manufacturing import batches
from vein2vein.manufacturing.tables import Batch
from vein2vein.quality import oos, release, results, spec_yaml, specs
from vein2vein.quality.results import ResultInput
from vein2vein.store.uow import Actor, UnitOfWork

SPEC_FILE = "epcam_iit_v1.yaml"
OOS_ORDER = "HLX-EPC-01-0010"
UNRELEASED_ORDER = "HLX-EPC-01-0011"
LATE_VCN_ORDER = "HLX-EPC-01-0002"
#: when each result arrives, after the batch's freezing (None: with the early results)
ARRIVAL = {"vcn": dt.timedelta(days=7), "sterility": dt.timedelta(days=14)}


class _At:
    """Runs services as one demo person at a given time."""

    def __init__(self, uow: UnitOfWork, ctx: DemoContext) -> None:
        self.uow, self.ctx = uow, ctx
        self.people: dict[str, Scope] = {
            name: auth.scope_of(auth.user_by_username(uow.session, name))
            for name in ("qc", "qa.reviewer", "qa.approver")
        }

    def __call__(
        self, who: str, when: dt.datetime, fn: Callable[..., Any], *a: Any, **kw: Any
    ) -> Any:
        scope = self.people[who]
        self.uow.actor = Actor(scope.username, scope.user_id, scope.organisation_id)
        with clock_from(lambda: when):
            return fn(self.uow, scope, *a, **kw)

    def signed(
        self, who: str, when: dt.datetime, fn: Callable[..., Any], *a: Any, **kw: Any
    ) -> Any:
        return self(
            who,
            when,
            fn,
            self.ctx.settings,
            *a,
            username=self.people[who].username,
            password=DEMO_PASSWORD,
            **kw,
        )


def load_quality_demo(uow: UnitOfWork, ctx: DemoContext) -> None:
    loader = uow.actor
    at = _At(uow, ctx)
    s = uow.session
    demo_batches = [
        b
        for b in s.scalars(select(Batch).where(Batch.gmp.is_(True)).order_by(Batch.id))
        if b.status in ("APPROVED", "IN_REVIEW")
    ]
    if not demo_batches:
        return
    first = min(as_utc(b.created_at) for b in demo_batches)
    text = (spec_yaml.DEMO_DIR / SPEC_FILE).read_text(encoding="utf-8")
    written = first - dt.timedelta(days=31)
    spec = at("qc", written, specs.import_spec, text, SPEC_FILE)
    at.signed("qa.approver", written + dt.timedelta(days=1), specs.approve, spec.id)
    rng = random.Random(20261207)
    for batch in demo_batches:
        _test_and_release(at, batch, rng)
    uow.actor = loader
    from vein2vein.manufacturing.batch_demo import resume_custody

    resume_custody(uow, ctx)
    uow.actor = loader


def _times(batch: Batch) -> tuple[dt.datetime, dt.datetime]:
    """When the product was frozen and when its record was approved (or, in review, sent)."""
    record = batches.record_of(batch)
    frozen = max(as_utc(e.at) for e in record.events if e.step == "FREEZE")
    decided = batch.approved_at or batch.submitted_at or frozen
    return frozen, as_utc(decided)


def _custody_released(batch: Batch) -> dt.datetime | None:
    order: Order | None = batch.order
    if order is None:
        return None
    for e in order.events:
        if e.step == Step.RELEASED.value:
            return as_utc(e.occurred_at)
    return None


def _values(batch: Batch, rng: random.Random) -> dict[str, tuple[str, str | None]]:
    record = batches.record_of(batch)

    def value(step: str, entry: str, default: float) -> float:
        v = record.current(step, entry)
        return v.value if v is not None else default

    viability = value("HARVEST", "viability", 90.0) - rng.uniform(2.5, 5.5)
    car = value("HARVEST", "car_positive", 45.0) + rng.uniform(-2.0, 2.0)
    tnc = value("FORMULATE", "cells_required", 3.0) / 10 * rng.uniform(0.97, 1.04)
    return {
        "appearance": ("conforms", None),
        "identity": ("conforms", None),
        "viability": (f"{viability:.1f}", "%"),
        "cd3": (f"{rng.uniform(94.0, 98.5):.1f}", "%"),
        "car_positive": (f"{car:.1f}", "%"),
        "tnc": (f"{tnc:.3f}", "10^9 cells"),
        "vcn": (f"{rng.uniform(1.2, 2.8):.2f}", "copies/transduced cell"),
        "endotoxin": (f"{rng.uniform(0.1, 0.6):.2f}", "EU/mL"),
        "sterility": ("no growth", None),
        "mycoplasma": ("not detected", None),
        "rcl": ("not detected", None),
        "residual_beads": (f"{rng.randint(3, 40)}", "beads/3×10^6 cells"),
        "ifng_release": (f"{rng.uniform(300, 1800):.0f}", "pg/mL"),
        "cytotoxicity": (f"{rng.uniform(35, 70):.0f}", "%"),
    }


def _test_and_release(at: _At, batch: Batch, rng: random.Random) -> None:
    frozen, decided = _times(batch)
    values = _values(batch, rng)
    order_number = batch.order.number if batch.order else ""
    tested = decided - dt.timedelta(hours=2)
    now = utcnow()
    early = [code for code in values if code not in ARRIVAL]
    if order_number == OOS_ORDER:
        _oos_story(at, batch, tested - dt.timedelta(hours=3), values)
        early.remove("viability")
    _enter(at, batch, tested, early, values)
    releasing = decided + dt.timedelta(hours=1)
    custody = _custody_released(batch)
    if custody is not None:
        releasing = min(releasing, custody - dt.timedelta(minutes=30))
    late = {
        code: frozen
        + delay
        + (
            dt.timedelta(days=14)
            if order_number == LATE_VCN_ORDER and code == "vcn"
            else dt.timedelta()
        )
        for code, delay in ARRIVAL.items()
    }
    for code, when in sorted(late.items(), key=lambda kv: kv[1]):
        if when <= releasing:
            _enter(at, batch, when, [code], values)
    if batch.status == "APPROVED" and order_number != UNRELEASED_ORDER:
        at.signed("qa.approver", releasing, release.release, batch.id)
    for code, when in sorted(late.items(), key=lambda kv: kv[1]):
        if releasing < when <= now:
            _enter(at, batch, when, [code], values)


def _enter(
    at: _At,
    batch: Batch,
    when: dt.datetime,
    codes: list[str],
    values: dict[str, tuple[str, str | None]],
) -> None:
    items = [
        ResultInput(
            batch=batch.id,
            test=code,
            value=values[code][0],
            unit=values[code][1],
            tested_on=when.date(),
            instrument=_INSTRUMENT.get(code),
        )
        for code in codes
    ]
    at("qc", when, results.enter_results, items)


_INSTRUMENT = {
    "viability": "QC-FLOW-01",
    "cd3": "QC-FLOW-01",
    "car_positive": "QC-FLOW-01",
    "tnc": "QC-NC200-02",
    "vcn": "QC-QPCR-01",
    "endotoxin": "QC-LAL-01",
    "sterility": "QC-BACT-01",
    "mycoplasma": "QC-QPCR-01",
    "rcl": "QC-QPCR-01",
}


def _oos_story(
    at: _At, batch: Batch, when: dt.datetime, values: dict[str, tuple[str, str | None]]
) -> None:
    (first,) = at(
        "qc",
        when,
        results.enter_results,
        [
            ResultInput(
                batch=batch.id,
                test="viability",
                value="64.2",
                unit="%",
                tested_on=when.date(),
                instrument="QC-FLOW-01",
            )
        ],
    )
    inv = at.uow.session.scalars(
        select(oos.QcInvestigation).where(oos.QcInvestigation.result_id == first.id)
    ).one()
    at.signed(
        "qa.reviewer",
        when + dt.timedelta(minutes=40),
        oos.conclude_phase_i,
        inv.id,
        finding=(
            "The staining tube stood 2 h at room temperature before acquisition (log of the "
            "flow cytometer); 7-AAD uptake rises with time out of the cold. Calculation, gates "
            "and instrument QC beads checked and in order."
        ),
        assignable=True,
        justification=(
            "Assignable laboratory error: sample handling outside the method's 30-minute limit "
            "between staining and acquisition explains the low viability; retest from the "
            "retained vial."
        ),
    )
    _enter(at, batch, when + dt.timedelta(hours=1), ["viability"], values)
