"""Use cases of release: gather every precondition of one batch (``release_rules``), release it
(or reject it) with QA's electronic signature, the exceptional-release path, the tracking of a
conditional release to its last result, and whether a product may be labelled or infused.

Release and result entry both take the batch's row lock (``SELECT ... FOR UPDATE`` of
``mfg_batch``) before reading anything, so a result arriving while QA releases is either seen
by the release or refused after it; two QA approvers releasing at once are taken one after the
other, and the second finds the batch released (race test on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from vein2vein.auth.roles import Meaning, OrgKind, Perm
from vein2vein.auth.scope import Scope
from vein2vein.auth.signatures import require_credentials, sign, signatures_for
from vein2vein.auth.tables import Signature
from vein2vein.core.canonical import canonical_json, sha256_hex
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import InputError, PermissionDenied, RuleViolation
from vein2vein.core.settings import Settings
from vein2vein.core.text import clean_text
from vein2vein.identity.tables import Order
from vein2vein.manufacturing import batch_views, batches, execution, units
from vein2vein.manufacturing.tables import Batch, MasterBatchRecord
from vein2vein.quality import dose, oos, results, specs
from vein2vein.quality import release_rules as rules
from vein2vein.quality.domain import Specification, Test
from vein2vein.quality.release_rules import Outcome, ReleaseState
from vein2vein.quality.tables import QcException, QcInvestigation, QcRelease, QcResult, QcSpec
from vein2vein.store.uow import UnitOfWork

RECORD = "qc_release"
EXCEPTION_RECORD = "qc_exception"
FILL_STEP, FILL_ENTRY = "FORMULATE", "final_volume"
FREEZE_STEP = "FREEZE"


# --------------------------------------------------------------------------------------------
# the facts of one batch
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoseFacts:
    """The dose of a batch for its patient: the plan, or why there is none yet."""

    plan: dose.DosePlan | None
    level: str
    weight_kg: float | None
    missing: str | None = None  # why no plan can be made yet (a result not in)


def dose_facts(session: Session, batch: Batch, model: Specification | None) -> DoseFacts:
    order = batch.order
    if order is None or model is None:
        return DoseFacts(None, "", None, "no order or no specification")
    weight = float(order.weight_kg)
    if model.dose is None:
        return DoseFacts(None, order.dose_level, weight, "the specification defines no dose")
    try:
        level = model.dose.level(order.dose_level)
    except KeyError as exc:
        return DoseFacts(None, order.dose_level, weight, str(exc.args[0]))
    cells_row = results.valid_results(session, batch.id).get(results.CALCULATED)
    if cells_row is None or cells_row.value is None:
        return DoseFacts(None, order.dose_level, weight, "viable CAR+ T cells not calculated yet")
    unit = model.test(results.CALCULATED).unit or "cells"
    cells = units.convert(float(cells_row.value), unit, "cells")
    fill = batches.record_of(batch).current(FILL_STEP, FILL_ENTRY)
    if fill is None:
        return DoseFacts(None, order.dose_level, weight, "the final volume is not in the record")
    volume = units.convert(fill.value, fill.unit, "mL")
    plan = dose.plan_dose(level, weight, cells / volume, volume, model.dose.limits)
    return DoseFacts(plan, order.dose_level, weight)


def dose_problem(facts: DoseFacts) -> str | None:
    plan = facts.plan
    if plan is None or not plan.flagged:
        return None
    return "; ".join(f.message for f in plan.findings) or "the dose cannot be filled"


def _test_states(session: Session, batch: Batch, model: Specification) -> list[rules.TestState]:
    valid = results.valid_results(session, batch.id)
    states = []
    for t in model.tests:
        r = valid.get(t.code)
        outcome = Outcome.MISSING if r is None else Outcome(r.outcome)
        states.append(rules.TestState(t.code, t.name, outcome, t.after_release))
    return states


def exception_of(session: Session, batch_id: int) -> QcException | None:
    return session.scalars(select(QcException).where(QcException.batch_id == batch_id)).first()


def release_of(session: Session, batch_id: int) -> QcRelease | None:
    return session.scalars(select(QcRelease).where(QcRelease.batch_id == batch_id)).first()


@dataclass(frozen=True)
class BatchRelease:
    """Everything the release page, the list and the certificate read of one batch."""

    batch: Batch
    spec: QcSpec | None
    model: Specification | None
    check: rules.ReleaseCheck
    dose: DoseFacts
    release: QcRelease | None
    exception: QcException | None
    exception_missing: tuple[str, ...]
    operators: frozenset[str]
    analysts: frozenset[str]

    @property
    def state(self) -> ReleaseState:
        return display_state(self.release)


def display_state(rel: QcRelease | None) -> ReleaseState:
    """The state a list shows: a conditional release whose last result came in is released."""
    if rel is None:
        return ReleaseState.PENDING
    if rel.state == ReleaseState.CONDITIONAL and rel.completed_at is not None:
        return ReleaseState.RELEASED
    return ReleaseState(rel.state)


def gather(session: Session, scope: Scope, batch: Batch) -> BatchRelease:
    spec_row = specs.for_batch(session, batch) if batch.gmp else None
    model = specs.model_of(spec_row) if spec_row is not None else None
    dose_info = dose_facts(session, batch, model)
    exc = exception_of(session, batch.id)
    missing = exception_missing(session, exc) if exc is not None else ()
    rel = release_of(session, batch.id)
    facts = rules.ReleaseFacts(
        batch=str(batch.id),
        record_blockers=batch_views.batch_release_blockers(session, scope, batch.id),
        spec=specs.label(spec_row) if spec_row else None,
        tests=_test_states(session, batch, model) if model else (),
        open_investigations=[
            i.number
            for i in oos.of_batch(session, batch.id)
            if not rules.OosStatus(i.status).closed
        ],
        dose_problem=dose_problem(dose_info),
        exception_signed=exc is not None and not missing,
        state=ReleaseState(rel.state) if rel else ReleaseState.PENDING,
    )
    record = batches.record_of(batch)
    analysts = {
        r.analyst for r in results.all_results(session, batch.id) if r.analyst != results.SYSTEM
    }
    return BatchRelease(
        batch=batch,
        spec=spec_row,
        model=model,
        check=rules.check_release(facts),
        dose=dose_info,
        release=rel,
        exception=exc,
        exception_missing=missing,
        operators=frozenset(execution.executed_by(record)),
        analysts=frozenset(analysts),
    )


# --------------------------------------------------------------------------------------------
# release and reject
# --------------------------------------------------------------------------------------------


def content(br: BatchRelease, state: ReleaseState, reason: str | None) -> dict[str, Any]:
    """What QA signs: the batch, its specification version, every valid result with its
    judgement, the dose, the decision and what is still pending."""
    b = br.batch
    plan = br.dose.plan
    return {
        "batch_id": b.id,
        "coi": b.coi,
        "din": b.din,
        "spec_id": br.spec.id if br.spec else None,
        "spec_hash": br.spec.content_hash if br.spec else None,
        "results": sorted(
            [r.id, r.test_code, r.value_text, r.unit, r.rounded, r.outcome]
            for r in results.valid_results(_session_of(b), b.id).values()
        ),
        "dose": None
        if plan is None
        else {
            "level": br.dose.level,
            "weight_kg": br.dose.weight_kg,
            "cells": plan.cells,
            "bags": [[bag.number, bag.volume_ml, bag.cells] for bag in plan.bags],
        },
        "state": state.value,
        "pending": list(br.check.pending),
        "nonconforming": list(br.check.nonconforming),
        "exception_id": br.exception.id if br.exception else None,
        "reason": reason,
    }


def _session_of(obj: Any) -> Session:
    from sqlalchemy.orm import object_session

    session = object_session(obj)
    assert session is not None
    return session


def _locked(uow: UnitOfWork, scope: Scope, batch_id: int | str) -> Batch:
    batch = batches.get_batch(uow.session, scope, batch_id, lock=True)  # another's: not found
    if not scope.is_cdmo:
        raise PermissionDenied("batches are released by the CDMO's quality unit")
    scope.require(Perm.BATCH_RELEASE)
    return batch


def release(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    batch_id: int | str,
    *,
    username: str,
    password: str,
    shown_hash: str | None = None,
) -> QcRelease:
    """QA releases the batch (meaning: released): released, conditional (results that may
    follow release still pending) or exceptional (under the signed exceptional release),
    whichever the preconditions give; refused with every blocker named."""
    batch = _locked(uow, scope, batch_id)
    br = gather(uow.session, scope, batch)
    if br.check.blockers:
        raise RuleViolation(f"batch {batch.id} cannot be released: " + "; ".join(br.check.blockers))
    rules.check_release_signer(scope.username, br.operators, br.analysts, batch=str(batch.id))
    return _decide(uow, scope, settings, br, br.check.state, None, (username, password), shown_hash)


def reject(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    batch_id: int | str,
    *,
    reason: str,
    username: str,
    password: str,
) -> QcRelease:
    """QA rejects the batch (it will never be infused), with its reason, signed."""
    batch = _locked(uow, scope, batch_id)
    reason = clean_text(reason, "reason", 4000, multiline=True)
    if len(reason) < rules.MIN_TEXT:
        raise InputError(
            f"give the reason for rejecting (at least {rules.MIN_TEXT} characters)", field="reason"
        )
    br = gather(uow.session, scope, batch)
    if br.release is not None:
        raise RuleViolation(f"batch {batch.id} is already {br.release.state}")
    return _decide(uow, scope, settings, br, ReleaseState.REJECTED, reason, (username, password))


def _decide(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    br: BatchRelease,
    state: ReleaseState,
    reason: str | None,
    credentials: tuple[str, str],
    shown_hash: str | None = None,
) -> QcRelease:
    username, password = credentials
    require_credentials(username, password)
    batch = br.batch
    signed = content(br, state, reason)
    sig = sign(
        uow,
        settings,
        signer_id=scope.user_id,
        username=username,
        password=password,
        record_type=RECORD,
        record_id=batch.id,
        organisation_id=batch.organisation_id,
        meaning=Meaning.RELEASED.value,
        content=signed,
        shown_hash=shown_hash,
        reason=f"{state.value} batch {batch.id}" + (f": {reason}" if reason else ""),
    )
    rel = QcRelease(
        organisation_id=batch.organisation_id,
        batch_id=batch.id,
        spec_id=br.spec.id if br.spec else None,
        state=state.value,
        content=canonical_json(signed).decode(),
        pending=json.dumps(list(br.check.pending)),
        reason=reason,
        decided_at=sig.signed_at,
        decided_by=sig.username,
    )
    uow.session.add(rel)
    uow.session.flush()
    uow.record(
        "qc.release",
        RECORD,
        batch.id,
        after={"state": state.value, "pending": list(br.check.pending), "signature_id": sig.id},
        reason=reason,
        organisation_id=batch.organisation_id,
    )
    return rel


def shown_hash(br: BatchRelease) -> str:
    """The hash of what the release page shows, posted back with the signature."""
    return sha256_hex(content(br, br.check.state, None))


# --------------------------------------------------------------------------------------------
# a result after a conditional release
# --------------------------------------------------------------------------------------------


def late_result(uow: UnitOfWork, scope: Scope, batch: Batch, result: QcResult, test: Test) -> None:
    """Called for every stored result: for a batch released conditionally, a conforming
    pending result completes the release when it is the last; a failing one escalates."""
    rel = release_of(uow.session, batch.id)
    if rel is None or rel.state != ReleaseState.CONDITIONAL or rel.completed_at is not None:
        return
    pending = set(json.loads(rel.pending))
    if result.test_code not in pending:
        return
    if result.outcome == "does not conform":
        infused = _infused(batch.order)
        actions = rules.late_failure_actions(test.name, infused=infused, batch=str(batch.id))
        inv = uow.session.scalars(
            select(QcInvestigation).where(QcInvestigation.result_id == result.id)
        ).one()
        inv.after_release = True
        inv.escalation = json.dumps(actions)
        from vein2vein.manufacturing import deviations
        from vein2vein.manufacturing.deviation_rules import Source

        deviations.record_deviation(
            uow,
            scope,
            source=Source.QC_RESULT,
            title=f"{test.name} of conditionally released batch {batch.id} does not conform",
            description=(
                f"Result {result.id}: {result.value_text} {result.unit or ''} "
                f"({result.rounded}) after conditional release on "
                f"{rel.decided_at:%Y-%m-%d %H:%M} UTC. Investigation {inv.number}. "
                + " ".join(actions)
            ),
            order=batch.order,
            batch_id=batch.id,
        )
        rel.escalated_at = utcnow()
        uow.record(
            "qc.release_escalated",
            RECORD,
            batch.id,
            after={"test": result.test_code, "result_id": result.id, "actions": actions},
            organisation_id=batch.organisation_id,
        )
        return
    valid = results.valid_results(uow.session, batch.id)
    if all(code in valid and valid[code].outcome != "does not conform" for code in pending):
        rel.completed_at = utcnow()
        uow.record(
            "qc.release_completed",
            RECORD,
            batch.id,
            after={"completed_by_result": result.id, "pending": sorted(pending)},
            organisation_id=batch.organisation_id,
        )


def _infused(order: Order | None) -> bool:
    return order is not None and any(e.step == "infused" for e in order.events)


# --------------------------------------------------------------------------------------------
# exceptional release
# --------------------------------------------------------------------------------------------


def request_exception(
    uow: UnitOfWork,
    scope: Scope,
    batch_id: int | str,
    *,
    physician: str,
    physician_request: str,
    requested_on: dt.date,
    no_alternative: str,
    risk_assessment: str,
    authority_notification: str,
) -> QcException:
    """QA records the treating physician's written request to give this out-of-specification
    batch to its own patient, with the risk assessment the physician was given. QA and (in a
    trial) the sponsor then sign it (:func:`sign_exception`)."""
    batch = _locked(uow, scope, batch_id)
    br = gather(uow.session, scope, batch)
    if not br.check.nonconforming:
        raise RuleViolation(
            f"batch {batch.id} has no result or dose out of specification: release it normally"
        )
    if br.exception is not None:
        raise RuleViolation(f"batch {batch.id} already has an exceptional-release request")
    if requested_on > utcnow().date():
        raise InputError("the request date is in the future", field="requested_on")
    fields = {
        "physician": clean_text(physician, "physician", 200, required=True),
        "physician_request": clean_text(physician_request, "physician_request", 200, required=True),
        "no_alternative": clean_text(no_alternative, "no_alternative", 4000, multiline=True),
        "risk_assessment": clean_text(risk_assessment, "risk_assessment", 4000, multiline=True),
        "authority_notification": clean_text(
            authority_notification, "authority_notification", 4000, multiline=True
        ),
    }
    for name in ("no_alternative", "risk_assessment", "authority_notification"):
        if len(fields[name]) < rules.MIN_TEXT:
            raise InputError(f"must be written (at least {rules.MIN_TEXT} characters)", field=name)
    exc = QcException(
        organisation_id=batch.organisation_id,
        batch_id=batch.id,
        nonconformities=json.dumps(_nonconformities(br)),
        requested_on=requested_on,
        in_clinical_trial=True,
        created_by=scope.username,
        created_at=utcnow(),
        **fields,
    )
    uow.session.add(exc)
    uow.session.flush()
    uow.record(
        "qc.exception_request",
        EXCEPTION_RECORD,
        exc.id,
        after=exception_content(exc),
        organisation_id=exc.organisation_id,
    )
    return exc


def _nonconformities(br: BatchRelease) -> list[str]:
    valid = results.valid_results(_session_of(br.batch), br.batch.id)
    out = []
    for code in br.check.nonconforming:
        if code == "dose":
            out.append(f"dose: {dose_problem(br.dose)}")
        else:
            r = valid[code]
            out.append(f"{code}: {r.value_text} {r.unit or ''} ({r.message})".replace("  ", " "))
    return out


def exception_content(exc: QcException) -> dict[str, Any]:
    return {
        "batch_id": exc.batch_id,
        "nonconformities": json.loads(exc.nonconformities),
        "physician": exc.physician,
        "physician_request": exc.physician_request,
        "requested_on": exc.requested_on.isoformat(),
        "no_alternative": exc.no_alternative,
        "risk_assessment": exc.risk_assessment,
        "authority_notification": exc.authority_notification,
        "in_clinical_trial": exc.in_clinical_trial,
    }


def _exception_record(session: Session, exc: QcException) -> dose.ExceptionalRelease:
    batch = session.get_one(Batch, exc.batch_id)
    offs = [
        dose.SignOff(
            dose.SignOffRole.TREATING_PHYSICIAN,
            exc.physician,
            dt.datetime.combine(exc.requested_on, dt.time(), tzinfo=dt.UTC),
            "requested",
        )
    ]
    from vein2vein.auth.tables import User

    for sig in signatures_for(session, EXCEPTION_RECORD, exc.id):
        signer = session.get_one(User, sig.user_id)
        role = (
            dose.SignOffRole.QA
            if signer.organisation.kind == OrgKind.CDMO
            else dose.SignOffRole.SPONSOR
        )
        offs.append(dose.SignOff(role, sig.printed_name, sig.signed_at, sig.meaning))
    return dose.ExceptionalRelease(
        batch=str(batch.id),
        coi=batch.coi or "",
        nonconformities=tuple(json.loads(exc.nonconformities)),
        physician_request=exc.physician_request,
        no_alternative=exc.no_alternative,
        risk_assessment=exc.risk_assessment,
        authority_notification=exc.authority_notification,
        in_clinical_trial=exc.in_clinical_trial,
        sign_offs=tuple(offs),
    )


def exception_missing(session: Session, exc: QcException) -> tuple[str, ...]:
    return tuple(str(r) for r in dose.missing_sign_offs(_exception_record(session, exc)))


def sign_exception(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    batch_id: int | str,
    *,
    username: str,
    password: str,
) -> Signature:
    """QA (a CDMO QA approver) or the sponsor (a clinical user of the batch's client) signs
    the exceptional release (meaning approved). Neither may be an operator of the batch or an
    analyst of its results (``dose.check_exceptional_release``)."""
    s = uow.session
    batch = batches.get_batch(s, scope, batch_id, lock=True)
    exc = exception_of(s, batch.id)
    if exc is None:
        raise RuleViolation(f"batch {batch.id} has no exceptional-release request")
    if scope.is_cdmo:
        scope.require(Perm.BATCH_RELEASE)
        role = dose.SignOffRole.QA
    elif scope.organisation_id == batch.organisation_id:
        role = dose.SignOffRole.SPONSOR
    else:  # pragma: no cover - another client's batch is not found before this
        raise PermissionDenied("not your batch")
    record = _exception_record(s, exc)
    if role not in dose.missing_sign_offs(record):
        raise RuleViolation(f"the {role} has already signed this exceptional release")
    worked = execution.executed_by(batches.record_of(batch))
    worked |= {r.analyst for r in results.all_results(s, batch.id) if r.analyst != results.SYSTEM}
    # sign-offs carry printed names: whoever worked on the batch, by user name and by name
    parties = dose.BatchParties(
        str(batch.id), batch.coi or "", frozenset(_names(s, frozenset(worked))), frozenset()
    )
    mine = dose.SignOff(role, scope.full_name, utcnow(), "approved")
    trial = replace(record, sign_offs=(*record.sign_offs, mine))
    dose.check_exceptional_release(trial, parties, complete=False)
    require_credentials(username, password)
    return sign(
        uow,
        settings,
        signer_id=scope.user_id,
        username=username,
        password=password,
        record_type=EXCEPTION_RECORD,
        record_id=exc.id,
        organisation_id=batch.organisation_id,
        meaning="approved",
        content=exception_content(exc),
        reason=f"exceptional release of batch {batch.id}, as {role}",
    )


def _names(session: Session, usernames: frozenset[str]) -> set[str]:
    """Printed names of the users ``usernames`` (sign-offs carry printed names)."""
    from vein2vein.auth.tables import User

    if not usernames:
        return set()
    rows = session.scalars(select(User).where(User.username.in_(sorted(usernames))))
    return {u.full_name for u in rows} | set(usernames)


# --------------------------------------------------------------------------------------------
# what other features ask
# --------------------------------------------------------------------------------------------


def custody_refusal(session: Session, order: Order) -> str | None:
    """Why the order's product may not be released to custody, labelled, issued or infused
    (None: it may). The product needs QA's release of its batch (released, conditional, or
    under a signed exceptional release) and no escalation since. A program whose product is
    not made under a master batch record in vein2vein (made and released elsewhere) is not
    checked here: its release is documented where it is made."""
    batch = session.scalars(
        select(Batch)
        .where(Batch.order_id == order.id, Batch.gmp.is_(True))
        .order_by(Batch.id.desc())
    ).first()
    if batch is None:
        made_here = session.scalar(
            select(MasterBatchRecord.id)
            .where(
                MasterBatchRecord.program_id == order.program_id,
                MasterBatchRecord.status.in_(("EFFECTIVE", "SUPERSEDED")),
            )
            .limit(1)
        )
        if made_here is None:
            return None
        return (
            f"order {order.number} has no batch record: its product is not released by QA and "
            "may not be issued or infused"
        )
    rel = release_of(session, batch.id)
    state = display_state(rel)
    if state not in rules.RELEASED_STATES:
        return (
            f"the product of order {order.number} (batch {batch.id}) is not released by QA "
            f"({state.value}): it may not be released to custody, issued or infused"
        )
    if rel is not None and rel.escalated_at is not None:
        return (
            f"the conditional release of batch {batch.id} was escalated: a result that followed "
            "release does not conform; the product may not be issued or infused"
        )
    return None


# --------------------------------------------------------------------------------------------
# reads
# --------------------------------------------------------------------------------------------


def list_releases(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Every GMP batch in scope with its release state (``v2v release list``); ``pending``:
    the tests of a conditional release still without a valid result. A fixed number of
    queries, whatever the number of batches."""
    scope.require(Perm.QC_READ)
    stmt = (
        scope.filter(select(Batch), Batch)
        .where(Batch.gmp.is_(True))
        .options(
            selectinload(Batch.order).selectinload(Order.program),
            selectinload(Batch.program),
            selectinload(Batch.site),
        )
        .order_by(Batch.id)
    )
    rels = {r.batch_id: r for r in session.scalars(scope.filter(select(QcRelease), QcRelease))}
    valid: dict[int, set[str]] = {}
    for batch_id, code in session.execute(
        scope.filter(select(QcResult.batch_id, QcResult.test_code), QcResult).where(
            QcResult.valid.is_(True)
        )
    ):
        valid.setdefault(batch_id, set()).add(code)
    versions = specs.effective_versions(session)
    out = []
    for b in session.scalars(stmt):
        spec = specs.in_force_among(versions, specs.program_of(b), b.created_at)
        rel = rels.get(b.id)
        pending = (
            [c for c in json.loads(rel.pending) if c not in valid.get(b.id, set())]
            if rel is not None
            else []
        )
        out.append(
            {
                "batch": b.id,
                "order": b.order.number if b.order else None,
                "coi": b.coi,
                "product": specs.program_of(b).code,
                "site": b.site.name,
                "batch_status": b.status,
                "spec": specs.label(spec) if spec else None,
                "spec_version": spec.version if spec else None,
                "state": display_state(rel).value,
                "decided_at": rel.decided_at if rel else None,
                "decided_by": rel.decided_by if rel else None,
                "pending": pending,
                "escalated": bool(rel and rel.escalated_at),
            }
        )
    return out


def release_page(session: Session, scope: Scope, batch_id: int | str) -> dict[str, Any]:
    """One screen of every precondition and its state, the tests, the dose, the decision."""
    scope.require(Perm.QC_READ)
    batch = batches.get_batch(session, scope, batch_id)
    br = gather(session, scope, batch)
    rel = br.release
    plan = br.dose.plan
    return {
        "batch": batch,
        "spec": specs.summary(br.spec) if br.spec else None,
        "preconditions": br.check.preconditions,
        "blockers": br.check.blockers,
        "would_be": br.check.state.value,
        "pending": br.check.pending,
        "nonconforming": br.check.nonconforming,
        "tests": results.test_rows(session, batch, br.spec),
        "investigations": [oos.summary(i) for i in oos.of_batch(session, batch.id)],
        "dose": {
            "level": br.dose.level,
            "weight_kg": br.dose.weight_kg,
            "missing": br.dose.missing,
            "plan": plan,
            "problem": dose_problem(br.dose),
        },
        "exception": exception_content(br.exception) if br.exception else None,
        "exception_missing": br.exception_missing,
        "release": None
        if rel is None
        else {
            "state": display_state(rel).value,
            "decided_state": rel.state,
            "decided_at": rel.decided_at,
            "decided_by": rel.decided_by,
            "reason": rel.reason,
            "pending": json.loads(rel.pending),
            "completed_at": rel.completed_at,
            "escalated_at": rel.escalated_at,
        },
        "state": br.state.value,
        "operators": sorted(br.operators),
        "analysts": sorted(br.analysts),
        "shown_hash": shown_hash(br),
        "signatures": [s.public() for s in signatures_for(session, RECORD, batch.id)],
    }


# --------------------------------------------------------------------------------------------
# labels of the released product
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelFacts:
    """What the bag and cassette labels of a released batch print: its fill, freeze time (in
    the manufacturing site's zone, as labels print local times), shelf life, batch and site."""

    batch: str
    manufacturing_site: str
    frozen_at_utc: dt.datetime
    shelf_life_days: int
    bags: tuple[dose.Bag, ...]
    per_kg: bool


def label_facts(session: Session, order: Order) -> LabelFacts | None:
    """None for a product not made under a batch record here (labels as before); else the
    facts, once QA released the batch. Refused (``RuleViolation``) before release, or when the
    fill or the shelf life is unknown."""
    refusal = custody_refusal(session, order)
    if refusal is not None:
        raise RuleViolation(f"labels of the final product are printed after release: {refusal}")
    batch = session.scalars(
        select(Batch)
        .where(Batch.order_id == order.id, Batch.gmp.is_(True))
        .order_by(Batch.id.desc())
    ).first()
    if batch is None:
        return None
    spec_row = specs.for_batch(session, batch)
    model = specs.model_of(spec_row) if spec_row is not None else None
    info = dose_facts(session, batch, model)
    if info.plan is None or model is None or model.dose is None:
        raise RuleViolation(f"batch {batch.id} has no dose plan: {info.missing}")
    if model.dose.shelf_life_days is None:
        raise RuleViolation(
            f"the specification of batch {batch.id} states no shelf life: no expiry to print"
        )
    record = batches.record_of(batch)
    frozen = [e.at for e in record.events if e.step == FREEZE_STEP]
    if not frozen:
        raise RuleViolation(f"batch {batch.id} has no freezing step recorded")
    return LabelFacts(
        batch=order.batch_number or f"B-{batch.id}",
        manufacturing_site=batch.site.name,
        frozen_at_utc=max(frozen),
        shelf_life_days=model.dose.shelf_life_days,
        bags=info.plan.bags,
        per_kg=info.plan.required.level.basis is dose.DoseBasis.PER_KG,
    )


def ready_for_release(session: Session, scope: Scope) -> set[int]:
    """Batches pending release whose preconditions all hold now (the QA approver's queue and
    the release list's ``ready`` filter): the same check the release itself makes."""
    ready = set()
    for row in list_releases(session, scope):
        if row["state"] != ReleaseState.PENDING.value or row["batch_status"] != "APPROVED":
            continue
        batch = batches.get_batch(session, scope, row["batch"])
        if gather(session, scope, batch).check.releasable:
            ready.add(batch.id)
    return ready
