"""Use cases of out-of-specification investigations (``release_rules`` has the states and
rules; FDA "Investigating OOS Test Results for Pharmaceutical Production", 2006, rev. 2022).

* :func:`open_investigation`: a result that does not conform opens its investigation in the
  same unit of work as the result (phase I), numbered OOS-YYYY-NNNN.
* :func:`conclude_phase_i`: the laboratory investigation's finding. With an assignable
  laboratory error the result is **invalidated**, with its justification, by an electronic
  signature (meaning ``reviewed``: QA reviewed the laboratory investigation) of someone who
  is not the result's analyst; the result stays,
  marked invalid, and a retest may then be entered. Without one, the investigation goes to
  phase II, and the batch record's deviations are linked to it.
* :func:`close_phase_ii`: QA's conclusion and the impact on the batch (and other batches),
  signed by a QA approver (meaning ``approved``): the out-of-specification result stands.

Each change locks the investigation's row first, as its signature does, so of two people
concluding at once the second finds it concluded.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.auth.signatures import require_credentials, sign, signatures_for
from vein2vein.auth.tables import Signature
from vein2vein.core.canonical import sha256_hex
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import Conflict, NotFound, PermissionDenied
from vein2vein.core.settings import Settings
from vein2vein.core.text import clean_text
from vein2vein.manufacturing import batches
from vein2vein.manufacturing.tables import Batch
from vein2vein.quality import release_rules as rules
from vein2vein.quality.release_rules import OosStatus
from vein2vein.quality.tables import QcInvestigation, QcInvestigationCounter, QcResult
from vein2vein.store.locks import advisory_lock
from vein2vein.store.uow import UnitOfWork

RECORD = "qc_investigation"
_NUMBER_LOCK = 0x0051A7E5
TEXT_MAX = 8000


def _next_number(session: Session) -> str:
    advisory_lock(session, _NUMBER_LOCK)
    year = utcnow().year
    counter = session.get(QcInvestigationCounter, year, with_for_update=True)
    if counter is None:
        counter = QcInvestigationCounter(year=year, last_sequence=0)
        session.add(counter)
    counter.last_sequence += 1
    session.flush()
    return f"OOS-{year}-{counter.last_sequence:04d}"


def open_investigation(
    uow: UnitOfWork, batch: Batch, result: QcResult, *, after_release: bool = False
) -> QcInvestigation:
    """Open the investigation of ``result`` (called by the use case that stored it)."""
    inv = QcInvestigation(
        organisation_id=result.organisation_id,
        number=_next_number(uow.session),
        batch_id=batch.id,
        result_id=result.id,
        test_code=result.test_code,
        status=OosStatus.PHASE_I.value,
        after_release=after_release,
        opened_at=utcnow(),
        opened_by=uow.actor.name,
    )
    uow.session.add(inv)
    uow.session.flush()
    uow.record(
        "qc.oos_open",
        RECORD,
        inv.id,
        after={
            "number": inv.number,
            "batch_id": batch.id,
            "result_id": result.id,
            "test": result.test_code,
            "result": f"{result.value_text} {result.unit or ''}".strip(),
            "rounded": result.rounded,
            "after_release": after_release,
        },
        organisation_id=inv.organisation_id,
    )
    return inv


def get_investigation(
    session: Session, scope: Scope, ref: int | str, *, lock: bool = False
) -> QcInvestigation:
    text = str(ref).strip()
    if text.upper().startswith("OOS-"):
        stmt = scope.filter(select(QcInvestigation), QcInvestigation).where(
            QcInvestigation.number == text.upper()
        )
        inv = session.scalars(stmt).first()
        if inv is None:
            raise NotFound(f"investigation {ref} not found")
    else:
        inv = get_scoped(session, scope, QcInvestigation, text)
    scope.require(Perm.QC_READ)
    if lock:
        inv = session.get_one(QcInvestigation, inv.id, with_for_update=True, populate_existing=True)
    return inv


def _for_change(uow: UnitOfWork, scope: Scope, ref: int | str) -> QcInvestigation:
    inv = get_investigation(uow.session, scope, ref, lock=True)  # another's: not found
    if not scope.is_cdmo:
        raise PermissionDenied("investigations are run by the CDMO's quality unit")
    scope.require(Perm.OOS_MANAGE)
    return inv


def content(inv: QcInvestigation) -> dict[str, Any]:
    """What is signed: the investigation, its result and its conclusions."""
    r = inv.result
    return {
        "number": inv.number,
        "batch_id": inv.batch_id,
        "result_id": inv.result_id,
        "test": inv.test_code,
        "result": {"value": r.value_text, "unit": r.unit, "rounded": r.rounded},
        "analyst": r.analyst,
        "finding": inv.finding,
        "assignable": inv.assignable,
        "justification": inv.justification,
        "conclusion": inv.conclusion,
        "impact": inv.impact,
    }


def conclude_phase_i(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    ref: int | str,
    *,
    finding: str,
    assignable: bool,
    justification: str = "",
    username: str = "",
    password: str = "",
) -> QcInvestigation:
    """Record phase I's finding. ``assignable``: a laboratory error explains the result; the
    result is invalidated under the signer's signature (not the analyst's) and a retest is
    needed. Otherwise the investigation moves to phase II (no signature yet)."""
    inv = _for_change(uow, scope, ref)
    finding = clean_text(finding, "finding", TEXT_MAX, multiline=True)
    justification = clean_text(justification, "justification", TEXT_MAX, multiline=True)
    rules.check_phase_i(
        OosStatus(inv.status), assignable=assignable, finding=finding, retest_reason=justification
    )
    before = _state(inv)
    inv.finding = finding
    inv.assignable = assignable
    inv.justification = justification or None
    inv.phase_i_at = utcnow()
    inv.phase_i_by = scope.username
    if assignable:
        result = inv.result
        rules.check_invalidation_approver(
            scope.username, result.analyst, result=f"result {result.id} ({result.test_code})"
        )
        why = f"invalidating result {result.id} of {result.test_code}: laboratory error"
        sig = _sign_and_close(
            uow, scope, settings, inv, OosStatus.INVALIDATED, "reviewed", (username, password), why
        )
        _invalidate(uow, result, inv, sig)
    else:
        inv.status = OosStatus.PHASE_II.value
    uow.record(
        "qc.oos_phase_i",
        RECORD,
        inv.id,
        before=before,
        after=_state(inv),
        organisation_id=inv.organisation_id,
    )
    return inv


def _invalidate(uow: UnitOfWork, result: QcResult, inv: QcInvestigation, sig: Signature) -> None:
    from vein2vein.quality import results

    for r in [result, *results.dependants(uow.session, result)]:
        r.valid = False
        r.invalidated_at = sig.signed_at
        r.invalidated_by = sig.username
        uow.record(
            "qc.result_invalidate",
            results.RECORD,
            r.id,
            before={"valid": True},
            after={"valid": False, "investigation": inv.number, "signature_id": sig.id},
            reason=inv.justification if r is result else f"its input {result.id} was invalidated",
            organisation_id=r.organisation_id,
        )


def close_phase_ii(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    ref: int | str,
    *,
    conclusion: str,
    impact: str,
    username: str,
    password: str,
    shown_hash: str | None = None,
) -> Signature:
    """QA's conclusion of the full-scale investigation, signed (meaning approved): the
    out-of-specification result stands."""
    inv = _for_change(uow, scope, ref)
    conclusion = clean_text(conclusion, "conclusion", TEXT_MAX, multiline=True)
    impact = clean_text(impact, "impact", TEXT_MAX, multiline=True)
    rules.check_phase_ii(OosStatus(inv.status), conclusion=conclusion, impact=impact)
    if shown_hash is not None and shown_hash.lower() != sha256_hex(content(inv)):
        # the page's hash is of the investigation as shown, before this conclusion
        raise Conflict(
            f"investigation {inv.number} changed after it was shown to you: nothing was "
            "signed. Reload it, review it again and sign."
        )
    before = _state(inv)
    inv.conclusion = conclusion
    inv.impact = impact
    why = f"closing investigation {inv.number}: out of specification confirmed"
    sig = _sign_and_close(
        uow, scope, settings, inv, OosStatus.CONFIRMED, "approved", (username, password), why
    )
    uow.record(
        "qc.oos_close",
        RECORD,
        inv.id,
        before=before,
        after=_state(inv) | {"signature_id": sig.id},
        organisation_id=inv.organisation_id,
    )
    return sig


def _sign_and_close(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    inv: QcInvestigation,
    status: OosStatus,
    meaning: str,
    credentials: tuple[str, str],
    reason: str,
) -> Signature:
    """Sign the investigation as it now stands (it locks it) and close it with ``status``."""
    username, password = credentials
    require_credentials(username, password)
    sig = sign(
        uow,
        settings,
        signer_id=scope.user_id,
        username=username,
        password=password,
        record_type=RECORD,
        record_id=inv.id,
        organisation_id=inv.organisation_id,
        meaning=meaning,
        content=content(inv),
        reason=reason,
    )
    inv.status = status.value
    inv.closed_at = sig.signed_at
    inv.closed_by = scope.username
    return sig


def _state(inv: QcInvestigation) -> dict[str, Any]:
    return {
        "status": inv.status,
        "finding": inv.finding,
        "assignable": inv.assignable,
        "justification": inv.justification,
        "conclusion": inv.conclusion,
        "impact": inv.impact,
    }


# --------------------------------------------------------------------------------------------
# reads
# --------------------------------------------------------------------------------------------


def of_batch(session: Session, batch_id: int) -> list[QcInvestigation]:
    return list(
        session.scalars(
            select(QcInvestigation)
            .where(QcInvestigation.batch_id == batch_id)
            .order_by(QcInvestigation.id)
        )
    )


def summary(inv: QcInvestigation) -> dict[str, Any]:
    status = OosStatus(inv.status)
    r = inv.result
    return {
        "id": inv.id,
        "number": inv.number,
        "batch_id": inv.batch_id,
        "result_id": inv.result_id,
        "test": inv.test_code,
        "result": f"{r.value_text} {r.unit or ''}".strip(),
        "rounded": r.rounded,
        "analyst": r.analyst,
        "status": status.value,
        "status_text": status.text,
        "closed": status.closed,
        "after_release": inv.after_release,
        "escalation": json.loads(inv.escalation) if inv.escalation else None,
        "opened_at": inv.opened_at,
        "opened_by": inv.opened_by,
        "finding": inv.finding,
        "assignable": inv.assignable,
        "justification": inv.justification,
        "conclusion": inv.conclusion,
        "impact": inv.impact,
        "closed_at": inv.closed_at,
        "closed_by": inv.closed_by,
    }


def investigation_detail(session: Session, scope: Scope, ref: int | str) -> dict[str, Any]:
    inv = get_investigation(session, scope, ref)
    deviations = [
        {"number": d.number, "title": d.title, "status": d.status}
        for d in batches.batch_deviations(session, inv.batch_id)
    ]
    return summary(inv) | {
        "deviations": deviations,
        "shown_hash": sha256_hex(content(inv)),
        "signatures": [s.public() for s in signatures_for(session, RECORD, inv.id)],
    }


def list_investigations(session: Session, scope: Scope, *, open_only: bool = False) -> list[Any]:
    scope.require(Perm.QC_READ)
    stmt = scope.filter(select(QcInvestigation), QcInvestigation).order_by(
        QcInvestigation.id.desc()
    )
    rows = [summary(i) for i in session.scalars(stmt)]
    return [r for r in rows if not r["closed"]] if open_only else rows
