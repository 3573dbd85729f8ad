"""Read-only views of the capacity plan for pages, the API and the command line.

CDMO roles read everything of their own organisation; a sponsor reads only the slots of their
own orders in the latest published plan (``sponsor_slots``), through the ordinary tenant scope.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from vein2vein.auth.scope import Scope
from vein2vein.auth.tables import Site
from vein2vein.core.clock import utcnow
from vein2vein.identity.tables import Facility
from vein2vein.scheduling import access, delivery
from vein2vein.scheduling.gantt import gantt_bars, gantt_figure, orders_at_risk
from vein2vein.scheduling.model import cross_site_batches
from vein2vein.scheduling.planner import plan_from_json
from vein2vein.scheduling.planning import restarted_batches
from vein2vein.scheduling.projection import Projection
from vein2vein.scheduling.settings import lab_settings, own
from vein2vein.scheduling.snapshot import problem_from_json
from vein2vein.scheduling.tables import (
    PlanDraft,
    PlanSlot,
    ProductSettings,
    PublishedPlan,
    ReceivingSite,
    SiteTransfer,
    Suite,
)


def list_suites(session: Session, scope: Scope) -> list[dict[str, Any]]:
    access.require_read_plan(scope)
    rows = session.scalars(
        select(Suite)
        .where(Suite.organisation_id == scope.organisation_id)
        .options(selectinload(Suite.downtime), selectinload(Suite.site))
        .order_by(Suite.code)
    ).all()
    return [s.public() | {"downtime": [w.public() for w in s.downtime]} for s in rows]


def suite_detail(session: Session, scope: Scope, suite_id: int) -> dict[str, Any]:
    suite = own(session, scope, Suite, suite_id)
    access.require_read_plan(scope)
    return suite.public() | {"downtime": [w.public() for w in suite.downtime]}


def manufacturing_sites(session: Session, scope: Scope) -> list[dict[str, Any]]:
    access.require_read_plan(scope)
    rows = session.scalars(
        select(Site)
        .where(Site.organisation_id == scope.organisation_id, Site.purpose == "MANUFACTURING")
        .order_by(Site.name)
    )
    return [s.public() for s in rows]


def receiving_sites(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """The caller's facilities (FIN) with the manufacturing site receiving their material."""
    access.require_read_plan(scope)
    rows = session.execute(
        select(Facility, ReceivingSite)
        .outerjoin(ReceivingSite, ReceivingSite.facility_id == Facility.id)
        .where(Facility.organisation_id == scope.organisation_id)
        .options(selectinload(ReceivingSite.site))
        .order_by(Facility.fin)
    ).all()
    return [
        facility.public()
        | {
            "site_id": r.site_id if r is not None else None,
            "site": r.site.name if r is not None else None,
        }
        for facility, r in rows
    ]


def site_transfers(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Shipping routes between the caller's manufacturing sites (closed ones included)."""
    access.require_read_plan(scope)
    rows = session.scalars(
        select(SiteTransfer)
        .where(SiteTransfer.organisation_id == scope.organisation_id)
        .options(selectinload(SiteTransfer.from_site), selectinload(SiteTransfer.to_site))
        .order_by(SiteTransfer.id)
    ).all()
    return sorted((r.public() for r in rows), key=lambda r: (r["from_site"], r["to_site"]))


def list_products(session: Session, scope: Scope) -> list[dict[str, Any]]:
    access.require_read_plan(scope)
    rows = session.scalars(
        select(ProductSettings)
        .where(ProductSettings.organisation_id == scope.organisation_id)
        .order_by(ProductSettings.product_code)
    )
    return [p.public() for p in rows]


def lab(session: Session, scope: Scope) -> dict[str, Any]:
    access.require_read_plan(scope)
    row = lab_settings(session, scope.organisation_id)
    if row is None:
        return {"qc_capacity": None, "max_starts_per_day": None, "risk_margin_days": 2}
    return row.public()


def plan_summary(p: PublishedPlan) -> dict[str, Any]:
    return {
        "id": p.id,
        "version": p.version,
        "kind": p.kind,
        "method": p.method,
        "plan_day": p.plan_day.isoformat(),
        "published_at": p.published_at.isoformat(),
        "published_by": p.published_by,
        "comment": p.comment,
        "metrics": p.metrics,
        "valid": bool(p.validation.get("ok")),
        "changes": len(p.changes),
        "events": p.events,
        "plan_sha256": p.plan_sha256,
        "inputs_sha256": p.inputs_sha256,
    }


def plan_history(session: Session, scope: Scope) -> list[dict[str, Any]]:
    access.require_read_plan(scope)
    rows = session.scalars(
        select(PublishedPlan)
        .where(PublishedPlan.organisation_id == scope.organisation_id)
        .order_by(PublishedPlan.version.desc())
    )
    return [plan_summary(p) for p in rows]


#: the largest at-risk margin a page or the API may ask for (days)
MAX_MARGIN_DAYS = 365


def _margin(session: Session, scope: Scope, margin_days: int | None) -> int:
    if margin_days is not None:
        return max(0, min(MAX_MARGIN_DAYS, margin_days))
    row = lab_settings(session, scope.organisation_id)
    return row.risk_margin_days if row is not None else 2


def _at_risk(problem_json: dict[str, Any], plan_json: dict[str, Any], margin: int) -> list[dict]:
    problem = problem_from_json(problem_json)
    plan = plan_from_json(plan_json, "plan")
    return [
        {
            "order_id": r.order_id,
            "required_by": r.required_by.isoformat(),
            "delivered": r.ship.isoformat() if r.ship else None,
            "slack_days": r.slack_days,
            "reason": r.reason,
        }
        for r in orders_at_risk(problem, plan, margin)
    ]


def _projections(session: Session, scope: Scope, plan_id: int) -> dict[str, dict[str, Any]]:
    """The one delivery projection (``scheduling.delivery``) of each order of a plan, by the
    plan's order id (the order number, or ``number~id`` when numbers clash: ``from_store``)."""
    slots = session.execute(
        select(PlanSlot.order_id, PlanSlot.order_number).where(PlanSlot.plan_id == plan_id)
    ).all()
    counts = Counter(number for _, number in slots)
    keys = {f"{number}~{order_id}": order_id for order_id, number in slots}
    keys |= {number: order_id for order_id, number in slots if counts[number] == 1}
    projected = delivery.project_orders(session, scope, sorted(set(keys.values())))
    return {
        key: delivery.projection_public(projected[order_id])
        for key, order_id in keys.items()
        if order_id in projected
    }


def _at_risk_projected(
    projections: dict[str, dict[str, Any]], plan_ids: list[str], margin: int
) -> list[dict[str, Any]]:
    """Orders of the plan that need attention by their projection: on hold, blocked, late, not
    scheduled, without a projection, or within ``margin`` days of required-by."""
    out = []
    for key in plan_ids:
        pr = projections.get(key)
        if pr is None or pr["state"] in ("met", "missed"):
            continue
        spare = pr["days_to_spare"]
        if pr["state"] == "on_track" and (spare is None or spare > margin):
            continue
        out.append(
            {
                "order_id": key,
                "required_by": pr["required_by"],
                "delivered": pr["delivery"],
                "slack_days": spare,
                "state": pr["state"],
                "state_text": pr["state_text"],
                "reason": pr["message"],
            }
        )
    return sorted(
        out, key=lambda r: (r["slack_days"] is not None, r["slack_days"] or 0, r["order_id"])
    )


def _started(problem_json: dict[str, Any]) -> list[str]:
    """The orders whose batch had started when the plan was made: the plan pinned each on its
    day in the suite its batch record says it works in (``from_store``)."""
    return sorted(o["order_id"] for o in problem_json["orders"] if o.get("fixed"))


def plan_detail(
    session: Session, scope: Scope, plan_id: int, margin_days: int | None = None
) -> dict[str, Any]:
    """A published plan. The latest version also carries each order's delivery projection
    (the one every screen shows), and its orders at risk are read from those projections; an
    older version shows the days it planned."""
    p = own(session, scope, PublishedPlan, plan_id)
    access.require_read_plan(scope)
    margin = _margin(session, scope, margin_days)
    latest = latest_plan_id(session, scope) == p.id
    at_risk = _at_risk(p.problem, p.plan, margin)
    projections: dict[str, dict[str, Any]] = {}
    if latest:
        projections = _projections(session, scope, p.id)
        ids = [a["order_id"] for a in p.plan["assignments"]]
        ids += [u["order_id"] for u in p.plan["unscheduled"]]
        at_risk = _at_risk_projected(projections, ids, margin)
    return plan_summary(p) | {
        "based_on_id": p.based_on_id,
        "solver": p.solver,
        # plans published before plans carried a provenance have none
        "provenance": p.plan.get("provenance"),
        "validation": p.validation,
        "changes": p.changes,
        "assignments": p.plan["assignments"],
        "started": _started(p.problem),
        "unscheduled": p.plan["unscheduled"],
        "at_risk": at_risk,
        "margin_days": margin,
        "latest": latest,
        # each order's one delivery projection, by the plan's order id (latest version only)
        "projections": projections,
    }


def _chart(
    problem_json: dict[str, Any],
    plan_json: dict[str, Any],
    margin: int,
    title: str,
    states: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The Gantt figure (with a line on today), the same bars as table rows, and the batches
    made at another site than the one that received their material. ``states``: the latest
    plan's orders coloured by their one delivery projection."""
    problem = problem_from_json(problem_json)
    plan = plan_from_json(plan_json, "plan")
    today = utcnow().date()
    figure = gantt_figure(
        problem, plan, margin_days=margin, title=title, today=today, states=states
    )
    return {
        "title": title,
        "today": today.isoformat(),
        "by_projection": states is not None,
        "figure": figure,
        "bars": [b.as_row() for b in gantt_bars(problem, plan, margin_days=margin, states=states)],
        "shipped": [
            {
                "order_id": c.order_id,
                "suite": c.suite_id,
                "from_site": c.from_site,
                "to_site": c.to_site,
                "days": c.days,
            }
            for c in cross_site_batches(problem, plan)
        ],
    }


def plan_chart(session: Session, scope: Scope, plan_id: int) -> dict[str, Any]:
    """The published plan's Gantt chart with its table and site warnings (pages)."""
    p = own(session, scope, PublishedPlan, plan_id)
    access.require_read_plan(scope)
    title = f"Suite schedule, version {p.version} ({p.plan_day})"
    states = None
    if latest_plan_id(session, scope) == p.id:
        states = {k: v["state"] for k, v in _projections(session, scope, p.id).items()}
    return _chart(p.problem, p.plan, _margin(session, scope, None), title, states)


def plan_gantt(session: Session, scope: Scope, plan_id: int) -> dict[str, Any]:
    """The published plan's Gantt figure (Plotly dict, API)."""
    return plan_chart(session, scope, plan_id)["figure"]  # type: ignore[no-any-return]


def latest_plan_id(session: Session, scope: Scope) -> int | None:
    """The id of the organisation's latest published plan (``planning.latest_plan``): the id
    alone, since the page then reads the plan itself (a plan of thousands of orders is a large
    row)."""
    access.require_read_plan(scope)
    return session.scalar(
        select(PublishedPlan.id)
        .where(PublishedPlan.organisation_id == scope.organisation_id)
        .order_by(PublishedPlan.version.desc())
        .limit(1)
    )


def draft_detail(session: Session, scope: Scope, draft_id: int) -> dict[str, Any]:
    d = own(session, scope, PlanDraft, draft_id)
    access.require_read_plan(scope)
    payload = d.payload
    margin = _margin(session, scope, None)
    after = payload["plan"]["metrics"] | payload["plan"]["summary"]
    return {
        "id": d.id,
        "kind": d.kind,
        "method": d.method,
        "created_at": d.created_at.isoformat(),
        "created_by": d.created_by,
        "published_plan_id": d.published_plan_id,
        "based_on_id": d.based_on_id,
        "today": payload["today"],
        "before": payload["before"],
        "after": after,
        "changes": payload["changes"],
        "events": payload["events"],
        "skipped": payload["skipped"],
        "assumptions": payload["assumptions"],
        "site_notes": payload.get("site_notes", []),
        "restarted": restarted_batches(payload),
        "validation": payload["plan"]["validation"],
        "solver": payload["plan"]["solver"],
        "provenance": payload["plan"].get("provenance"),
        "assignments": payload["plan"]["assignments"],
        "unscheduled": payload["plan"]["unscheduled"],
        "at_risk": _at_risk(payload["problem"], payload["plan"], margin),
        "plan_sha256": d.plan_sha256,
        "inputs_sha256": d.inputs_sha256,
    }


def draft_chart(session: Session, scope: Scope, draft_id: int) -> dict[str, Any]:
    """The draft's Gantt chart with its table and site warnings (pages)."""
    d = own(session, scope, PlanDraft, draft_id)
    access.require_read_plan(scope)
    title = f"Draft {d.id} (preview, not published)"
    return _chart(d.payload["problem"], d.payload["plan"], _margin(session, scope, None), title)


def draft_gantt(session: Session, scope: Scope, draft_id: int) -> dict[str, Any]:
    """The draft's Gantt figure (Plotly dict)."""
    return draft_chart(session, scope, draft_id)["figure"]  # type: ignore[no-any-return]


def sponsor_slots(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Slots of the latest published plan within the caller's scope: a sponsor gets only their
    own orders' batches (order number, dates, status); CDMO roles get every slot."""
    # the latest published version of each CDMO's plan (a sponsor may work with several)
    latest_ids = select(func.max(PublishedPlan.id)).group_by(PublishedPlan.organisation_id)
    if scope.is_cdmo:
        latest_ids = latest_ids.where(PublishedPlan.organisation_id == scope.organisation_id)
    stmt = scope.filter(select(PlanSlot), PlanSlot).where(PlanSlot.plan_id.in_(latest_ids))
    rows = session.scalars(stmt.order_by(PlanSlot.start, PlanSlot.order_number)).all()
    projected = delivery.project_orders(session, scope, sorted({r.order_id for r in rows}))
    return [
        {
            "order_id": r.order_id,
            "order_number": r.order_number,
            "status": r.status,
            "start": r.start.isoformat() if r.start else None,
            "end": r.end.isoformat() if r.end else None,
            "release": r.release.isoformat() if r.release else None,
            "planned_delivery": r.ship.isoformat() if r.ship else None,
            "required_by": r.required_by.isoformat(),
            "note": r.note,
        }
        | _slot_projection(projected.get(r.order_id))
        for r in rows
    ]


def _slot_projection(p: Projection | None) -> dict[str, Any]:
    """The slot's delivery, days to spare and state: the order's one projection."""
    if p is None:  # never: a slot is read within the same scope as its order
        return {"delivery": None, "days_to_spare": None, "days_late": None, "projection": None}
    public = delivery.projection_public(p)
    spare = p.days_to_spare
    return {
        "delivery": public["delivery"],
        "days_to_spare": spare,
        "days_late": None if spare is None else max(0, -spare),
        "projection": public,
    }
