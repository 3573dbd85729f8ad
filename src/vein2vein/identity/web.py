"""Pages of the chain of identity: orders dashboard, patients, order detail with its timeline,
custody hand-off form with a keyboard-wedge scan field, label lookup, mismatches for QA."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import Conflict, InputError, PermissionDenied, RuleViolation
from vein2vein.identity import access, custody, intake, orders, views
from vein2vein.identity.domain import Step
from vein2vein.identity.order_labels import print_order_label
from vein2vein.programs.service import list_programs
from vein2vein.web.context import AuthDep, DbDep
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]
#: Errors shown on the form itself; NotFound is never caught here (tenant isolation).
SHOWN = (InputError, RuleViolation, Conflict, PermissionDenied)


def _rights(auth: AuthDep) -> dict[str, bool]:
    s = auth.scope
    return {
        "can_order": access.can_order(s),
        "can_issue": access.can_issue(s),
        "can_clear": access.can_clear(s),
        "sees_personal_data": access.sees_personal_data(s),
    }


@router.get("/coi")
def dashboard_page(request: Request, auth: AuthDep, db: DbDep, all: str = "") -> Response:
    auth.scope.require(Perm.PROGRAM_READ)
    with db.read() as session:
        rows = views.dashboard(session, auth.scope, include_complete=bool(all))
        open_count = len(views.list_mismatches(session, auth.scope))
    return render(
        request,
        "coi_dashboard.html",
        {"orders": rows, "show_all": bool(all), "open_mismatches": open_count},
    )


def _patients(request: Request, auth: AuthDep, db: DbDep, status: int = 200, **extra: Any):  # type: ignore[no-untyped-def]
    auth.scope.require(Perm.PROGRAM_READ)
    with db.read() as session:
        patients = views.list_patients(session, auth.scope)
        programs = [p.public() for p in list_programs(session, auth.scope)]
        sites = views.treatment_sites(session, auth.scope)
    return render(
        request,
        "coi_patients.html",
        {"patients": patients, "programs": programs, "sites": sites, **_rights(auth), **extra},
        status_code=status,
    )


@router.get("/coi/patients")
def patients_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    return _patients(request, auth, db)


@router.post("/coi/patients")
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
    try:
        if not program_id.isdigit():
            raise InputError("choose a program", field="program_id")
        with db.uow(auth.actor) as uow:
            patient = orders.enrol_patient(
                uow,
                auth.scope,
                program_id=int(program_id),
                subject_id=subject_id,
                treatment_site_id=int(treatment_site_id) if treatment_site_id.isdigit() else 0,
                date_of_birth=date_of_birth or None,
                initials=initials or None,
            )
            uow.commit()
            new_id = patient.id
    except SHOWN as exc:
        # the personal data typed in is not sent back into the page
        return _patients(request, auth, db, 422, error=exc.message, subject_id=subject_id)
    return RedirectResponse(f"/coi/patients/{new_id}", status_code=303)


def _patient(
    request: Request, patient_id: int, auth: AuthDep, db: DbDep, status: int = 200, **extra: Any
) -> Response:
    with db.read() as session:
        patient = views.patient_detail(session, auth.scope, patient_id)
        timeline = views.patient_timeline(session, auth.scope, patient_id)
    return render(
        request,
        "coi_patient.html",
        {"patient": patient, "timeline": timeline, **_rights(auth), **extra},
        status_code=status,
    )


@router.get("/coi/patients/{patient_id}")
def patient_page(request: Request, patient_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _patient(request, patient_id, auth, db)


@router.post("/coi/patients/{patient_id}/orders")
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
    req = intake.OrderRequest(
        patient_id=patient_id,
        product_code=product_code,
        product_name=product_name,
        dose_level=dose_level,
        weight_kg=weight_kg,
        planned_apheresis=planned_apheresis,
        required_by=required_by,
        starting_material=starting_material,
        markers={"hbv": hbv, "hcv": hcv, "hiv": hiv, "htlv": htlv, "syphilis": syphilis},
        time_zone=time_zone,
    )
    try:
        with db.uow(auth.actor) as uow:
            order = orders.place_order(uow, auth.scope, req)
            uow.commit()
            new_id = order.id
    except SHOWN as exc:
        return _patient(request, patient_id, auth, db, 422, error=exc.message)
    return RedirectResponse(f"/coi/orders/{new_id}", status_code=303)


def _order(
    request: Request, order_id: int, auth: AuthDep, db: DbDep, status: int = 200, **extra: Any
) -> Response:
    with db.read() as session:
        order = views.order_detail(session, auth.scope, order_id)
        history = views.order_history(session, auth.scope, order_id)
    return render(
        request,
        "coi_order.html",
        {"order": order, "history": history, **_rights(auth), **extra},
        status_code=status,
    )


@router.get("/coi/orders/{order_id}")
def order_page(request: Request, order_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _order(request, order_id, auth, db)


@router.post("/coi/orders/{order_id}/din")
def order_din(request: Request, order_id: int, auth: AuthDep, db: DbDep) -> Response:
    try:
        with db.uow(auth.actor) as uow:
            orders.assign_apheresis_din(uow, auth.scope, order_id)
            uow.commit()
    except SHOWN as exc:
        return _order(request, order_id, auth, db, 422, error=exc.message)
    return RedirectResponse(f"/coi/orders/{order_id}", status_code=303)


@router.post("/coi/orders/{order_id}/labels")
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
    try:
        with db.uow(auth.actor) as uow:
            number = int(bag) if bag.strip().isdigit() else 0
            printed = print_order_label(uow, auth.scope, order_id, label, format, number)
            uow.commit()
    except SHOWN as exc:
        return _order(request, order_id, auth, db, 422, error=exc.message)
    return Response(
        printed.data,
        media_type=printed.media_type,
        headers={"Content-Disposition": f'attachment; filename="{printed.filename}"'},
    )


@router.post("/coi/orders/{order_id}/bags")
def order_bags(
    request: Request, order_id: int, auth: AuthDep, db: DbDep, bags: Text = ""
) -> Response:
    try:
        with db.uow(auth.actor) as uow:
            count = int(bags) if bags.strip().isdigit() else 0
            orders.register_product(uow, auth.scope, order_id, count)
            uow.commit()
    except SHOWN as exc:
        return _order(request, order_id, auth, db, 422, error=exc.message)
    return RedirectResponse(f"/coi/orders/{order_id}", status_code=303)


def _handoff(
    request: Request,
    order_id: int,
    auth: AuthDep,
    db: DbDep,
    status: int = 200,
    form: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    with db.read() as session:
        order = views.order_detail(session, auth.scope, order_id)
    next_steps = order["summary"]["next_steps"]
    form = form or {}
    now_local = utcnow().astimezone(intake.time_zone(order["time_zone"]))
    return render(
        request,
        "coi_handoff.html",
        {
            "order": order,
            "steps": [s for s in Step if access.can_record(auth.scope, s)],
            "selected": form.get("step") or (next_steps[0] if next_steps else ""),
            "form": form,
            "default_time": now_local.strftime("%Y-%m-%dT%H:%M"),
            "handoff_steps": [s.value for s in Step if s is not Step.RELEASED],
            **extra,
        },
        status_code=status,
    )


@router.get("/coi/orders/{order_id}/scan")
def handoff_page(request: Request, order_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _handoff(request, order_id, auth, db)


@router.post("/coi/orders/{order_id}/events")
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
) -> Response:
    details = {
        "courier": courier,
        "shipper_id": shipper_id,
        "logger_id": logger_id,
        "condition": condition,
        "excursions": excursions or 0,
        "storage_location": storage_location,
        "position": position,
        "batch_number": batch_number,
    }
    req = intake.EventRequest(
        step=step,
        occurred_at=occurred_at,
        time_zone=time_zone,
        location=location,
        performed_by=performed_by or None,
        scans=[scan, *more_scans.splitlines()],
        patient_identifiers={"subject_id": subject_id, "date_of_birth": date_of_birth},
        details=details,
    )
    # what is sent back into the form: never the date of birth
    form = {k: v for k, v in details.items() if isinstance(v, str)} | {
        "step": step,
        "occurred_at": occurred_at,
        "time_zone": time_zone,
        "location": location,
        "performed_by": performed_by,
    }
    try:
        with db.uow(auth.actor) as uow:
            custody.record_event(uow, auth.scope, order_id, req)
            uow.commit()
    except custody.HandoffStopped as stop:
        result = {"ok": False, "title": "STOP — identity mismatch", "lines": stop.messages}
        result["note"] = f"Mismatch #{stop.mismatch_id} recorded; QA must clear it."
        return _handoff(request, order_id, auth, db, 409, form, result=result)
    except SHOWN as exc:
        result = {"ok": False, "title": "Not recorded", "lines": [exc.message]}
        return _handoff(request, order_id, auth, db, 422, form, result=result)
    done = Step(step.strip().lower())
    result = {
        "ok": True,
        "title": f"MATCH — '{done.value}' recorded",
        "lines": [done.text],
    }
    return _handoff(request, order_id, auth, db, 200, None, result=result)


@router.get("/coi/scan")
def scan_page(request: Request, auth: AuthDep) -> Response:
    auth.scope.require(Perm.PROGRAM_READ)
    return render(request, "coi_scan.html", {})


@router.post("/coi/scan")
def scan_lookup(request: Request, auth: AuthDep, db: DbDep, scanned: Text = "") -> Response:
    auth.scope.require(Perm.PROGRAM_READ)
    try:
        with db.read() as session:
            result = views.lookup_scan(session, auth.scope, scanned)
    except InputError as exc:
        result = {"ok": False, "verdict": f"cannot read the scan: {exc.message}", "order": None}
    return render(request, "coi_scan.html", {"result": result, "scanned": scanned.strip()})


@router.get("/coi/mismatches")
def mismatches_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    auth.scope.require(Perm.PROGRAM_READ)
    with db.read() as session:
        rows = views.list_mismatches(session, auth.scope, open_only=False)
    return render(request, "coi_mismatches.html", {"mismatches": rows[::-1], **_rights(auth)})


@router.post("/coi/mismatches/{mismatch_id}/clear")
def mismatch_clear(
    request: Request, mismatch_id: int, auth: AuthDep, db: DbDep, reason: Text = ""
) -> Response:
    try:
        with db.uow(auth.actor) as uow:
            mismatch = custody.clear_mismatch(uow, auth.scope, mismatch_id, reason)
            uow.commit()
            order_id = mismatch.order_id
    except SHOWN as exc:
        with db.read() as session:
            rows = views.list_mismatches(session, auth.scope, open_only=False)
        return render(
            request,
            "coi_mismatches.html",
            {"mismatches": rows[::-1], "error": exc.message, **_rights(auth)},
            status_code=422,
        )
    return RedirectResponse(f"/coi/orders/{order_id}", status_code=303)
