"""Use cases of product ↔ outcome: link a study's subject to its order by chain-of-identity
identifier, and unlink it (with a reason). One unit of work each: the study's row lock first
(two people linking the same subject are taken one after the other; the second finds the
first's link and is refused), the rules of :mod:`~vein2vein.insights.outcome_rules`, the row
and its audit entry, one commit by the caller.

Who may: ``outcome.link`` (the sponsor's clinical users, a CDMO administrator). The study and
the order are looked up through the caller's scope: another sponsor's study or order is *not
found*.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.clinical.datasets import load_dataset
from vein2vein.clinical.tables import Study
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import InputError, NotFound, RuleViolation
from vein2vein.core.text import clean_text
from vein2vein.identity.tables import Order
from vein2vein.insights.outcome_facts import product_facts
from vein2vein.insights.outcome_rules import LinkFacts, check_link
from vein2vein.insights.outcome_tables import OutcomeLink
from vein2vein.store.locks import lock_row
from vein2vein.store.uow import UnitOfWork

RECORD = "outcome_link"


def _subject_row(session: Session, study: Study, subject_id: str) -> dict[str, Any] | None:
    if not study.versions:
        return None
    data = load_dataset(session, study.versions[-1])
    s = data.subjects
    hit = s[s["subject_id"] == subject_id]
    if not len(hit):
        return None
    return {k: hit.iloc[0][k] for k in hit.columns}


def _year(value: Any, field: str) -> int | None:
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        year = int(str(value).strip()[:4])
    except ValueError:
        raise InputError("a year of birth is four digits, e.g. 1961", field=field) from None
    if not 1900 <= year <= 2100:
        raise InputError("a year of birth between 1900 and 2100", field=field)
    return year


def current_link(session: Session, study_id: int, subject_id: str) -> OutcomeLink | None:
    return session.scalars(
        select(OutcomeLink).where(
            OutcomeLink.study_id == study_id,
            OutcomeLink.subject_id == subject_id,
            OutcomeLink.unlinked_at.is_(None),
        )
    ).first()


def link_subject(
    uow: UnitOfWork,
    scope: Scope,
    study_id: int | str,
    subject_id: str,
    coi: str,
    *,
    year_of_birth: int | str | None = None,
    reason: str = "",
) -> OutcomeLink:
    """Link ``subject_id`` of the study to the order whose CoI identifier is ``coi``."""
    s = uow.session
    study = get_scoped(s, scope, Study, study_id)
    scope.require(Perm.OUTCOME_LINK)
    subject_id = clean_text(subject_id, "subject_id", 64)
    coi = clean_text(coi, "coi", 40)
    if not subject_id:
        raise InputError("the subject id is required", field="subject_id")
    if not coi:
        raise InputError("the chain-of-identity identifier is required", field="coi")
    entered_year = _year(year_of_birth, "year_of_birth")
    lock_row(s, Study, study.id)
    order = s.scalars(
        scope.filter(select(Order), Order).where(func.upper(Order.coi) == coi.upper())
    ).first()
    if order is None:
        raise NotFound(f"no order with chain-of-identity identifier {coi}")
    row = _subject_row(s, study, subject_id)
    mine = current_link(s, study.id, subject_id)
    theirs = s.scalars(
        select(OutcomeLink).where(
            OutcomeLink.order_id == order.id, OutcomeLink.unlinked_at.is_(None)
        )
    ).first()
    facts = product_facts(s, order)
    dob = order.patient.date_of_birth
    dataset_dose = None
    if row is not None and row.get("dose_per_kg") is not None:
        dose = float(row["dose_per_kg"])
        dataset_dose = dose if math.isfinite(dose) else None
    check = LinkFacts(
        study_code=study.code,
        study_organisation_id=study.organisation_id,
        study_program_id=study.program_id,
        subject_id=subject_id,
        subject_known=row is not None,
        coi_entered=coi,
        dataset_coi=str(row["coi"]) if row is not None and row.get("coi") else None,
        year_of_birth_entered=entered_year,
        dataset_year_of_birth=_year(row.get("year_of_birth"), "year_of_birth") if row else None,
        order_number=order.number,
        order_organisation_id=order.organisation_id,
        order_program_id=order.program_id,
        order_coi=order.coi,
        patient_year_of_birth=dob.year if dob is not None else None,
        subject_current_order=mine.order.number if mine is not None else None,
        order_current_subject=(
            f"{theirs.subject_id} of study {theirs.study.code}" if theirs is not None else None
        ),
        has_batch=facts.batch_id is not None,
        infused=facts.infused_at is not None,
        ordered_dose_per_kg=facts.ordered_dose_per_kg,
        dataset_dose_per_kg=dataset_dose,
    )
    warnings = check_link(check)
    link = OutcomeLink(
        organisation_id=study.organisation_id,
        study_id=study.id,
        subject_id=subject_id,
        order_id=order.id,
        coi=order.coi,
        checks={
            "same_sponsor": True,
            "coi": order.coi,
            "year_of_birth_compared": (entered_year or check.dataset_year_of_birth) is not None
            and check.patient_year_of_birth is not None,
            "warnings": warnings,
        },
        reason=clean_text(reason, "reason", 2000) if reason else "",
        linked_at=utcnow(),
        linked_by=scope.username,
    )
    s.add(link)
    s.flush()
    uow.record(
        "outcome.link",
        RECORD,
        link.id,
        after={
            "study": study.code,
            "subject_id": subject_id,
            "order": order.number,
            "coi": order.coi,
            "warnings": warnings,
        },
        reason=link.reason or None,
        organisation_id=study.organisation_id,
    )
    return link


def get_link(session: Session, scope: Scope, link_id: int | str) -> OutcomeLink:
    link = get_scoped(session, scope, OutcomeLink, link_id)
    scope.require(Perm.OUTCOME_READ)
    return link


def unlink(uow: UnitOfWork, scope: Scope, link_id: int | str, reason: str) -> OutcomeLink:
    """End a current link; it stays in the record with who ended it, when and why."""
    s = uow.session
    link = get_scoped(s, scope, OutcomeLink, link_id)
    scope.require(Perm.OUTCOME_LINK)
    reason = clean_text(reason, "reason", 2000) if reason else ""
    if not reason.strip():
        raise InputError("say why the link is ended", field="reason")
    lock_row(s, Study, link.study_id)
    s.refresh(link)
    if link.unlinked_at is not None:
        raise RuleViolation(
            f"the link of subject {link.subject_id} to order {link.order.number} is already ended"
        )
    link.unlinked_at = utcnow()
    link.unlinked_by = scope.username
    link.unlink_reason = reason
    s.flush()
    uow.record(
        "outcome.unlink",
        RECORD,
        link.id,
        before={"subject_id": link.subject_id, "order": link.order.number, "current": True},
        after={"subject_id": link.subject_id, "order": link.order.number, "current": False},
        reason=reason,
        organisation_id=link.organisation_id,
    )
    return link
