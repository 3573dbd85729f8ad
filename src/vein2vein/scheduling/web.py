"""Pages of capacity scheduling: the plan (Gantt, orders at risk), suites and settings, the
what-if page (change, preview with diff and metrics, publish) and the published-plan history.
Sponsors get the list of their own orders' slots on ``/schedule``.

Each route declares its permission: the whole plan is read with ``plan.read`` and changed,
computed and published with ``plan.manage``; ``/schedule`` itself needs ``program.read`` and
shows a sponsor their own orders' slots. Forms go through the ``web/forms.py`` kit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.core.errors import InputError
from vein2vein.scheduling import access, planning, settings, views
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import FormError, Text, apply_change, choice_id, parse_decimal, parse_int
from vein2vein.web.forms import show as show_errors
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)
READ = [require(Perm.PLAN_READ)]
MANAGE = [require(Perm.PLAN_MANAGE)]


def _margin(text: str) -> int | None:
    """The at-risk margin asked for in the query (0-365 days); an unreadable one is ignored and
    the laboratory's margin applies (a link with a stray character still shows the plan)."""
    try:
        return parse_int(
            text, "margin_days", "margin", required=False, maximum=views.MAX_MARGIN_DAYS
        )
    except InputError:
        return None


@router.get("/schedule", dependencies=[require(Perm.PROGRAM_READ)])
def schedule_page(request: Request, auth: AuthDep, db: DbDep, margin_days: str = "") -> Response:
    margin = _margin(margin_days)
    with db.read() as session:
        if not access.can_read_plan(auth.scope):
            slots = views.sponsor_slots(session, auth.scope)
            return render(request, "schedule_slots.html", {"slots": slots})
        plan_id = views.latest_plan_id(session, auth.scope)
        plan = chart = None
        if plan_id is not None:
            plan = views.plan_detail(session, auth.scope, plan_id, margin)
            chart = views.plan_chart(session, auth.scope, plan_id)
    return render(
        request,
        "schedule_plan.html",
        {"plan": plan, "chart": chart, "can_plan": access.can_plan(auth.scope)},
    )


# --------------------------------------------------------------------------------------------
# suites, downtime, product and laboratory settings
# --------------------------------------------------------------------------------------------


def _setup(request: Request, auth: AuthDep, db: DbDep, status: int = 200, **extra: Any) -> Response:
    with db.read() as session:
        context = {
            "suites": views.list_suites(session, auth.scope),
            "sites": views.manufacturing_sites(session, auth.scope),
            "products": views.list_products(session, auth.scope),
            "lab": views.lab(session, auth.scope),
            "facilities": views.receiving_sites(session, auth.scope),
            "transfers": views.site_transfers(session, auth.scope),
            "can_plan": access.can_plan(auth.scope),
        }
    return render(request, "schedule_suites.html", context | extra, status_code=status)


def _setup_change(
    request: Request, auth: AuthDep, db: DbDep, change: Callable[[UnitOfWork], object]
) -> Response:
    """One change of the suites and settings page: back to the page, or the page with the error."""
    return apply_change(
        db,
        auth,
        change,
        done=lambda _: RedirectResponse("/schedule/suites", status_code=303),
        failed=lambda error: _setup(request, auth, db, error.status, **error.context()),
    )


@router.get("/schedule/suites", dependencies=READ)
def suites_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    return _setup(request, auth, db)


@router.post("/schedule/suites", dependencies=MANAGE)
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
        settings.add_suite(
            uow,
            auth.scope,
            site_id=choice_id(site_id, "site_id", "a manufacturing site"),
            code=code,
            name=name,
            infectious=infectious,
            changeover_days=changeover_days,
            decon_days=decon_days,
            available_from=available_from or None,
        )

    return _setup_change(request, auth, db, change)


@router.post("/schedule/suites/{suite_id}/downtime", dependencies=MANAGE)
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
        settings.add_downtime(
            uow, auth.scope, suite_id, first_day=first_day, last_day=last_day, reason=reason
        )

    return _setup_change(request, auth, db, change)


@router.post("/schedule/downtime/{downtime_id}/cancel", dependencies=MANAGE)
def downtime_cancel(
    request: Request, downtime_id: int, auth: AuthDep, db: DbDep, reason: Text = ""
) -> Response:
    def change(uow: UnitOfWork) -> None:
        settings.cancel_downtime(uow, auth.scope, downtime_id, reason)

    return _setup_change(request, auth, db, change)


@router.post("/schedule/products", dependencies=MANAGE)
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
        settings.set_product(
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


@router.post("/schedule/lab", dependencies=MANAGE)
def lab_set(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    qc_capacity: Text = "",
    max_starts_per_day: Text = "",
    risk_margin_days: Text = "2",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        settings.set_lab(
            uow,
            auth.scope,
            qc_capacity=qc_capacity,
            max_starts_per_day=max_starts_per_day,
            risk_margin_days=risk_margin_days,
        )

    return _setup_change(request, auth, db, change)


@router.post("/schedule/receiving-sites", dependencies=MANAGE)
def receiving_site_set(
    request: Request, auth: AuthDep, db: DbDep, facility_id: Text = "", site_id: Text = ""
) -> Response:
    def change(uow: UnitOfWork) -> None:
        settings.set_receiving_site(
            uow,
            auth.scope,
            facility_id=choice_id(facility_id, "facility_id", "a facility"),
            site_id=choice_id(site_id, "site_id", "a manufacturing site"),
        )

    return _setup_change(request, auth, db, change)


@router.post("/schedule/transfers", dependencies=MANAGE)
def transfer_set(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    from_site_id: Text = "",
    to_site_id: Text = "",
    days: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        settings.set_transfer(
            uow,
            auth.scope,
            from_site_id=choice_id(from_site_id, "from_site_id", "the site material leaves"),
            to_site_id=choice_id(to_site_id, "to_site_id", "the site material goes to"),
            days=parse_int(days, "days", "shipping days", required=False, maximum=30),
        )

    return _setup_change(request, auth, db, change)


# --------------------------------------------------------------------------------------------
# what-if, drafts and published plans
# --------------------------------------------------------------------------------------------


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


@router.get("/schedule/whatif", dependencies=READ)
def whatif_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    return _whatif(request, auth, db)


_EVENT_FIELDS = {
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
}


def _event(form: dict[str, str]) -> list[dict[str, Any]]:
    kind = form.get("kind", "")
    if kind in ("", "none"):
        return []
    keys = _EVENT_FIELDS.get(kind, ())
    return [{"kind": kind} | {k: form[k] for k in keys if form.get(k)}]


@router.post("/schedule/whatif", dependencies=MANAGE)
async def whatif_compute(request: Request, auth: AuthDep, db: DbDep) -> Response:
    """Compute a preview into a draft: read, solve (no transaction open), write the draft."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}

    def compute() -> Response:
        limit = parse_decimal(form.get("time_limit"), "time_limit", "time limit", required=False)
        draft_id = planning.compute_draft_in_steps(
            db,
            auth.actor,
            auth.scope,
            method=form.get("method", "greedy"),
            time_limit=planning.DEFAULT_TIME_LIMIT if limit is None else limit,
            mode=form.get("mode", "replan"),
            events=_event(form),
        )
        return RedirectResponse(f"/schedule/drafts/{draft_id}", status_code=303)

    def failed(error: FormError) -> Response:
        # the form again with what was typed, the field at fault marked
        shown = error.context() | {"error_field": _form_field(error.field), "form": form}
        return _whatif(request, auth, db, error.status, **shown)

    return await run_in_threadpool(show_errors, failed, compute)


def _form_field(field: str | None) -> str | None:
    """The what-if form's field for an error's field: ``events[1].receipt_date`` (how the
    service names a field of the first event) is the form's ``receipt_date``."""
    if field is None:
        return None
    return field.rsplit(".", 1)[-1] if field.startswith("events[") else field


def _draft(
    request: Request, draft_id: int, auth: AuthDep, db: DbDep, status: int = 200, **extra: Any
) -> Response:
    with db.read() as session:
        draft = views.draft_detail(session, auth.scope, draft_id)
        chart = views.draft_chart(session, auth.scope, draft_id)
    context = {"draft": draft, "chart": chart, "can_plan": access.can_plan(auth.scope)}
    return render(request, "schedule_draft.html", context | extra, status_code=status)


@router.get("/schedule/drafts/{draft_id}", dependencies=READ)
def draft_page(request: Request, draft_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _draft(request, draft_id, auth, db)


@router.post("/schedule/drafts/{draft_id}/publish", dependencies=MANAGE)
def draft_publish(
    request: Request, draft_id: int, auth: AuthDep, db: DbDep, comment: Text = ""
) -> Response:
    def change(uow: UnitOfWork) -> int:
        return planning.publish(uow, auth.scope, draft_id, comment).id

    return apply_change(
        db,
        auth,
        change,
        done=lambda plan_id: RedirectResponse(f"/schedule/plans/{plan_id}", status_code=303),
        failed=lambda error: _draft(request, draft_id, auth, db, error.status, **error.context()),
    )


@router.get("/schedule/plans", dependencies=READ)
def history_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        plans = views.plan_history(session, auth.scope)
    return render(request, "schedule_history.html", {"plans": plans})


@router.get("/schedule/plans/{plan_id}", dependencies=READ)
def plan_page(
    request: Request, plan_id: int, auth: AuthDep, db: DbDep, margin_days: str = ""
) -> Response:
    margin = _margin(margin_days)
    with db.read() as session:
        plan = views.plan_detail(session, auth.scope, plan_id, margin)
        chart = views.plan_chart(session, auth.scope, plan_id)
    return render(
        request,
        "schedule_plan.html",
        {"plan": plan, "chart": chart, "can_plan": access.can_plan(auth.scope)},
    )
