"""Pages of capacity scheduling: the plan (Gantt, orders at risk), suites and settings, the
what-if page (change, preview with diff and metrics, publish) and the published-plan history.
Sponsors get the list of their own orders' slots on ``/schedule``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.core.errors import Conflict, InputError, PermissionDenied, RuleViolation
from vein2vein.scheduling import access, service, views
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.context import AuthDep, DbDep
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]
#: Errors shown on the page itself; NotFound is never caught here (tenant isolation).
SHOWN = (InputError, RuleViolation, Conflict, PermissionDenied)


def _small_int(text: str) -> int | None:
    """A whole number typed into a form or query (ASCII digits, at most 9 of them), else None."""
    value = text.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


def _setup_change(
    request: Request, auth: AuthDep, db: DbDep, change: Callable[[UnitOfWork], object]
) -> Response:
    """Apply one change of the suites/settings page in a unit of work; show its error there."""
    try:
        with db.uow(auth.actor) as uow:
            change(uow)
            uow.commit()
    except SHOWN as exc:
        return _setup(request, auth, db, 422, error=exc.message)
    return RedirectResponse("/schedule/suites", status_code=303)


@router.get("/schedule")
def schedule_page(request: Request, auth: AuthDep, db: DbDep, margin_days: str = "") -> Response:
    auth.scope.require(Perm.PROGRAM_READ)
    margin = _small_int(margin_days)
    with db.read() as session:
        if not access.can_read_plan(auth.scope):
            slots = views.sponsor_slots(session, auth.scope)
            return render(request, "schedule_slots.html", {"slots": slots})
        plan_id = views.latest_plan_id(session, auth.scope)
        plan = figure = None
        if plan_id is not None:
            plan = views.plan_detail(session, auth.scope, plan_id, margin)
            figure = views.plan_gantt(session, auth.scope, plan_id)
    return render(
        request,
        "schedule_plan.html",
        {"plan": plan, "figure": figure, "can_plan": access.can_plan(auth.scope)},
    )


def _setup(request: Request, auth: AuthDep, db: DbDep, status: int = 200, **extra: Any) -> Response:
    with db.read() as session:
        context = {
            "suites": views.list_suites(session, auth.scope),
            "sites": views.manufacturing_sites(session, auth.scope),
            "products": views.list_products(session, auth.scope),
            "lab": views.lab(session, auth.scope),
            "can_plan": access.can_plan(auth.scope),
        }
    return render(request, "schedule_suites.html", context | extra, status_code=status)


@router.get("/schedule/suites")
def suites_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    return _setup(request, auth, db)


@router.post("/schedule/suites")
def suites_add(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    site_id: Text = "",
    code: Text = "",
    name: Text = "",
    infectious: Text = "",
    changeover_days: Text = "1",
    decon_days: Text = "0",
    available_from: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        service.add_suite(
            uow,
            auth.scope,
            site_id=_small_int(site_id) or 0,
            code=code,
            name=name,
            infectious=infectious,
            changeover_days=changeover_days,
            decon_days=decon_days,
            available_from=available_from or None,
        )

    return _setup_change(request, auth, db, change)


@router.post("/schedule/suites/{suite_id}/downtime")
def downtime_add(
    request: Request,
    suite_id: int,
    auth: AuthDep,
    db: DbDep,
    first_day: Text = "",
    last_day: Text = "",
    reason: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        service.add_downtime(
            uow, auth.scope, suite_id, first_day=first_day, last_day=last_day, reason=reason
        )

    return _setup_change(request, auth, db, change)


@router.post("/schedule/downtime/{downtime_id}/cancel")
def downtime_cancel(
    request: Request, downtime_id: int, auth: AuthDep, db: DbDep, reason: Text = ""
) -> Response:
    def change(uow: UnitOfWork) -> None:
        service.cancel_downtime(uow, auth.scope, downtime_id, reason)

    return _setup_change(request, auth, db, change)


@router.post("/schedule/products")
def product_set(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    product_code: Text = "",
    name: Text = "",
    process_days: Text = "",
    start_weekdays: Text = "Mon-Fri",
    qc_method: Text = "compendial",
    qc_days_rapid: Text = "",
    qc_days_compendial: Text = "",
    fresh_hold_days: Text = "2",
    cryo_hold_days: Text = "180",
    inbound_days: Text = "1",
    ship_days: Text = "2",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        service.set_product(
            uow,
            auth.scope,
            product_code=product_code,
            name=name,
            process_days=process_days,
            start_weekdays=start_weekdays,
            qc_method=qc_method,
            qc_days_rapid=qc_days_rapid,
            qc_days_compendial=qc_days_compendial,
            fresh_hold_days=fresh_hold_days,
            cryo_hold_days=cryo_hold_days,
            inbound_days=inbound_days,
            ship_days=ship_days,
        )

    return _setup_change(request, auth, db, change)


@router.post("/schedule/lab")
def lab_set(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    qc_capacity: Text = "",
    max_starts_per_day: Text = "",
    risk_margin_days: Text = "2",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        service.set_lab(
            uow,
            auth.scope,
            qc_capacity=qc_capacity,
            max_starts_per_day=max_starts_per_day,
            risk_margin_days=risk_margin_days,
        )

    return _setup_change(request, auth, db, change)


def _whatif(
    request: Request, auth: AuthDep, db: DbDep, status: int = 200, **extra: Any
) -> Response:
    with db.read() as session:
        suites = views.list_suites(session, auth.scope)
        products = views.list_products(session, auth.scope)
        plan_id = views.latest_plan_id(session, auth.scope)
        slots = views.sponsor_slots(session, auth.scope) if plan_id is not None else []
    context = {
        "suites": suites,
        "products": products,
        "slots": slots,
        "has_plan": plan_id is not None,
        "can_plan": access.can_plan(auth.scope),
    }
    return render(request, "schedule_whatif.html", context | extra, status_code=status)


@router.get("/schedule/whatif")
def whatif_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    return _whatif(request, auth, db)


def _event(form: dict[str, str]) -> list[dict[str, Any]]:
    kind = form.get("kind", "")
    if kind in ("", "none"):
        return []
    keys = {
        "order_arrived": (
            "product_code",
            "receipt_date",
            "required_by",
            "starting_material",
            "infectious",
        ),
        "batch_failed": ("order", "on", "retry_receipt", "retry_max_hold_days"),
        "suite_down": ("suite", "first_day", "last_day", "reason"),
        "order_cancelled": ("order",),
    }.get(kind, ())
    return [{"kind": kind} | {k: form[k] for k in keys if form.get(k)}]


@router.post("/schedule/whatif")
async def whatif_compute(request: Request, auth: AuthDep, db: DbDep) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    from starlette.concurrency import run_in_threadpool

    def compute() -> int:
        with db.uow(auth.actor) as uow:
            draft = service.compute_draft(
                uow,
                auth.scope,
                method=form.get("method", "greedy"),
                time_limit=form.get("time_limit") or service.DEFAULT_TIME_LIMIT,  # type: ignore[arg-type]
                mode=form.get("mode", "replan"),
                events=_event(form),
            )
            uow.commit()
            return draft.id

    try:
        draft_id = await run_in_threadpool(compute)
    except SHOWN as exc:
        return await run_in_threadpool(_whatif, request, auth, db, 422, error=exc.message)
    return RedirectResponse(f"/schedule/drafts/{draft_id}", status_code=303)


def _draft(
    request: Request, draft_id: int, auth: AuthDep, db: DbDep, status: int = 200, **extra: Any
) -> Response:
    with db.read() as session:
        draft = views.draft_detail(session, auth.scope, draft_id)
        figure = views.draft_gantt(session, auth.scope, draft_id)
    context = {"draft": draft, "figure": figure, "can_plan": access.can_plan(auth.scope)}
    return render(request, "schedule_draft.html", context | extra, status_code=status)


@router.get("/schedule/drafts/{draft_id}")
def draft_page(request: Request, draft_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _draft(request, draft_id, auth, db)


@router.post("/schedule/drafts/{draft_id}/publish")
def draft_publish(
    request: Request, draft_id: int, auth: AuthDep, db: DbDep, comment: Text = ""
) -> Response:
    try:
        with db.uow(auth.actor) as uow:
            row = service.publish(uow, auth.scope, draft_id, comment)
            uow.commit()
            plan_id = row.id
    except SHOWN as exc:
        return _draft(request, draft_id, auth, db, 422, error=exc.message)
    return RedirectResponse(f"/schedule/plans/{plan_id}", status_code=303)


@router.get("/schedule/plans")
def history_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        plans = views.plan_history(session, auth.scope)
    return render(request, "schedule_history.html", {"plans": plans})


@router.get("/schedule/plans/{plan_id}")
def plan_page(
    request: Request, plan_id: int, auth: AuthDep, db: DbDep, margin_days: str = ""
) -> Response:
    margin = _small_int(margin_days)
    with db.read() as session:
        plan = views.plan_detail(session, auth.scope, plan_id, margin)
        figure = views.plan_gantt(session, auth.scope, plan_id)
    return render(
        request,
        "schedule_plan.html",
        {"plan": plan, "figure": figure, "can_plan": access.can_plan(auth.scope)},
    )
