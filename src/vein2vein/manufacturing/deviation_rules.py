"""Deviations: their classification, investigation and closure (pure rules).

A deviation is any departure from the approved process or procedure: a value outside its
proven acceptable range, a hold missed, a lot or identifier that did not match. It is opened
automatically by the feature that detects it (or by hand), then QA classifies it, records the
root cause and the corrective and preventive action (CAPA), and closes it with an electronic
signature; a closed deviation is locked.

Sources:
- EU GMP Part I, Chapter 1, 1.4(xiv): deviations are investigated, root causes identified and
  CAPA taken; Chapter 8 (complaints, quality defects): investigation and classification by risk.
- ICH Q10, 3.2.2: CAPA from deviations, proportionate to the risk.
- The three classes are those common in GMP practice (and in EU inspection findings):
  **critical** (may affect the patient's safety or the product's identity), **major** (may
  affect quality, needs a CAPA), **minor** (no impact on quality). Here a major or critical
  deviation needs a CAPA before it is closed; every deviation needs a root cause.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from vein2vein.core.errors import InputError, RecordLocked, RuleViolation


class Classification(enum.StrEnum):
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class Source(enum.StrEnum):
    """How a deviation was opened."""

    MANUAL = "manual"  # by a person
    PROCESS_LIMIT = "process_limit"  # a batch entry outside its proven acceptable range
    COI_MISMATCH = "coi_mismatch"  # a hand-off whose scan did not match its order
    MATERIAL = "material"  # a lot refused or found bad
    EQUIPMENT = "equipment"  # an instrument used past its calibration due date
    QC_RESULT = "qc_result"  # a result out of specification after a conditional release


class Status(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


#: classes whose closure needs a corrective and preventive action
CAPA_REQUIRED: Final = frozenset({Classification.MAJOR, Classification.CRITICAL})
TITLE_MAX: Final = 200
TEXT_MAX: Final = 4000
MIN_TEXT: Final = 10  # a root cause or CAPA shorter than this says nothing


def parse_classification(value: str) -> Classification:
    try:
        return Classification(value.strip().lower())
    except ValueError:
        raise InputError(
            "classify the deviation as minor, major or critical", field="classification"
        ) from None


def parse_status(value: str) -> Status | None:
    """A filter of the list: open, closed or empty (both)."""
    text = value.strip().lower()
    if not text:
        return None
    try:
        return Status(text)
    except ValueError:
        raise InputError("status is open or closed", field="status") from None


def number(year: int, sequence: int) -> str:
    """The deviation's number as people quote it: DEV-2026-0007."""
    return f"DEV-{year:04d}-{sequence:04d}"


@dataclass(frozen=True, slots=True)
class DeviationFacts:
    number: str
    status: Status
    classification: Classification | None
    root_cause: str
    capa: str


def check_editable(dev: DeviationFacts) -> None:
    if dev.status is Status.CLOSED:
        raise RecordLocked(
            f"deviation {dev.number} is closed: it can no longer be changed (open a new one)"
        )


def check_investigation(classification: Classification, root_cause: str, capa: str) -> None:
    """What an investigation must say: a root cause always, a CAPA for major and critical."""
    if len(root_cause.strip()) < MIN_TEXT:
        raise InputError(
            f"state the root cause (at least {MIN_TEXT} characters)", field="root_cause"
        )
    if classification in CAPA_REQUIRED and len(capa.strip()) < MIN_TEXT:
        raise InputError(
            f"a {classification.value} deviation needs a corrective and preventive action "
            f"(at least {MIN_TEXT} characters)",
            field="capa",
        )


def check_closable(dev: DeviationFacts) -> None:
    """Closing needs the investigation complete; closing twice is refused."""
    check_editable(dev)
    if dev.classification is None:
        raise RuleViolation(f"deviation {dev.number}: QA must classify it before closing")
    try:
        check_investigation(dev.classification, dev.root_cause, dev.capa)
    except InputError as exc:
        raise RuleViolation(f"deviation {dev.number} cannot be closed yet: {exc.message}") from None
