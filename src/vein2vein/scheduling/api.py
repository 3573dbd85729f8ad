"""API routes of capacity scheduling (``/api/schedule``): thin wrappers over the services.

Each route declares its permission: the whole plan (suites, settings, drafts, versions) is read
with ``plan.read`` and changed, computed and published with ``plan.manage``; a sponsor's users
read their own orders' slots with ``program.read``. Reads go through ``scheduling.views`` in a
read-only unit of work; a draft is computed outside any transaction (``planning``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from vein2vein.auth.roles import Perm
from vein2vein.core.errors import NotFound
from vein2vein.scheduling import planning, schemas, settings, views
from vein2vein.web.context import AuthDep, DbDep, require

router = APIRouter(prefix="/api/schedule", tags=["capacity scheduling"])
READ = [require(Perm.PLAN_READ)]
MANAGE = [require(Perm.PLAN_MANAGE)]
MarginDays = Annotated[int | None, Query(ge=0, le=views.MAX_MARGIN_DAYS)]


@router.get("/slots", response_model=list[schemas.Slot], dependencies=[require(Perm.PROGRAM_READ)])
def slots(auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    """Batches of the latest published plan within scope: a sponsor sees only their own orders."""
    with db.read() as session:
        return views.sponsor_slots(session, auth.scope)


@router.get("/suites", response_model=list[schemas.SuitePublic], dependencies=READ)
def list_suites(auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    with db.read() as session:
        return views.list_suites(session, auth.scope)


@router.post("/suites", response_model=schemas.SuitePublic, status_code=201, dependencies=MANAGE)
def add_suite(body: schemas.SuiteCreate, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Add a GMP suite to one of the CDMO's manufacturing sites (CDMO admin, QA)."""
    with db.uow(auth.actor) as uow:
        suite = settings.add_suite(uow, auth.scope, **body.model_dump())
        uow.commit()
        suite_id = suite.id
    with db.read() as session:
        return views.suite_detail(session, auth.scope, suite_id)


@router.get("/suites/{suite_id}", response_model=schemas.SuitePublic, dependencies=READ)
def get_suite(suite_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        return views.suite_detail(session, auth.scope, suite_id)


@router.patch("/suites/{suite_id}", response_model=schemas.SuitePublic, dependencies=MANAGE)
def update_suite(
    suite_id: int, body: schemas.SuiteUpdate, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """Change a suite (audited with the reason)."""
    data = body.model_dump(exclude_none=True)
    reason = data.pop("reason")
    with db.uow(auth.actor) as uow:
        settings.update_suite(uow, auth.scope, suite_id, reason=reason, **data)
        uow.commit()
    with db.read() as session:
        return views.suite_detail(session, auth.scope, suite_id)


@router.post(
    "/suites/{suite_id}/downtime",
    response_model=schemas.DowntimePublic,
    status_code=201,
    dependencies=MANAGE,
)
def add_downtime(
    suite_id: int, body: schemas.DowntimeCreate, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """Close a suite for maintenance or after a failure (first to last day, both included)."""
    with db.uow(auth.actor) as uow:
        window = settings.add_downtime(uow, auth.scope, suite_id, **body.model_dump())
        uow.commit()
        return window.public()


@router.post(
    "/downtime/{downtime_id}/cancel", response_model=schemas.DowntimePublic, dependencies=MANAGE
)
def cancel_downtime(
    downtime_id: int, body: schemas.Reason, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """Call off a downtime window (never deleted; the reason is audited)."""
    with db.uow(auth.actor) as uow:
        window = settings.cancel_downtime(uow, auth.scope, downtime_id, body.reason)
        uow.commit()
        return window.public()


@router.get("/products", response_model=list[schemas.ProductPublic], dependencies=READ)
def list_products(auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    with db.read() as session:
        return views.list_products(session, auth.scope)


@router.put("/products", response_model=schemas.ProductPublic, dependencies=MANAGE)
def set_product(body: schemas.ProductIn, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Create or change a product's process settings (keyed by its description code)."""
    with db.uow(auth.actor) as uow:
        row = settings.set_product(uow, auth.scope, **body.model_dump())
        uow.commit()
        return row.public()


@router.get("/lab", response_model=schemas.LabPublic, dependencies=READ)
def get_lab(auth: AuthDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        return views.lab(session, auth.scope)


@router.put("/lab", response_model=schemas.LabPublic, dependencies=MANAGE)
def set_lab(body: schemas.LabIn, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """QC release capacity, starts per day and the at-risk margin."""
    with db.uow(auth.actor) as uow:
        row = settings.set_lab(uow, auth.scope, **body.model_dump())
        uow.commit()
        return row.public()


@router.post("/drafts", response_model=schemas.Draft, status_code=201, dependencies=MANAGE)
def compute_draft(body: schemas.DraftCreate, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Compute a plan or a what-if re-plan (in this request, at most 8 s of solver time, with no
    transaction open meanwhile) into a draft: the plan, its diff against the published plan,
    metrics before and after. 409 when the store changed while it was being computed."""
    draft_id = planning.compute_draft_in_steps(
        db,
        auth.actor,
        auth.scope,
        method=body.method,
        time_limit=body.time_limit,
        mode=body.mode,
        events=[e.model_dump(exclude_none=True) for e in body.events],
    )
    with db.read() as session:
        return views.draft_detail(session, auth.scope, draft_id)


@router.get("/drafts/{draft_id}", response_model=schemas.Draft, dependencies=READ)
def get_draft(draft_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    with db.read() as session:
        return views.draft_detail(session, auth.scope, draft_id)


@router.post(
    "/drafts/{draft_id}/publish",
    response_model=schemas.PlanDetail,
    status_code=201,
    dependencies=MANAGE,
)
def publish(draft_id: int, body: schemas.Publish, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Publish a draft as the next plan version. The validator checks it first: a plan that
    breaks a hard rule is refused (422) with the violations listed."""
    with db.uow(auth.actor) as uow:
        row = planning.publish(uow, auth.scope, draft_id, body.comment)
        uow.commit()
        plan_id = row.id
    with db.read() as session:
        return views.plan_detail(session, auth.scope, plan_id)


@router.get("/plans", response_model=list[schemas.PlanSummary], dependencies=READ)
def plan_history(auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    """Every published version, newest first (never overwritten)."""
    with db.read() as session:
        return views.plan_history(session, auth.scope)


@router.get("/plans/{plan_id}", response_model=schemas.PlanDetail, dependencies=READ)
def get_plan(
    plan_id: int, auth: AuthDep, db: DbDep, margin_days: MarginDays = None
) -> dict[str, Any]:
    with db.read() as session:
        return views.plan_detail(session, auth.scope, plan_id, margin_days)


@router.get("/plans/{plan_id}/gantt", dependencies=READ)
def plan_gantt(plan_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """The plan's Gantt chart of the suites as a Plotly figure (``data`` and ``layout``)."""
    with db.read() as session:
        return views.plan_gantt(session, auth.scope, plan_id)


@router.get("/at-risk", response_model=schemas.PlanDetail, dependencies=READ)
def at_risk(auth: AuthDep, db: DbDep, margin_days: MarginDays = None) -> dict[str, Any]:
    """The latest published plan with its orders late or within ``margin_days`` of required-by."""
    with db.read() as session:
        plan_id = views.latest_plan_id(session, auth.scope)
        if plan_id is None:
            raise NotFound("no plan has been published yet")
        return views.plan_detail(session, auth.scope, plan_id, margin_days)
