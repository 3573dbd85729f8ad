"""The values a comparability study reads from the store, with the record each came from.

**Approved results** (what a study uses; docs/comparability.md):

* the batch is a GMP batch of the protocol's program whose executed record QA approved
  (``status`` APPROVED: the record is locked by the database, migration 0013); a batch in
  progress, in review, on hold or failed, and a process-development run, is never used;
* ``qc:<test>``: the batch's one *valid* result of the test (an invalidated result is never
  used; its retest is), with a numeric value, and no out-of-specification investigation of it
  still open (a result under investigation is not final; a confirmed one stands, as stored);
* ``record:<STEP>.<entry>``: the entry's current value in the approved record (after
  corrections), in the MBR's unit;
* ``derived:fold_expansion`` / ``derived:doubling_time_h``: the batch's growth from the
  approved record's viable counts (``manufacturing.kinetics.growth_of``).

The record reads are ``insights.record_values``, shared with continued process verification.

A batch of an arm without such a value for an attribute is listed as missing for it, with the
reason, and the attribute's n is what remains.

The arm of a batch is decided by its site (by name) and the MBR version it was made from
(``comparability_domain.Arm``); the arms never overlap (checked when the protocol is written).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from vein2vein.identity.tables import Order
from vein2vein.insights import comparability_domain as rules
from vein2vein.insights import record_values
from vein2vein.manufacturing.tables import Batch
from vein2vein.quality import specs
from vein2vein.quality.release_rules import OosStatus
from vein2vein.quality.tables import QcInvestigation, QcResult, QcSpec

REFERENCE, TEST = "reference", "test"


@dataclass(frozen=True)
class ArmBatch:
    batch_id: int
    order: str
    site: str
    mbr_version: int
    arm: str  # REFERENCE | TEST
    approved_at: str


@dataclass(frozen=True)
class StoredValue:
    arm: str
    attribute: str
    batch_id: int
    order: str
    value: float
    unit: str
    record: str  # where it was read: "qc_result 12", "mfg_batch 3 entry 41", ...

    def as_list(self) -> list[Any]:
        return [self.arm, self.attribute, self.batch_id, self.order, self.value, self.unit,
                self.record]  # fmt: skip


@dataclass(frozen=True)
class Missing:
    arm: str
    attribute: str
    batch_id: int
    order: str
    reason: str


def arm_batches(session: Session, program_id: int, content: dict[str, Any]) -> list[ArmBatch]:
    """The approved GMP batches of the program in either arm, by batch id."""
    ref, test = rules.arms(content)
    rows = session.scalars(
        select(Batch)
        .join(Order, Order.id == Batch.order_id)
        .where(Order.program_id == program_id, Batch.gmp.is_(True), Batch.status == "APPROVED")
        .options(selectinload(Batch.order), selectinload(Batch.site))
        .order_by(Batch.id)
    )
    out = []
    for b in rows:
        arm = REFERENCE if ref.holds(b.site.name, b.mbr_version) else None
        if test.holds(b.site.name, b.mbr_version):
            arm = TEST
        if arm is not None and b.order is not None:  # a GMP batch always has its order
            approved = b.approved_at.isoformat() if b.approved_at else ""
            out.append(ArmBatch(b.id, b.order.number, b.site.name, b.mbr_version, arm, approved))
    return out


def _open_investigations(session: Session, result_ids: list[int]) -> set[int]:
    rows = session.execute(
        select(QcInvestigation.result_id, QcInvestigation.status).where(
            QcInvestigation.result_id.in_(result_ids)
        )
    )
    return {rid for rid, status in rows if not OosStatus(status).closed}


def _spec_unit(session: Session, result: QcResult) -> str:
    """The unit of a result's stored ``value``: its specification test's (``QcResult.unit`` is
    the unit the analyst typed, which the value was converted from)."""
    test = specs.model_of(session.get_one(QcSpec, result.spec_id)).test(result.test_code)
    return test.unit or ""


def read_values(
    session: Session, content: dict[str, Any], chosen: list[ArmBatch], arms: tuple[str, ...]
) -> tuple[list[StoredValue], list[Missing]]:
    """The approved values of every attribute for the batches of ``arms`` (blinding: the
    caller names only the arms it may show)."""
    wanted = [b for b in chosen if b.arm in arms]
    sources = rules.sources(content)
    ids = [b.batch_id for b in wanted]
    qc_codes = {s.key for s in sources.values() if s.kind == "qc"}
    results: dict[tuple[int, str], QcResult] = {}
    if qc_codes and ids:
        for row in session.scalars(
            select(QcResult).where(
                QcResult.batch_id.in_(ids),
                QcResult.test_code.in_(qc_codes),
                QcResult.valid.is_(True),
            )
        ):
            results[(row.batch_id, row.test_code)] = row
    under_oos = _open_investigations(session, [r.id for r in results.values()])
    need_record = any(s.kind != "qc" for s in sources.values())
    records = record_values.load_records(session, ids) if need_record else {}
    values: list[StoredValue] = []
    missing: list[Missing] = []
    for b in wanted:
        recorded = (
            record_values.BatchValues(b.batch_id, records[b.batch_id]) if need_record else None
        )
        for name, src in sources.items():
            found: tuple[float, str, str] | None = None
            reason = ""
            if src.kind == "qc":
                r = results.get((b.batch_id, src.key))
                if r is None:
                    reason = "no valid result"
                elif r.value is None:
                    reason = f"result '{r.value_text}' is not a number"
                elif r.id in under_oos:
                    reason = "its out-of-specification investigation is open"
                else:  # the value is stored in its specification's unit, not as typed
                    found = (float(r.value), _spec_unit(session, r), f"qc_result {r.id}")
            else:  # the record's current value, or the growth derived from its counts
                assert recorded is not None
                read, reason = recorded.read(src)
                if read is not None:
                    found = (read.value, read.unit, read.record)
            if found is None:
                missing.append(Missing(b.arm, name, b.batch_id, b.order, reason))
            else:
                values.append(StoredValue(b.arm, name, b.batch_id, b.order, *found))
    return values, missing
