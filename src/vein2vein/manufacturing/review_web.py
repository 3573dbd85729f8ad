"""QA's review by exception of an executed batch record (``/batches/{id}/review``): only what
needs a look — deviations with their state, corrections with their reason and the original
value, values out of trend against earlier batches of the same MBR version, suites other than
planned, entries left unverified, holds decided too late or not released — each linking to its
step and entry on the batch page; then the approval with an electronic signature (meaning
``approved``), refused with ``batches.approve``'s own message (deviations still open, a record
not in review, a wrong password...). Once approved the form is gone and the signature manifest
(every step's sign-off and the approval) is shown.

The batch records awaiting this review are a work queue of QA (``queues.py``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.manufacturing import batches, execution_views
from vein2vein.manufacturing.execution_web import rights
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import FormError, Text, apply_change
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    batch_id: int,
    failed: FormError | None = None,
) -> Response:
    with db.read() as session:
        batch = execution_views.review_page(session, auth.scope, batch_id)
    error = failed.context() if failed is not None else {}
    return render(
        request,
        "mfg_review.html",
        {"batch": batch} | rights(auth) | error,
        status_code=failed.status if failed is not None else 200,
    )


@router.get("/batches/{batch_id}/review", dependencies=[require(Perm.BATCH_READ)])
def review_page(request: Request, batch_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _page(request, auth, db, batch_id)


@router.post("/batches/{batch_id}/review/approve", dependencies=[require(Perm.BATCH_APPROVE)])
def review_approve(
    request: Request,
    batch_id: int,
    auth: AuthDep,
    db: DbDep,
    username: Text = "",
    password: Text = "",
    shown_hash: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        batches.approve(
            uow, auth.scope, db.settings, batch_id,
            username=username, password=password, shown_hash=shown_hash or None,
        )  # fmt: skip

    return apply_change(
        db,
        auth,
        change,
        done=lambda _: RedirectResponse(f"/batches/{batch_id}/review", status_code=303),
        failed=lambda error: _page(request, auth, db, batch_id, error),
    )
