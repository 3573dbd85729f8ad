"""Use cases of custody: recording a custody step with its hand-off check, the hard stop of a
scan that does not match, and QA's clearing of that stop. One unit of work per use case, owned
by the caller; every change writes its audit entry in the same transaction.

Each use case holds the order's row (``orders.locked_order``), has the input read by ``intake``
and the rules applied by ``domain`` (step order, times, hand-off identity), then writes. The
patient identifiers typed at the bedside are compared and never stored.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vein2vein.auth import signatures
from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.auth.signatures import sign
from vein2vein.core.canonical import canonical_json
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import Conflict, InputError, PermissionDenied, RuleViolation
from vein2vein.core.settings import Settings
from vein2vein.core.text import clean_text
from vein2vein.identity import access, domain, intake
from vein2vein.identity.domain import Step
from vein2vein.identity.orders import locked_order
from vein2vein.identity.tables import CustodyEventRow, HandoffMismatch, IssuedDin, Order
from vein2vein.identity.views import domain_events, open_mismatches
from vein2vein.manufacturing import deviations, plan_facts
from vein2vein.manufacturing.deviation_rules import Source
from vein2vein.scheduling.settings import require_suite_for
from vein2vein.store.uow import UnitOfWork

#: Steps that happen inside a GMP suite: the suite is recorded with them (by default the
#: batch's current suite). Storage is in a freezer or dewar (its own location), release is QA's
#: decision and packing is at dispatch: none of them in a suite.
SUITE_STEPS = frozenset({Step.RECEIVED, Step.MANUFACTURING_STARTED})
#: Steps that need QA's release of the product's batch (``quality.release.custody_refusal``):
#: the custody record of the release itself, issue to the ward and infusion.
RELEASE_CHECKED_STEPS = frozenset({Step.RELEASED, Step.ISSUED, Step.INFUSED})
#: Steps at which the patient is present, so the patient's own identifiers are checked too.
PATIENT_CHECK_STEPS = frozenset({Step.COLLECTED, Step.INFUSED})
#: Steps that handle the final product (expected: product DIN and product code).
PRODUCT_STEPS = frozenset(Step) - {
    Step.COLLECTED,
    Step.PACKED,
    Step.SHIPPED,
    Step.RECEIVED,
    Step.STORED,
    Step.MANUFACTURING_STARTED,
}


class HandoffStopped(RuleViolation):
    """The scan did not match the order: recorded, audited, and the order is on hold."""

    title = "Hand-off stopped"
    status = 409

    def __init__(self, mismatch_id: int, step: Step, messages: Sequence[str]) -> None:
        self.mismatch_id = mismatch_id
        self.step = step
        self.messages = list(messages)
        super().__init__(
            f"hand-off stopped at '{step.value}': {'; '.join(messages)}. Mismatch #{mismatch_id} "
            "was recorded; nothing more can be recorded for this order until QA clears it."
        )


def expected_identity(order: Order, step: Step) -> domain.ExpectedIdentity:
    """What the item in hand must be at ``step``: starting material or final product."""
    if step in PRODUCT_STEPS:
        if order.product_din is None:
            raise RuleViolation(
                f"'{step.value}' needs the final product's DIN: register the bags first"
            )
        din, product = order.product_din, order.product_code[:5]
    else:
        if order.apheresis_din is None:
            raise RuleViolation(
                f"'{step.value}' needs the apheresis DIN: issue it for order {order.number} first"
            )
        din, product = order.apheresis_din, None
    patient: dict[str, str] = {}
    if step in PATIENT_CHECK_STEPS:
        patient["subject_id"] = order.patient.subject_id
        if order.patient.date_of_birth is not None:
            patient["date_of_birth"] = order.patient.date_of_birth.isoformat()
    return domain.ExpectedIdentity(din=din, coi=order.coi, product_code=product, patient=patient)


def _mismatch_dict(m: domain.Mismatch) -> dict[str, Any]:
    return {
        "field": m.field,
        "kind": m.kind.value,
        "expected": m.expected,
        "found": m.found,
        "message": m.message,
    }


def record_event(
    uow: UnitOfWork,
    scope: Scope,
    order_id: int,
    req: intake.EventRequest,
    *,
    commit_on_stop: bool = True,
) -> CustodyEventRow:
    """Record one custody step after the order, time, details and hand-off checks.

    A hand-off whose scan does not match is a hard stop: the mismatch is stored and audited,
    **committed**, and :class:`HandoffStopped` is raised; no further step is accepted until QA
    clears it. ``commit_on_stop=False`` leaves the commit to the caller (the demo loader, which
    loads everything in one unit of work).
    """
    s = uow.session
    order = locked_order(s, scope, order_id)
    step = intake.parse_step(req.step)
    access.require_record(scope, step)
    blocking = open_mismatches(order)
    if blocking:
        first = blocking[0]
        raise RuleViolation(
            f"order {order.number} is on hold: hand-off mismatch #{first.id} at "
            f"'{first.step}' must be cleared by QA first"
        )
    zone = clean_text(req.time_zone, "time_zone", 64) or "UTC"
    intake.time_zone(zone)  # always: a stored zone must be one that reads back
    when = intake.local_time(req.occurred_at, zone)
    if when > utcnow() + dt.timedelta(minutes=5):
        raise InputError("the event time is in the future", field="occurred_at")
    if when < order.placed_at - dt.timedelta(days=366):
        raise InputError("the event time is before the order existed", field="occurred_at")
    location = clean_text(req.location, "location", 200)
    performed_by = clean_text(req.performed_by or scope.full_name, "performed_by", 200)
    if step in RELEASE_CHECKED_STEPS:
        from vein2vein.quality.release import custody_refusal  # quality builds on identity

        refusal = custody_refusal(s, order)
        if refusal is not None:
            raise RuleViolation(refusal)
    if step is Step.RELEASED and order.product_din is None:
        raise RuleViolation(
            f"order {order.number}: register the final-product bags (their DIN) before release"
        )
    scans = [t for t in (x.strip() for x in req.scans) if t]
    history = domain_events(order)
    domain.check_step_order([e.step for e in history], step)  # the expected step first
    details, stored_details = intake.step_details(step, req.details)
    event = domain.CustodyEvent(
        step, when, performed_by, location, " | ".join(scans) or None, details
    )
    domain.check_event(history, event)
    suite = _suite_of_step(s, order, step, req.suite)
    verified: list[str] = []
    if step in domain.HANDOFF_STEPS:
        expected = expected_identity(order, step)
        scanned = domain.read_scans(scans, patient=intake.given_patient(req.patient_identifiers))
        problems = domain.check_handoff(expected, scanned)
        if problems:
            _stop(uow, order, step, when, location, event.scanned, problems, commit_on_stop)
        verified = ["din", "coi"] + [f"patient.{k}" for k in expected.patient]
    row = CustodyEventRow(
        organisation_id=order.organisation_id,
        order_id=order.id,
        step=step.value,
        occurred_at=when,
        time_zone=zone,
        location=location,
        performed_by=performed_by,
        recorded_by=uow.actor.name,
        scanned=event.scanned,
        identifiers_verified=",".join(verified),
        details=canonical_json(stored_details).decode() if stored_details else None,
        suite=suite,
        collection=order.collection,
    )
    order.events.append(row)  # keeps the loaded collection current within this unit of work
    before = {"current_step": order.current_step, "batch_number": order.batch_number}
    order.current_step = domain.progress([*history, event]).current
    order.current_step_at = max(when, order.current_step_at or when)
    if step is Step.MANUFACTURING_STARTED:
        order.batch_number = stored_details["batch_number"]
    s.flush()
    uow.record(
        "coi.custody_event",
        "coi_order",
        order.id,
        before=before,
        after={
            "event_id": row.id,
            "step": step.value,
            "occurred_at": when.isoformat(),
            "time_zone": row.time_zone,
            "location": location,
            "performed_by": performed_by,
            "scanned": row.scanned,
            "identifiers_verified": verified,
            "details": stored_details,
            "suite": suite,
            "collection": order.collection,
            "current_step": order.current_step,
            "batch_number": order.batch_number,
        },
        organisation_id=order.organisation_id,
    )
    return row


def _suite_of_step(session: Session, order: Order, step: Step, given: str | None) -> str | None:
    """The GMP suite a step in one happened in: the suite given, else the current suite of the
    order's batch (None: neither, e.g. a batch not made yet). A batch already working in a suite
    starts manufacturing there and nowhere else (another suite is started in the batch record,
    with its reason, first). An infectious donor's material only in a designated suite."""
    given = clean_text(given, "suite", 64) or None
    if step not in SUITE_STEPS:
        if given:
            raise InputError(f"'{step.value}' does not happen in a GMP suite", field="suite")
        return None
    facts = plan_facts.batch_facts(session, [order.id]).get(order.id, [])
    batch = plan_facts.live_batch(facts)
    if (
        given
        and batch is not None
        and batch.suite is not None
        and step is Step.MANUFACTURING_STARTED
        and given.upper() != batch.suite.upper()
    ):
        raise InputError(
            f"batch {batch.batch_id} works in suite {batch.suite}, not {given}: start its step "
            "in that suite in the batch record first",
            field="suite",
        )
    suite = given or (batch.current_suite if batch is not None else None)
    if suite is not None:
        require_suite_for(
            session, order.facility.organisation_id, suite, infectious=order.segregated
        )
    return suite


def _stop(
    uow: UnitOfWork,
    order: Order,
    step: Step,
    when: dt.datetime,
    location: str,
    scanned: str | None,
    problems: Sequence[domain.Mismatch],
    commit: bool,
) -> None:
    listed = [_mismatch_dict(m) for m in problems]
    row = HandoffMismatch(
        organisation_id=order.organisation_id,
        order_id=order.id,
        step=step.value,
        occurred_at=when,
        location=location,
        recorded_by=uow.actor.name,
        scanned=scanned,
        problems=canonical_json(listed).decode(),
    )
    order.mismatches.append(row)
    uow.session.flush()
    uow.record(
        "coi.handoff_mismatch",
        "coi_order",
        order.id,
        after={"mismatch_id": row.id, "step": step.value, "scanned": scanned, "problems": listed},
        organisation_id=order.organisation_id,
    )
    if commit:
        uow.commit()  # the stop itself must be on record even though the step is refused
    raise HandoffStopped(row.id, step, [m.message for m in problems])


#: meaning of the clearance signature: the QA reviewer reviewed the mix-up and its cause
CLEAR_MEANING = "reviewed"
MISMATCH_RECORD = "coi_handoff_mismatch"


def other_order_of(session: Session, scope: Scope, mismatch: HandoffMismatch) -> Order | None:
    """The order, within the caller's scope, that the wrong identifier scanned at the stopped
    hand-off belongs to (a DIN or CoI identifier of another order), or None (a label of no
    order the caller can see, or unreadable now)."""
    texts = [t for t in (mismatch.scanned or "").split(" | ") if t.strip()]
    try:
        scanned = domain.read_scans(texts)
    except InputError:
        return None
    conditions = []
    if scanned.dins:
        conditions += [
            Order.apheresis_din.in_(scanned.dins),
            Order.product_din.in_(scanned.dins),
            # a DIN of an earlier collection (replaced after a failed batch) names its order too
            Order.id.in_(select(IssuedDin.order_id).where(IssuedDin.din.in_(scanned.dins))),
        ]
    if scanned.coi:
        conditions.append(Order.coi.in_([c.strip() for c in scanned.coi.split(",")]))
    if not conditions:
        return None
    stmt = (
        scope.filter(select(Order), Order)
        .where(or_(*conditions), Order.id != mismatch.order_id)
        .order_by(Order.id)
    )
    return session.scalars(stmt).first()


def clearance_content(
    mismatch: HandoffMismatch, reason: str, other: Order | None
) -> dict[str, Any]:
    """What the QA reviewer signs: the stopped hand-off, what was wrong, the other order the
    wrong identifier belongs to, and the reason it may go on."""
    return {
        "mismatch_id": mismatch.id,
        "order": mismatch.order.number,
        "step": mismatch.step,
        "scanned": mismatch.scanned,
        "problems": json.loads(mismatch.problems),
        "other_order": other.number if other is not None else None,
        "reason": reason,
    }


def clear_mismatch(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    mismatch_id: int,
    reason: str,
    *,
    username: str,
    password: str,
) -> HandoffMismatch:
    """QA clears a hand-off mismatch: a second QA person, with a reason and an electronic
    signature (meaning: reviewed). The clearance records a deviation of its own, linked to the
    order and to the other order the wrong identifier belongs to (looked up by the scanned
    identifier within the caller's scope), and it appears in both orders' histories."""
    s = uow.session
    mismatch = get_scoped(s, scope, HandoffMismatch, mismatch_id)
    access.require_clear(scope)
    locked_order(s, scope, mismatch.order_id)
    s.refresh(mismatch)
    if not mismatch.is_open:
        raise Conflict(f"mismatch #{mismatch.id} was already cleared")
    if mismatch.recorded_by == uow.actor.name:
        raise PermissionDenied(
            "the person whose hand-off was stopped cannot clear it: a second QA person must"
        )
    reason = clean_text(reason, "reason", 2000, multiline=True)
    if len(reason) < 5:
        raise InputError(
            "say why the mismatch can be cleared (at least 5 characters)", field="reason"
        )
    signatures.require_credentials(username, password)
    other = other_order_of(s, scope, mismatch)
    sig = sign(
        uow,
        settings,
        signer_id=scope.user_id,
        username=username,
        password=password,
        record_type=MISMATCH_RECORD,
        record_id=mismatch.id,
        organisation_id=mismatch.organisation_id,
        meaning=CLEAR_MEANING,
        content=clearance_content(mismatch, reason, other),
        reason=reason,
    )
    mismatch.cleared_at = sig.signed_at
    mismatch.cleared_by = uow.actor.name
    mismatch.clear_reason = reason
    problems = "; ".join(p["message"] for p in json.loads(mismatch.problems))
    # the sponsor reads its deviation and its order's history: another client's order is
    # linked (for the CDMO) but not named there
    same_client = other is not None and other.organisation_id == mismatch.organisation_id
    if other is None:
        belongs = " The identifier scanned belongs to no order known here."
    elif same_client:
        belongs = f" The identifier scanned belongs to order {other.number}."
    else:
        belongs = " The identifier scanned belongs to an order of another client."
    dev = deviations.record_deviation(
        uow,
        scope,
        source=Source.COI_MISMATCH,
        title=f"Chain-of-identity mismatch at '{mismatch.step}' of order {mismatch.order.number}",
        description=(
            f"Hand-off '{mismatch.step}' of order {mismatch.order.number} was stopped: "
            f"{problems}.{belongs} Cleared by {scope.full_name} (signed): {reason}"
        ),
        order=mismatch.order,
        related_order=other,
        mismatch_id=mismatch.id,
    )
    uow.record(
        "coi.handoff_mismatch_clear",
        MISMATCH_RECORD,
        mismatch.id,
        before={"status": "open"},
        after={
            "status": "cleared",
            "order_id": mismatch.order_id,
            "step": mismatch.step,
            "other_order": other.number if same_client and other is not None else None,
            "deviation": dev.number,
            "signature_id": sig.id,
        },
        reason=mismatch.clear_reason,
        organisation_id=mismatch.organisation_id,
    )
    return mismatch
