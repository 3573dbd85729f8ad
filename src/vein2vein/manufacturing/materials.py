"""Material lots: their status and the check made when a lot is scanned for use (pure rules).

A lot arrives in **quarantine** and QA decides it: **released** (fit for use) or **rejected**.
A lot whose expiry date has passed is **expired**, whatever QA decided: expiry is derived from
the date, never stored, so a lot cannot be "forgotten" as released after it expires.

Sources:
- EU GMP Part I, Chapter 5 (Production), 5.36-5.41: starting materials are purchased from
  approved suppliers, held in quarantine until released by QA, used only within their shelf
  life; 5.41: only released materials within their shelf life are used.
- 21 CFR 211.84 (testing and approval or rejection of components) and 211.86 (use of approved
  components, oldest stock first); 21 CFR 1271 for the cells themselves is not a lot.
- Lentiviral vector lots carry a **functional titer** (transducing units per mL, TU/mL): the
  vector volume for a target multiplicity of infection (MOI) is computed from it, so a vector
  lot cannot be released without one. Clinical lentiviral vector lots are typically reported at
  10^7-10^9 TU/mL (concentrated, functional titer on a cell line); the plausible range below is
  wider (10^5-10^11) and catches unit errors, not quality.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from vein2vein.core.errors import InputError, RuleViolation

# --------------------------------------------------------------------------------------------
# Materials and lot status
# --------------------------------------------------------------------------------------------


class MaterialKind(enum.StrEnum):
    """What a material is; the kind decides which lot data it needs."""

    SELECTION_REAGENT = "selection_reagent"  # e.g. CD4/CD8 immunomagnetic beads
    ACTIVATION_REAGENT = "activation_reagent"  # e.g. anti-CD3/CD28 nanomatrix
    LENTIVIRAL_VECTOR = "lentiviral_vector"
    MEDIUM = "medium"
    CYTOKINE = "cytokine"
    CRYOPRESERVATION_MEDIUM = "cryopreservation_medium"
    BUFFER = "buffer"
    CONSUMABLE = "consumable"


class LotStatus(enum.StrEnum):
    QUARANTINE = "quarantine"
    RELEASED = "released"
    REJECTED = "rejected"
    EXPIRED = "expired"  # derived from the expiry date, never stored


#: the statuses QA records (EXPIRED is derived)
STORED_STATUSES: Final = frozenset({LotStatus.QUARANTINE, LotStatus.RELEASED, LotStatus.REJECTED})
#: which recorded status may follow which: a QA decision is made once, from quarantine
TRANSITIONS: Final = {
    LotStatus.QUARANTINE: frozenset({LotStatus.RELEASED, LotStatus.REJECTED}),
    LotStatus.RELEASED: frozenset({LotStatus.REJECTED}),  # a released lot found bad later
    LotStatus.REJECTED: frozenset(),
}

#: functional titer of a lentiviral vector lot, TU/mL (unit errors, not quality: see above)
TITER_MIN: Final = Decimal("1e5")
TITER_MAX: Final = Decimal("1e11")
TITER_UNIT: Final = "TU/mL"
#: units a material is counted in
UNITS_SHOWN: Final = ("mL", "L", "µg", "mg", "g", "vial", "bag", "kit", "unit")
#: material codes and lot numbers as printed on labels (scanned by a keyboard wedge)
CODE_MAX: Final = 40
LOT_NUMBER_MAX: Final = 64


def parse_kind(value: str) -> MaterialKind:
    try:
        return MaterialKind(value.strip().lower())
    except ValueError:
        known = ", ".join(k.value for k in MaterialKind)
        raise InputError(
            f"unknown material kind '{value}'; use one of {known}", field="kind"
        ) from None


def parse_status(value: str) -> LotStatus:
    try:
        status = LotStatus(value.strip().lower())
    except ValueError:
        status = None
    if status is None or status not in STORED_STATUSES:
        raise InputError(
            "a lot's status is quarantine, released or rejected (expired follows from the date)",
            field="status",
        )
    return status


def check_titer(kind: MaterialKind, titer: Decimal | None) -> None:
    """A titer is given for lentiviral vector lots only, within the plausible range."""
    if titer is None:
        return
    if kind is not MaterialKind.LENTIVIRAL_VECTOR:
        raise InputError(
            "a functional titer is recorded for lentiviral vector lots only", field="titer"
        )
    if not (TITER_MIN <= titer <= TITER_MAX):
        raise InputError(
            f"the functional titer must be between {TITER_MIN:.0e} and {TITER_MAX:.0e} "
            f"{TITER_UNIT} (is the unit TU/mL?)",
            field="titer",
        )


# --------------------------------------------------------------------------------------------
# A lot as the rules see it
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LotFacts:
    """What the rules need of a lot (the store's row is read into this)."""

    lot_number: str
    material_code: str
    material_name: str
    kind: MaterialKind
    status: LotStatus  # as recorded: quarantine, released or rejected
    expiry: dt.date
    titer_tu_per_ml: Decimal | None = None


def status_on(lot: LotFacts, day: dt.date) -> LotStatus:
    """The status on ``day``: expired from the day after the expiry date (a lot may be used on
    its expiry date), unless it was rejected (a rejection stays the reason)."""
    if lot.status is LotStatus.REJECTED:
        return LotStatus.REJECTED
    if day > lot.expiry:
        return LotStatus.EXPIRED
    return lot.status


def check_transition(lot: LotFacts, to: LotStatus, day: dt.date) -> None:
    """May QA record ``to`` for ``lot`` on ``day``? Raises ``RuleViolation`` naming why not."""
    if to not in TRANSITIONS[lot.status]:
        raise RuleViolation(
            f"lot {lot.lot_number} ({lot.material_code}) is {lot.status.value}: it cannot "
            f"become {to.value}"
        )
    if to is LotStatus.RELEASED:
        if day > lot.expiry:
            raise RuleViolation(
                f"lot {lot.lot_number} ({lot.material_code}) expired on {lot.expiry.isoformat()}"
                ": an expired lot cannot be released"
            )
        if lot.kind is MaterialKind.LENTIVIRAL_VECTOR and lot.titer_tu_per_ml is None:
            raise RuleViolation(
                f"lot {lot.lot_number} ({lot.material_code}) is a lentiviral vector: record its "
                f"functional titer ({TITER_UNIT}) before release"
            )


# --------------------------------------------------------------------------------------------
# The scan check
# --------------------------------------------------------------------------------------------


class RefusalReason(enum.StrEnum):
    NOT_RELEASED = "not_released"
    REJECTED = "rejected"
    EXPIRED = "expired"
    WRONG_MATERIAL = "wrong_material"
    NO_TITER = "no_titer"


class LotRefused(RuleViolation):
    """A lot scanned for use that may not be used: the message names lot, material, reason."""

    title = "Lot refused"

    def __init__(self, lot: LotFacts, reason: RefusalReason, detail: str) -> None:
        self.lot_number = lot.lot_number
        self.material_code = lot.material_code
        self.reason = reason
        super().__init__(
            f"lot {lot.lot_number} of {lot.material_code} ({lot.material_name}) refused: {detail}"
        )


def check_lot_for_use(lot: LotFacts, required_material: str, at: dt.datetime) -> None:
    """Refuse a lot scanned for a step that needs ``required_material`` (a material code) at
    ``at`` (timezone-aware); returns None when the lot may be used.

    The wrong material is named first (whatever its status, it is the wrong thing in hand), then
    rejected, expired, not yet released, and, for a lentiviral vector, a missing titer (a
    released vector lot always has one, unless released before the rule: checked again here).
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise InputError("the time of use needs its time zone", field="at")
    required = required_material.strip().upper()
    if lot.material_code.upper() != required:
        raise LotRefused(
            lot,
            RefusalReason.WRONG_MATERIAL,
            f"this step needs material {required}, not {lot.material_code}",
        )
    status = status_on(lot, at.date())
    if status is LotStatus.REJECTED:
        raise LotRefused(lot, RefusalReason.REJECTED, "the lot was rejected by QA")
    if status is LotStatus.EXPIRED:
        raise LotRefused(lot, RefusalReason.EXPIRED, f"the lot expired on {lot.expiry.isoformat()}")
    if status is not LotStatus.RELEASED:
        raise LotRefused(
            lot, RefusalReason.NOT_RELEASED, f"the lot is in {status.value}, not released by QA"
        )
    if lot.kind is MaterialKind.LENTIVIRAL_VECTOR and lot.titer_tu_per_ml is None:
        raise LotRefused(
            lot, RefusalReason.NO_TITER, f"the vector lot has no functional titer ({TITER_UNIT})"
        )
