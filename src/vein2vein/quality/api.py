"""API routes of QC release (``/api/quality/...`` and ``/api/batches/{batch_id}/...``): thin
wrappers over the use cases of ``specs``, ``results``, ``oos``, ``release`` and
``certificates``, one unit of work each, answering the public schemas of ``schemas``.

Each route declares its permission; the use case checks the finer rule (the CDMO's quality unit
releases, the author does not approve, the QA approver was no operator or analyst of the batch)
after finding the record within the caller's scope, so that another client's record is not
found rather than forbidden."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from starlette.responses import Response

from vein2vein.auth.roles import Perm
from vein2vein.quality import certificates, oos, release, results, schemas, specs
from vein2vein.quality.results import ResultInput
from vein2vein.web.context import Auth, AuthDep, DbDep, require

router = APIRouter(prefix="/api", tags=["QC release"])
READ = [require(Perm.QC_READ)]
RELEASE = [require(Perm.BATCH_RELEASE)]
ENTER = [require(Perm.QC_RESULT_ENTER)]
OOS = [require(Perm.OOS_MANAGE)]


def _page(db: Any, auth: Auth, batch_id: int) -> dict[str, Any]:
    """The release page of a batch as the public schema carries it."""
    with db.read() as session:
        page = release.release_page(session, auth.scope, batch_id)
    batch = page["batch"]
    plan = page["dose"]["plan"]
    dose = dict(page["dose"])
    if plan is not None:
        dose["plan"] = {
            "cells": plan.cells,
            "volume_ml": plan.volume_ml,
            "cells_per_kg": plan.cells_per_kg,
            "target_cells": plan.required.target_cells,
            "achievable_cells": plan.achievable_cells,
            "achievable_cells_per_kg": plan.achievable_cells_per_kg,
            "concentration_cells_per_ml": plan.concentration_cells_per_ml,
            "bags": [vars(bag) for bag in plan.bags],
            "flagged": plan.flagged,
            "findings": [{"flag": f.flag.value, "message": f.message} for f in plan.findings],
        }
    return page | {
        "batch": {
            "id": batch.id,
            "order": batch.order.number if batch.order else None,
            "coi": batch.coi,
            "status": batch.status,
        },
        "preconditions": [vars(p) for p in page["preconditions"]],
        "dose": dose,
        "exception_missing": list(page["exception_missing"]),
    }


# --------------------------------------------------------------------------------------------
# specifications
# --------------------------------------------------------------------------------------------


@router.get("/quality/specs", response_model=list[schemas.SpecSummary], dependencies=READ)
def list_specs(auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    """Every version of every specification in scope, newest version first."""
    with db.read() as session:
        return specs.list_specs(session, auth.scope)


@router.get("/quality/specs/{spec_id}", response_model=schemas.SpecDetail, dependencies=READ)
def get_spec(spec_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """One version with its tests, the hash an approver signs and its signatures."""
    with db.read() as session:
        return specs.spec_detail(session, auth.scope, spec_id)


@router.post(
    "/quality/specs",
    response_model=schemas.SpecDetail,
    status_code=201,
    dependencies=[require(Perm.SPEC_AUTHOR)],
)
def import_spec(body: schemas.SpecImport, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """A new draft version from its YAML (a problem names the file, line and field)."""
    with db.uow(auth.actor) as uow:
        spec_id = specs.import_spec(uow, auth.scope, body.yaml, body.file).id
        uow.commit()
    return get_spec(spec_id, auth, db)


@router.post(
    "/quality/specs/{spec_id}/approve",
    response_model=schemas.SpecDetail,
    dependencies=[require(Perm.SPEC_APPROVE)],
)
def approve_spec(spec_id: int, body: schemas.Signing, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """QA approves a draft with an electronic signature: it becomes effective and supersedes
    the version before (its author does not approve it)."""
    with db.uow(auth.actor) as uow:
        specs.approve(uow, auth.scope, db.settings, spec_id, **body.model_dump())
        uow.commit()
    return get_spec(spec_id, auth, db)


# --------------------------------------------------------------------------------------------
# results and the release page
# --------------------------------------------------------------------------------------------


@router.get("/batches/{batch_id}/qc", response_model=schemas.QcPage, dependencies=READ)
def qc_page(batch_id: int, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """The release page: every precondition, each test with its result and history, the
    investigations, the dose, the decision and the hash a release now would sign."""
    return _page(db, auth, batch_id)


@router.post(
    "/batches/{batch_id}/results",
    response_model=schemas.ResultPublic,
    status_code=201,
    dependencies=ENTER,
)
def enter_result(
    batch_id: int, body: schemas.ResultCreate, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """Enter one result, judged at once (out of specification: its investigation opens); a
    result is never overwritten."""
    item = ResultInput(batch=batch_id, **body.model_dump() | {"value": str(body.value)})
    with db.uow(auth.actor) as uow:
        row = results.enter_result(uow, auth.scope, item)
        uow.commit()
        return results.public(row)


@router.post(
    "/quality/results/import",
    response_model=list[schemas.ResultPublic],
    status_code=201,
    dependencies=ENTER,
)
def import_results(
    auth: AuthDep,
    db: DbDep,
    file: Annotated[UploadFile, File(description="results CSV, flow or qPCR export")],
    format: Annotated[
        str, Form(max_length=8, description="auto, csv, flow or qpcr (auto: by the header)")
    ] = "auto",
) -> list[dict[str, Any]]:
    """Import a file of results in one transaction: every row stored and judged, or, at the
    first bad row, nothing (the problem names the file, row and field)."""
    data = file.file.read()
    with db.uow(auth.actor) as uow:
        rows = results.import_file(uow, auth.scope, data, file.filename or "results.csv", format)
        uow.commit()
        return [results.public(r) for r in rows]


# --------------------------------------------------------------------------------------------
# out-of-specification investigations
# --------------------------------------------------------------------------------------------


@router.get(
    "/quality/investigations",
    response_model=list[schemas.InvestigationSummary],
    dependencies=READ,
)
def list_investigations(
    auth: AuthDep,
    db: DbDep,
    open_only: Annotated[bool, Query(alias="open", description="only those not closed")] = False,
) -> list[dict[str, Any]]:
    """Investigations in scope, newest first."""
    with db.read() as session:
        return oos.list_investigations(session, auth.scope, open_only=open_only)


@router.get(
    "/quality/investigations/{ref}",
    response_model=schemas.InvestigationDetail,
    dependencies=READ,
)
def get_investigation(ref: str, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """One investigation by its number (OOS-2026-0001) or id."""
    with db.read() as session:
        return oos.investigation_detail(session, auth.scope, ref)


@router.post(
    "/quality/investigations/{ref}/phase-i",
    response_model=schemas.InvestigationDetail,
    dependencies=OOS,
)
def phase_i(ref: str, body: schemas.PhaseI, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Conclude phase I with a signature by someone other than the analyst: an assignable
    laboratory cause invalidates the result (a retest may follow); none goes to phase II."""
    with db.uow(auth.actor) as uow:
        oos.conclude_phase_i(uow, auth.scope, db.settings, ref, **body.model_dump())
        uow.commit()
    return get_investigation(ref, auth, db)


@router.post(
    "/quality/investigations/{ref}/phase-ii",
    response_model=schemas.InvestigationDetail,
    dependencies=OOS,
)
def phase_ii(ref: str, body: schemas.PhaseII, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """Close phase II with a signature: the result is confirmed."""
    with db.uow(auth.actor) as uow:
        oos.close_phase_ii(uow, auth.scope, db.settings, ref, **body.model_dump())
        uow.commit()
    return get_investigation(ref, auth, db)


# --------------------------------------------------------------------------------------------
# release
# --------------------------------------------------------------------------------------------


@router.get("/quality/releases", response_model=list[schemas.ReleaseRow], dependencies=READ)
def list_releases(auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    """Every GMP batch in scope with its release state (as ``v2v release list --json``)."""
    with db.read() as session:
        return release.list_releases(session, auth.scope)


@router.post("/batches/{batch_id}/release", response_model=schemas.QcPage, dependencies=RELEASE)
def release_batch(batch_id: int, body: schemas.Signing, auth: AuthDep, db: DbDep) -> dict[str, Any]:
    """QA releases the batch with an electronic signature (meaning released): released,
    conditional or exceptional as the preconditions give; refused with every blocker named."""
    with db.uow(auth.actor) as uow:
        release.release(uow, auth.scope, db.settings, batch_id, **body.model_dump())
        uow.commit()
    return _page(db, auth, batch_id)


@router.post("/batches/{batch_id}/reject", response_model=schemas.QcPage, dependencies=RELEASE)
def reject_batch(
    batch_id: int, body: schemas.Rejection, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """QA rejects the batch with a reason and an electronic signature."""
    data = body.model_dump()
    data.pop("shown_hash")
    with db.uow(auth.actor) as uow:
        release.reject(uow, auth.scope, db.settings, batch_id, **data)
        uow.commit()
    return _page(db, auth, batch_id)


@router.post(
    "/batches/{batch_id}/exception",
    response_model=schemas.QcPage,
    status_code=201,
    dependencies=RELEASE,
)
def request_exception(
    batch_id: int, body: schemas.ExceptionRequest, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """Record the treating physician's request for an out-of-specification batch; QA and the
    sponsor then sign it (``/exception/sign``)."""
    with db.uow(auth.actor) as uow:
        release.request_exception(uow, auth.scope, batch_id, **body.model_dump())
        uow.commit()
    return _page(db, auth, batch_id)


@router.post("/batches/{batch_id}/exception/sign", response_model=schemas.QcPage, dependencies=READ)
def sign_exception(
    batch_id: int, body: schemas.Signing, auth: AuthDep, db: DbDep
) -> dict[str, Any]:
    """QA (``batch.release``) or the sponsor's clinical user of the batch's client signs the
    exceptional release; the service checks which of the two the caller is."""
    with db.uow(auth.actor) as uow:
        release.sign_exception(
            uow, auth.scope, db.settings, batch_id, username=body.username, password=body.password
        )
        uow.commit()
    return _page(db, auth, batch_id)


# --------------------------------------------------------------------------------------------
# certificates of analysis
# --------------------------------------------------------------------------------------------


@router.get(
    "/batches/{batch_id}/coa",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the certificate"}},
    dependencies=READ,
)
def export_coa(batch_id: int, auth: AuthDep, db: DbDep) -> Response:
    """The batch's Certificate of Analysis: the one issued, byte for byte, or a new one when
    the batch changed since (a released batch only)."""
    with db.uow(auth.actor) as uow:
        issued = certificates.issue(uow, auth.scope, batch_id)
        uow.commit()
    return Response(
        issued.data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{issued.filename}"'},
    )


@router.get(
    "/batches/{batch_id}/coa/issued", response_model=list[schemas.CoaIssued], dependencies=READ
)
def issued_coas(batch_id: int, auth: AuthDep, db: DbDep) -> list[dict[str, Any]]:
    """Every certificate issued for the batch, oldest first."""
    with db.read() as session:
        return certificates.issued_for(session, auth.scope, batch_id)


@router.post("/quality/coa/verify", response_model=schemas.CoaVerdict, dependencies=READ)
def verify_coa(
    auth: AuthDep,
    db: DbDep,
    file: Annotated[UploadFile, File(description="the certificate's PDF as presented")],
) -> dict[str, Any]:
    """Whether a presented certificate is authentic (issued here, unaltered) and current (the
    batch still says the same); the verdict is the answer, whatever it is."""
    data = file.file.read()
    with db.read() as session:
        return certificates.verify(session, auth.scope, data, file.filename or "coa.pdf")
