"""Work queues of the chain of identity, and the filters of the lists their counts link to.

- **hand-offs due today** (operator, sponsor clinical): orders in flight, not on hold, whose
  next step the caller may record is due today or overdue (``identity/due.py``);
  ``/coi?queue=due_today``;
- **orders in flight** (sponsor clinical, sponsor viewer): orders not yet infused;
  ``/coi?queue=in_flight``;
- **open mismatches** (QA reviewer, QA approver): hand-off mismatches not cleared;
  ``/coi/mismatches?status=open``.

The count and the filtered list come from the same function, so they cannot disagree; both go
through the caller's scope (a sponsor's counts never include another client's orders).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Role
from vein2vein.auth.scope import Scope
from vein2vein.core.errors import InputError
from vein2vein.identity import access, domain
from vein2vein.identity.domain import Step
from vein2vein.identity.due import due_by, next_due
from vein2vein.identity.intake import time_zone
from vein2vein.identity.tables import CustodyEventRow, HandoffMismatch, Order
from vein2vein.scheduling import delivery
from vein2vein.web.queues import QueueItem, wanted

DUE_TODAY: Final = "due_today"
IN_FLIGHT: Final = "in_flight"
#: the order queues of ``/coi?queue=...``: name → heading of the filtered list
ORDER_QUEUES: Final = {
    DUE_TODAY: "Hand-offs due today or overdue that you may record",
    IN_FLIGHT: "Orders in flight (not yet infused)",
}
#: the mismatch filters of ``/coi/mismatches?status=...``
MISMATCH_STATUSES: Final = ("open", "cleared")

_DUE_ROLES = frozenset({Role.OPERATOR, Role.SPONSOR_CLINICAL})
_FLIGHT_ROLES = frozenset({Role.SPONSOR_CLINICAL, Role.SPONSOR_VIEWER})
_MISMATCH_ROLES = frozenset({Role.QA_REVIEWER, Role.QA_APPROVER})


@dataclass(frozen=True)
class _OrderState:
    id: int
    zone: str
    planned_apheresis: dt.date
    events: list[domain.CustodyEvent]
    on_hold: bool


def _states(session: Session, scope: Scope) -> Iterator[_OrderState]:
    """Every order in scope with its events and hold (three statements, plain rows)."""
    access.require_read(scope)
    events: defaultdict[int, list[domain.CustodyEvent]] = defaultdict(list)
    rows = scope.filter(
        select(
            CustodyEventRow.order_id,
            CustodyEventRow.step,
            CustodyEventRow.occurred_at,
            CustodyEventRow.performed_by,
            CustodyEventRow.location,
        ).join(
            Order,
            (Order.id == CustodyEventRow.order_id)
            & (Order.collection == CustodyEventRow.collection),
        ),
        Order,
    )
    for order_id, step, at, by, location in session.execute(rows):
        events[order_id].append(domain.CustodyEvent(Step(step), at, by, location))
    held = scope.filter(
        select(HandoffMismatch.order_id)
        .join(Order, Order.id == HandoffMismatch.order_id)
        .where(HandoffMismatch.cleared_at.is_(None)),
        Order,
    )
    on_hold = set(session.scalars(held))
    heads = scope.filter(select(Order.id, Order.time_zone, Order.planned_apheresis), Order)
    for order_id, zone, planned in session.execute(heads.order_by(Order.id)):
        yield _OrderState(order_id, zone, planned, events[order_id], order_id in on_hold)


def due_today_ids(session: Session, scope: Scope, now: dt.datetime) -> list[int]:
    """Orders not on hold whose next main step is one the caller may record and is due today
    or overdue in the order's time zone, by the one delivery projection (``identity/due.py``)."""
    waiting = [
        s
        for s in _states(session, scope)
        if not s.on_hold and not domain.progress(s.events).complete
    ]  # an order on hold: QA clears the mismatch first, it is in the QA queue
    projections = delivery.project_orders(session, scope, [s.id for s in waiting], now)
    found = []
    for state in waiting:
        projection = projections.get(state.id)
        if projection is None:
            continue
        due = next_due(projection)
        if due is None or not access.can_record(scope, due.step):
            continue
        if due_by(due, now.astimezone(time_zone(state.zone)).date()):
            found.append(state.id)
    return found


def in_flight_ids(session: Session, scope: Scope) -> list[int]:
    """Orders not yet infused."""
    return [s.id for s in _states(session, scope) if not domain.progress(s.events).complete]


def order_queue(
    session: Session, scope: Scope, name: str, now: dt.datetime
) -> tuple[dict[str, str], set[int]]:
    """The queue ``name`` of ``ORDER_QUEUES`` (its name and heading) and its orders; an unknown
    name is refused."""
    key = name.strip().lower()
    heading = {"name": key, "label": ORDER_QUEUES.get(key, "")}
    if key == DUE_TODAY:
        return heading, set(due_today_ids(session, scope, now))
    if key == IN_FLIGHT:
        return heading, set(in_flight_ids(session, scope))
    known = ", ".join(ORDER_QUEUES)
    raise InputError(f"unknown queue '{name}'; known queues: {known}", field="queue")


def mismatch_status(value: str) -> str | None:
    """The ``status`` filter of the mismatch list (empty: every mismatch)."""
    key = value.strip().lower()
    if not key:
        return None
    if key not in MISMATCH_STATUSES:
        known = ", ".join(MISMATCH_STATUSES)
        raise InputError(f"unknown status '{value}'; use one of: {known}", field="status")
    return key


def open_mismatch_count(session: Session, scope: Scope) -> int:
    access.require_read(scope)
    stmt = scope.filter(
        select(func.count())
        .select_from(HandoffMismatch)
        .where(HandoffMismatch.cleared_at.is_(None)),
        HandoffMismatch,
    )
    return int(session.scalar(stmt) or 0)


def work_queues(session: Session, scope: Scope, now: dt.datetime) -> list[QueueItem]:
    """The chain of identity's queues meant for the caller's role."""
    if not access.can_read(scope):
        return []
    items: list[Any] = []
    if wanted(scope, _DUE_ROLES):
        items.append(
            QueueItem(
                "coi.due_today",
                "Hand-offs due today",
                len(due_today_ids(session, scope, now)),
                f"/coi?queue={DUE_TODAY}",
                _DUE_ROLES,
                "next custody step you may record, due today or overdue (orders on hold excluded)",
            )
        )
    if wanted(scope, _FLIGHT_ROLES):
        items.append(
            QueueItem(
                "coi.in_flight",
                "Orders in flight",
                len(in_flight_ids(session, scope)),
                f"/coi?queue={IN_FLIGHT}",
                _FLIGHT_ROLES,
                "orders of your patients not yet infused",
            )
        )
    if wanted(scope, _MISMATCH_ROLES):
        items.append(
            QueueItem(
                "coi.open_mismatches",
                "Open hand-off mismatches",
                open_mismatch_count(session, scope),
                "/coi/mismatches?status=open",
                _MISMATCH_ROLES,
                "orders on hold until QA clears the mismatch with a reason",
            )
        )
    return items
