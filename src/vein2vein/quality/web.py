"""Pages of QC release (issue 13; docs/quality.md):

=================================  ===========================================================
page                               what
=================================  ===========================================================
``/qc``                            the QC analyst's worklist: per batch the tests still without
                                   a valid result, when each is due, open investigations
``/qc/batches/{id}``               one batch's tests: valid result (raw beside rounded,
                                   conformance), earlier results struck through, a form per
                                   missing test, a results file or instrument export upload
``/qc/investigations[/{ref}]``     OOS investigations; phase I and phase II forms
``/release[/{id}]``                QA's list; one screen with every precondition, the tests,
                                   the dose, the investigations, the exceptional release, and
                                   the release, reject and exceptional-release forms
``/release/{id}/coa``              the Certificate of Analysis (PDF, ``certificates.issue``)
``/specs[/{id}]``                  specification versions; a YAML upload; approval
``/coa/verify``                    upload a certificate: authentic, current, and why not
=================================  ===========================================================

Every form posts (CSRF token) and runs one service in one unit of work through
``web.forms.apply_change``, answering with a redirect (Post/Redirect/Get); a refusal renders
the page again with the message on the form that failed and the field named (422, 401, 403,
409). A change on a named record first looks the record up in the caller's scope (another
client's: not found), then checks the permission, then parses the form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from vein2vein.auth.roles import Perm
from vein2vein.core.errors import InputError
from vein2vein.manufacturing import batches
from vein2vein.manufacturing.kinetics import cells_text
from vein2vein.quality import certificates, oos, release, results, specs, views
from vein2vein.quality.results import ResultInput
from vein2vein.store.uow import UnitOfWork
from vein2vein.web.context import AuthDep, DbDep, require
from vein2vein.web.forms import FormError, Text, apply_change, parse_date
from vein2vein.web.templating import render

router = APIRouter(include_in_schema=False)

#: the largest upload read (a results file, an instrument export, a certificate, a YAML file)
MAX_UPLOAD = 5 * 1024 * 1024


def _see(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


def _failed_on(
    form: str, field: str | None, page: Callable[..., Response], **kw: Any
) -> Callable[[FormError], Response]:
    """Render ``page`` again with the error on ``form``, naming ``field`` when the refusal
    names none itself."""

    def failed(error: FormError) -> Response:
        named = error if error.field else replace(error, field=field)
        return page(failed=named, form=form, **kw)

    return failed


def _context(failed: FormError | None, form: str | None, typed: dict[str, str] | None) -> dict:
    return {
        "failed_form": form if failed else None,
        "typed": typed or {},
    } | (failed.context() if failed else {})


def _upload(file: UploadFile | None, field: str, what: str) -> tuple[bytes, str]:
    if file is None or not file.filename:
        raise InputError(f"choose {what}", field=field)
    data = file.file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise InputError(f"the file is larger than {MAX_UPLOAD // 1024 // 1024} MB", field=field)
    return data, file.filename


def _rights(auth: AuthDep) -> dict[str, bool]:
    s = auth.scope
    return {
        "can_enter": s.is_cdmo and s.can(Perm.QC_RESULT_ENTER),
        "can_investigate": s.is_cdmo and s.can(Perm.OOS_MANAGE),
        "can_release": s.is_cdmo and s.can(Perm.BATCH_RELEASE),
        "can_author": s.is_cdmo and s.can(Perm.SPEC_AUTHOR),
        "can_approve": s.is_cdmo and s.can(Perm.SPEC_APPROVE),
        "can_sign_exception": s.can(Perm.SIGN_APPROVED)
        and (s.can(Perm.BATCH_RELEASE) or not s.is_cdmo),
    }


# --------------------------------------------------------------------------------------------
# the QC worklist and one batch's results
# --------------------------------------------------------------------------------------------


@router.get("/qc", dependencies=[require(Perm.QC_RESULT_ENTER)])
def worklist_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    with db.read() as session:
        rows = views.worklist(session, auth.scope)
    return render(request, "qc_worklist.html", {"rows": rows})


def _batch_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    batch_id: int,
    *,
    failed: FormError | None = None,
    form: str | None = None,
    typed: dict[str, str] | None = None,
    done: str = "",
) -> Response:
    with db.read() as session:
        page = views.batch_results(session, auth.scope, batch_id)
    context = page | _rights(auth) | _context(failed, form, typed) | {"done": done[:200]}
    return render(request, "qc_batch.html", context, status_code=failed.status if failed else 200)


@router.get("/qc/batches/{batch_id}", dependencies=[require(Perm.QC_READ)])
def batch_page(
    request: Request, batch_id: int, auth: AuthDep, db: DbDep, done: str = ""
) -> Response:
    return _batch_page(request, auth, db, batch_id, done=done)


def _batch_guard(uow: UnitOfWork, auth: AuthDep, batch_id: int, perm: Perm) -> None:
    """Scope first (another client's batch: not found), then the permission (403)."""
    batches.get_batch(uow.session, auth.scope, batch_id)
    auth.scope.require(perm)


@router.post("/qc/batches/{batch_id}/results", dependencies=[require(Perm.QC_RESULT_ENTER)])
def result_enter(
    request: Request,
    batch_id: int,
    auth: AuthDep,
    db: DbDep,
    test: Text = "",
    value: Text = "",
    unit: Text = "",
    tested_on: Text = "",
    instrument: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> str:
        _batch_guard(uow, auth, batch_id, Perm.QC_RESULT_ENTER)
        if not value.strip():
            raise InputError("Result: required", field="value")
        item = ResultInput(
            batch=batch_id,
            test=test,
            value=value.strip(),
            unit=unit.strip() or None,
            tested_on=parse_date(tested_on, "tested_on", "Tested on"),
            instrument=instrument.strip() or None,
        )
        return results.enter_result(uow, auth.scope, item).test_code

    typed = {"value": value, "unit": unit, "tested_on": tested_on, "instrument": instrument}
    failed = _failed_on(
        f"result:{test}", "value", partial(_batch_page, request, auth, db, batch_id), typed=typed
    )
    return apply_change(
        db, auth, change, done=lambda code: _see(f"/qc/batches/{batch_id}?done={_query(code)}"),
        failed=failed,
    )  # fmt: skip


@router.post("/qc/batches/{batch_id}/import", dependencies=[require(Perm.QC_RESULT_ENTER)])
def results_import(
    request: Request,
    batch_id: int,
    auth: AuthDep,
    db: DbDep,
    file: Annotated[UploadFile | None, File()] = None,
    format: Text = "auto",
) -> Response:
    """A results CSV or an instrument export (flow cytometer, qPCR), all rows or none; the
    refusal names the file, the row and the field."""

    def change(uow: UnitOfWork) -> str:
        _batch_guard(uow, auth, batch_id, Perm.QC_RESULT_ENTER)
        data, name = _upload(file, "file", "a results file or an instrument export")
        stored = results.import_file(uow, auth.scope, data, name, format.strip() or "auto")
        return f"{len(stored)} results from {name}"

    page = partial(_batch_page, request, auth, db, batch_id)
    failed = _failed_on("import", "file", page, typed={"format": format})
    return apply_change(
        db, auth, change,
        done=lambda text: _see(f"/qc/batches/{batch_id}?done={_query(text)}"), failed=failed,
    )  # fmt: skip


def _query(text: str) -> str:
    return quote(text[:200])


# --------------------------------------------------------------------------------------------
# investigations
# --------------------------------------------------------------------------------------------


@router.get("/qc/investigations", dependencies=[require(Perm.QC_READ)])
def investigations_page(request: Request, auth: AuthDep, db: DbDep, show: str = "") -> Response:
    """``?show=open`` or ``?show=closed``; every investigation otherwise."""
    wanted = show if show in ("open", "closed") else ""
    with db.read() as session:
        rows = oos.list_investigations(session, auth.scope)
    if wanted:
        rows = [r for r in rows if r["closed"] == (wanted == "closed")]
    return render(request, "qc_investigations.html", {"rows": rows, "show": wanted})


def _investigation_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    ref: str,
    *,
    failed: FormError | None = None,
    form: str | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    with db.read() as session:
        inv = oos.investigation_detail(session, auth.scope, ref)
    context = {"inv": inv} | _rights(auth) | _context(failed, form, typed)
    return render(
        request, "qc_investigation.html", context, status_code=failed.status if failed else 200
    )


@router.get("/qc/investigations/{ref}", dependencies=[require(Perm.QC_READ)])
def investigation_page(request: Request, ref: str, auth: AuthDep, db: DbDep) -> Response:
    return _investigation_page(request, auth, db, ref)


def _investigation_guard(uow: UnitOfWork, auth: AuthDep, ref: str) -> str:
    inv = oos.get_investigation(uow.session, auth.scope, ref)
    auth.scope.require(Perm.OOS_MANAGE)
    return inv.number


@router.post("/qc/investigations/{ref}/phase-i", dependencies=[require(Perm.OOS_MANAGE)])
def investigation_phase_i(
    request: Request,
    ref: str,
    auth: AuthDep,
    db: DbDep,
    finding: Text = "",
    assignable: Text = "",
    justification: Text = "",
    username: Text = "",
    password: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> str:
        number = _investigation_guard(uow, auth, ref)
        if assignable not in ("yes", "no"):
            raise InputError("Assignable laboratory error: answer yes or no", field="assignable")
        oos.conclude_phase_i(
            uow, auth.scope, db.settings, number, finding=finding,
            assignable=assignable == "yes", justification=justification,
            username=username, password=password,
        )  # fmt: skip
        return number

    typed = {"finding": finding, "assignable": assignable, "justification": justification}
    failed = _failed_on(
        "phase_i", "finding", partial(_investigation_page, request, auth, db, ref), typed=typed
    )
    return apply_change(
        db, auth, change, done=lambda n: _see(f"/qc/investigations/{n}"), failed=failed
    )


@router.post("/qc/investigations/{ref}/phase-ii", dependencies=[require(Perm.OOS_MANAGE)])
def investigation_phase_ii(
    request: Request,
    ref: str,
    auth: AuthDep,
    db: DbDep,
    conclusion: Text = "",
    impact: Text = "",
    username: Text = "",
    password: Text = "",
    shown_hash: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> str:
        number = _investigation_guard(uow, auth, ref)
        oos.close_phase_ii(
            uow, auth.scope, db.settings, number, conclusion=conclusion, impact=impact,
            username=username, password=password, shown_hash=shown_hash or None,
        )  # fmt: skip
        return number

    typed = {"conclusion": conclusion, "impact": impact}
    failed = _failed_on(
        "phase_ii", "conclusion", partial(_investigation_page, request, auth, db, ref), typed=typed
    )
    return apply_change(
        db, auth, change, done=lambda n: _see(f"/qc/investigations/{n}"), failed=failed
    )


# --------------------------------------------------------------------------------------------
# release
# --------------------------------------------------------------------------------------------


@router.get("/release", dependencies=[require(Perm.QC_READ)])
def releases_page(request: Request, auth: AuthDep, db: DbDep, ready: str = "") -> Response:
    """Every batch's release state; ``ready=1``: only those whose preconditions all hold (the
    QA approver's work queue)."""
    with db.read() as session:
        rows = release.list_releases(session, auth.scope)
        only_ready = ready == "1"
        if only_ready:
            keep = release.ready_for_release(session, auth.scope)
            rows = [r for r in rows if r["batch"] in keep]
    return render(request, "qc_releases.html", {"rows": rows, "only_ready": only_ready})


def _release_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    batch_id: int,
    *,
    failed: FormError | None = None,
    form: str | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    with db.read() as session:
        page = release.release_page(session, auth.scope, batch_id)
        order = page["batch"].order.number if page["batch"].order else None
        coas = certificates.issued_for(session, auth.scope, batch_id) if page["release"] else []
    context = {"r": page, "order": order, "coas": coas, "cells": cells_text}
    context |= _rights(auth) | _context(failed, form, typed)
    return render(request, "qc_release.html", context, status_code=failed.status if failed else 200)


@router.get("/release/{batch_id}", dependencies=[require(Perm.QC_READ)])
def release_page(request: Request, batch_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _release_page(request, auth, db, batch_id)


def _released(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    batch_id: int,
    change: Callable[[UnitOfWork], Any],
    *,
    form: str,
    field: str,
    typed: dict[str, str] | None = None,
) -> Response:
    page = partial(_release_page, request, auth, db, batch_id)
    failed = _failed_on(form, field, page, typed=typed)
    return apply_change(
        db, auth, change, done=lambda _: _see(f"/release/{batch_id}"), failed=failed
    )


@router.post("/release/{batch_id}/release", dependencies=[require(Perm.BATCH_RELEASE)])
def release_sign(
    request: Request,
    batch_id: int,
    auth: AuthDep,
    db: DbDep,
    username: Text = "",
    password: Text = "",
    shown_hash: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        _batch_guard(uow, auth, batch_id, Perm.BATCH_RELEASE)
        release.release(
            uow, auth.scope, db.settings, batch_id,
            username=username, password=password, shown_hash=shown_hash or None,
        )  # fmt: skip

    return _released(request, auth, db, batch_id, change, form="release", field="password")


@router.post("/release/{batch_id}/reject", dependencies=[require(Perm.BATCH_RELEASE)])
def release_reject(
    request: Request,
    batch_id: int,
    auth: AuthDep,
    db: DbDep,
    reason: Text = "",
    username: Text = "",
    password: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        _batch_guard(uow, auth, batch_id, Perm.BATCH_RELEASE)
        release.reject(
            uow, auth.scope, db.settings, batch_id,
            reason=reason, username=username, password=password,
        )  # fmt: skip

    return _released(
        request, auth, db, batch_id, change, form="reject", field="reason",
        typed={"reason": reason},
    )  # fmt: skip


@router.post("/release/{batch_id}/exception", dependencies=[require(Perm.BATCH_RELEASE)])
def exception_request(
    request: Request,
    batch_id: int,
    auth: AuthDep,
    db: DbDep,
    physician: Text = "",
    physician_request: Text = "",
    requested_on: Text = "",
    no_alternative: Text = "",
    risk_assessment: Text = "",
    authority_notification: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        _batch_guard(uow, auth, batch_id, Perm.BATCH_RELEASE)
        day = parse_date(requested_on, "requested_on", "Date of the request")
        assert day is not None  # required
        release.request_exception(
            uow, auth.scope, batch_id, physician=physician,
            physician_request=physician_request, requested_on=day,
            no_alternative=no_alternative, risk_assessment=risk_assessment,
            authority_notification=authority_notification,
        )  # fmt: skip

    typed = {
        "physician": physician,
        "physician_request": physician_request,
        "requested_on": requested_on,
        "no_alternative": no_alternative,
        "risk_assessment": risk_assessment,
        "authority_notification": authority_notification,
    }
    return _released(
        request, auth, db, batch_id, change, form="exception", field="physician", typed=typed
    )


@router.post("/release/{batch_id}/exception/sign", dependencies=[require(Perm.SIGN_APPROVED)])
def exception_sign(
    request: Request,
    batch_id: int,
    auth: AuthDep,
    db: DbDep,
    username: Text = "",
    password: Text = "",
) -> Response:
    """QA (a QA approver) or the sponsor's clinical user signs the exceptional release."""

    def change(uow: UnitOfWork) -> None:
        batches.get_batch(uow.session, auth.scope, batch_id)
        auth.scope.require(Perm.SIGN_APPROVED)
        release.sign_exception(
            uow, auth.scope, db.settings, batch_id, username=username, password=password
        )

    return _released(request, auth, db, batch_id, change, form="sign_exception", field="password")


@router.get("/release/{batch_id}/coa", dependencies=[require(Perm.QC_READ)])
def coa_download(batch_id: int, auth: AuthDep, db: DbDep) -> Response:
    """The batch's Certificate of Analysis: the one issued last if the batch still says the
    same (byte for byte), else a new one (stored and audited)."""
    with db.uow(auth.actor) as uow:
        issued = certificates.issue(uow, auth.scope, batch_id)
        uow.commit()
    return Response(
        issued.data,
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="{issued.filename}"'},
    )


# --------------------------------------------------------------------------------------------
# specifications
# --------------------------------------------------------------------------------------------


def _specs_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    *,
    failed: FormError | None = None,
    form: str | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    with db.read() as session:
        rows = specs.list_specs(session, auth.scope)
    context = {"rows": rows} | _rights(auth) | _context(failed, form, typed)
    return render(request, "qc_specs.html", context, status_code=failed.status if failed else 200)


@router.get("/specs", dependencies=[require(Perm.QC_READ)])
def specs_page(request: Request, auth: AuthDep, db: DbDep) -> Response:
    return _specs_page(request, auth, db)


@router.post("/specs", dependencies=[require(Perm.SPEC_AUTHOR)])
def spec_upload(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """A new draft version from a YAML file (its product, stage and phase in the file)."""

    def change(uow: UnitOfWork) -> int:
        data, name = _upload(file, "file", "a specification YAML file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{name}: not UTF-8 text", field="file") from None
        return specs.import_spec(uow, auth.scope, text, name).id

    return apply_change(
        db, auth, change, done=lambda new_id: _see(f"/specs/{new_id}"),
        failed=_failed_on("upload", "file", partial(_specs_page, request, auth, db)),
    )  # fmt: skip


def _spec_page(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    spec_id: int,
    *,
    failed: FormError | None = None,
    form: str | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    with db.read() as session:
        spec = specs.spec_detail(session, auth.scope, spec_id)
    context = {"spec": spec} | _rights(auth) | _context(failed, form, typed)
    return render(request, "qc_spec.html", context, status_code=failed.status if failed else 200)


@router.get("/specs/{spec_id}", dependencies=[require(Perm.QC_READ)])
def spec_page(request: Request, spec_id: int, auth: AuthDep, db: DbDep) -> Response:
    return _spec_page(request, auth, db, spec_id)


@router.post("/specs/{spec_id}/approve", dependencies=[require(Perm.SPEC_APPROVE)])
def spec_approve(
    request: Request,
    spec_id: int,
    auth: AuthDep,
    db: DbDep,
    username: Text = "",
    password: Text = "",
    shown_hash: Text = "",
) -> Response:
    def change(uow: UnitOfWork) -> None:
        specs.approve(
            uow, auth.scope, db.settings, spec_id,
            username=username, password=password, shown_hash=shown_hash or None,
        )  # fmt: skip

    page = partial(_spec_page, request, auth, db, spec_id)
    return apply_change(
        db, auth, change, done=lambda _: _see(f"/specs/{spec_id}"),
        failed=_failed_on("approve", "password", page),
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# verifying a certificate
# --------------------------------------------------------------------------------------------


def _verify_page(
    request: Request,
    verdict: dict[str, Any] | None = None,
    failed: FormError | None = None,
) -> Response:
    context = {"verdict": verdict} | _context(failed, "verify", None)
    return render(
        request, "qc_coa_verify.html", context, status_code=failed.status if failed else 200
    )


@router.get("/coa/verify", dependencies=[require(Perm.QC_READ)])
def coa_verify_page(request: Request) -> Response:
    return _verify_page(request)


@router.post("/coa/verify", dependencies=[require(Perm.QC_READ)])
def coa_verify(
    request: Request,
    auth: AuthDep,
    db: DbDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Reads only: the verdict is shown on the page (nothing is stored)."""
    try:
        data, name = _upload(file, "file", "a certificate (PDF)")
    except InputError as exc:
        return _verify_page(request, failed=FormError.of(exc))
    with db.read() as session:
        verdict = certificates.verify(session, auth.scope, data, name)
    return _verify_page(request, verdict)
