"""What other features read of executed batches: where and since when each batch works, and
which failed (docs/manufacturing.md, "Scheduling joined up").

- The **scheduler** (``scheduling.from_store``) pins a started batch on the day its first step
  started, in the suite it works in now (the suite of its latest started step, which may not be
  the planned one), keeps a failed batch's suite used until the failure plus cleaning, and
  leaves an order whose batch failed unplanned until a new apheresis is on its way.
- The **delivery projection** (``scheduling.delivery``) blocks such an order ("a new apheresis
  is needed") instead of showing it on track.
- **Custody** (``identity.custody``) records the suite of a step that happens in one, by default
  the batch's current suite, and refuses a new apheresis unless the batch of the current one
  failed.

Plain values out (:class:`BatchFact`), a fixed number of statements whatever the number of
orders. The callers have found the orders within their scope; these functions read only the
batches of the orders they are given.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.identity.tables import Order
from vein2vein.manufacturing.tables import Batch, BatchEvent

FAILED = "FAILED"  # batches.FAILED (not imported: batches loads the whole execution service)
#: the most of a failure's reason that a blocker or a plan note repeats
REASON_CHARS = 160


@dataclass(frozen=True, slots=True)
class BatchFact:
    """One batch of an order, as scheduling and custody need it."""

    batch_id: int
    order_id: int
    din: str  # the apheresis DIN the batch was made from
    status: str
    planned_suite: str
    started_at: dt.datetime | None  # the first step's start (None: not started)
    suite: str | None  # the suite of the latest started step: where the batch works now
    failed_at: dt.datetime | None
    failed_step: str | None
    failed_reason: str | None

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    @property
    def current_suite(self) -> str:
        return self.suite or self.planned_suite

    @property
    def failure_text(self) -> str:
        reason = " ".join((self.failed_reason or "").split())
        if len(reason) > REASON_CHARS:
            reason = reason[: REASON_CHARS - 1] + "…"
        return f"batch {self.batch_id} failed at {self.failed_step or '?'}" + (
            f" ({reason})" if reason else ""
        )


def batch_facts(session: Session, order_ids: Iterable[int]) -> dict[int, list[BatchFact]]:
    """The batches of each order (oldest first), by order id; two statements."""
    wanted = sorted(set(order_ids))
    if not wanted:
        return {}
    batches = session.execute(
        select(
            Batch.id,
            Batch.order_id,
            Batch.din,
            Batch.status,
            Batch.planned_suite,
            Batch.failed_at,
            Batch.failed_step,
            Batch.failed_reason,
        )
        .where(Batch.order_id.in_(wanted))
        .order_by(Batch.id)
    ).all()
    ids = [b.id for b in batches]
    first: dict[int, dt.datetime] = {}
    suite: dict[int, str] = {}
    last_at: dict[int, dt.datetime] = {}
    if ids:
        rows = session.execute(
            select(BatchEvent.batch_id, BatchEvent.kind, BatchEvent.at, BatchEvent.payload)
            .where(BatchEvent.batch_id.in_(ids))
            .order_by(BatchEvent.batch_id, BatchEvent.seq)
        )
        for batch_id, kind, at, payload in rows:
            last_at[batch_id] = at
            if kind == "StepStarted":
                first.setdefault(batch_id, at)
                suite[batch_id] = json.loads(payload)["suite"]
    out: defaultdict[int, list[BatchFact]] = defaultdict(list)
    for b in batches:
        failed_at = b.failed_at
        if failed_at is None and b.status == FAILED:
            failed_at = last_at.get(b.id)  # recorded before the column existed
        out[b.order_id].append(
            BatchFact(
                batch_id=b.id,
                order_id=b.order_id,
                din=b.din,
                status=b.status,
                planned_suite=b.planned_suite,
                started_at=first.get(b.id),
                suite=suite.get(b.id),
                failed_at=failed_at,
                failed_step=b.failed_step,
                failed_reason=b.failed_reason,
            )
        )
    return dict(out)


def live_batch(facts: Sequence[BatchFact]) -> BatchFact | None:
    """The order's batch that has not failed (an order has at most one)."""
    return next((f for f in reversed(facts) if not f.failed), None)


def awaiting_apheresis(facts: Sequence[BatchFact], apheresis_din: str | None) -> BatchFact | None:
    """The failed batch that used the order's current apheresis DIN, when no other batch is
    live: the order needs a new apheresis (a new DIN) before it can have another batch."""
    if live_batch(facts) is not None:
        return None
    failed = [f for f in facts if f.failed and f.din == apheresis_din]
    return failed[-1] if failed else None


#: above this many orders the failed batches are read whole and filtered here (no huge IN list)
_BY_ID = 200


def awaiting_apheresis_of(session: Session, order_ids: Sequence[int]) -> dict[int, BatchFact]:
    """Of these orders, those that need a new apheresis (:func:`awaiting_apheresis`), with the
    failed batch; a fixed number of statements (none more when no batch failed)."""
    wanted = set(order_ids)
    if not wanted:
        return {}
    stmt = (
        select(Batch.order_id, Order.apheresis_din)
        .join(Order, Order.id == Batch.order_id)
        .where(Batch.status == FAILED, Batch.din == Order.apheresis_din)
        .distinct()
    )
    if len(wanted) <= _BY_ID:
        stmt = stmt.where(Batch.order_id.in_(sorted(wanted)))
    dins = {oid: din for oid, din in session.execute(stmt) if oid in wanted}
    facts = batch_facts(session, dins)
    out = {}
    for oid, din in dins.items():
        failed = awaiting_apheresis(facts.get(oid, []), din)
        if failed is not None:
            out[oid] = failed
    return out
