"""What a user enters for the chain of identity, parsed into clean values: the requests of the
use cases (an order, a custody step) and the parsers of typed input (time zones, local times,
dates, subject ids, personal data, weights, infectious-disease markers, custody steps and their
details, logger temperatures).

Nothing here reads the store: anything that is not what it claims to be raises
:class:`InputError` naming the field, and a parser never echoes a value that may be personal
data (a date of birth, initials). The use cases (``orders``, ``custody``) call these between
loading their rows and writing the change.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vein2vein.core.clock import utcnow
from vein2vein.core.dates import bounded_date
from vein2vein.core.errors import InputError
from vein2vein.core.text import clean_text
from vein2vein.identity import domain, isbt128
from vein2vein.identity.domain import Step
from vein2vein.identity.tables import MARKERS

MARKER_VALUES: Final = ("negative", "positive")
STARTING_MATERIAL: Final = ("fresh", "cryopreserved")
#: a patient's plausible weight, in kg (neonates to the heaviest adults)
WEIGHT_KG_MIN: Final = Decimal("0.5")
WEIGHT_KG_MAX: Final = Decimal("400")
#: final-product bags of one order: one first-level division letter per bag, A to Z
MAX_BAGS: Final = 26
#: temperature excursions counted by hand on receipt (a logger's trace is checked instead)
MAX_EXCURSIONS: Final = 1000
_SUBJECT_ID = re.compile(r"[A-Z0-9][A-Z0-9._/-]{0,63}")
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")


# --------------------------------------------------------------------------------------------
# requests of the use cases
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRequest:
    patient_id: int
    product_code: str
    dose_level: str
    weight_kg: Decimal | float | str
    planned_apheresis: dt.date | str
    required_by: dt.date | str
    starting_material: str
    markers: Mapping[str, str]
    product_name: str = ""
    time_zone: str = "UTC"
    facility_fin: str | None = None


@dataclass(frozen=True)
class EventRequest:
    """A custody step as entered: ``occurred_at`` must be aware (or read in ``time_zone``)."""

    step: str
    occurred_at: dt.datetime | str
    location: str
    time_zone: str = "UTC"
    scans: Sequence[str] = ()
    patient_identifiers: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    performed_by: str | None = None
    #: the GMP suite of a step that happens in one (``custody.SUITE_STEPS``); empty: the
    #: batch's current suite
    suite: str | None = None


# --------------------------------------------------------------------------------------------
# times, zones and dates
# --------------------------------------------------------------------------------------------


def time_zone(name: str, field_name: str = "time_zone") -> dt.tzinfo:
    """An IANA time zone (``Europe/Amsterdam``) or a fixed offset (``+02:00``)."""
    text = (name or "").strip()
    m = _OFFSET.fullmatch(text)
    if m and int(m[2]) < 24 and int(m[3]) < 60:
        minutes = int(m[2]) * 60 + int(m[3])
        sign = -1 if m[1] == "-" else 1
        return dt.timezone(sign * dt.timedelta(minutes=minutes))
    try:
        if m or len(text) > 64:
            raise ValueError(text)
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InputError(
            "give an IANA time zone such as Europe/Amsterdam, or an offset such as +02:00",
            field=field_name,
        ) from None


def local_time(when: str | dt.datetime, zone: str) -> dt.datetime:
    """An aware time from an ISO text or datetime; a naive one is read in ``zone``."""
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when.strip())
        except ValueError:
            raise InputError(
                "give the time as ISO 8601, e.g. 2026-03-02T09:30", field="occurred_at"
            ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=time_zone(zone))
    return when


def parse_date(value: dt.date | str, field_name: str) -> dt.date:
    """A date given as a date or ``YYYY-MM-DD``; the value is never echoed (it may be a date of
    birth)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError("give a date as YYYY-MM-DD", field=field_name) from None


# --------------------------------------------------------------------------------------------
# enrolment
# --------------------------------------------------------------------------------------------


def subject_id(text: str) -> str:
    """The sponsor's subject id, upper case (letters, digits and ``. _ / -``; never a name)."""
    value = (text or "").strip().upper()
    if not _SUBJECT_ID.fullmatch(value):
        raise InputError(
            "a subject id is 1-64 letters, digits and . _ / - (no names)", field="subject_id"
        )
    return value


def date_of_birth(value: dt.date | str | None) -> dt.date | None:
    """A past date of birth, or None when not given (personal data: never echoed)."""
    if value in (None, ""):
        return None
    dob = parse_date(value, "date_of_birth")  # type: ignore[arg-type]
    if not (dt.date(1900, 1, 1) <= dob <= utcnow().date()):
        raise InputError("the date of birth must be a past date", field="date_of_birth")
    return dob


def initials(text: str | None) -> str | None:
    """One to four letters, or None when not given (personal data: never echoed)."""
    value = (text or "").strip().upper() or None
    if value is not None and not re.fullmatch(r"[A-Z]{1,4}", value):
        raise InputError("initials are 1-4 letters", field="initials")
    return value


# --------------------------------------------------------------------------------------------
# orders
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderTerms:
    """An order's terms once read: everything but the patient and the facility."""

    product: isbt128.ProductCodeStructure
    product_name: str
    dose_level: str
    weight_kg: Decimal
    planned_apheresis: dt.date
    required_by: dt.date
    starting_material: str
    markers: dict[str, str]
    time_zone: str

    @property
    def segregated(self) -> bool:
        """Any positive infectious-disease marker sends the batch to a segregated suite."""
        return "positive" in self.markers.values()


def weight_kg(value: Decimal | float | str) -> Decimal:
    """The patient's weight in kg, rounded to 0.01 kg, within :data:`WEIGHT_KG_MIN` and
    :data:`WEIGHT_KG_MAX`."""
    try:
        weight = Decimal(str(value).strip())
        if not weight.is_finite():
            raise InvalidOperation
        weight = weight.quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise InputError("give the weight in kg as a number", field="weight_kg") from None
    if not WEIGHT_KG_MIN <= weight <= WEIGHT_KG_MAX:
        raise InputError(
            f"the weight must be between {WEIGHT_KG_MIN} and {WEIGHT_KG_MAX:.0f} kg",
            field="weight_kg",
        )
    return weight


def markers(raw: Mapping[str, str]) -> dict[str, str]:
    """The five infectious-disease results, each ``negative`` or ``positive``."""
    out: dict[str, str] = {}
    for marker in MARKERS:
        value = str(raw.get(marker, "")).strip().lower()
        if value not in MARKER_VALUES:
            raise InputError(
                f"the {marker.upper()} result is required: negative or positive",
                field=f"markers.{marker}",
            )
        out[marker] = value
    return out


def order_terms(req: OrderRequest) -> OrderTerms:
    """Read an order's terms, checking them in the order the form shows them."""
    product = isbt128.autologous_product_code(req.product_code)
    weight = weight_kg(req.weight_kg)
    if not req.dose_level.strip():
        raise InputError("a dose level is required", field="dose_level")
    planned = bounded_date(
        parse_date(req.planned_apheresis, "planned_apheresis"), "planned_apheresis"
    )
    required = bounded_date(parse_date(req.required_by, "required_by"), "required_by")
    if required <= planned:
        raise InputError("the required-by date must come after the apheresis", field="required_by")
    material = req.starting_material.strip().lower()
    if material not in STARTING_MATERIAL:
        raise InputError("starting material is fresh or cryopreserved", field="starting_material")
    results = markers(req.markers)
    time_zone(req.time_zone)
    return OrderTerms(
        product=product,
        product_name=clean_text(req.product_name, "product_name", 200),
        dose_level=clean_text(req.dose_level, "dose_level", 40),
        weight_kg=weight,
        planned_apheresis=planned,
        required_by=required,
        starting_material=material,
        markers=results,
        time_zone=req.time_zone.strip(),
    )


def bag_count(bags: int) -> int:
    if not 1 <= bags <= MAX_BAGS:
        raise InputError(f"a product has 1 to {MAX_BAGS} bags", field="bags")
    return bags


# --------------------------------------------------------------------------------------------
# custody steps
# --------------------------------------------------------------------------------------------


def parse_step(value: str) -> Step:
    try:
        return Step(value.strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in Step)
        raise InputError(f"unknown custody step; known steps: {known}", field="step") from None


def step_details(step: Step, raw: Mapping[str, Any]) -> tuple[domain.StepDetails | None, dict]:
    """Domain details of a step and what is stored (temperature check summarised)."""
    kind = domain.DETAILS_REQUIRED.get(step)

    def text(name: str) -> str:
        value = str(raw.get(name) or "").strip()
        if not value:
            raise InputError(f"'{step.value}' needs {name.replace('_', ' ')}", field=name)
        return value

    if kind is domain.ShipmentDetails:
        d = domain.ShipmentDetails(text("courier"), text("shipper_id"), text("logger_id"))
        return d, {"courier": d.courier, "shipper_id": d.shipper_id, "logger_id": d.logger_id}
    if kind is domain.StorageDetails:
        d2 = domain.StorageDetails(text("storage_location"), text("position"))
        return d2, {"storage_location": d2.location, "position": d2.position}
    if kind is domain.ReceiptDetails:
        return _receipt(raw)
    if step is Step.MANUFACTURING_STARTED:
        return None, {"batch_number": text("batch_number")}
    return None, {}


def _receipt(raw: Mapping[str, Any]) -> tuple[domain.ReceiptDetails, dict]:
    try:
        condition = domain.Condition(str(raw.get("condition") or "").strip().lower())
    except ValueError:
        raise InputError(
            "the condition on receipt is intact, damaged or seal_broken", field="condition"
        ) from None
    stored: dict[str, Any] = {"condition": condition.value}
    temperature = raw.get("temperature")
    if temperature:
        check = temperature_check(temperature)
        excursions = len(check.excursions)
        stored |= {
            "excursions": excursions,
            "breaches": len(check.breaches),
            "gaps": len(check.gaps),
            "acceptable": check.acceptable,
            "temperature_summary": check.summary(),
        }
    else:
        excursions = excursion_count(raw.get("excursions"))
        stored["excursions"] = excursions
    return domain.ReceiptDetails(condition, excursions), stored


def excursion_count(value: Any) -> int:
    """Excursions counted on receipt: a whole number from 0 (ASCII digits when typed)."""
    if value is None or value == "":
        return 0
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and re.fullmatch(r"[+-]?[0-9]{1,9}", text)):
            raise InputError("excursions is a whole number", field="excursions")
        value = int(text)
    try:
        count = int(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError("excursions is a whole number", field="excursions") from None
    if count < 0:
        raise InputError("excursions cannot be negative", field="excursions")
    if count > MAX_EXCURSIONS:
        raise InputError(f"excursions: at most {MAX_EXCURSIONS}", field="excursions")
    return count


def _finite(value: Any, lo: float, hi: float) -> float:
    """A finite number within [lo, hi] (NaN, infinities and absurd magnitudes are refused)."""
    x = float(value)
    if not math.isfinite(x) or not lo <= x <= hi:
        raise ValueError(value)
    return x


def _aware(value: Any) -> dt.datetime:
    when = dt.datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError(value)  # logger readings carry their offset
    return when


def temperature_check(raw: Mapping[str, Any]) -> domain.TemperatureCheck:
    """A shipper's logger trace and limits, checked for excursions, breaches and gaps."""
    minutes = 60 * 24 * 60  # at most 60 days
    try:
        limits = domain.ShipperLimits(
            min_c=None if raw.get("min_c") is None else _finite(raw["min_c"], -273.15, 200),
            max_c=None if raw.get("max_c") is None else _finite(raw["max_c"], -273.15, 200),
            allowed_excursion=dt.timedelta(
                minutes=_finite(raw.get("allowed_excursion_minutes", 0), 0, minutes)
            ),
            max_gap=(
                None
                if raw.get("max_gap_minutes") is None
                else dt.timedelta(minutes=_finite(raw["max_gap_minutes"], 0, minutes))
            ),
        )
        readings = [
            domain.Reading(_aware(r["at"]), _finite(r["celsius"], -273.15, 200))
            for r in raw.get("readings", [])
        ]
    except (KeyError, TypeError, ValueError, OverflowError):
        raise InputError(
            "temperature: give min_c/max_c (°C), allowed_excursion_minutes (0 to 60 days) and "
            "readings [{at, celsius}] with ISO 8601 times carrying their UTC offset",
            field="temperature",
        ) from None
    return domain.check_temperatures(readings, limits)


def given_patient(raw: Mapping[str, str]) -> dict[str, str]:
    """The patient identifiers typed at the bedside (from the wristband), normalised."""
    out = {k: str(v).strip() for k, v in raw.items() if v is not None and str(v).strip()}
    if "date_of_birth" in out:
        out["date_of_birth"] = parse_date(out["date_of_birth"], "date_of_birth").isoformat()
    if "subject_id" in out:
        out["subject_id"] = out["subject_id"].upper()
    return out
