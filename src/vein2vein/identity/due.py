"""When an order's next custody step is due: the rule behind the "hand-offs due today" queue.

Pure: no database, web or clock. The dates come from the one delivery projection
(``scheduling.projection``): the published plan's day of each step where the plan holds the
order, else the product's own durations after the last recorded step (docs/identity.md,
"Delivery projection"). So the queue, the orders list, the order's timeline and the plan agree.

The next step is the first step of the main path not yet recorded (optional steps, storage at
the site, are never due). It is *due today* when its expected day, in the order's time zone, is
``today`` or earlier; the projection never expects an unrecorded step before today, so an
overdue hand-off stays in the queue (expected today) until it is recorded. A step whose day
cannot be projected (no plan and no product durations) is not counted as due.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from vein2vein.identity.domain import Step
from vein2vein.scheduling.projection import Projection


@dataclass(frozen=True, slots=True)
class NextDue:
    step: Step
    day: dt.date | None  # the expected day in the order's time zone (None: cannot be projected)


def next_due(projection: Projection) -> NextDue | None:
    """The next main-path step of an order and its expected day (None once infused)."""
    for step in projection.steps:
        if step.optional or step.actual is not None:
            continue
        return NextDue(step.step, step.expected)
    return None


def due_by(due: NextDue | None, today: dt.date) -> bool:
    """Whether the step is due on ``today`` (the order's local day) or earlier."""
    return due is not None and due.day is not None and due.day <= today
