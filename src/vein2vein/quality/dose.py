"""The dose of an autologous CAR-T product: cells required, volume, bags, and what a batch that
cannot reach its dose may still do (issue 13, "Dose").

References
----------
* Dose units follow the US labels: "CAR-positive viable T cells" per kg of body weight or as a
  flat number of cells. YESCARTA (axicabtagene ciloleucel) PI §2.2: 2 × 10^6 /kg, at most
  2 × 10^8 (so per-kg dosing stops at 100 kg), one bag of about 68 mL. KYMRIAH
  (tisagenlecleucel) PI §2.1/§3: B-ALL 0.2-5.0 × 10^6 /kg for patients of 50 kg or less,
  0.1-2.5 × 10^8 flat above 50 kg; the EU SmPC §2 (2024): one or more bags (1-3 in the 2018
  SmPC), each of 10-30 mL or 30-50 mL.
  CARVYKTI (ciltacabtagene autoleucel) PI §2.2: 0.5-1.0 × 10^6 /kg, at most 1 × 10^8.
  BREYANZI (lisocabtagene maraleucel) PI §2.2: a flat 50-110 × 10^6 cells.
* Dose specifications of investigational products: > 0.5 × 10^6 CAR+ cells/kg for ARI-0001
  (Mol Ther Methods Clin Dev 2018;12:134-144), "cohort dose ± 20 %" for a CD20 CAR-T (Front
  Immunol 2024;15:1328368); shared/references/quality.md §1. ``lower_tolerance`` models the
  latter.
* Out-of-specification autologous product: EudraLex Vol. 4 Part IV (GMP for ATMPs, 2017), the
  section on administration of out-of-specification products; the FDA's OOS guidance (2006,
  rev. 2022) for the investigation that precedes it. shared/references/quality.md §3-§4.

Sections
--------
1. Dose level and product limits (what the order and the product definition say).
2. Required cells (weight cap, cell cap).
3. The fill plan of a batch: volume, bags, dose per bag and per kg, and the flags when the batch
   cannot reach its dose (with the dose it can reach).
4. The exceptional-release decision: an out-of-specification product given at the treating
   physician's request, signed by QA and the sponsor, for one patient. A value: nothing here
   stores it.

Numbers are never rounded here (USP General Notices 7.20: no rounding of intermediate results);
pages and the CoA round for display.

Pure: no database, web or template code.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass

from vein2vein.core.errors import InputError, RuleViolation
from vein2vein.core.results import Result
from vein2vein.manufacturing import units
from vein2vein.manufacturing.units import UnitError

__all__ = [
    "Bag",
    "BatchParties",
    "DoseBasis",
    "DoseLevel",
    "DosePlan",
    "ExceptionalRelease",
    "Finding",
    "Flag",
    "ProductDoseLimits",
    "RequiredDose",
    "SignOff",
    "SignOffRole",
    "check_exceptional_release",
    "missing_sign_offs",
    "plan_dose",
    "required_dose",
    "required_roles",
]

# --------------------------------------------------------------------------------------------
# 1. Dose level and product limits
# --------------------------------------------------------------------------------------------


class DoseBasis(enum.StrEnum):
    PER_KG = "per kg"
    FLAT = "flat"


_BASIS_OF_DIMENSION = {"dose per body weight": DoseBasis.PER_KG, "cell count": DoseBasis.FLAT}


@dataclass(frozen=True)
class DoseLevel:
    """A dose as ordered: ``1`` ``10^6 cells/kg`` (per kg) or ``1`` ``10^8 cells`` (flat).

    Always counted as CAR-positive viable T cells; the unit decides the basis.
    """

    value: float
    unit: str
    label: str = ""

    def __post_init__(self) -> None:
        try:
            symbol = units.normalise(self.unit)
        except UnitError as exc:
            raise InputError(str(exc), field="dose_unit") from None
        if units.dimension(symbol) not in _BASIS_OF_DIMENSION:
            raise InputError(f"a dose is in cells/kg or in cells, not {symbol}", field="dose_unit")
        if not (math.isfinite(self.value) and self.value > 0):
            raise InputError("the dose level must be more than 0", field="dose_level")
        object.__setattr__(self, "unit", symbol)

    @property
    def basis(self) -> DoseBasis:
        return _BASIS_OF_DIMENSION[units.dimension(self.unit)]

    @property
    def base_value(self) -> float:
        """The level in cells/kg (per kg) or cells (flat)."""
        base = "cells/kg" if self.basis is DoseBasis.PER_KG else "cells"
        return units.convert(self.value, self.unit, base)

    def __str__(self) -> str:
        return f"{self.value:g} × {self.unit}"


@dataclass(frozen=True)
class ProductDoseLimits:
    """What the product definition allows (defaults: a 10-70 mL bag, no other limit).

    ``max_cells``: a cap in cells (YESCARTA 2 × 10^8); ``max_cells_per_kg``: the highest per-kg
    dose the product may be ordered at (KYMRIAH B-ALL 5.0 × 10^6 /kg); ``weight_cap_kg``: per-kg
    dosing uses at most this weight; ``lower_tolerance``: how far below the target dose a batch
    still meets it (0.2 for "dose ± 20 %").
    """

    min_fill_ml: float = 10.0
    max_fill_ml: float = 70.0
    max_total_ml: float | None = None
    max_bags: int | None = None
    max_cells: float | None = None
    max_cells_per_kg: float | None = None
    weight_cap_kg: float | None = None
    lower_tolerance: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.min_fill_ml <= self.max_fill_ml:
            raise InputError(
                "the bag's fill volume needs 0 < minimum ≤ maximum", field="min_fill_ml"
            )
        positive = ("max_total_ml", "max_bags", "max_cells", "max_cells_per_kg", "weight_cap_kg")
        for name in positive:
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InputError("must be more than 0 when given", field=name)
        if self.max_total_ml is not None and self.max_total_ml < self.min_fill_ml:
            raise InputError("is below one bag's minimum fill", field="max_total_ml")
        if not 0 <= self.lower_tolerance < 1:
            raise InputError("must be at least 0 and below 1", field="lower_tolerance")

    @property
    def max_volume_ml(self) -> float:
        """The most that may be infused: the total cap and the bags' capacity, whichever is less."""
        caps = [math.inf]
        if self.max_total_ml is not None:
            caps.append(self.max_total_ml)
        if self.max_bags is not None:
            caps.append(self.max_bags * self.max_fill_ml)
        return min(caps)


# --------------------------------------------------------------------------------------------
# 2. Required cells
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequiredDose:
    level: DoseLevel
    weight_kg: float
    dosing_weight_kg: float
    target_cells: float
    minimum_cells: float
    capped_by: tuple[str, ...]


def required_dose(level: DoseLevel, weight_kg: float, limits: ProductDoseLimits) -> RequiredDose:
    """CAR+ viable T cells to give: level × weight (at most the weight cap), at most the cell cap.

    Worked examples (tests): 1 × 10^6 /kg × 72.5 kg = 7.25 × 10^7 cells; 2 × 10^6 /kg at
    120 kg with a 100 kg weight cap = 2 × 10^8 cells.
    """
    if not (math.isfinite(weight_kg) and weight_kg > 0):
        raise InputError("the patient's weight must be more than 0 kg", field="weight_kg")
    capped: list[str] = []
    dosing_weight = weight_kg
    if level.basis is DoseBasis.PER_KG:
        per_kg = level.base_value
        if limits.max_cells_per_kg is not None and per_kg > limits.max_cells_per_kg:
            raise RuleViolation(
                f"dose level {level} is above the product's maximum of "
                f"{limits.max_cells_per_kg:.4g} cells/kg"
            )
        if limits.weight_cap_kg is not None and weight_kg > limits.weight_cap_kg:
            dosing_weight = limits.weight_cap_kg
            capped.append(f"weight cap {limits.weight_cap_kg:g} kg")
        target = per_kg * dosing_weight
    else:
        target = level.base_value
    if limits.max_cells is not None and target > limits.max_cells:
        target = limits.max_cells
        capped.append(f"maximum {limits.max_cells:.4g} cells")
    return RequiredDose(
        level=level,
        weight_kg=weight_kg,
        dosing_weight_kg=dosing_weight,
        target_cells=target,
        minimum_cells=target * (1 - limits.lower_tolerance),
        capped_by=tuple(capped),
    )


# --------------------------------------------------------------------------------------------
# 3. The fill plan of a batch
# --------------------------------------------------------------------------------------------


class Flag(enum.StrEnum):
    NOT_ENOUGH_CELLS = "not enough cells"
    VOLUME_OVER_MAXIMUM = "volume over the maximum"
    TOO_MANY_BAGS = "too many bags"
    BELOW_MINIMUM_FILL = "bag below the minimum fill"


@dataclass(frozen=True)
class Finding:
    flag: Flag
    message: str


@dataclass(frozen=True)
class Bag:
    number: int
    volume_ml: float
    cells: float
    cells_per_kg: float


@dataclass(frozen=True)
class DosePlan(Result):
    """The fill of one batch for one patient's dose.

    ``cells`` is what the plan fills: the target when the batch reaches it, else the achievable
    dose (so the exceptional-release path can see what would be given). ``cells_per_kg`` is at
    the patient's weight at order (not the capped dosing weight). ``findings`` give every reason
    the target is not met; they flag the batch only when the achievable dose is below the
    product's lower tolerance (``reaches_dose`` false) or the bags cannot be filled.
    """

    required: RequiredDose
    concentration_cells_per_ml: float
    available_volume_ml: float
    available_cells: float
    achievable_cells: float
    achievable_cells_per_kg: float
    cells: float
    volume_ml: float
    cells_per_kg: float
    bags: tuple[Bag, ...]
    reaches_dose: bool
    fillable: bool
    findings: tuple[Finding, ...]

    @property
    def within_tolerance(self) -> bool:
        """Below the target but not below the product's lower tolerance: meets the dose."""
        return self.reaches_dose and self.cells < self.required.target_cells

    @property
    def flagged(self) -> bool:
        """The batch cannot be filled to its dose as it stands."""
        return not (self.reaches_dose and self.fillable)

    def _summary_lines(self) -> list[str]:
        req = self.required
        lines = [
            f"Dose {req.level} for {req.weight_kg:g} kg: {req.target_cells:.4g} CAR+ viable T cells"
            + (f" (capped by {', '.join(req.capped_by)})" if req.capped_by else ""),
            f"Batch: {self.concentration_cells_per_ml:.4g} cells/mL, "
            f"{self.available_volume_ml:g} mL = {self.available_cells:.4g} cells",
            f"Fill: {self.volume_ml:.1f} mL in {len(self.bags)} bag(s), {self.cells:.4g} cells, "
            f"{self.cells_per_kg:.4g} cells/kg",
        ]
        lines += [
            f"  bag {b.number}: {b.volume_ml:.1f} mL, {b.cells:.4g} cells, "
            f"{b.cells_per_kg:.4g} cells/kg"
            for b in self.bags
        ]
        lines += [f"{f.flag}: {f.message}" for f in self.findings]
        if self.flagged:
            lines.append(
                f"FLAGGED: achievable dose {self.achievable_cells:.4g} cells = "
                f"{self.achievable_cells_per_kg:.4g} cells/kg"
            )
        elif self.within_tolerance:
            lines.append("Below the target, within the product's lower tolerance")
        return lines


def _bag_count(volume_ml: float, max_fill_ml: float) -> int:
    # round the quotient to 9 places first so 140.0000000001 / 70 is two bags, not three
    return max(1, math.ceil(round(volume_ml / max_fill_ml, 9)))


def plan_dose(
    level: DoseLevel,
    weight_kg: float,
    concentration_cells_per_ml: float,
    available_volume_ml: float,
    limits: ProductDoseLimits,
) -> DosePlan:
    """Volume, bags and per-kg dose of a batch at its measured concentration of CAR+ viable
    T cells, with every reason it cannot reach the dose and the dose it can reach.

    The volume is split evenly over the fewest bags that respect the maximum fill. Worked
    examples (tests): 7.25 × 10^7 cells at 2.5 × 10^6 /mL → 29.0 mL, one bag; a dose needing
    180 mL where 130 mL may be infused → flagged, achievable 130 mL × concentration.
    """
    if not (math.isfinite(concentration_cells_per_ml) and concentration_cells_per_ml > 0):
        raise InputError(
            "the concentration of CAR+ viable T cells must be more than 0 cells/mL",
            field="concentration",
        )
    if not (math.isfinite(available_volume_ml) and available_volume_ml > 0):
        raise InputError("the batch's volume must be more than 0 mL", field="available_volume_ml")
    req = required_dose(level, weight_kg, limits)
    conc = concentration_cells_per_ml
    available = conc * available_volume_ml
    needed_ml = req.target_cells / conc
    findings: list[Finding] = []
    if available < req.target_cells:
        findings.append(
            Finding(
                Flag.NOT_ENOUGH_CELLS,
                f"the batch holds {available:.4g} cells ({available_volume_ml:g} mL at "
                f"{conc:.4g} cells/mL); the dose needs {req.target_cells:.4g}",
            )
        )
    if limits.max_total_ml is not None and needed_ml > limits.max_total_ml:
        findings.append(
            Finding(
                Flag.VOLUME_OVER_MAXIMUM,
                f"the dose needs {needed_ml:.1f} mL; at most {limits.max_total_ml:g} mL may be "
                "infused",
            )
        )
    if limits.max_bags is not None and _bag_count(needed_ml, limits.max_fill_ml) > limits.max_bags:
        findings.append(
            Finding(
                Flag.TOO_MANY_BAGS,
                f"the dose needs {_bag_count(needed_ml, limits.max_fill_ml)} bags of at most "
                f"{limits.max_fill_ml:g} mL; at most {limits.max_bags} are allowed",
            )
        )
    achievable_ml = min(needed_ml, available_volume_ml, limits.max_volume_ml)
    achievable = achievable_ml * conc
    reaches = achievable >= req.minimum_cells
    n = _bag_count(achievable_ml, limits.max_fill_ml)
    per_bag_ml = achievable_ml / n
    fillable = per_bag_ml >= limits.min_fill_ml
    if not fillable:
        findings.append(
            Finding(
                Flag.BELOW_MINIMUM_FILL,
                f"{per_bag_ml:.1f} mL per bag is below the minimum fill of "
                f"{limits.min_fill_ml:g} mL: the product must be diluted before filling",
            )
        )
    bags = tuple(
        Bag(i, per_bag_ml, per_bag_ml * conc, per_bag_ml * conc / weight_kg)
        for i in range(1, n + 1)
    )
    return DosePlan(
        required=req,
        concentration_cells_per_ml=conc,
        available_volume_ml=available_volume_ml,
        available_cells=available,
        achievable_cells=achievable,
        achievable_cells_per_kg=achievable / weight_kg,
        cells=achievable,
        volume_ml=achievable_ml,
        cells_per_kg=achievable / weight_kg,
        bags=bags,
        reaches_dose=reaches,
        fillable=fillable,
        findings=tuple(findings),
    )


# --------------------------------------------------------------------------------------------
# 4. The exceptional-release decision (out-of-specification product, one patient)
# --------------------------------------------------------------------------------------------
#
#   role                 signs                                   required
#   -------------------  --------------------------------------  -------------------------------
#   treating physician   the written request for this patient    always, first
#   QA                   the release under exception             always, at or after the request
#   sponsor              agreement of the trial's sponsor        in a clinical trial, after it
#
# Nobody signs twice, nobody holds two roles, and no operator of the batch or analyst of any of
# its results signs at all (the people whose work is out of specification do not excuse it).
# Which system role a QA or sponsor signer holds (qa_approver, sponsor_clinical) is checked by
# the service that records the signature; this record only knows names and meanings.


class SignOffRole(enum.StrEnum):
    TREATING_PHYSICIAN = "treating physician"
    QA = "quality assurance"
    SPONSOR = "sponsor"


@dataclass(frozen=True)
class SignOff:
    role: SignOffRole
    signer: str
    signed_at: dt.datetime
    meaning: str


@dataclass(frozen=True)
class ExceptionalRelease:
    """The decision to release one out-of-specification batch to its own patient.

    ``nonconformities``: each result or dose that fails, as the release page states it;
    ``physician_request``: the reference of the treating physician's written request;
    ``no_alternative``: why no conforming product can be given instead (no re-manufacture in
    time, no apheresis material left, ...); ``risk_assessment``: the manufacturer's assessment
    the physician was given; ``authority_notification``: how and when the competent authority
    was told, or why the law does not require it for this case.
    """

    batch: str
    coi: str
    nonconformities: tuple[str, ...]
    physician_request: str
    no_alternative: str
    risk_assessment: str
    authority_notification: str
    in_clinical_trial: bool
    sign_offs: tuple[SignOff, ...]


@dataclass(frozen=True)
class BatchParties:
    """The batch the decision is for, its patient, and who worked on it."""

    batch: str
    coi: str
    operators: frozenset[str]
    analysts: frozenset[str]


def required_roles(in_clinical_trial: bool) -> tuple[SignOffRole, ...]:
    roles = (SignOffRole.TREATING_PHYSICIAN, SignOffRole.QA)
    return (*roles, SignOffRole.SPONSOR) if in_clinical_trial else roles


def missing_sign_offs(record: ExceptionalRelease) -> tuple[SignOffRole, ...]:
    """The roles still to sign, in the order they sign."""
    signed = {s.role for s in record.sign_offs}
    return tuple(r for r in required_roles(record.in_clinical_trial) if r not in signed)


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _check_text(record: ExceptionalRelease) -> None:
    for name in (
        "batch",
        "coi",
        "physician_request",
        "no_alternative",
        "risk_assessment",
        "authority_notification",
    ):
        if not str(getattr(record, name)).strip():
            raise InputError("must be filled in", field=name)
    if not record.nonconformities or not all(n.strip() for n in record.nonconformities):
        raise InputError("name each result or dose out of specification", field="nonconformities")


def _check_signers(sign_offs: Iterable[SignOff], parties: BatchParties) -> None:
    involved = {_key(n): "operator" for n in parties.operators}
    involved.update({_key(n): "analyst" for n in parties.analysts})
    roles_of: dict[str, SignOffRole] = {}
    seen: set[SignOffRole] = set()
    for s in sign_offs:
        field = f"sign_offs[{s.role}]"
        if not s.signer.strip() or not s.meaning.strip():
            raise InputError("a sign-off needs the signer and the meaning", field=field)
        if s.signed_at.tzinfo is None or s.signed_at.utcoffset() is None:
            raise InputError("the time of a sign-off must carry its time zone", field=field)
        if s.role in seen:
            raise RuleViolation(f"the {s.role} has already signed this exceptional release")
        seen.add(s.role)
        who = _key(s.signer)
        if who in involved:
            raise RuleViolation(
                f"{s.signer} cannot sign as {s.role}: they were an {involved[who]} of batch "
                f"{parties.batch}"
            )
        if who in roles_of:
            raise RuleViolation(
                f"{s.signer} already signed as {roles_of[who]} and cannot also sign as {s.role}"
            )
        roles_of[who] = s.role


def _check_order(record: ExceptionalRelease) -> None:
    by_role = {s.role: s for s in record.sign_offs}
    request = by_role.get(SignOffRole.TREATING_PHYSICIAN)
    for role in (SignOffRole.QA, SignOffRole.SPONSOR):
        s = by_role.get(role)
        if s is None:
            continue
        if request is None:
            raise RuleViolation(f"the {role} signs only after the treating physician's request")
        if s.signed_at < request.signed_at:
            raise RuleViolation(
                f"the {role} signed before the treating physician's request "
                f"({s.signed_at.isoformat()} < {request.signed_at.isoformat()})"
            )


def check_exceptional_release(
    record: ExceptionalRelease, parties: BatchParties, *, complete: bool = True
) -> None:
    """Refuse a decision that is incomplete, for another batch or patient, or wrongly signed.

    With ``complete=False`` a partly signed record (the physician's request alone, say) passes,
    so a service can check each signature as it is added; release needs ``complete=True``.
    """
    _check_text(record)
    if record.batch != parties.batch:
        raise RuleViolation(
            f"this exceptional release is for batch {record.batch}, not {parties.batch}"
        )
    if record.coi != parties.coi:
        raise RuleViolation(
            f"this exceptional release is for patient {record.coi}; batch {parties.batch} "
            f"belongs to {parties.coi}"
        )
    _check_signers(record.sign_offs, parties)
    if not record.in_clinical_trial and any(
        s.role is SignOffRole.SPONSOR for s in record.sign_offs
    ):
        raise RuleViolation("outside a clinical trial there is no sponsor to sign")
    _check_order(record)
    missing = missing_sign_offs(record)
    if complete and missing:
        raise RuleViolation(
            "the exceptional release still needs the sign-off of the "
            + ", ".join(str(r) for r in missing)
        )
