"""When a clinical subject may be linked to an order (pure: no database, web or template code).

What identifies one patient across the clinical data and the chain of identity
------------------------------------------------------------------------------
The study's subject id and the order's patient id are different identifiers, given by
different people (the site's enrolment log; the sponsor's order), and an IIT's dataset
carries neither the other's id nor personal data. So a link is asked for with what the site
holds for that subject: the **chain-of-identity identifier** printed on the product bag that
was infused (ICCBBA ST-028: one identifier for one patient's therapy across the supply chain;
shared/references/identity.md) and, where the case report form has it, the subject's **year
of birth**. The link holds when:

1. **same sponsor**: the order belongs to the study's sponsor organisation *and* program (a
   subject of one program is never given another program's product);
2. **same patient**: the order's CoI identifier is the one entered (the order is found by it),
   the dataset's own ``coi`` column, where the dataset has one, names the same identifier, and
   the year of birth entered (or in the dataset's ``year_of_birth`` column) equals the year of
   the patient's date of birth in the chain of identity, where both are recorded. Sex is not
   compared: the chain of identity does not record it. A difference is a hard refusal that
   names both values' sources, never a warning;
3. **one to one**: the subject has no current link, and the order is not the current link of
   another subject (a product is infused into one patient).

What does not refuse, but is kept with the link and shown beside it (``warnings``): no batch
made for the order, no infusion recorded in its custody, and an ordered dose level whose
per-kg value differs from the subject's dose group in the dataset (a batch that cannot reach
its dose may be given at a lower one, quality/dose.py, so the *delivered* dose is what the
analyses use).
"""

from __future__ import annotations

from dataclasses import dataclass

from vein2vein.core.errors import Conflict, RuleViolation


@dataclass(frozen=True)
class LinkFacts:
    """What the store knows when a subject is linked (plain values)."""

    study_code: str
    study_organisation_id: int
    study_program_id: int
    subject_id: str
    subject_known: bool
    coi_entered: str
    dataset_coi: str | None
    year_of_birth_entered: int | None
    dataset_year_of_birth: int | None
    order_number: str
    order_organisation_id: int
    order_program_id: int
    order_coi: str
    patient_year_of_birth: int | None
    subject_current_order: str | None  # order number of the subject's current link
    order_current_subject: str | None  # subject of the order's current link (this study)
    has_batch: bool
    infused: bool
    ordered_dose_per_kg: float | None
    dataset_dose_per_kg: float | None


def check_link(f: LinkFacts) -> list[str]:
    """Refuse a link that breaks a rule of the module's docstring; return the warnings of one
    that holds."""
    if not f.subject_known:
        raise RuleViolation(
            f"subject {f.subject_id} is not in the newest dataset version of study {f.study_code}"
        )
    if f.order_organisation_id != f.study_organisation_id:
        raise RuleViolation(
            f"order {f.order_number} belongs to another sponsor than study {f.study_code}: "
            "not linked"
        )
    if f.order_program_id != f.study_program_id:
        raise RuleViolation(
            f"order {f.order_number} is of another program than study {f.study_code}: not linked"
        )
    if f.coi_entered.strip().upper() != f.order_coi.strip().upper():
        raise RuleViolation(
            f"the CoI identifier entered ({f.coi_entered}) is not order {f.order_number}'s "
            f"({f.order_coi})"
        )
    if f.dataset_coi and f.dataset_coi.strip().upper() != f.order_coi.strip().upper():
        raise RuleViolation(
            f"not the same patient: the dataset records CoI identifier {f.dataset_coi} for "
            f"subject {f.subject_id}, order {f.order_number} has {f.order_coi}"
        )
    for source, year in (
        ("entered", f.year_of_birth_entered),
        ("in the dataset", f.dataset_year_of_birth),
    ):
        known = year is not None and f.patient_year_of_birth is not None
        if known and year != f.patient_year_of_birth:
            raise RuleViolation(
                f"not the same patient: year of birth {source} for subject {f.subject_id} "
                f"is {year}, the chain of identity records {f.patient_year_of_birth} for "
                f"order {f.order_number}'s patient"
            )
    if f.subject_current_order is not None:
        raise Conflict(
            f"subject {f.subject_id} is already linked to order {f.subject_current_order}; "
            "unlink it first (with a reason)"
        )
    if f.order_current_subject is not None:
        raise Conflict(
            f"order {f.order_number} is already linked to subject {f.order_current_subject}"
        )
    warnings = []
    if not f.has_batch:
        warnings.append(f"no batch has been made for order {f.order_number}")
    if not f.infused:
        warnings.append(f"no infusion is recorded in order {f.order_number}'s custody")
    if (
        f.ordered_dose_per_kg is not None
        and f.dataset_dose_per_kg is not None
        and abs(f.ordered_dose_per_kg - f.dataset_dose_per_kg) > 1e-6 * f.dataset_dose_per_kg
    ):
        warnings.append(
            f"dose level ordered ({f.ordered_dose_per_kg:.3g} cells/kg) differs from the "
            f"subject's dose group in the dataset ({f.dataset_dose_per_kg:.3g} cells/kg)"
        )
    if f.year_of_birth_entered is None and f.dataset_year_of_birth is None:
        warnings.append("year of birth not compared (none entered or in the dataset)")
    elif f.patient_year_of_birth is None:
        warnings.append("year of birth not compared (not in the chain of identity)")
    return warnings
