"""The operator's execution page, made for a tablet (900 px wide, touch targets of at least
48 px): ``/batches/{id}/execute`` shows the step to work on now and one form per action —
start the step (in the planned suite, or another with a reason), enter a value (its verdict
shown right after: ok, flagged, or a deviation with its number), correct a value (with a
reason; the original stays, struck through), a second person's verification, a lot scan (an
autofocused field a keyboard-wedge scanner types into, ending in Enter), the step's sign-off
with an electronic signature, QA's hold decision, and the record's submission to QA.

Every form posts (CSRF token), runs one service of ``batches`` in one unit of work through
``web.forms.apply_change`` and answers with a redirect back to the page (Post/Redirect/Get),
naming the event it made (``?done=SEQ``) so that the page shows its outcome; a refusal renders
the page again with the message on the form that failed (HTTP 422, 401, 403 or 409).

Who sees which form: ``batch.execute`` (operators) the working forms, ``batch.verify`` the
verification, ``batch.approve`` (QA approver) the hold decision; everyone else who may read the
batch sees the page read-only (a sponsor: the status only). Each change first looks the batch
up in the caller's scope (another client's: not found), then checks the permission, then parses
the form, so that nothing about another client's batch is told apart from an absent one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.core.errors import InputError, NotFound
from vein2vein.manufacturing import batches, execution_views
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import FormError, Text, apply_change, parse_decimal, parse_int
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)


def rights(auth: AuthDep) -> dict[str, bool]:
    s = auth.scope
    return {
        "can_execute": s.is_cdmo and s.can(Perm.BATCH_EXECUTE),
        "can_verify": s.is_cdmo and s.can(Perm.BATCH_VERIFY),
        "can_approve": s.is_cdmo and s.can(Perm.BATCH_APPROVE),
    }


def _page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    batch_id: int,
    *,
    done: int | None = None,
    failed: FormError | None = None,
    form: str | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    with db.read() as session:
        batch = execution_views.execution_page(session, auth.scope, batch_id, done)
    context: dict[str, Any] = {
        "batch": batch,
        "failed_form": form if failed else None,
        "typed": typed or {},
    }
    error = failed.context() if failed is not None else {}
    return render(
        request,
        "mfg_execute.html",
        context | rights(auth) | error,
        status_code=failed.status if failed is not None else 200,
    )


@router.get("/batches/{batch_id}/execute", dependencies=[require(Perm.BATCH_READ)])
def execute_page(
    request: Request, batch_id: int, auth: AuthDep, db: DbDep, done: str = ""
) -> Response:
    seq = int(done) if done.isascii() and done.isdigit() and len(done) < 10 else None
    return _page(request, auth, db, batch_id, done=seq)


def _guard(uow: UnitOfWork, auth: AuthDep, batch_id: int, perm: Perm) -> None:
    """Scope first (another client's batch: not found), then the permission (403)."""
    batches.get_batch(uow.session, auth.scope, batch_id)
    auth.scope.require(perm)


def _act(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    batch_id: int,
    change: Callable[[UnitOfWork], int | None],
    *,
    form: str,
    field: str | None,
    typed: dict[str, str] | None = None,
) -> Response:
    """Apply ``change`` (it returns the number of the event it made) and redirect to the page
    showing that event; a refusal shows the page again with the message on ``form``, naming
    ``field`` when the refusal does not name one itself."""

    def failed(error: FormError) -> Response:
        named = error if error.field else replace(error, field=field)
        return _page(request, auth, db, batch_id, failed=named, form=form, typed=typed)

    def done(seq: int | None) -> Response:
        anchor = f"?done={seq}" if seq else ""  # no fragment: it would cancel autofocus
        return RedirectResponse(f"/batches/{batch_id}/execute{anchor}", status_code=303)

    return apply_change(db, auth, change, done=done, failed=failed)


def _number(text: str) -> float:
    value = parse_decimal(text, "value", "Value")
    assert value is not None  # required
    return float(value)


def _reason(text: str, what: str) -> str:
    if not text.strip():
        raise InputError(f"Reason: required ({what})", field="reason")
    return text


@router.post("/batches/{batch_id}/execute/start", dependencies=[require(Perm.BATCH_EXECUTE)])
def execute_start(
    request: Request,
    batch_id: int,
    auth: AuthDep,
    db: DbDep,
    step: Text = "",
    suite: Text = "",
    reason: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> int | None:
        _guard(uow, auth, batch_id, Perm.BATCH_EXECUTE)
        batches.start_step(uow, auth.scope, batch_id, step, suite=suite or None, reason=reason)
        return execution_views.latest_event(uow.session, batch_id, "StepStarted", step)

    return _act(
        request, auth, db, batch_id, change, form="start", field="reason",
        typed={"suite": suite, "reason": reason},
    )  # fmt: skip


@router.post("/batches/{batch_id}/execute/value", dependencies=[require(Perm.BATCH_EXECUTE)])
def execute_value(
    request: Request,
    batch_id: int,
    auth: AuthDep,
    db: DbDep,
    step: Text = "",
    entry: Text = "",
    value: Text = "",
    unit: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> int | None:
        _guard(uow, auth, batch_id, Perm.BATCH_EXECUTE)
        batches.enter_value(uow, auth.scope, batch_id, step, entry, _number(value), unit)
        return execution_views.latest_event(uow.session, batch_id, "ValueEntered", step, entry)

    return _act(
        request, auth, db, batch_id, change, form=f"value:{entry}", field="value",
        typed={"value": value, "unit": unit},
    )  # fmt: skip


@router.post("/batches/{batch_id}/execute/correct", dependencies=[require(Perm.BATCH_EXECUTE)])
def execute_correct(
    request: Request,
    batch_id: int,
    auth: AuthDep,
    db: DbDep,
    step: Text = "",
    entry: Text = "",
    value: Text = "",
    unit: Text = "",
    reason: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> int | None:
        _guard(uow, auth, batch_id, Perm.BATCH_EXECUTE)
        number = _number(value)
        why = _reason(reason, "say why the value is corrected")
        batches.correct(uow, auth.scope, batch_id, step, entry, number, unit, reason=why)
        return execution_views.latest_event(uow.session, batch_id, "ValueEntered", step, entry)

    return _act(
        request, auth, db, batch_id, change, form=f"correct:{entry}", field="reason",
        typed={"value": value, "unit": unit, "reason": reason},
    )  # fmt: skip


@router.post("/batches/{batch_id}/execute/verify", dependencies=[require(Perm.BATCH_VERIFY)])
def execute_verify(
    request: Request, batch_id: int, auth: AuthDep, db: DbDep, seq: Text = ""
) -> Response:
    def change(uow: UnitOfWork) -> int | None:
        _guard(uow, auth, batch_id, Perm.BATCH_VERIFY)
        number = parse_int(seq, "seq", "Entry number", minimum=1)
        assert number is not None  # required
        batches.verify(uow, auth.scope, batch_id, number)
        return execution_views.latest_event(uow.session, batch_id, "Verified")

    return _act(request, auth, db, batch_id, change, form=f"verify:{seq}", field="seq")


@router.post("/batches/{batch_id}/execute/scan", dependencies=[require(Perm.BATCH_EXECUTE)])
def execute_scan(
    request: Request,
    batch_id: int,
    auth: AuthDep,
    db: DbDep,
    step: Text = "",
    material: Text = "",
    lot: Text = "",
) -> Response:
    """The scanner types the lot number (or the apheresis DIN) and Enter; a lot that may not be
    used is refused with its number and the reason (quarantine, rejected, expired, another
    material), and a number that is no lot of the CDMO's is named as unknown."""

    def change(uow: UnitOfWork) -> int | None:
        _guard(uow, auth, batch_id, Perm.BATCH_EXECUTE)
        if not lot.strip():
            raise InputError("Lot: scan or type the lot number", field="lot")
        try:
            batches.scan_lot(uow, auth.scope, batch_id, step, material, lot)
        except NotFound:  # the batch was found above: it is the lot that is unknown
            raise InputError(
                f"lot {lot.strip()} is not a lot received here: check the label", field="lot"
            ) from None
        code = material.strip().upper()
        return execution_views.latest_event(uow.session, batch_id, "LotScanned", step, code)

    return _act(
        request, auth, db, batch_id, change, form=f"scan:{material}", field="lot",
        typed={"lot": lot},
    )  # fmt: skip


@router.post("/batches/{batch_id}/execute/equipment", dependencies=[require(Perm.BATCH_EXECUTE)])
def execute_equipment(
    request: Request,
    batch_id: int,
    auth: AuthDep,
    db: DbDep,
    step: Text = "",
    equipment: Text = "",
    instrument: Text = "",
    calibration_due: Text = "",
    reason: Text = "",
) -> Response:
    """The instrument used for a piece of the step's equipment: its asset label scanned (or
    typed) and its calibration due date; a calibration due before today opens a deviation."""

    def change(uow: UnitOfWork) -> int | None:
        _guard(uow, auth, batch_id, Perm.BATCH_EXECUTE)
        if not instrument.strip():
            raise InputError("Instrument: scan or type its asset number", field="instrument")
        batches.record_equipment(
            uow, auth.scope, batch_id, step, equipment, instrument,
            calibration_due.strip() or None, reason=reason,
        )  # fmt: skip
        code = equipment.strip().upper()
        return execution_views.latest_event(uow.session, batch_id, "EquipmentUsed", step, code)

    return _act(
        request, auth, db, batch_id, change, form=f"equipment:{equipment}", field="instrument",
        typed={"instrument": instrument, "calibration_due": calibration_due, "reason": reason},
    )  # fmt: skip


@router.post("/batches/{batch_id}/execute/signoff", dependencies=[require(Perm.BATCH_EXECUTE)])
def execute_signoff(
    request: Request,
    batch_id: int,
    auth: AuthDep,
    db: DbDep,
    step: Text = "",
    username: Text = "",
    password: Text = "",
    shown_hash: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> int | None:
        _guard(uow, auth, batch_id, Perm.BATCH_EXECUTE)
        batches.sign_off_step(
            uow, auth.scope, db.settings, batch_id, step,
            username=username, password=password, shown_hash=shown_hash or None,
        )  # fmt: skip
        return execution_views.latest_event(uow.session, batch_id, "StepSignedOff", step)

    return _act(request, auth, db, batch_id, change, form="signoff", field="password")


@router.post("/batches/{batch_id}/execute/hold", dependencies=[require(Perm.BATCH_APPROVE)])
def execute_hold(
    request: Request,
    batch_id: int,
    auth: AuthDep,
    db: DbDep,
    step: Text = "",
    decision: Text = "",
    reason: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> int | None:
        _guard(uow, auth, batch_id, Perm.BATCH_APPROVE)
        if decision not in ("release", "reject"):
            raise InputError("Decision: release or do not release", field="decision")
        why = _reason(reason, "state the QA decision's reason")
        batches.decide_hold(
            uow, auth.scope, batch_id, step, released=decision == "release", reason=why
        )
        return execution_views.latest_event(uow.session, batch_id, "QaDecision", step)

    return _act(
        request, auth, db, batch_id, change, form="hold", field="reason",
        typed={"reason": reason},
    )  # fmt: skip


@router.post("/batches/{batch_id}/execute/submit", dependencies=[require(Perm.BATCH_EXECUTE)])
def execute_submit(request: Request, batch_id: int, auth: AuthDep, db: DbDep) -> Response:
    def change(uow: UnitOfWork) -> int | None:
        _guard(uow, auth, batch_id, Perm.BATCH_EXECUTE)
        batches.submit(uow, auth.scope, batch_id)
        return None

    return _act(request, auth, db, batch_id, change, form="submit", field=None)
