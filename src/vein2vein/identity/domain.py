"""Chain-of-custody rules: the order of custody steps, hand-off identity checks, cold-chain
excursions and the vein-to-vein timeline of an order (its delivery projection and risk are
``scheduling.projection``'s: one rule for every screen).

Plain dataclasses and functions: no database, web or clock. Callers pass ``now`` and the
recorded events; services wrap these rules in a unit of work and write the audit entries.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Final

from vein2vein.core.errors import InputError, RuleViolation
from vein2vein.identity import coi as coi_module
from vein2vein.identity.isbt128 import (
    DinStructure,
    ProductCodeStructure,
    check_din,
    parse_structures,
)

# --------------------------------------------------------------------------------------------
# Steps and their order
# --------------------------------------------------------------------------------------------


class Step(enum.StrEnum):
    """Custody steps of one autologous order, in the order they happen."""

    COLLECTED = "collected"
    PACKED = "packed"
    SHIPPED = "shipped"
    RECEIVED = "received"
    STORED = "stored"
    MANUFACTURING_STARTED = "manufacturing_started"
    RELEASED = "released"
    PRODUCT_PACKED = "product_packed"
    PRODUCT_SHIPPED = "product_shipped"
    PRODUCT_RECEIVED = "product_received"
    PRODUCT_STORED = "product_stored"
    ISSUED = "issued"
    THAWED = "thawed"
    INFUSED = "infused"

    @property
    def text(self) -> str:
        return STEP_TEXT[self]


STEP_TEXT: Final = MappingProxyType(
    {
        Step.COLLECTED: "apheresis collection at the treatment site",
        Step.PACKED: "packing of the starting material",
        Step.SHIPPED: "shipment of the starting material to the manufacturer",
        Step.RECEIVED: "receipt of the starting material at the manufacturer",
        Step.STORED: "storage of the starting material",
        Step.MANUFACTURING_STARTED: "start of manufacturing",
        Step.RELEASED: "release of the final product",
        Step.PRODUCT_PACKED: "packing of the final product",
        Step.PRODUCT_SHIPPED: "shipment of the final product to the treatment site",
        Step.PRODUCT_RECEIVED: "receipt of the final product at the treatment site",
        Step.PRODUCT_STORED: "storage of the final product at the treatment site",
        Step.ISSUED: "issue of the final product for infusion",
        Step.THAWED: "thaw of the final product",
        Step.INFUSED: "infusion",
    }
)

#: Steps that may be skipped: fresh starting material goes straight into manufacturing, and a
#: product may be issued from the shipper without being stored at the site.
OPTIONAL_STEPS: Final = frozenset({Step.STORED, Step.PRODUCT_STORED})
#: The path every order follows; optional steps may sit between its members.
MAIN_PATH: Final = tuple(s for s in Step if s not in OPTIONAL_STEPS)
#: Steps at which the product changes hands, so a scan must be checked against the order.
HANDOFF_STEPS: Final = frozenset(Step) - {Step.RELEASED}


def _next_steps(current: Step | None) -> tuple[Step, ...]:
    steps = list(Step)
    i = 0 if current is None else steps.index(current) + 1
    out: list[Step] = []
    while i < len(steps):
        out.append(steps[i])
        if steps[i] not in OPTIONAL_STEPS:
            break
        i += 1
    return tuple(out)


#: Allowed next steps after each step (None: nothing recorded yet). Derived once from the
#: order of :class:`Step` and :data:`OPTIONAL_STEPS`.
NEXT_STEPS: Final = MappingProxyType({s: _next_steps(s) for s in [None, *Step]})


def expected_next(history: Sequence[Step]) -> tuple[Step, ...]:
    """Steps that may be recorded next, given the steps recorded so far."""
    return NEXT_STEPS[history[-1] if history else None]


def _quoted(steps: Sequence[Step]) -> str:
    parts = [f"'{s.value}' ({s.text})" for s in steps]
    return " or ".join(parts)


class OutOfOrder(RuleViolation):
    """A custody step that may not follow the steps recorded so far."""

    def __init__(self, history: Sequence[Step], attempted: Step) -> None:
        self.current = history[-1] if history else None
        self.attempted = attempted
        self.expected = expected_next(history)
        super().__init__(self._message(history))

    def _message(self, history: Sequence[Step]) -> str:
        a = f"'{self.attempted.value}'"
        if self.current is Step.INFUSED:
            return (
                f"{a} cannot be recorded: the product was infused, which ends the chain of custody"
            )
        expected = _quoted(self.expected)
        if self.current is None:
            return (
                f"{a} cannot be recorded before the order has started: the first step is {expected}"
            )
        if self.attempted in history:
            return f"{a} is already recorded for this order; the next step is {expected}"
        return f"{a} cannot follow '{self.current.value}': the next step is {expected}"


def check_step_order(history: Sequence[Step], step: Step) -> None:
    """Refuse ``step`` unless it may follow ``history``; the error names the expected step."""
    if step not in expected_next(history):
        raise OutOfOrder(history, step)


# --------------------------------------------------------------------------------------------
# Custody events
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShipmentDetails:
    courier: str
    shipper_id: str
    logger_id: str


class Condition(enum.StrEnum):
    INTACT = "intact"
    DAMAGED = "damaged"
    SEAL_BROKEN = "seal_broken"


@dataclass(frozen=True, slots=True)
class ReceiptDetails:
    condition: Condition
    excursions: int = 0  # number of excursions beyond the shipper's limits (see check_temperatures)


@dataclass(frozen=True, slots=True)
class StorageDetails:
    location: str  # freezer / dewar
    position: str  # rack, box, slot


StepDetails = ShipmentDetails | ReceiptDetails | StorageDetails

DETAILS_REQUIRED: Final = MappingProxyType(
    {
        Step.SHIPPED: ShipmentDetails,
        Step.PRODUCT_SHIPPED: ShipmentDetails,
        Step.RECEIVED: ReceiptDetails,
        Step.PRODUCT_RECEIVED: ReceiptDetails,
        Step.STORED: StorageDetails,
        Step.PRODUCT_STORED: StorageDetails,
    }
)


@dataclass(frozen=True, slots=True)
class CustodyEvent:
    """One recorded step: what, when (with its time zone), who, where and the scanned label."""

    step: Step
    at: dt.datetime
    actor: str
    location: str
    scanned: str | None = None
    details: StepDetails | None = None


def check_event(history: Sequence[CustodyEvent], event: CustodyEvent) -> None:
    """All rules a new custody event must meet before it is recorded (identity aside)."""
    if event.at.tzinfo is None or event.at.utcoffset() is None:
        raise InputError("the event time needs its time zone", field="at")
    if not event.actor.strip() or not event.location.strip():
        raise InputError("who and where are required for every custody event", field="actor")
    check_step_order([e.step for e in history], event.step)
    if history and event.at < history[-1].at:
        raise RuleViolation(
            f"'{event.step.value}' at {event.at.isoformat()} is earlier than the previous step "
            f"'{history[-1].step.value}' at {history[-1].at.isoformat()}"
        )
    needed = DETAILS_REQUIRED.get(event.step)
    if needed is not None and not isinstance(event.details, needed):
        raise InputError(
            f"'{event.step.value}' needs {needed.__name__} "
            f"({', '.join(f.name for f in fields(needed))})",
            field="details",
        )
    if event.step in HANDOFF_STEPS and not (event.scanned or "").strip():
        raise InputError(f"'{event.step.value}' is a hand-off: scan the label", field="scanned")


# --------------------------------------------------------------------------------------------
# Hand-off identity check
# --------------------------------------------------------------------------------------------


class MismatchKind(enum.StrEnum):
    DIFFERENT = "different"  # scanned value differs from the expected one
    MISSING = "missing"  # expected identifier not scanned or entered
    INVALID_CHECK = "invalid_check"  # DIN flags or check character do not match the DIN
    TOO_FEW_IDENTIFIERS = (
        "too_few_identifiers"  # fewer independent identifiers verified than required
    )


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One reason to stop a hand-off. Patient identifiers never carry their values."""

    field: str  # "din", "coi", "product_code", "patient.<name>", "identifiers"
    kind: MismatchKind
    expected: str | None = None
    found: str | None = None

    @property
    def message(self) -> str:
        label = self.field.replace("patient.", "patient ").replace("_", " ")
        match self.kind:
            case MismatchKind.MISSING:
                return f"{label}: expected but not scanned"
            case MismatchKind.INVALID_CHECK:
                return f"{label}: check character does not match (misread or damaged label)"
            case MismatchKind.TOO_FEW_IDENTIFIERS:
                return f"only {self.found} of {self.expected} required identifiers verified"
        if self.expected is None:
            return f"{label}: does not match"
        return f"{label}: expected {self.expected}, scanned {self.found}"


@dataclass(frozen=True, slots=True)
class ExpectedIdentity:
    """What the order says the item in hand must be."""

    din: str | None = None  # 13-character DIN
    coi: str | None = None  # compact CoI identifier
    product_code: str | None = None  # αoooo, or αooootds to check collection type and division
    patient: Mapping[str, str] = field(default_factory=dict)  # e.g. subject_id, date_of_birth


@dataclass(frozen=True, slots=True)
class ScannedIdentity:
    """What was read from the label(s) and entered from the patient's own identifiers."""

    dins: frozenset[str] = frozenset()
    din_check_failed: bool = False
    coi: str | None = None
    product_codes: frozenset[str] = frozenset()  # αooootds
    patient: Mapping[str, str] = field(default_factory=dict)


def read_scans(
    texts: Iterable[str],
    *,
    patient: Mapping[str, str] | None = None,
    coi_format: coi_module.CoiFormat | None = None,
) -> ScannedIdentity:
    """Turn scanned barcode strings (and typed DINs) into a :class:`ScannedIdentity`.

    Each text is a scanned ISBT 128 string (one or more data structures, or a Data Matrix
    compound message) or a DIN typed from the label with its check character. A text that
    cannot be read raises InputError: the user re-scans; a read that disagrees is a mismatch.
    """
    fmt = coi_format or coi_module.get_format()
    dins: set[str] = set()
    products: set[str] = set()
    cois: set[str] = set()
    failed = False
    for text in texts:
        stripped = text.strip()
        if stripped[:1] not in {"=", "&", "]"}:
            typed = check_din(stripped)
            if typed.valid is None:
                raise InputError("a typed DIN needs its check character", field="scanned")
            failed |= typed.valid is False
            dins.add(typed.din)
            continue
        structures = parse_structures(stripped)
        for s in structures:
            if isinstance(s, DinStructure):
                dins.add(s.din.code)
                failed |= s.flags_valid is False
            elif isinstance(s, ProductCodeStructure):
                products.add(s.encode()[2:])
        found = fmt.from_structures(structures)
        if found is not None:
            cois.add(found)
    # Labels of two chains of identity at one hand-off are not a misread but a possible mix-up:
    # they are reported together, never equal the expected CoI, and so stop the hand-off.
    return ScannedIdentity(
        dins=frozenset(dins),
        din_check_failed=failed,
        coi=", ".join(sorted(cois)) if cois else None,
        product_codes=frozenset(products),
        patient=dict(patient or {}),
    )


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def check_handoff(
    expected: ExpectedIdentity, scanned: ScannedIdentity, *, minimum_identifiers: int = 2
) -> list[Mismatch]:
    """Compare what was scanned with what the order expects; an empty list lets the hand-off go on.

    DIN, CoI identifier and each patient identifier count as independent identifiers; at least
    ``minimum_identifiers`` of them must be expected, present and equal. The product code must
    match when expected but is not an identifier of the patient. Values of patient identifiers
    are never copied into a mismatch.
    """
    out: list[Mismatch] = []
    verified = 0
    if expected.din is not None:
        if scanned.din_check_failed:
            out.append(Mismatch("din", MismatchKind.INVALID_CHECK))
        elif not scanned.dins:
            out.append(Mismatch("din", MismatchKind.MISSING, expected.din))
        elif scanned.dins != {expected.din}:
            found = ", ".join(sorted(scanned.dins))
            out.append(Mismatch("din", MismatchKind.DIFFERENT, expected.din, found))
        else:
            verified += 1
    if expected.coi is not None:
        if scanned.coi is None:
            out.append(Mismatch("coi", MismatchKind.MISSING, expected.coi))
        elif scanned.coi != expected.coi:
            out.append(Mismatch("coi", MismatchKind.DIFFERENT, expected.coi, scanned.coi))
        else:
            verified += 1
    if expected.product_code is not None:
        n = len(expected.product_code)
        found_codes = {code[:n] for code in scanned.product_codes}
        if not found_codes:
            out.append(Mismatch("product_code", MismatchKind.MISSING, expected.product_code))
        elif found_codes != {expected.product_code}:
            found = ", ".join(sorted(found_codes))
            out.append(
                Mismatch("product_code", MismatchKind.DIFFERENT, expected.product_code, found)
            )
    for name, value in expected.patient.items():
        given = scanned.patient.get(name)
        if given is None or not given.strip():
            out.append(Mismatch(f"patient.{name}", MismatchKind.MISSING))
        elif not _same_text(given, value):
            out.append(Mismatch(f"patient.{name}", MismatchKind.DIFFERENT))
        else:
            verified += 1
    if verified < minimum_identifiers:
        out.append(
            Mismatch(
                "identifiers",
                MismatchKind.TOO_FEW_IDENTIFIERS,
                str(minimum_identifiers),
                str(verified),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Cold chain
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShipperLimits:
    """A shipper's validated limits: temperature range, tolerated excursion, logger interval."""

    min_c: float | None = None
    max_c: float | None = None
    allowed_excursion: dt.timedelta = dt.timedelta(0)
    max_gap: dt.timedelta | None = None  # longest accepted interval between two logger readings

    def __post_init__(self) -> None:
        if self.min_c is None and self.max_c is None:
            raise InputError("a shipper needs at least one temperature limit", field="limits")
        if self.min_c is not None and self.max_c is not None and self.min_c > self.max_c:
            raise InputError("the lower temperature limit is above the upper one", field="limits")

    def within(self, celsius: float) -> bool:
        return (self.min_c is None or celsius >= self.min_c) and (
            self.max_c is None or celsius <= self.max_c
        )


@dataclass(frozen=True, slots=True)
class Reading:
    at: dt.datetime
    celsius: float


@dataclass(frozen=True, slots=True)
class Excursion:
    """Readings outside the limits, from the first one out to the first one back in range
    (or the last reading when the excursion had not ended)."""

    start: dt.datetime
    end: dt.datetime
    lowest_c: float
    highest_c: float
    ongoing: bool
    breach: bool  # longer than the shipper's tolerated excursion

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class TemperatureCheck:
    excursions: tuple[Excursion, ...]
    gaps: tuple[tuple[dt.datetime, dt.datetime], ...]  # logger intervals longer than max_gap

    @property
    def breaches(self) -> tuple[Excursion, ...]:
        return tuple(e for e in self.excursions if e.breach)

    @property
    def acceptable(self) -> bool:
        return not self.breaches and not self.gaps

    def summary(self) -> str:
        lines = [f"{len(self.excursions)} excursion(s), {len(self.breaches)} beyond tolerance"]
        for e in self.excursions:
            state = "BREACH" if e.breach else "tolerated"
            lines.append(
                f"  {e.start.isoformat(timespec='minutes')} for {e.duration} "
                f"({e.lowest_c:g} to {e.highest_c:g} °C){' ongoing' if e.ongoing else ''}: {state}"
            )
        lines += [f"  logger gap {a.isoformat()} to {b.isoformat()}" for a, b in self.gaps]
        return "\n".join(lines)


def check_temperatures(readings: Iterable[Reading], limits: ShipperLimits) -> TemperatureCheck:
    """Excursions of a temperature-logger trace against a shipper's validated limits."""
    trace = sorted(readings, key=lambda r: r.at)
    if not trace:
        raise InputError("the temperature logger has no readings", field="readings")
    if any(r.at.tzinfo is None for r in trace):
        raise InputError("logger times need their time zone", field="readings")
    excursions: list[Excursion] = []
    run: list[Reading] = []

    def close(end: dt.datetime, ongoing: bool) -> None:
        temps = [r.celsius for r in run]
        duration = end - run[0].at
        excursions.append(
            Excursion(
                run[0].at, end, min(temps), max(temps), ongoing, duration > limits.allowed_excursion
            )
        )
        run.clear()

    for reading in trace:
        if limits.within(reading.celsius):
            if run:
                close(reading.at, ongoing=False)
        else:
            run.append(reading)
    if run:
        close(trace[-1].at, ongoing=True)
    gaps: tuple[tuple[dt.datetime, dt.datetime], ...] = ()
    if limits.max_gap is not None:
        max_gap = limits.max_gap
        gaps = tuple((a.at, b.at) for a, b in itertools.pairwise(trace) if b.at - a.at > max_gap)
    return TemperatureCheck(tuple(excursions), gaps)


# --------------------------------------------------------------------------------------------
# Progress, timeline and risk
# --------------------------------------------------------------------------------------------


def _first_times(events: Iterable[CustodyEvent]) -> dict[Step, dt.datetime]:
    times: dict[Step, dt.datetime] = {}
    for e in sorted(events, key=lambda e: e.at):
        times.setdefault(e.step, e.at)
    return times


@dataclass(frozen=True, slots=True)
class Progress:
    current: Step | None
    since: dt.datetime | None
    next_steps: tuple[Step, ...]

    @property
    def complete(self) -> bool:
        return self.current is Step.INFUSED


def progress(events: Sequence[CustodyEvent]) -> Progress:
    """Where an order stands: its last recorded step and what may come next."""
    if not events:
        return Progress(None, None, NEXT_STEPS[None])
    last = max(events, key=lambda e: (e.at, list(Step).index(e.step)))
    return Progress(last.step, last.at, NEXT_STEPS[last.step])


#: The milestones of the vein-to-vein timeline, with their labels.
TIMELINE_MILESTONES: Final = (
    (Step.COLLECTED, "Apheresis"),
    (Step.RECEIVED, "Receipt at manufacturer"),
    (Step.MANUFACTURING_STARTED, "Start of manufacturing"),
    (Step.RELEASED, "Release"),
    (Step.PRODUCT_SHIPPED, "Shipment to site"),
    (Step.INFUSED, "Infusion"),
)


@dataclass(frozen=True, slots=True)
class Milestone:
    step: Step
    label: str
    at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Interval:
    start: Step
    end: Step
    duration: dt.timedelta

    @property
    def days(self) -> float:
        return self.duration / dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Timeline:
    milestones: tuple[Milestone, ...]
    intervals: tuple[Interval, ...]  # between consecutive milestones that both happened
    vein_to_vein: dt.timedelta | None  # apheresis to infusion, once infused
    elapsed: dt.timedelta | None  # apheresis to ``now`` while not infused

    @property
    def vein_to_vein_days(self) -> float | None:
        return None if self.vein_to_vein is None else self.vein_to_vein / dt.timedelta(days=1)

    def summary(self) -> str:
        """One line per milestone with the days since the previous one, then the total."""
        gaps = {i.end: i.days for i in self.intervals}
        lines = []
        for m in self.milestones:
            when = m.at.isoformat(timespec="minutes") if m.at else "-"
            gap = f"+{gaps[m.step]:.1f} d" if m.step in gaps else ""
            lines.append(f"{m.label:<24} {when:<25} {gap}".rstrip())
        if self.vein_to_vein_days is not None:
            lines.append(f"Vein-to-vein: {self.vein_to_vein_days:.1f} days")
        elif self.elapsed is not None:
            lines.append(f"Elapsed since apheresis: {self.elapsed / dt.timedelta(days=1):.1f} days")
        return "\n".join(lines)


def vein_to_vein_timeline(
    events: Iterable[CustodyEvent], now: dt.datetime | None = None
) -> Timeline:
    """Vein-to-vein timeline of one order: apheresis → receipt → start of manufacturing →
    release → shipment → infusion, with the time between the milestones that happened."""
    times = _first_times(events)
    milestones = tuple(Milestone(s, label, times.get(s)) for s, label in TIMELINE_MILESTONES)
    happened = [m for m in milestones if m.at is not None]
    intervals = tuple(
        Interval(a.step, b.step, b.at - a.at)  # type: ignore[operator]
        for a, b in itertools.pairwise(happened)
    )
    start, end = times.get(Step.COLLECTED), times.get(Step.INFUSED)
    v2v = end - start if start and end else None
    elapsed = now - start if start and now and not end else None
    return Timeline(milestones, intervals, v2v, elapsed)
