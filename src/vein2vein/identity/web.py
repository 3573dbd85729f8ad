"""Pages of the chain of identity: orders dashboard, patients, order detail with its timeline,
custody hand-off form with a keyboard-wedge scan field, label lookup, mismatches for QA.

Every route declares its permission; every form goes through ``web.forms`` (numbers parsed as
ASCII digits within bounds, refusals shown on the form, one unit of work per change). A form
never sends personal data (date of birth, initials) back into the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.core.clock import utcnow
from vein2vein.identity import access, custody, domain, intake, orders, queues, views
from vein2vein.identity.domain import Step
from vein2vein.identity.order_labels import PrintedLabel, print_order_label
from vein2vein.programs.service import list_programs
from vein2vein.scheduling.projection import STATE_RANK, State
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import (
    FormError,
    Text,
    apply_change,
    choice_id,
    parse_decimal,
    parse_int,
    show,
)
from vein2vein.web.paging import paginate
from vein2vein.web.templating import render

T = TypeVar("T")
router = APIRouter(include_in_schema=False)
READ = [require(Perm.PROGRAM_READ)]
ORDER = [require(Perm.ORDER_PLACE)]
ISSUE = [require(Perm.DIN_ISSUE)]


def _rights(auth: AuthDep) -> dict[str, bool]:
    s = auth.scope
    return {
        "can_order": access.can_order(s),
        "can_issue": access.can_issue(s),
        "can_clear": access.can_clear(s),
        "sees_personal_data": access.sees_personal_data(s),
    }


def _page(
    request: Request,
    auth: AuthDep,
    template: str,
    context: dict[str, Any],
    failed: FormError | None = None,
) -> Response:
    """A page with the caller's rights, and the error of a refused form when there is one."""
    status, error = (200, {}) if failed is None else (failed.status, failed.context())
    return render(request, template, context | _rights(auth) | error, status_code=status)


#: orders per page of ``/coi`` (worst first, so the first page is the one to act on)
PAGE_SIZE = 50


@router.get("/coi", dependencies=READ)
def dashboard_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    all: str = "",
    queue: str = "",
    state: str = "",
    q: str = "",
    page: int = 1,
) -> Response:
    with db.read() as session:
        rows = views.dashboard(session, auth.scope, include_complete=bool(all))
        open_count = len(views.list_mismatches(session, auth.scope))
        listed = None
        if queue:  # a home-page queue: exactly the rows it counted (identity/queues.py)
            listed, selected = queues.order_queue(session, auth.scope, queue, utcnow())
            rows = [r for r in rows if r["id"] in selected]
    states = [(s.value, s.text) for s in sorted(State, key=STATE_RANK.__getitem__)]
    problem = None
    if state and state not in {v for v, _ in states}:
        problem = f"'{state}' is not a delivery state: choose one from the list"
        state = ""
    q = q.strip()[:100]
    found, counts = views.filter_orders(rows, state, q)
    kept = {"all": all, "queue": queue, "state": state, "q": q}
    return render(
        request,
        "coi_dashboard.html",
        {
            "orders": paginate(found, page, PAGE_SIZE, kept),
            "show_all": bool(all),
            "open_mismatches": open_count,
            "queue": listed,
            "states": [(v, t, counts.get(v, 0)) for v, t in states],
            "filter": {"state": state, "q": q, "problem": problem},
            "matching": sum(counts.values()),
        },
    )


# --------------------------------------------------------------------------------------------
# patients and orders
# --------------------------------------------------------------------------------------------


def _patients(
    request: Request, auth: AuthDep, db: DbDep, failed: FormError | None = None, **extra: Any
) -> Response:
    with db.read() as session:
        patients = views.list_patients(session, auth.scope)
        programs = [p.public() for p in list_programs(session, auth.scope)]
        sites = views.treatment_sites(session, auth.scope)
    context = {"patients": patients, "programs": programs, "sites": sites, **extra}
    return _page(request, auth, "coi_patients.html", context, failed)


@router.get("/coi/patients", dependencies=READ)
def patients_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    return _patients(request, auth, db)


@router.post("/coi/patients", dependencies=ORDER)
def patients_enrol(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    program_id: Text = "",
    subject_id: Text = "",
    treatment_site_id: Text = "",
    date_of_birth: Text = "",
    initials: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> int:
        program = choice_id(program_id, "program_id", "a program")
        site = choice_id(
            treatment_site_id, "treatment_site_id", "one of the sponsor's treatment sites"
        )
        patient = orders.enrol_patient(
            uow,
            auth.scope,
            program_id=program,
            subject_id=subject_id,
            treatment_site_id=site,
            date_of_birth=date_of_birth or None,
            initials=initials or None,
        )
        return patient.id

    return apply_change(
        db,
        auth,
        change,
        done=lambda new_id: RedirectResponse(f"/coi/patients/{new_id}", status_code=303),
        # the personal data typed in is not sent back into the page
        failed=lambda error: _patients(request, auth, db, error, subject_id=subject_id),
    )


def _patient(
    request: Request, patient_id: int, auth: AuthDep, db: DbDep, failed: FormError | None = None
) -> Response:
    with db.read() as session:
        patient = views.patient_detail(session, auth.scope, patient_id)
        timeline = views.patient_timeline(session, auth.scope, patient_id)
    context = {"patient": patient, "timeline": timeline}
    return _page(request, auth, "coi_patient.html", context, failed)


@router.get("/coi/patients/{patient_id}", dependencies=READ)
def patient_page(request: Request, patient_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _patient(request, patient_id, auth, db)


@router.post("/coi/patients/{patient_id}/orders", dependencies=ORDER)
def order_place(
    request: Request,
    patient_id: int,
    auth: AuthDep,
    db: DbDep,
    product_code: Text = "",
    product_name: Text = "",
    dose_level: Text = "",
    weight_kg: Text = "",
    planned_apheresis: Text = "",
    required_by: Text = "",
    starting_material: Text = "",
    time_zone: Text = "UTC",
    hbv: Text = "",
    hcv: Text = "",
    hiv: Text = "",
    htlv: Text = "",
    syphilis: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> int:
        weight = parse_decimal(
            weight_kg,
            "weight_kg",
            "Weight (kg)",
            minimum=intake.WEIGHT_KG_MIN,
            maximum=intake.WEIGHT_KG_MAX,
        )
        assert weight is not None  # required
        req = intake.OrderRequest(
            patient_id=patient_id,
            product_code=product_code,
            product_name=product_name,
            dose_level=dose_level,
            weight_kg=weight,
            planned_apheresis=planned_apheresis,
            required_by=required_by,
            starting_material=starting_material,
            markers={"hbv": hbv, "hcv": hcv, "hiv": hiv, "htlv": htlv, "syphilis": syphilis},
            time_zone=time_zone,
        )
        return orders.place_order(uow, auth.scope, req).id

    return apply_change(
        db,
        auth,
        change,
        done=lambda new_id: RedirectResponse(f"/coi/orders/{new_id}", status_code=303),
        failed=lambda error: _patient(request, patient_id, auth, db, error),
    )


def _order(
    request: Request, order_id: int, auth: AuthDep, db: DbDep, failed: FormError | None = None
) -> Response:
    with db.read() as session:
        order = views.order_detail(session, auth.scope, order_id)
        history = views.order_history(session, auth.scope, order_id)
    return _page(request, auth, "coi_order.html", {"order": order, "history": history}, failed)


@router.get("/coi/orders/{order_id}", dependencies=READ)
def order_page(request: Request, order_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _order(request, order_id, auth, db)


def _to_order(order_id: int) -> Response:
    return RedirectResponse(f"/coi/orders/{order_id}", status_code=303)


def _order_action(
    request: Request, order_id: int, auth: AuthDep, db: DbDep, change: Callable[[UnitOfWork], T]
) -> Response:
    """A button of the order page: back to the order when done, the order page with the error
    when refused."""
    return apply_change(
        db,
        auth,
        change,
        done=lambda _: _to_order(order_id),
        failed=lambda error: _order(request, order_id, auth, db, error),
    )


@router.post("/coi/orders/{order_id}/din", dependencies=ISSUE)
def order_din(request: Request, order_id: int, auth: AuthDep, db: DbDep) -> Response:
    def change(uow: UnitOfWork) -> None:
        orders.assign_apheresis_din(uow, auth.scope, order_id)

    return _order_action(request, order_id, auth, db, change)


@router.post("/coi/orders/{order_id}/new-apheresis", dependencies=ISSUE)
def order_new_apheresis(
    request: Request,
    order_id: int,
    auth: AuthDep,
    db: DbDep,
    planned_apheresis: Text = "",
    reason: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        orders.new_apheresis(
            uow, auth.scope, order_id, planned_apheresis=planned_apheresis, reason=reason
        )

    return _order_action(request, order_id, auth, db, change)


@router.post("/coi/orders/{order_id}/labels", dependencies=ISSUE)
def order_label(
    request: Request,
    order_id: int,
    auth: AuthDep,
    db: DbDep,
    label: Text = "",
    format: Text = "pdf",
    bag: Text = "1",
) -> Response:
    """Print (download) an ISBT 128 label of the order; the print is recorded."""

    def change(uow: UnitOfWork) -> PrintedLabel:
        number = parse_int(bag, "bag", "Bag", required=False, minimum=1, maximum=intake.MAX_BAGS)
        return print_order_label(uow, auth.scope, order_id, label, format, number or 1)

    def download(printed: PrintedLabel) -> Response:
        return Response(
            printed.data,
            media_type=printed.media_type,
            headers={"Content-Disposition": f'attachment; filename="{printed.filename}"'},
        )

    return apply_change(
        db,
        auth,
        change,
        done=download,
        failed=lambda error: _order(request, order_id, auth, db, error),
    )


@router.post("/coi/orders/{order_id}/bags", dependencies=ISSUE)
def order_bags(
    request: Request, order_id: int, auth: AuthDep, db: DbDep, bags: Text = ""
) -> Response:
    def change(uow: UnitOfWork) -> None:
        count = parse_int(bags, "bags", "Bags", minimum=1, maximum=intake.MAX_BAGS)
        assert count is not None  # required
        orders.register_product(uow, auth.scope, order_id, count)

    return _order_action(request, order_id, auth, db, change)


# --------------------------------------------------------------------------------------------
# custody hand-offs
# --------------------------------------------------------------------------------------------


#: the groups of fields a hand-off form shows for each step (only what the step needs)
_DETAIL_GROUP = {
    domain.ShipmentDetails: "shipment",
    domain.ReceiptDetails: "receipt",
    domain.StorageDetails: "storage",
}


def step_fields(step: Step) -> frozenset[str]:
    """What the hand-off form asks at ``step``: the details the step requires
    (``domain.DETAILS_REQUIRED``; the batch number at the start of manufacturing), the patient's
    own identifiers where the patient is present, and the label scan at every hand-off."""
    groups = set()
    kind = domain.DETAILS_REQUIRED.get(step)
    if kind is not None:
        groups.add(_DETAIL_GROUP[kind])
    if step is Step.MANUFACTURING_STARTED:
        groups.add("manufacturing")
    if step in custody.SUITE_STEPS:
        groups.add("suite")
    if step in custody.PATIENT_CHECK_STEPS:
        groups.add("patient")
    if step in domain.HANDOFF_STEPS:
        groups.add("scan")
    return frozenset(groups)


def _handoff(
    request: Request,
    order_id: int,
    auth: AuthDep,
    db: DbDep,
    status: int = 200,
    form: dict[str, str] | None = None,
    chosen: str = "",
    **extra: Any,
) -> Response:
    """The hand-off form: only the next legal step(s) the caller may record, and only the
    fields the chosen one needs (two legal steps, e.g. storage or start of manufacturing: a
    choice between them, then the chosen step's form)."""
    with db.read() as session:
        order = views.order_detail(session, auth.scope, order_id)
    form = form or {}
    legal = [Step(s) for s in order["summary"]["next_steps"]]
    steps = [s for s in legal if access.can_record(auth.scope, s)]
    wanted = (form.get("step") or chosen).strip().lower()
    selected = next((s for s in steps if s.value == wanted), steps[0] if steps else None)
    now_local = utcnow().astimezone(intake.time_zone(order["time_zone"]))
    return render(
        request,
        "coi_handoff.html",
        {
            "order": order,
            "steps": steps,
            "legal_steps": legal,
            "selected": selected,
            "fields": step_fields(selected) if selected is not None else frozenset(),
            "form": form,
            "default_time": now_local.strftime("%Y-%m-%dT%H:%M"),
            **extra,
        },
        status_code=status,
    )


@router.get("/coi/orders/{order_id}/scan", dependencies=READ)
def handoff_page(
    request: Request, order_id: int, auth: AuthDep, db: DbDep, step: str = ""
) -> Response:
    return _handoff(request, order_id, auth, db, chosen=step)


@router.post("/coi/orders/{order_id}/events", dependencies=[require(Perm.CUSTODY_RECORD)])
def handoff_record(
    request: Request,
    order_id: int,
    auth: AuthDep,
    db: DbDep,
    step: Text = "",
    occurred_at: Text = "",
    time_zone: Text = "UTC",
    location: Text = "",
    performed_by: Text = "",
    scan: Text = "",
    more_scans: Text = "",
    subject_id: Text = "",
    date_of_birth: Text = "",
    courier: Text = "",
    shipper_id: Text = "",
    logger_id: Text = "",
    condition: Text = "",
    excursions: Text = "",
    storage_location: Text = "",
    position: Text = "",
    batch_number: Text = "",
    suite: Text = "",
) -> Response:
    typed = {
        "courier": courier,
        "shipper_id": shipper_id,
        "logger_id": logger_id,
        "condition": condition,
        "storage_location": storage_location,
        "position": position,
        "batch_number": batch_number,
    }
    # what is sent back into the form: never the date of birth
    form = typed | {
        "excursions": excursions,
        "step": step,
        "occurred_at": occurred_at,
        "time_zone": time_zone,
        "location": location,
        "performed_by": performed_by,
        "suite": suite,
    }

    def change(uow: UnitOfWork) -> custody.HandoffStopped | None:
        counted = parse_int(
            excursions,
            "excursions",
            "Excursions",
            required=False,
            maximum=intake.MAX_EXCURSIONS,
        )
        req = intake.EventRequest(
            step=step,
            occurred_at=occurred_at,
            time_zone=time_zone,
            location=location,
            performed_by=performed_by or None,
            scans=[scan, *more_scans.splitlines()],
            patient_identifiers={"subject_id": subject_id, "date_of_birth": date_of_birth},
            details=typed | {"excursions": counted or 0},
            suite=suite or None,
        )
        try:
            custody.record_event(uow, auth.scope, order_id, req)
        except custody.HandoffStopped as stop:
            return stop  # the stop is already on record (committed): the page shows it
        return None

    def recorded(stop: custody.HandoffStopped | None) -> Response:
        if stop is not None:
            result = {"ok": False, "title": "STOP — identity mismatch", "lines": stop.messages}
            result["note"] = f"Mismatch #{stop.mismatch_id} recorded; QA must clear it."
            return _handoff(request, order_id, auth, db, 409, form, result=result)
        done = Step(step.strip().lower())
        result = {"ok": True, "title": f"MATCH — '{done.value}' recorded", "lines": [done.text]}
        return _handoff(request, order_id, auth, db, 200, None, result=result)

    def refused(error: FormError) -> Response:
        result = {"ok": False, "title": "Not recorded", "lines": [error.message]}
        result["field"] = error.field
        return _handoff(request, order_id, auth, db, error.status, form, result=result)

    return apply_change(db, auth, change, done=recorded, failed=refused)


# --------------------------------------------------------------------------------------------
# label lookup and mismatches
# --------------------------------------------------------------------------------------------


@router.get("/coi/scan", dependencies=READ)
def scan_page(request: Request, auth: AuthDep) -> Response:
    return render(request, "coi_scan.html", {})


@router.post("/coi/scan", dependencies=READ)
def scan_lookup(request: Request, auth: AuthDep, db: DbDep, scanned: Text = "") -> Response:
    def lookup() -> Response:
        with db.read() as session:
            result = views.lookup_scan(session, auth.scope, scanned)
        return render(request, "coi_scan.html", {"result": result, "scanned": scanned.strip()})

    def unreadable(error: FormError) -> Response:
        # a label that cannot be read is the lookup's answer (scan again), not a refused change
        result = {"ok": False, "verdict": f"cannot read the scan: {error.message}", "order": None}
        return render(
            request,
            "coi_scan.html",
            {"result": result, "scanned": scanned.strip()},
            status_code=200 if error.status == 422 else error.status,
        )

    return show(unreadable, lookup)


def _mismatches(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    failed: FormError | None = None,
    status: str | None = None,
) -> Response:
    with db.read() as session:
        rows = views.list_mismatches(session, auth.scope, open_only=False)
    rows = [r for r in rows if status is None or r["status"] == status]
    context = {"mismatches": rows[::-1], "status": status}
    return _page(request, auth, "coi_mismatches.html", context, failed)


@router.get("/coi/mismatches", dependencies=READ)
def mismatches_page(request: Request, auth: AuthDep, db: DbDep, status: str = "") -> Response:
    return _mismatches(request, auth, db, status=queues.mismatch_status(status))


@router.post("/coi/mismatches/{mismatch_id}/clear", dependencies=[require(Perm.MISMATCH_CLEAR)])
def mismatch_clear(
    request: Request,
    mismatch_id: int,
    auth: AuthDep,
    db: DbDep,
    reason: Text = "",
    username: Text = "",
    password: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> int:
        cleared = custody.clear_mismatch(
            uow,
            auth.scope,
            db.settings,
            mismatch_id,
            reason,
            username=username,
            password=password,
        )
        return cleared.order_id

    return apply_change(
        db,
        auth,
        change,
        done=_to_order,
        failed=lambda error: _mismatches(request, auth, db, error),
    )
