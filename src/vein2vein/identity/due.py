"""When an order's next custody step is due: the rule behind the "hand-offs due today" queue.

Pure: no database, web or clock; callers pass the recorded events and ``today``.

The next step is the first step of the main path that may follow the last recorded one
(optional steps, storage, are never due). It is due at the planned apheresis (08:00 in the
order's time zone, as ``views._risk`` plans it) when nothing is recorded yet, else its typical
duration (``domain.DEFAULT_STEP_DURATIONS``, the same durations as the required-by projection)
after the last recorded step. A step is *due today* when that time falls on ``today`` or earlier
in the order's time zone: an overdue hand-off stays in the queue until it is recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vein2vein.identity.domain import (
    DEFAULT_STEP_DURATIONS,
    MAIN_PATH,
    CustodyEvent,
    Step,
    progress,
)

#: the hour of the planned apheresis day at which collection is planned (as the projection)
PLANNED_APHERESIS_HOUR = 8


@dataclass(frozen=True, slots=True)
class NextDue:
    step: Step
    at: dt.datetime  # when it is due (aware)


def next_due(
    events: Sequence[CustodyEvent],
    planned_apheresis: dt.date,
    tz: dt.tzinfo,
    durations: Mapping[Step, dt.timedelta] = DEFAULT_STEP_DURATIONS,
) -> NextDue | None:
    """The next main-path step of an order and when it is due (None once infused)."""
    state = progress(events)
    main = [s for s in state.next_steps if s in MAIN_PATH]
    if not main:
        return None
    step = main[0]
    if state.since is None:
        planned = dt.time(PLANNED_APHERESIS_HOUR, 0)
        return NextDue(step, dt.datetime.combine(planned_apheresis, planned, tzinfo=tz))
    return NextDue(step, state.since + durations[step])


def due_by(due: NextDue | None, today: dt.date, tz: dt.tzinfo) -> bool:
    """Whether the step is due on ``today`` or earlier, in the order's time zone ``tz``."""
    return due is not None and due.at.astimezone(tz).date() <= today
