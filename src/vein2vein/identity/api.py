"""API routes of the chain of identity (``/api/coi``): thin wrappers over the use cases
(``orders``, ``custody``, ``order_labels``) and the reads (``views``).

Each route declares its permission; the use case checks the finer rule (which custody step a
role may record, four eyes on a clearance) after finding the record within the caller's scope."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from vein2vein.auth.roles import Perm
from vein2vein.identity import custody, intake, orders, schemas, views
from vein2vein.identity.order_labels import print_order_label
from vein2vein.web.context import AuthDep, DbDep, require

router = APIRouter(prefix="/api/coi", tags=["chain of identity"])
READ = [require(Perm.PROGRAM_READ)]
ORDER = [require(Perm.ORDER_PLACE)]
ISSUE = [require(Perm.DIN_ISSUE)]


@router.get("/patients", response_model=list[schemas.PatientPublic], dependencies=READ)
def list_patients(auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    """Patients within scope, by subject id (never personal data)."""
    with db.read() as session:
        return views.list_patients(session, auth.scope)


@router.post("/patients", response_model=schemas.PatientPublic, status_code=201, dependencies=ORDER)
def enrol_patient(body: schemas.PatientCreate, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    with db.uow(auth.actor) as uow:
        patient = orders.enrol_patient(uow, auth.scope, **body.model_dump())
        uow.commit()
        return views.patient_public(patient)


@router.get("/patients/{patient_id}", response_model=schemas.PatientDetail, dependencies=READ)
def get_patient(patient_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """One patient; ``personal_data`` only for roles holding ``personal_data.read``."""
    with db.read() as session:
        return views.patient_detail(session, auth.scope, patient_id)


@router.get(
    "/patients/{patient_id}/timeline", response_model=schemas.PatientTimeline, dependencies=READ
)
def patient_timeline(patient_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Vein-to-vein timeline of each of the patient's orders."""
    with db.read() as session:
        return views.patient_timeline(session, auth.scope, patient_id)


@router.get("/orders", response_model=list[schemas.OrderSummary], dependencies=READ)
def dashboard(auth: AuthDep, db: DbDep, include_complete: bool = False) -> list[dict[str, Any]]:
    """Orders in flight with their current step and required-by risk (on hold first)."""
    with db.read() as session:
        return views.dashboard(session, auth.scope, include_complete=include_complete)


@router.post("/orders", response_model=schemas.OrderPublic, status_code=201, dependencies=ORDER)
def place_order(body: schemas.OrderCreate, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    data = body.model_dump()
    data["markers"] = body.markers.model_dump()
    with db.uow(auth.actor) as uow:
        order = orders.place_order(uow, auth.scope, intake.OrderRequest(**data))
        uow.commit()
        return views.order_public(order)


@router.get("/orders/{order_id}", response_model=schemas.OrderDetail, dependencies=READ)
def get_order(order_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        return views.order_detail(session, auth.scope, order_id)


@router.post(
    "/orders/{order_id}/apheresis-din", response_model=schemas.OrderPublic, dependencies=ISSUE
)
def assign_apheresis_din(order_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Issue the next DIN of the order's facility and bind it to the order (CDMO)."""
    with db.uow(auth.actor) as uow:
        order = orders.assign_apheresis_din(uow, auth.scope, order_id)
        uow.commit()
        return views.order_public(order)


@router.post(
    "/orders/{order_id}/new-apheresis", response_model=schemas.OrderPublic, dependencies=ISSUE
)
def new_apheresis(
    order_id: int, body: schemas.NewApheresis, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """After the order's batch failed: a new apheresis collection with a new DIN on the same
    chain-of-identity identifier (409 when no failed batch used the current DIN)."""
    with db.uow(auth.actor) as uow:
        order = orders.new_apheresis(
            uow,
            auth.scope,
            order_id,
            planned_apheresis=body.planned_apheresis,
            reason=body.reason,
        )
        uow.commit()
        return views.order_public(order)


@router.post("/orders/{order_id}/bags", response_model=schemas.OrderPublic, dependencies=ISSUE)
def register_bags(
    order_id: int, body: schemas.BagsCreate, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """Issue the final product's DIN and register its bags (CDMO)."""
    with db.uow(auth.actor) as uow:
        order = orders.register_product(uow, auth.scope, order_id, body.bags)
        uow.commit()
        return views.order_public(order)


class LabelRequest(BaseModel):
    label: str = Field(description="apheresis-bag, product-bag or cassette")
    format: str = Field("pdf", description="pdf or png")
    bag: int = Field(1, ge=1, le=26, description="final-product bag number (1 = division A0)")


@router.post(
    "/orders/{order_id}/labels",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "image/png": {}}}},
    dependencies=ISSUE,
)
def print_label(order_id: int, body: LabelRequest, auth: AuthDep, db: DbDep) -> Response:
    """Print an ISBT 128 label of the order (PDF or PNG); every print is an audit entry."""
    with db.uow(auth.actor) as uow:
        printed = print_order_label(uow, auth.scope, order_id, body.label, body.format, body.bag)
        uow.commit()
    return Response(
        printed.data,
        media_type=printed.media_type,
        headers={"Content-Disposition": f'attachment; filename="{printed.filename}"'},
    )


@router.post(
    "/orders/{order_id}/events",
    response_model=schemas.Event,
    status_code=201,
    dependencies=[require(Perm.CUSTODY_RECORD)],
)
def record_event(
    order_id: int, body: schemas.EventCreate, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """Record a custody step. A hand-off whose scan does not match answers 409 *Hand-off
    stopped*: the mismatch is recorded and the order is on hold until QA clears it."""
    req = intake.EventRequest(
        step=body.step,
        occurred_at=body.occurred_at,
        time_zone=body.time_zone,
        location=body.location,
        performed_by=body.performed_by,
        scans=body.scans,
        patient_identifiers=body.patient_identifiers,
        details=body.details(),
        suite=body.suite,
    )
    with db.uow(auth.actor) as uow:
        row = custody.record_event(uow, auth.scope, order_id, req)
        uow.commit()
        event_id = row.id
    with db.read() as session:
        detail = views.order_detail(session, auth.scope, order_id)
    return next(e for e in detail["events"] if e["id"] == event_id)


@router.get("/mismatches", response_model=list[schemas.MismatchPublic], dependencies=READ)
def list_mismatches(auth: AuthDep, db: DbDep, open_only: bool = True) -> list[dict[str, Any]]:
    with db.read() as session:
        return views.list_mismatches(session, auth.scope, open_only=open_only)


@router.post(
    "/mismatches/{mismatch_id}/clear",
    response_model=schemas.MismatchPublic,
    dependencies=[require(Perm.MISMATCH_CLEAR)],
)
def clear_mismatch(
    mismatch_id: int, body: schemas.MismatchClear, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """QA (qa_reviewer, qa_approver) clears a hand-off mismatch with a reason and an electronic
    signature; a deviation linked to the order (and to the other order the wrong identifier
    belongs to) is recorded with it."""
    with db.uow(auth.actor) as uow:
        mismatch = custody.clear_mismatch(
            uow,
            auth.scope,
            db.settings,
            mismatch_id,
            body.reason,
            username=body.username,
            password=body.password,
        )
        uow.commit()
        return views.mismatch_dict(mismatch)


@router.post("/dins", response_model=schemas.DinPublic, status_code=201, dependencies=ISSUE)
def issue_din(body: schemas.DinIssue, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Issue the next DIN of a facility, not yet bound to an order (CDMO)."""
    with db.uow(auth.actor) as uow:
        row = orders.issue_din(uow, auth.scope, body.fin)
        uow.commit()
        return views.din_public(row)


@router.post("/scan", response_model=schemas.ScanResult, dependencies=READ)
def lookup_scan(body: schemas.ScanLookup, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """What a scanned label is and which order (within scope) it belongs to."""
    with db.read() as session:
        return views.lookup_scan(session, auth.scope, body.scanned)
