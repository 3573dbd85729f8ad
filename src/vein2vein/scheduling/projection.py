"""The one delivery projection of an order: its planned, actual and expected day for every custody
step from apheresis to infusion, its delivery day, days to spare and state, and where the plan
came from.

Every page, API answer and command that shows a delivery date, a risk flag or "days to spare"
gets it from :func:`project` (read by ``scheduling.delivery``), so that no two screens disagree.

Rules (docs/identity.md, "Delivery projection"):

- **Source.** The published plan where the CDMO's latest published plan holds the order (its
  start of manufacturing, release and delivery days); otherwise the product's own durations (the
  CDMO's settings of the product: inbound days, process days, QC days, shipping days, and the
  weekdays a batch may start). With neither, there is no projection and the page says so.
- **Planned day** of each step: the plan's day where the plan gives one; else the previous step's
  planned day plus the product's duration between them (apheresis on the order's planned day;
  packing and shipment the same day; receipt ``inbound_days`` later; start of manufacturing on
  the first allowed weekday from receipt; release ``process_days + qc_days`` after the start; the
  product at the site ``ship_days`` after release; issue, thaw and infusion on that day at the
  earliest). Optional steps (storage) have no planned day.
- **Expected day** of a step: the day it happened; else the latest of its planned day, the
  previous step's expected day plus the product's duration, and today (a step not done cannot
  happen in the past). So a plan is kept until the actual steps overtake it.
- **Delivery** is the expected day of the product's receipt at the treatment site; days to spare
  are ``required_by - delivery`` in whole days (the plan's own convention, ``scheduling.gantt``).
- **State.** An order with an open hand-off mismatch is *on hold*, and one with another open
  blocker (a deviation, when manufacturing records them; a failed batch whose order needs a new
  apheresis) is *blocked*, whatever its dates: such an order is never *on track*. An order
  waiting for a new apheresis has no expected day for the steps still to come, hence no
  delivery day, until the new collection is arranged. Otherwise: delivered on or before the
  required-by day is *met*, after it *missed*; not yet delivered, an order the published plan
  could not schedule is *unscheduled*; else *late* when the days to spare are negative, *at
  risk* when they are at most the laboratory's at-risk margin, and *on track* beyond it.

Pure: dates and plain values in, a frozen :class:`Projection` out (no database, web or clock).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from vein2vein.identity.domain import MAIN_PATH, OPTIONAL_STEPS, Step

DAY: Final = dt.timedelta(days=1)


class State(enum.StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    LATE = "late"
    MET = "met"
    MISSED = "missed"
    ON_HOLD = "on_hold"
    BLOCKED = "blocked"
    UNSCHEDULED = "unscheduled"
    NO_PROJECTION = "no_projection"

    @property
    def text(self) -> str:
        return STATE_TEXT[self]


STATE_TEXT: Final = {
    State.ON_TRACK: "on track",
    State.AT_RISK: "at risk",
    State.LATE: "late",
    State.MET: "delivered on time",
    State.MISSED: "delivered late",
    State.ON_HOLD: "on hold",
    State.BLOCKED: "blocked",
    State.UNSCHEDULED: "not scheduled",
    State.NO_PROJECTION: "no projection",
}

#: Worst first: the order in which lists put orders that need attention.
STATE_RANK: Final = {
    State.ON_HOLD: 0,
    State.BLOCKED: 1,
    State.LATE: 2,
    State.UNSCHEDULED: 3,
    State.AT_RISK: 4,
    State.NO_PROJECTION: 5,
    State.MISSED: 6,
    State.ON_TRACK: 7,
    State.MET: 8,
}

#: Every custody step from apheresis to infusion, with the label the timeline shows.
STEP_LABELS: Final = {
    Step.COLLECTED: "Apheresis",
    Step.PACKED: "Starting material packed",
    Step.SHIPPED: "Shipped to manufacturer",
    Step.RECEIVED: "Received at manufacturer",
    Step.STORED: "Starting material stored",
    Step.MANUFACTURING_STARTED: "Manufacturing started",
    Step.RELEASED: "Released (QC)",
    Step.PRODUCT_PACKED: "Product packed",
    Step.PRODUCT_SHIPPED: "Shipped to site",
    Step.PRODUCT_RECEIVED: "Delivered to site",
    Step.PRODUCT_STORED: "Stored at site",
    Step.ISSUED: "Issued for infusion",
    Step.THAWED: "Thawed",
    Step.INFUSED: "Infusion",
}


@dataclass(frozen=True, slots=True)
class ProductDurations:
    """The product's own durations, in days (the CDMO's settings of the product)."""

    inbound_days: int  # apheresis -> receipt at the manufacturer
    process_days: int  # start of manufacturing -> end
    qc_days: int  # end -> release
    ship_days: int  # release -> product at the treatment site
    start_weekdays: frozenset[int] | None = None  # Monday = 0; None: any day

    @property
    def total_days(self) -> int:
        return self.inbound_days + self.process_days + self.qc_days + self.ship_days

    def gap(self, before: Step, step: Step) -> int:
        """Days between two consecutive main steps."""
        if step is Step.RECEIVED:
            return self.inbound_days
        if step is Step.RELEASED:
            return self.process_days + self.qc_days
        if step is Step.PRODUCT_RECEIVED:
            return self.ship_days
        return 0

    def first_start(self, day: dt.date) -> dt.date:
        """The first day from ``day`` on which a batch of this product may start."""
        if not self.start_weekdays:
            return day
        while day.weekday() not in self.start_weekdays:
            day += DAY
        return day


@dataclass(frozen=True, slots=True)
class PlannedSlot:
    """The order's batch in a published plan (``sched_plan_slot``)."""

    version: int
    status: str  # planned | started | unscheduled
    start: dt.date | None = None
    release: dt.date | None = None
    delivery: dt.date | None = None
    note: str = ""

    @property
    def scheduled(self) -> bool:
        return self.status != "unscheduled" and self.delivery is not None

    def day(self, step: Step) -> dt.date | None:
        if not self.scheduled:
            return None
        return {
            Step.MANUFACTURING_STARTED: self.start,
            Step.RELEASED: self.release,
            Step.PRODUCT_RECEIVED: self.delivery,
        }.get(step)


class BlockerKind(enum.StrEnum):
    MISMATCH = "mismatch"  # an open hand-off mismatch: the order is on hold
    DEVIATION = "deviation"  # an open deviation (manufacturing): the order is blocked
    #: the order's batch failed and its material is used up: blocked until a new apheresis
    #: (a new DIN) is on its way; until then no delivery day can be projected
    NEW_APHERESIS = "new_apheresis"


@dataclass(frozen=True, slots=True)
class Blocker:
    kind: BlockerKind
    ref: str  # "#12"
    text: str  # "hand-off mismatch #12 at receipt"


@dataclass(frozen=True, slots=True)
class OrderDates:
    """What the projection needs of an order."""

    planned_apheresis: dt.date
    required_by: dt.date
    actual: Mapping[Step, dt.datetime]  # first time each recorded step happened (aware)
    zone: dt.tzinfo  # the treatment site's zone: days of actual steps are its local days


@dataclass(frozen=True, slots=True)
class StepProjection:
    step: Step
    label: str
    optional: bool
    planned: dt.date | None
    actual: dt.datetime | None
    expected: dt.date | None  # the actual day once done

    def late_days(self, zone: dt.tzinfo) -> int | None:
        """Days behind (positive) or ahead of (negative) the planned day."""
        if self.planned is None or self.expected is None:
            return None
        if self.actual is not None:
            return (self.actual.astimezone(zone).date() - self.planned).days
        return (self.expected - self.planned).days


@dataclass(frozen=True, slots=True)
class Projection:
    state: State
    source: str  # "published plan v3" | "product durations" | ... (see _source)
    plan_version: int | None
    required_by: dt.date
    delivery: dt.date | None  # expected (or actual) day the product reaches the site
    delivered: bool
    days_to_spare: int | None  # required_by - delivery
    margin_days: int
    blockers: tuple[Blocker, ...]
    steps: tuple[StepProjection, ...]
    target_v2v_days: int | None  # the product's own durations, apheresis to delivery
    allowed_v2v_days: int  # planned apheresis to required-by
    actual_v2v_days: float | None  # apheresis to infusion, once infused
    projected_v2v_days: int | None  # apheresis to expected delivery (infusion at the earliest)
    note: str = ""

    @property
    def message(self) -> str:
        """One sentence for a list, an API answer or the command line."""
        parts: list[str] = []
        if self.blockers:
            parts.append(f"{self.state.text}: " + "; ".join(b.text for b in self.blockers))
        elif self.state is State.UNSCHEDULED:
            why = f": {self.note}" if self.note else ""
            parts.append(f"not scheduled in published plan v{self.plan_version}{why}")
        if self.delivery is None:
            parts.append(f"no delivery projection ({self.source})")
        else:
            verb = "delivered" if self.delivered else "delivery"
            parts.append(f"{verb} {self.delivery.isoformat()} ({self.source})")
            assert self.days_to_spare is not None
            parts.append(spare_text(self.days_to_spare) + f" to {self.required_by.isoformat()}")
        return "; ".join(parts)


def spare_text(days: int) -> str:
    if days < 0:
        return f"{-days} day{'s' if days != -1 else ''} late"
    return f"{days} day{'s' if days != 1 else ''} to spare"


def _planned_days(
    order: OrderDates, durations: ProductDurations | None, slot: PlannedSlot | None
) -> dict[Step, dt.date | None]:
    planned: dict[Step, dt.date | None] = {}
    previous: Step | None = None
    for step in MAIN_PATH:
        pinned = slot.day(step) if slot is not None else None
        if pinned is not None:
            planned[step] = pinned
        elif previous is None:
            planned[step] = order.planned_apheresis
        else:
            planned[step] = _after(planned[previous], previous, step, durations)
        previous = step
    return planned


def _after(
    day: dt.date | None, before: Step, step: Step, durations: ProductDurations | None
) -> dt.date | None:
    """The earliest day of ``step`` after ``before`` happened on ``day`` (None: unknown)."""
    if day is None:
        return None
    if durations is None:
        # without the product's durations only same-day steps are known
        zero = step in (Step.PACKED, Step.SHIPPED, Step.PRODUCT_PACKED, Step.PRODUCT_SHIPPED)
        later = step in (Step.ISSUED, Step.THAWED, Step.INFUSED)
        return day if zero or later else None
    out = day + durations.gap(before, step) * DAY
    return durations.first_start(out) if step is Step.MANUFACTURING_STARTED else out


def project(
    order: OrderDates,
    today: dt.date,
    *,
    durations: ProductDurations | None,
    slot: PlannedSlot | None = None,
    blockers: Sequence[Blocker] = (),
    margin_days: int = 2,
) -> Projection:
    """The projection of one order on ``today`` (see the module's rules)."""
    local = {s: at.astimezone(order.zone).date() for s, at in order.actual.items()}
    # a failed batch: what is still to come waits for a new apheresis whose day is not known
    unknown = any(b.kind is BlockerKind.NEW_APHERESIS for b in blockers)
    use_plan = slot is not None and slot.scheduled
    planned = _planned_days(order, durations, slot if use_plan else None)
    expected: dict[Step, dt.date | None] = {}
    previous: Step | None = None
    for step in MAIN_PATH:
        if step in local:
            expected[step] = local[step]
        elif unknown:
            expected[step] = None
        else:
            chain = (
                None if previous is None else _after(expected[previous], previous, step, durations)
            )
            candidates = [d for d in (planned[step], chain) if d is not None]
            expected[step] = max([*candidates, today]) if candidates else None
        previous = step
    steps = tuple(
        StepProjection(
            step,
            STEP_LABELS[step],
            step in OPTIONAL_STEPS,
            planned.get(step),
            order.actual.get(step),
            local.get(step) if step in OPTIONAL_STEPS else expected.get(step),
        )
        for step in Step
    )
    source = _source(durations, slot)
    delivery = expected[Step.PRODUCT_RECEIVED]
    delivered = Step.PRODUCT_RECEIVED in local
    spare = None if delivery is None else (order.required_by - delivery).days
    state = _state(spare, delivered, margin_days, blockers, slot)
    collected = order.actual.get(Step.COLLECTED)
    infused = order.actual.get(Step.INFUSED)
    start = expected[Step.COLLECTED]
    return Projection(
        state=state,
        source=source,
        plan_version=slot.version if slot is not None else None,
        required_by=order.required_by,
        delivery=delivery,
        delivered=delivered,
        days_to_spare=spare,
        margin_days=margin_days,
        blockers=tuple(blockers),
        steps=steps,
        target_v2v_days=durations.total_days if durations is not None else None,
        allowed_v2v_days=(order.required_by - order.planned_apheresis).days,
        actual_v2v_days=round((infused - collected) / DAY, 1) if infused and collected else None,
        projected_v2v_days=(delivery - start).days if delivery and start else None,
        note=slot.note if slot is not None else "",
    )


def _source(durations: ProductDurations | None, slot: PlannedSlot | None) -> str:
    if slot is not None and slot.scheduled:
        return f"published plan v{slot.version}"
    base = "product durations" if durations is not None else "no product durations"
    if slot is not None:
        return f"{base}; not scheduled in published plan v{slot.version}"
    return base if durations is not None else "no published plan and no product durations"


def _state(
    spare: int | None,
    delivered: bool,
    margin_days: int,
    blockers: Sequence[Blocker],
    slot: PlannedSlot | None,
) -> State:
    if any(b.kind is BlockerKind.MISMATCH for b in blockers):
        return State.ON_HOLD
    if blockers:
        return State.BLOCKED
    if delivered:
        assert spare is not None
        return State.MET if spare >= 0 else State.MISSED
    if slot is not None and not slot.scheduled:
        return State.UNSCHEDULED
    if spare is None:
        return State.NO_PROJECTION
    if spare < 0:
        return State.LATE
    return State.AT_RISK if spare <= margin_days else State.ON_TRACK
