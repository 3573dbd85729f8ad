"""Human names of the records of the chain of identity for the audit trail (``auth/names.py``).

A patient is named by the subject id only, never by date of birth or initials (personal data).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.orm import Session

from vein2vein.auth.names import Labels, Ref, scoped_labels
from vein2vein.auth.scope import Scope
from vein2vein.identity.tables import (
    CustodyEventRow,
    Facility,
    HandoffMismatch,
    IssuedDin,
    Order,
    Patient,
)


def _step(code: str) -> str:
    return code.replace("_", " ")


def entity_labels(session: Session, scope: Scope, refs: Collection[Ref]) -> Labels:
    """Orders, patients (subject id), DINs, facilities, custody events and mismatches the
    caller may see."""
    out = scoped_labels(
        session, scope, refs, "coi_order", Order, lambda n: f"Order {n}", Order.number
    )
    out |= scoped_labels(
        session,
        scope,
        refs,
        "coi_patient",
        Patient,
        lambda subject: f"Subject {subject}",
        Patient.subject_id,
    )
    out |= scoped_labels(
        session, scope, refs, "coi_din", IssuedDin, lambda din: f"DIN {din}", IssuedDin.din
    )
    out |= scoped_labels(
        session,
        scope,
        refs,
        "coi_facility",
        Facility,
        lambda name, fin: f"Facility {name} ({fin})",
        Facility.name,
        Facility.fin,
    )
    out |= scoped_labels(
        session,
        scope,
        refs,
        "coi_custody_event",
        CustodyEventRow,
        lambda step, number: f"Custody step {_step(step)} of order {number}",
        CustodyEventRow.step,
        Order.number,
        owner=Order,
    )
    out |= scoped_labels(
        session,
        scope,
        refs,
        "coi_handoff_mismatch",
        HandoffMismatch,
        lambda step, number: f"Mismatch at {_step(step)} of order {number}",
        HandoffMismatch.step,
        Order.number,
        owner=Order,
    )
    return out
