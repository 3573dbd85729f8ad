"""Plans from the store: compute a draft for review, publish it as the next version.

A plan is computed in three steps, so that no transaction is open while the solver runs (up to
``MAX_TIME_LIMIT`` seconds) and every page keeps answering meanwhile:

1. **read** (:func:`read_inputs`, in a read-only unit of work, ``Database.read``): the options
   are checked, then the latest published plan, the store's problem on today
   (``from_store.load_problem``) and the what-if events are read into :class:`PlanInputs`;
2. **solve** (:func:`solve`, no database): plan or re-plan, validate, and build the draft's
   payload (:class:`ComputedPlan`);
3. **write** (:func:`save_draft`, a short writing unit of work): the CDMO's planning lock is
   taken, the draft is refused (``Conflict``, compute again) when another version was published
   or the store's orders, suites, downtime or settings changed since step 1 (the same inputs
   hash that publishing compares), and the draft is written with its audit entry.

:func:`compute_draft_in_steps` runs the three for the entry points (API, pages, CLI);
:func:`compute_draft` runs them inside a unit of work the caller already holds (the demo
loader, tests), where holding the write lock during the solve does not matter.

A draft is **published** (:func:`publish`) in one short unit of work, after the independent
validator has checked it again. Who may do what: ``scheduling.access``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vein2vein.auth.scope import Scope
from vein2vein.core.canonical import sha256_hex
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import Conflict, InputError, NotFound, RuleViolation
from vein2vein.core.text import clean_text
from vein2vein.scheduling import access, settings
from vein2vein.scheduling.events import parse_events
from vein2vein.scheduling.from_store import StoreProblem, load_problem
from vein2vein.scheduling.model import Plan, Problem
from vein2vein.scheduling.planner import METHODS, make_plan, plan_from_json, plan_to_json
from vein2vein.scheduling.replan import (
    Change,
    Event,
    OrderArrived,
    apply_events,
    changes_between,
    replan,
)
from vein2vein.scheduling.settings import lock_planning, own
from vein2vein.scheduling.snapshot import problem_from_json, problem_to_json
from vein2vein.scheduling.tables import PlanDraft, PlanSlot, PublishedPlan, Suite
from vein2vein.scheduling.validator import ValidationReport, validate_plan
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor, UnitOfWork

#: The solver's time limit is capped so that a web request stays within ~10 s.
MAX_TIME_LIMIT = 8.0
DEFAULT_TIME_LIMIT = 5.0
MODES = ("replan", "plan")
#: Events a published plan may assume: a suite going down is recorded as downtime when the plan
#: is published. Arriving orders and failed batches are previews until the store records them
#: (a failure recorded in the batch record, ``manufacturing.batches.record_failure``, is read
#: from the store by every plan: ``from_store``).
PUBLISHABLE_EVENTS = frozenset({"suite_down"})


# ------------------------------------------------------------------------------------------
# the store's problem and the latest published plan
# ------------------------------------------------------------------------------------------


def latest_plan(session: Session, organisation_id: int) -> PublishedPlan | None:
    return session.scalars(
        select(PublishedPlan)
        .where(PublishedPlan.organisation_id == organisation_id)
        .order_by(PublishedPlan.version.desc())
        .limit(1)
    ).first()


def current_problem(
    session: Session, organisation_id: int, today: dt.date | None = None
) -> StoreProblem:
    """The store's problem today, started batches in their published suites."""
    latest = latest_plan(session, organisation_id)
    published = plan_from_json(latest.plan, "published plan") if latest is not None else None
    return load_problem(session, organisation_id, today or utcnow().date(), published)


# ------------------------------------------------------------------------------------------
# compute a draft: read, solve, write
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanOptions:
    """How to compute a draft, as the caller asked (checked by :func:`read_inputs`).

    ``mode="replan"`` keeps the latest published plan as far as it can (the fewest changes that
    do not cost a patient days of delay); ``"plan"`` plans from scratch. ``time_limit`` is the
    solver's, in seconds (at most ``MAX_TIME_LIMIT``); ``events`` are what-if events
    (``scheduling.events``).
    """

    method: str = "greedy"
    time_limit: object = DEFAULT_TIME_LIMIT
    mode: str = "replan"
    events: Sequence[Mapping[str, Any]] = ()
    num_workers: int = 2


@dataclass(frozen=True)
class PlanInputs:
    """What a draft is computed from, read in one read-only unit of work (plain values only:
    no database object outlives the read), and what the stale-input check compares."""

    organisation_id: int
    today: dt.date
    method: str
    time_limit: float
    #: "plan" when nothing has been published yet, else the mode asked for
    mode: str
    num_workers: int
    based_on_id: int | None
    based_on: Mapping[str, Any] | None  # version and metrics of the latest published plan
    published: Plan | None
    store: StoreProblem
    raw_events: tuple[Mapping[str, Any], ...]
    events: tuple[Event, ...]
    clean_events: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class ComputedPlan:
    """A draft's content, computed outside any transaction."""

    payload: dict[str, Any]
    valid: bool

    @property
    def plan_json(self) -> dict[str, Any]:
        return self.payload["plan"]  # type: ignore[no-any-return]


def _time_limit(value: object) -> float:
    try:
        limit = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError("the time limit is a number of seconds", field="time_limit") from None
    if not 0 < limit <= MAX_TIME_LIMIT:
        raise InputError(
            f"the time limit is more than 0 and at most {MAX_TIME_LIMIT:g} s", field="time_limit"
        )
    return limit


def read_inputs(session: Session, scope: Scope, options: PlanOptions) -> PlanInputs:
    """Step 1: check the options and read what the plan is computed from."""
    access.require_plan(scope)
    method, mode = options.method, options.mode
    if method not in METHODS:
        raise InputError(f"method is {' or '.join(METHODS)}", field="method")
    if mode not in MODES:
        raise InputError("mode is replan or plan", field="mode")
    limit = _time_limit(options.time_limit)
    org = scope.organisation_id
    today = utcnow().date()
    latest = latest_plan(session, org)
    published = plan_from_json(latest.plan, "published plan") if latest is not None else None
    store = load_problem(session, org, today, published)
    raw = tuple(dict(e) for e in options.events)
    pure_events, clean_events = parse_events(session, org, raw, today)
    return PlanInputs(
        organisation_id=org,
        today=today,
        method=method,
        time_limit=limit,
        mode=mode if latest is not None else "plan",
        num_workers=options.num_workers,
        based_on_id=latest.id if latest is not None else None,
        based_on=None
        if latest is None
        else {"version": latest.version, "metrics": dict(latest.metrics)},
        published=published,
        store=store,
        raw_events=raw,
        events=tuple(pure_events),
        clean_events=tuple(clean_events),
    )


#: what the standard library's date and time arithmetic says when a date leaves its range (a
#: day offset past 999,999,999, or past a C int, given to ``timedelta``)
_DATE_OVERFLOW = ("date value out of range", "must have magnitude", "too large to convert to C int")


def is_date_overflow(exc: OverflowError) -> bool:
    """Whether ``exc`` came from a date beyond what ``datetime`` holds (a date refused at the
    planner's backstop), not from arithmetic elsewhere (a fault to report as one)."""
    return any(text in str(exc) for text in _DATE_OVERFLOW)


def solve(inputs: PlanInputs) -> ComputedPlan:
    """Step 2: plan or re-plan, validate, and build the draft's payload (no database)."""
    store, today = inputs.store, inputs.today
    base = _published_for(store.problem, inputs.published, inputs.events)
    try:
        problem, plan, changes = _solve(
            store.problem,
            base,
            today,
            inputs.events,
            inputs.method,
            inputs.time_limit,
            inputs.mode,
            inputs.num_workers,
            store.renewed,
        )
    except OverflowError as exc:
        if not is_date_overflow(exc):
            raise
        # dates are bounded where they enter; this is the backstop for records made before that
        raise InputError(
            "a date of an order, suite or downtime window is too far from today to plan with",
            field="events",
        ) from None
    report = validate_plan(problem, plan)
    payload = {
        "today": today.isoformat(),
        "mode": inputs.mode,
        "problem": problem_to_json(problem),
        "plan": plan_to_json(problem, plan, report),
        "changes": _changes_json(changes, problem),
        "events": [dict(e) for e in inputs.clean_events],
        "skipped": [{"order_id": k.number, "reason": k.reason} for k in store.skipped],
        "assumptions": list(store.assumptions),
        "site_notes": list(store.site_notes),
        "refs": {
            key: {
                "id": r.id,
                "organisation_id": r.organisation_id,
                "number": r.number,
                "required_by": r.required_by.isoformat(),
                "started": r.started,
            }
            for key, r in store.refs.items()
        },
        "before": None if inputs.based_on is None else dict(inputs.based_on),
    }
    return ComputedPlan(payload, report.ok)


def save_draft(
    uow: UnitOfWork, scope: Scope, inputs: PlanInputs, computed: ComputedPlan
) -> PlanDraft:
    """Step 3: write the draft, unless what it was computed from changed meanwhile."""
    access.require_plan(scope)
    s = uow.session
    lock_planning(s, inputs.organisation_id)
    _refuse_stale(s, inputs)
    plan_json = computed.plan_json
    draft = PlanDraft(
        organisation_id=inputs.organisation_id,
        based_on_id=inputs.based_on_id,
        kind="replan" if inputs.mode == "replan" else "plan",
        method=inputs.method,
        inputs_sha256=inputs.store.inputs_sha256,
        plan_sha256=_plan_hash(plan_json),
        payload=computed.payload,
        created_by=uow.actor.name,
    )
    s.add(draft)
    s.flush()
    uow.record(
        "schedule.draft_compute",
        "sched_plan_draft",
        draft.id,
        after={
            "method": inputs.method,
            "mode": inputs.mode,
            "time_limit": inputs.time_limit,
            "based_on_version": None if inputs.based_on is None else inputs.based_on["version"],
            "events": computed.payload["events"],
            "metrics": plan_json["metrics"],
            "valid": computed.valid,
            "inputs_sha256": draft.inputs_sha256,
            "plan_sha256": draft.plan_sha256,
        },
    )
    return draft


def _refuse_stale(session: Session, inputs: PlanInputs) -> None:
    """The stale-input check: the latest version, the store's problem (by the inputs hash that
    publishing compares) and the what-if events must read as they did in step 1."""
    org = inputs.organisation_id
    latest = latest_plan(session, org)
    if (latest.id if latest is not None else None) != inputs.based_on_id:
        raise Conflict(
            f"version {latest.version if latest else '?'} was published while this plan was "
            "being computed: compute the plan again"
        )
    store = load_problem(session, org, inputs.today, inputs.published)
    events, clean = parse_events(session, org, inputs.raw_events, inputs.today)
    if (
        store.inputs_sha256 != inputs.store.inputs_sha256
        or tuple(events) != inputs.events
        or tuple(clean) != inputs.clean_events
    ):
        raise Conflict(
            "orders, suites, downtime or settings changed while this plan was being computed: "
            "compute the plan again"
        )


def compute_draft_in_steps(db: Database, actor: Actor, scope: Scope, **options: Any) -> int:
    """Compute a plan (or a what-if re-plan) from the store into a draft for review; return the
    draft's id. ``options`` are those of :class:`PlanOptions`. Read, solve and write are
    separate (the module's three steps): the solver runs in this process with no transaction
    open, so pages keep answering and other changes are written meanwhile."""
    with db.read() as session:
        inputs = read_inputs(session, scope, PlanOptions(**options))
    computed = solve(inputs)
    with db.uow(actor) as uow:
        draft = save_draft(uow, scope, inputs, computed)
        uow.commit()
        return draft.id


def compute_draft(uow: UnitOfWork, scope: Scope, **options: Any) -> PlanDraft:
    """:func:`compute_draft_in_steps` inside the caller's unit of work (the demo loader, tests):
    the solver runs while that transaction is open, so entry points do not use it."""
    inputs = read_inputs(uow.session, scope, PlanOptions(**options))
    return save_draft(uow, scope, inputs, solve(inputs))


def _changes_json(changes: Sequence[Change], problem: Problem) -> list[dict[str, Any]]:
    """Each change with the suites' sites; ``site_moved`` when the batch changes site."""
    suites = problem.suite_by_id

    def slot(a: Any) -> dict[str, str] | None:
        if a is None:
            return None
        site = suites[a.suite_id].site if a.suite_id in suites else ""
        return {
            "suite": a.suite_id,
            "site": site,
            "start": a.start.isoformat(),
            "ship": a.ship.isoformat(),
        }

    out = []
    for c in changes:
        before, after = slot(c.before), slot(c.after)
        moved = (
            before is not None
            and after is not None
            and bool(before["site"] and after["site"])
            and before["site"] != after["site"]
        )
        out.append(
            {
                "order_id": c.order_id,
                "kind": c.kind,
                "before": before,
                "after": after,
                "site_moved": moved,
            }
        )
    return out


def _plan_hash(plan_json: Mapping[str, Any]) -> str:
    return sha256_hex(
        {"assignments": plan_json["assignments"], "unscheduled": plan_json["unscheduled"]}
    )


def _published_for(problem: Problem, published: Plan | None, events: Sequence[Event]) -> Plan:
    """The published plan restricted to the orders still being planned (completed orders and
    orders no longer in the store are history, not changes)."""
    if published is None:
        return Plan(())
    keep = set(problem.order_by_id) | {
        e.order.order_id for e in events if isinstance(e, OrderArrived)
    }
    return Plan(tuple(a for a in published.assignments if a.order_id in keep))


def _solve(
    problem: Problem,
    published: Plan,
    today: dt.date,
    events: Sequence[Event],
    method: str,
    limit: float,
    mode: str,
    num_workers: int,
    renewed: frozenset[str] = frozenset(),
) -> tuple[Problem, Plan, Sequence[Change]]:
    if mode == "replan":
        result = replan(
            problem,
            published,
            today,
            events,
            method=method,
            time_limit=limit,
            num_workers=num_workers,
            started_from="problem",
            replaced=renewed,
        )
        return result.problem, result.plan, result.changes
    current = apply_events(problem, published, today, events, started_from="problem")
    plan = make_plan(current, method=method, time_limit=limit, num_workers=num_workers)
    lost = renewed & set(current.order_by_id)
    return current, plan, changes_between(current, published, plan, lost)


# ------------------------------------------------------------------------------------------
# publish a draft
# ------------------------------------------------------------------------------------------


def restarted_batches(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The batches already in manufacturing that a draft moves or drops (a suite taken down
    under them, a failure): order number, the suite and the day manufacturing started. A
    started batch the draft places where its batch record says it works (pinned: another suite
    than planned, or another day) is the plan catching up with the record, not a restart."""
    pinned = {o["order_id"]: o["fixed"] for o in payload["problem"]["orders"] if o.get("fixed")}
    out = []
    for c in payload["changes"]:
        ref = payload["refs"].get(c["order_id"], {})
        if c["kind"] == "new" or not ref.get("started"):
            continue
        after, fixed = c.get("after"), pinned.get(c["order_id"])
        if after and fixed and (after["suite"], after["start"]) == (fixed["suite"], fixed["start"]):
            continue
        before = c.get("before") or {}
        out.append(
            {
                "order_id": ref.get("number", c["order_id"]),
                "suite": before.get("suite", "?"),
                "started": before.get("start", "?"),
                "kind": c["kind"],
            }
        )
    return sorted(out, key=lambda b: b["order_id"])


def _refuse_invalid(report: ValidationReport) -> None:
    if not report.ok:
        raise RuleViolation(
            "the plan breaks the hard rules and cannot be published: " + report.summary(limit=20)
        )


def publish(uow: UnitOfWork, scope: Scope, draft_id: int, comment: str = "") -> PublishedPlan:
    """Publish a draft as the next version, after the independent validator checked it again.

    Refused when the draft was published already, when another version was published since it
    was computed, when the store's orders, suites or settings changed since (compute again), when
    it assumes orders or failures the store does not know, or when the plan breaks a hard rule.
    """
    s = uow.session
    draft = own(s, scope, PlanDraft, draft_id)
    access.require_plan(scope)
    lock_planning(uow.session, scope.organisation_id)
    comment = clean_text(comment, "comment", 2000, multiline=True)
    org = scope.organisation_id
    if draft.published_plan_id is not None:
        raise Conflict(f"draft {draft.id} has already been published")
    latest = latest_plan(s, org)
    if (latest.id if latest is not None else None) != draft.based_on_id:
        raise Conflict(
            f"version {latest.version if latest else '?'} was published after this draft was "
            "computed: compute the plan again"
        )
    payload = draft.payload
    if payload["today"] != utcnow().date().isoformat():
        raise Conflict(f"this draft was computed on {payload['today']}: compute it again today")
    hypothetical = sorted({e["kind"] for e in payload["events"]} - PUBLISHABLE_EVENTS)
    if hypothetical:
        raise RuleViolation(
            f"a plan that assumes {', '.join(hypothetical)} cannot be published: record the "
            "order, or the batch's failure in its batch record, first; the plan then takes it "
            "from the store"
        )
    lost = restarted_batches(payload)
    if lost:
        raise RuleViolation(
            "this plan restarts batches already in manufacturing ("
            + "; ".join(
                f"order {b['order_id']} in suite {b['suite']}, manufacturing started {b['started']}"
                for b in lost
            )
            + "): record what happened to them first; a published plan cannot assume it"
        )
    published = plan_from_json(latest.plan, "published plan") if latest is not None else None
    store = load_problem(s, org, dt.date.fromisoformat(payload["today"]), published)
    if store.inputs_sha256 != draft.inputs_sha256:
        raise Conflict(
            "orders, suites, downtime or settings changed since this draft was computed: "
            "compute the plan again"
        )
    problem = problem_from_json(payload["problem"])
    plan = plan_from_json(payload["plan"], "draft")
    report = validate_plan(problem, plan)
    _refuse_invalid(report)
    if _plan_hash(payload["plan"]) != draft.plan_sha256:
        raise Conflict(f"draft {draft.id} was altered after it was computed")
    try:
        with s.begin_nested():
            row = _write_plan(uow, scope, draft, latest, problem, plan, report, comment)
    except IntegrityError:
        raise Conflict("another version was published at the same moment: compute again") from None
    _record_downtime(uow, scope, payload["events"], row.version)
    draft.published_plan_id = row.id
    return row


def _write_plan(
    uow: UnitOfWork,
    scope: Scope,
    draft: PlanDraft,
    latest: PublishedPlan | None,
    problem: Problem,
    plan: Plan,
    report: ValidationReport,
    comment: str,
) -> PublishedPlan:
    s = uow.session
    payload = draft.payload
    plan_json = plan_to_json(problem, plan, report)
    metrics = plan_json["metrics"] | plan_json["summary"]
    # the solver's own figures (optimality gap) are not recomputable from the plan: keep them
    metrics["gap"] = payload["plan"]["metrics"].get("gap", metrics.get("gap"))
    row = PublishedPlan(
        organisation_id=scope.organisation_id,
        version=(latest.version + 1) if latest is not None else 1,
        based_on_id=latest.id if latest is not None else None,
        kind=draft.kind,
        method=draft.method,
        plan_day=dt.date.fromisoformat(payload["today"]),
        problem=payload["problem"],
        plan=payload["plan"],
        metrics=metrics,
        solver=payload["plan"].get("solver") or {},
        validation=plan_json["validation"],
        changes=payload["changes"],
        events=payload["events"],
        inputs_sha256=draft.inputs_sha256,
        plan_sha256=draft.plan_sha256,
        comment=comment,
        published_by=uow.actor.name,
        published_by_id=scope.user_id or None,
    )
    s.add(row)
    s.flush()
    refs = payload["refs"]
    for a in plan.assignments:
        ref = refs.get(a.order_id)
        if ref is None:
            continue
        s.add(
            PlanSlot(
                plan_id=row.id,
                organisation_id=ref["organisation_id"],
                order_id=ref["id"],
                order_number=ref["number"],
                suite_code=a.suite_id,
                start=a.start,
                end=a.end,
                release=a.release,
                ship=a.ship,
                required_by=dt.date.fromisoformat(ref["required_by"]),
                status="started" if ref["started"] else "planned",
            )
        )
    for u in plan.unscheduled:
        ref = refs.get(u.order_id)
        if ref is not None:
            s.add(
                PlanSlot(
                    plan_id=row.id,
                    organisation_id=ref["organisation_id"],
                    order_id=ref["id"],
                    order_number=ref["number"],
                    required_by=dt.date.fromisoformat(ref["required_by"]),
                    status="unscheduled",
                    note=u.reason[:300],
                )
            )
    uow.record(
        "schedule.plan_publish",
        "sched_plan",
        row.id,
        after={
            "version": row.version,
            "based_on_version": latest.version if latest is not None else None,
            "draft_id": draft.id,
            "method": row.method,
            "kind": row.kind,
            "metrics": metrics,
            "valid": report.ok,
            "changes": len(row.changes),
            "events": row.events,
            "inputs_sha256": row.inputs_sha256,
            "plan_sha256": row.plan_sha256,
        },
        reason=comment or None,
    )
    return row


def _record_downtime(
    uow: UnitOfWork, scope: Scope, events: Sequence[Mapping[str, Any]], version: int
) -> None:
    """A suite-down what-if that is published becomes a downtime window of the suite."""
    for e in events:
        if e["kind"] != "suite_down":
            continue
        suite = uow.session.scalar(
            select(Suite).where(
                Suite.organisation_id == scope.organisation_id, Suite.code == e["suite"]
            )
        )
        if suite is None:
            raise NotFound(f"suite {e['suite']} not found")
        last = (
            e["last_day"]
            or (dt.date.fromisoformat(e["first_day"]) + dt.timedelta(days=3649)).isoformat()
        )
        settings.add_downtime(
            uow,
            scope,
            suite.id,
            first_day=e["first_day"],
            last_day=last,
            reason=f"{e['reason']} (published with plan version {version})",
        )
