"""The product facts of one order, read from the record where each is kept (the adapter between
the store and :mod:`vein2vein.insights.outcome_analysis`; its conventions written down):

* **batch**: the order's newest batch that did not fail (a failed batch was never infused);
  ``None`` when no batch has been made;
* **manufacturing site**: the batch's site;
* **CAR-positive %, viability, VCN**: the batch's *valid* QC release results (``car_positive``,
  ``viability``, ``vcn``; an invalidated result and its retest: the retest), as stored;
* **delivered dose**: CAR+ viable T cells per kg of the fill plan of the batch for its patient
  (``quality.release.dose_facts``: the calculated viable CAR+ T cells, the final volume and the
  order's weight; the whole product is infused), in 10^6 cells/kg;
* **fold expansion, doubling time**: of the batch record's viable counts
  (``manufacturing.kinetics.growth_of``: first to last count of the culture);
* **vein-to-vein days**: from the apheresis collection to the infusion recorded in the order's
  custody (current collection), in days with decimals; ``None`` until infused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.core.clock import as_utc
from vein2vein.identity.domain import Step
from vein2vein.identity.tables import Order
from vein2vein.manufacturing import batches, kinetics
from vein2vein.manufacturing.tables import Batch
from vein2vein.quality import release, results, specs

QC_TESTS = {"car_positive": "car_positive", "viability": "viability", "vcn": "vcn"}


@dataclass(frozen=True)
class ProductFacts:
    order_id: int
    order_number: str
    coi: str
    dose_level: str
    ordered_dose_per_kg: float | None
    batch_id: int | None
    batch_status: str | None
    site: str | None
    infused_at: dt.datetime | None
    values: dict[str, float | None]

    def row(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "order_number": self.order_number,
            "coi": self.coi,
            "dose_level": self.dose_level,
            "batch_id": self.batch_id,
            "batch_status": self.batch_status,
            "site": self.site,
            "infused_at": self.infused_at.isoformat() if self.infused_at else None,
        } | self.values


def batch_of(session: Session, order: Order) -> Batch | None:
    rows = session.scalars(
        select(Batch).where(Batch.order_id == order.id).order_by(Batch.id.desc())
    ).all()
    for b in rows:
        if b.status != "FAILED":
            return b
    return rows[0] if rows else None


def _custody(order: Order) -> tuple[dt.datetime | None, dt.datetime | None]:
    collected = infused = None
    for e in order.current_events:
        if e.step == Step.COLLECTED.value and collected is None:
            collected = as_utc(e.occurred_at)
        if e.step == Step.INFUSED.value:
            infused = as_utc(e.occurred_at)
    return collected, infused


def product_facts(session: Session, order: Order) -> ProductFacts:
    values: dict[str, float | None] = {
        "dose_per_kg": None,
        "car_positive": None,
        "viability": None,
        "vcn": None,
        "fold_expansion": None,
        "doubling_time_h": None,
        "vein_to_vein_days": None,
    }
    collected, infused = _custody(order)
    if collected is not None and infused is not None:
        values["vein_to_vein_days"] = round((infused - collected).total_seconds() / 86400, 2)
    batch = batch_of(session, order)
    ordered = None
    if batch is None:
        return ProductFacts(
            order.id, order.number, order.coi, order.dose_level, None, None, None, None,
            infused, values,
        )  # fmt: skip
    valid = results.valid_results(session, batch.id)
    for key, code in QC_TESTS.items():
        r = valid.get(code)
        values[key] = float(r.value) if r is not None and r.value is not None else None
    spec_row = specs.for_batch(session, batch) if batch.gmp else None
    model = specs.model_of(spec_row) if spec_row is not None else None
    if model is not None and model.dose is not None:
        try:
            ordered = model.dose.level(order.dose_level).base_value
        except KeyError:
            ordered = None
        facts = release.dose_facts(session, batch, model)
        if facts.plan is not None:
            values["dose_per_kg"] = facts.plan.cells_per_kg / 1e6
    growth = kinetics.growth_of(batches.record_of(batch))
    values["fold_expansion"] = growth.fold_expansion
    values["doubling_time_h"] = growth.doubling_time_h
    return ProductFacts(
        order.id,
        order.number,
        order.coi,
        order.dose_level,
        ordered,
        batch.id,
        batch.status,
        batch.site.name if batch.site is not None else None,
        infused,
        values,
    )
