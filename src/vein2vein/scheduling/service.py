"""Use cases of capacity scheduling in the store: one unit of work each, audited, scoped.

Suites, downtime, product and laboratory settings are the CDMO's (``organisation_id`` of the
caller's CDMO). A plan is computed into a **draft** (what the planner reviews: plan, metrics,
diff against the published plan), and a draft is **published** as a new immutable version after
the independent validator has checked it again. Who may do what: ``scheduling.access``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.auth.tables import Site
from vein2vein.core.canonical import sha256_hex
from vein2vein.core.clock import utcnow
from vein2vein.core.dates import bounded_date
from vein2vein.core.errors import Conflict, InputError, NotFound, RuleViolation
from vein2vein.core.text import clean_text
from vein2vein.scheduling import access
from vein2vein.scheduling.from_store import (
    StoreProblem,
    load_problem,
    order_for_product,
    products,
)
from vein2vein.scheduling.model import Plan, Problem, parse_weekdays
from vein2vein.scheduling.planner import METHODS, make_plan, plan_from_json, plan_to_json
from vein2vein.scheduling.replan import (
    BatchFailed,
    Change,
    Event,
    OrderArrived,
    OrderCancelled,
    SuiteDown,
    apply_events,
    changes_between,
    replan,
)
from vein2vein.scheduling.snapshot import problem_from_json, problem_to_json
from vein2vein.scheduling.tables import (
    Downtime,
    LabSettings,
    PlanDraft,
    PlanSlot,
    ProductSettings,
    PublishedPlan,
    Suite,
)
from vein2vein.scheduling.validator import ValidationReport, validate_plan
from vein2vein.store.locks import advisory_lock
from vein2vein.store.uow import UnitOfWork

T = TypeVar("T")

#: The solver's time limit is capped so that a web request stays within ~10 s.
MAX_TIME_LIMIT = 8.0
DEFAULT_TIME_LIMIT = 5.0
MODES = ("replan", "plan")
#: Events a published plan may assume: a suite going down is recorded as downtime when the plan
#: is published. Arriving orders and failed batches are previews until the store records them.
PUBLISHABLE_EVENTS = frozenset({"suite_down"})
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
_PRODUCT = re.compile(r"^[A-Z0-9][0-9]{4}$")


# ------------------------------------------------------------------------------------------
# small parsers at the service boundary
# ------------------------------------------------------------------------------------------


def _date(value: dt.date | str | None, field: str) -> dt.date:
    return bounded_date(value, field)


_PLANNING_LOCK = 7_262_004  # advisory lock class: one planning writer per CDMO at a time


def _lock_planning(session: Session, organisation_id: int) -> None:
    """Serialise every write of a CDMO's planning data with publishing (PostgreSQL advisory
    transaction lock; SQLite transactions already begin IMMEDIATE): a plan is never published
    against suites, downtime or settings that change while it is being checked."""
    advisory_lock(session, _PLANNING_LOCK, organisation_id)


def _days(value: object, field: str, low: int = 0, high: int = 365) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise InputError(f"{value!r} is not a whole number of days", field=field) from None
    if not low <= number <= high:
        raise InputError(f"must be between {low} and {high}", field=field)
    return number


def _optional_int(value: object, field: str, low: int = 1, high: int = 1000) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    return _days(value, field, low, high)


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "y", "yes", "true", "on")


def _own(session: Session, scope: Scope, model: type[T], ident: object) -> T:
    """A CDMO-owned scheduling record of the caller's organisation, or ``NotFound``."""
    row = get_scoped(session, scope, model, ident)
    if row.organisation_id != scope.organisation_id:  # type: ignore[attr-defined]
        label = getattr(model, "__tablename__", "record").replace("_", " ")
        raise NotFound(f"{label} {ident} not found")
    return row


# ------------------------------------------------------------------------------------------
# suites and downtime
# ------------------------------------------------------------------------------------------


def _suite_values(
    *,
    name: str,
    infectious: object,
    changeover_days: object,
    decon_days: object,
    available_from: object,
) -> dict[str, Any]:
    return {
        "name": clean_text(name, "name", 200),
        "infectious": _bool(infectious),
        "changeover_days": _days(changeover_days, "changeover_days", 0, 60),
        "decon_days": _days(decon_days, "decon_days", 0, 60),
        "available_from": _date(available_from, "available_from"),  # type: ignore[arg-type]
    }


def add_suite(
    uow: UnitOfWork,
    scope: Scope,
    *,
    site_id: int,
    code: str,
    name: str = "",
    infectious: object = False,
    changeover_days: object = 1,
    decon_days: object = 0,
    available_from: object = None,
) -> Suite:
    """Add a GMP suite to one of the caller's manufacturing sites."""
    access.require_plan(scope)
    _lock_planning(uow.session, scope.organisation_id)
    s = uow.session
    site = s.get(Site, site_id) if isinstance(site_id, int) else None
    if site is None or site.organisation_id != scope.organisation_id:
        raise InputError("choose one of your organisation's manufacturing sites", field="site_id")
    if site.purpose != "MANUFACTURING":
        raise InputError(f"{site.name} is not a manufacturing site", field="site_id")
    code = clean_text(code, "code", 32, required=True).upper()
    if not _CODE.match(code):
        raise InputError("letters, digits and '-' only (e.g. LEI-03)", field="code")
    if s.scalar(
        select(Suite.id).where(Suite.organisation_id == scope.organisation_id, Suite.code == code)
    ):
        raise Conflict(f"suite {code} already exists")
    values = _suite_values(
        name=name,
        infectious=infectious,
        changeover_days=changeover_days,
        decon_days=decon_days,
        available_from=available_from or utcnow().date(),
    )
    suite = Suite(
        organisation_id=scope.organisation_id,
        site_id=site.id,
        code=code,
        created_by=uow.actor.name,
        **values,
    )
    s.add(suite)
    uow.record("schedule.suite_add", "sched_suite", _flush_id(s, suite), after=suite.public())
    return suite


def _flush_id(session: Session, row: Any) -> int:
    session.flush()
    return int(row.id)


def update_suite(
    uow: UnitOfWork, scope: Scope, suite_id: int, *, reason: str, **changes: object
) -> Suite:
    """Change a suite's name, segregation, cleaning days or availability (with a reason)."""
    suite = _own(uow.session, scope, Suite, suite_id)
    access.require_plan(scope)
    _lock_planning(uow.session, scope.organisation_id)
    reason = clean_text(reason, "reason", 300, required=True)
    before = suite.public()
    current = {k: getattr(suite, k) for k in ("name", "infectious", "changeover_days")} | {
        "decon_days": suite.decon_days,
        "available_from": suite.available_from,
    }
    unknown = set(changes) - set(current)
    if unknown:
        raise InputError(f"cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    values = _suite_values(**(current | {k: v for k, v in changes.items() if v is not None}))  # type: ignore[arg-type]
    for key, value in values.items():
        setattr(suite, key, value)
    uow.record(
        "schedule.suite_update",
        "sched_suite",
        suite.id,
        before=before,
        after=suite.public(),
        reason=reason,
    )
    return suite


def add_downtime(
    uow: UnitOfWork,
    scope: Scope,
    suite_id: int,
    *,
    first_day: object,
    last_day: object,
    reason: str,
) -> Downtime:
    """Close a suite from ``first_day`` to ``last_day`` (both included): maintenance, failure."""
    suite = _own(uow.session, scope, Suite, suite_id)
    access.require_plan(scope)
    _lock_planning(uow.session, scope.organisation_id)
    first = _date(first_day, "first_day")  # type: ignore[arg-type]
    last = _date(last_day, "last_day")  # type: ignore[arg-type]
    if last < first:
        raise InputError("the last day down cannot be before the first", field="last_day")
    window = Downtime(
        organisation_id=scope.organisation_id,
        suite_id=suite.id,
        first_day=first,
        last_day=last,
        reason=clean_text(reason, "reason", 300, required=True),
        created_by=uow.actor.name,
    )
    uow.session.add(window)
    uow.session.flush()
    window.suite = suite
    uow.record("schedule.downtime_add", "sched_downtime", window.id, after=window.public())
    return window


def cancel_downtime(uow: UnitOfWork, scope: Scope, downtime_id: int, reason: str) -> Downtime:
    window = _own(uow.session, scope, Downtime, downtime_id)
    access.require_plan(scope)
    _lock_planning(uow.session, scope.organisation_id)
    if not window.active:
        raise Conflict(f"downtime {downtime_id} was already cancelled")
    before = window.public()
    window.cancelled_at = utcnow()
    window.cancelled_by = uow.actor.name
    window.cancel_reason = clean_text(reason, "reason", 300, required=True)
    uow.record(
        "schedule.downtime_cancel",
        "sched_downtime",
        window.id,
        before=before,
        after=window.public(),
        reason=window.cancel_reason,
    )
    return window


# ------------------------------------------------------------------------------------------
# product and laboratory settings
# ------------------------------------------------------------------------------------------


def set_product(
    uow: UnitOfWork,
    scope: Scope,
    *,
    product_code: str,
    name: str = "",
    process_days: object,
    start_weekdays: str = "Mon-Fri",
    qc_method: str = "compendial",
    qc_days_rapid: object,
    qc_days_compendial: object,
    fresh_hold_days: object = 2,
    cryo_hold_days: object = 180,
    inbound_days: object = 1,
    ship_days: object = 2,
    reason: str = "",
) -> ProductSettings:
    """Create or change the process settings of a product (ISBT 128 description code)."""
    access.require_plan(scope)
    _lock_planning(uow.session, scope.organisation_id)
    code = clean_text(product_code, "product_code", 8, required=True).upper()[:5]
    if not _PRODUCT.match(code):
        raise InputError("the product description code is a letter and 4 digits", field="code")
    try:
        weekdays = parse_weekdays(start_weekdays)
    except ValueError as exc:
        raise InputError(str(exc), field="start_weekdays") from None
    method = (qc_method or "").strip().lower()
    if method not in ("rapid", "compendial"):
        raise InputError("QC release testing is rapid or compendial", field="qc_method")
    values = {
        "name": clean_text(name, "name", 200),
        "process_days": _days(process_days, "process_days", 1, 120),
        "start_weekdays": ",".join(
            ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[d] for d in sorted(weekdays)
        ),
        "qc_method": method,
        "qc_days_rapid": _days(qc_days_rapid, "qc_days_rapid", 0, 60),
        "qc_days_compendial": _days(qc_days_compendial, "qc_days_compendial", 0, 60),
        "fresh_hold_days": _days(fresh_hold_days, "fresh_hold_days", 0, 30),
        "cryo_hold_days": _days(cryo_hold_days, "cryo_hold_days", 0, 3650),
        "inbound_days": _days(inbound_days, "inbound_days", 0, 30),
        "ship_days": _days(ship_days, "ship_days", 0, 30),
    }
    s = uow.session
    row = s.scalar(
        select(ProductSettings).where(
            ProductSettings.organisation_id == scope.organisation_id,
            ProductSettings.product_code == code,
        )
    )
    before = row.public() if row is not None else None
    if row is None:
        row = ProductSettings(organisation_id=scope.organisation_id, product_code=code)
        s.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at, row.updated_by = utcnow(), uow.actor.name
    uow.record(
        "schedule.product_set",
        "sched_product",
        _flush_id(s, row),
        before=before,
        after=row.public(),
        reason=clean_text(reason, "reason", 300) or None,
    )
    return row


def set_lab(
    uow: UnitOfWork,
    scope: Scope,
    *,
    qc_capacity: object = None,
    max_starts_per_day: object = None,
    risk_margin_days: object = 2,
    reason: str = "",
) -> LabSettings:
    """QC release capacity (batches in testing at once), starts per day, at-risk margin."""
    access.require_plan(scope)
    _lock_planning(uow.session, scope.organisation_id)
    s = uow.session
    row = s.scalar(select(LabSettings).where(LabSettings.organisation_id == scope.organisation_id))
    before = row.public() if row is not None else None
    if row is None:
        row = LabSettings(organisation_id=scope.organisation_id)
        s.add(row)
    row.qc_capacity = _optional_int(qc_capacity, "qc_capacity")
    row.max_starts_per_day = _optional_int(max_starts_per_day, "max_starts_per_day")
    row.risk_margin_days = _days(risk_margin_days, "risk_margin_days", 0, 60)
    row.updated_at, row.updated_by = utcnow(), uow.actor.name
    uow.record(
        "schedule.lab_set",
        "sched_lab",
        _flush_id(s, row),
        before=before,
        after=row.public(),
        reason=clean_text(reason, "reason", 300) or None,
    )
    return row


def lab_settings(session: Session, organisation_id: int) -> LabSettings | None:
    return session.scalar(select(LabSettings).where(LabSettings.organisation_id == organisation_id))


# ------------------------------------------------------------------------------------------
# what-if events
# ------------------------------------------------------------------------------------------


def parse_events(
    session: Session, organisation_id: int, raw: Sequence[Mapping[str, Any]], today: dt.date
) -> tuple[list[Event], list[dict[str, Any]]]:
    """What-if events from plain dictionaries; also returns them normalised (for the record)."""
    settings = products(session, organisation_id)
    events: list[Event] = []
    clean: list[dict[str, Any]] = []
    for number, item in enumerate(raw, start=1):
        kind = str(item.get("kind") or "").strip()
        where = f"events[{number}]"
        if kind == "order_arrived":
            code = str(item.get("product_code") or "").strip().upper()[:5]
            product = settings.get(code)
            if product is None:
                raise InputError(f"no process settings for product {code!r}", field=where)
            order_id = clean_text(str(item.get("order_id") or f"WHAT-IF-{number}"), where, 40)
            receipt = _date(item.get("receipt_date") or today, f"{where}.receipt_date")
            required = _date(item.get("required_by"), f"{where}.required_by")
            fresh = str(item.get("starting_material") or "fresh").strip().lower() == "fresh"
            infectious = _bool(item.get("infectious", False))
            events.append(
                OrderArrived(
                    order_for_product(
                        order_id,
                        product,
                        receipt=receipt,
                        required_by=required,
                        fresh=fresh,
                        infectious=infectious,
                    )
                )
            )
            clean.append(
                {
                    "kind": kind,
                    "order_id": order_id,
                    "product_code": code,
                    "receipt_date": receipt.isoformat(),
                    "required_by": required.isoformat(),
                    "starting_material": "fresh" if fresh else "cryopreserved",
                    "infectious": infectious,
                }
            )
        elif kind == "batch_failed":
            order = str(item.get("order") or "").strip().upper()
            on = _date(item.get("on") or today, f"{where}.on")
            retry = item.get("retry_receipt")
            retry_day = _date(retry, f"{where}.retry_receipt") if retry else None
            hold = _optional_int(item.get("retry_max_hold_days"), f"{where}.retry_max_hold_days", 0)
            events.append(BatchFailed(order, on, retry_day, hold))
            clean.append(
                {
                    "kind": kind,
                    "order": order,
                    "on": on.isoformat(),
                    "retry_receipt": retry_day.isoformat() if retry_day else None,
                    "retry_max_hold_days": hold,
                }
            )
        elif kind == "suite_down":
            suite = str(item.get("suite") or "").strip().upper()
            first = _date(item.get("first_day") or today, f"{where}.first_day")
            last_raw = item.get("last_day")
            last = _date(last_raw, f"{where}.last_day") if last_raw else None
            if last is not None and last < first:
                raise InputError("the last day down cannot be before the first", field=where)
            reason = clean_text(str(item.get("reason") or "suite down"), f"{where}.reason", 300)
            end = last + dt.timedelta(days=1) if last else None
            events.append(SuiteDown(suite, first, end, reason))
            clean.append(
                {
                    "kind": kind,
                    "suite": suite,
                    "first_day": first.isoformat(),
                    "last_day": last.isoformat() if last else None,
                    "reason": reason,
                }
            )
        elif kind == "order_cancelled":
            order = str(item.get("order") or "").strip().upper()
            events.append(OrderCancelled(order))
            clean.append({"kind": kind, "order": order})
        else:
            raise InputError(
                "kind is order_arrived, batch_failed, suite_down or order_cancelled", field=where
            )
    return events, clean


# ------------------------------------------------------------------------------------------
# plans: compute a draft, publish it
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


def _changes_json(changes: Sequence[Change]) -> list[dict[str, Any]]:
    def slot(a: Any) -> dict[str, str] | None:
        if a is None:
            return None
        return {"suite": a.suite_id, "start": a.start.isoformat(), "ship": a.ship.isoformat()}

    return [
        {"order_id": c.order_id, "kind": c.kind, "before": slot(c.before), "after": slot(c.after)}
        for c in changes
    ]


def _plan_hash(plan_json: Mapping[str, Any]) -> str:
    return sha256_hex(
        {"assignments": plan_json["assignments"], "unscheduled": plan_json["unscheduled"]}
    )


def compute_draft(
    uow: UnitOfWork,
    scope: Scope,
    *,
    method: str = "greedy",
    time_limit: float = DEFAULT_TIME_LIMIT,
    mode: str = "replan",
    events: Sequence[Mapping[str, Any]] = (),
    num_workers: int = 2,
) -> PlanDraft:
    """Compute a plan (or a what-if re-plan) from the store into a draft for review.

    ``mode="replan"`` keeps the latest published plan as far as it can (the fewest changes that
    do not cost a patient days of delay); ``"plan"`` plans from scratch. The solver runs in
    this process under ``time_limit`` seconds (at most ``MAX_TIME_LIMIT``).
    """
    access.require_plan(scope)
    if method not in METHODS:
        raise InputError(f"method is {' or '.join(METHODS)}", field="method")
    if mode not in MODES:
        raise InputError("mode is replan or plan", field="mode")
    try:
        limit = float(time_limit)
    except (TypeError, ValueError):
        raise InputError("the time limit is a number of seconds", field="time_limit") from None
    if not 0 < limit <= MAX_TIME_LIMIT:
        raise InputError(
            f"the time limit is more than 0 and at most {MAX_TIME_LIMIT:g} s", field="time_limit"
        )
    s = uow.session
    org = scope.organisation_id
    today = utcnow().date()
    latest = latest_plan(s, org)
    published = plan_from_json(latest.plan, "published plan") if latest is not None else None
    store = load_problem(s, org, today, published)
    pure_events, clean_events = parse_events(s, org, events, today)
    base = _published_for(store.problem, published, pure_events)
    try:
        problem, plan, changes = _solve(
            store.problem,
            base,
            today,
            pure_events,
            method,
            limit,
            mode if latest is not None else "plan",
            num_workers,
        )
    except OverflowError:
        # dates are bounded where they enter; this is the backstop for records made before that
        raise InputError(
            "a date of an order, suite or downtime window is too far from today to plan with",
            field="events",
        ) from None
    report = validate_plan(problem, plan)
    plan_json = plan_to_json(problem, plan, report)
    payload = {
        "today": today.isoformat(),
        "mode": mode if latest is not None else "plan",
        "problem": problem_to_json(problem),
        "plan": plan_json,
        "changes": _changes_json(changes),
        "events": clean_events,
        "skipped": [{"order_id": k.number, "reason": k.reason} for k in store.skipped],
        "assumptions": list(store.assumptions),
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
        "before": None
        if latest is None
        else {"version": latest.version, "metrics": latest.metrics},
    }
    draft = PlanDraft(
        organisation_id=org,
        based_on_id=latest.id if latest is not None else None,
        kind="replan" if payload["mode"] == "replan" else "plan",
        method=method,
        inputs_sha256=store.inputs_sha256,
        plan_sha256=_plan_hash(plan_json),
        payload=payload,
        created_by=uow.actor.name,
    )
    s.add(draft)
    uow.record(
        "schedule.draft_compute",
        "sched_plan_draft",
        _flush_id(s, draft),
        after={
            "method": method,
            "mode": payload["mode"],
            "time_limit": limit,
            "based_on_version": latest.version if latest is not None else None,
            "events": clean_events,
            "metrics": plan_json["metrics"],
            "valid": report.ok,
            "inputs_sha256": draft.inputs_sha256,
            "plan_sha256": draft.plan_sha256,
        },
    )
    return draft


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
        )
        return result.problem, result.plan, result.changes
    current = apply_events(problem, published, today, events, started_from="problem")
    plan = make_plan(current, method=method, time_limit=limit, num_workers=num_workers)
    return current, plan, changes_between(current, published, plan)


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
    draft = _own(s, scope, PlanDraft, draft_id)
    access.require_plan(scope)
    _lock_planning(uow.session, scope.organisation_id)
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
            "order or the failure first; the plan then takes it from the store"
        )
    lost = sorted(
        c["order_id"]
        for c in payload["changes"]
        if c["kind"] != "new" and payload["refs"].get(c["order_id"], {}).get("started")
    )
    if lost:
        raise RuleViolation(
            "this plan restarts batches already in manufacturing ("
            + ", ".join(lost)
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
        add_downtime(
            uow,
            scope,
            suite.id,
            first_day=e["first_day"],
            last_day=last,
            reason=f"{e['reason']} (published with plan version {version})",
        )
