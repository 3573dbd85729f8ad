"""The executed batch record: one patient's batch made from one effective MBR version (pure rules).

The record is **event-sourced**: it is the MBR it was made from, its binding to the order (chain
of identity identifier and DIN) and an append-only tuple of events. Every function takes a record
and returns a *new* record with events appended; nothing is overwritten, and every state (the
current value of an entry, a step's status, the record's status) is derived from the events.
A correction is a new entry pointing at the one it corrects (STYLE 9; 21 CFR 11.10(e): changes
"shall not obscure previously recorded information"; EU GMP Annex 11 §9).

Rules (each raises :class:`ExecutionError`, a ``RuleViolation``, naming the step and entry):

- **Order.** Steps run in the MBR's order: a step starts once the previous one is signed off
  and, when the previous one has a QA hold, once QA has released it. A QA rejection stops the
  record. Times never go backwards and carry their time zone.
- **Suite.** A step runs in the suite planned for the record, or in another one with a reason.
- **Entries.** A typed value is converted to the MBR's unit (``units.py``) and classified by
  ``domain.check_value``: ``ok``, ``flag`` (outside the NOR) or ``deviation`` (outside the PAR);
  for a deviation the function returns a :class:`DeviationToOpen` that the service passes to
  ``deviations.record_deviation`` in the same unit of work. An entry is typed once; after that
  only a correction changes it.
- **Calculations** are done by the system as soon as their inputs (earlier entries, the scanned
  lot's functional titer, the order's weight and dose) are known, and again when an input is
  corrected; typing or correcting a calculated value is refused.
- **Corrections** need a reason (at least :data:`MIN_REASON` characters) and keep the original:
  the current value is the latest correction. A corrected entry must be verified again.
- **Second person.** Where the MBR asks for it (a parameter, a control, a material, a piece
  of equipment), another person than the one who entered must verify the current entry.
- **Materials.** A lot scanned for a step must be of a material the step uses and pass
  ``materials.check_lot_for_use`` (``LotRefused`` otherwise).
- **Equipment.** The instrument used for each piece of equipment the MBR lists for the step
  (its identifier and calibration due date) is recorded; a calibration due before the day of
  use (``domain.check_calibration``) is recorded, flagged and opens a deviation. Another
  instrument for the same equipment needs a reason and keeps the first.
- **Sign-off** needs every parameter and control of the step entered, every material scanned
  and the instrument of every piece of equipment recorded; it signs the SHA-256 of
  :func:`signoff_content` (canonical JSON). Nothing of a signed step changes afterwards; an
  entry left unverified is shown to QA (review by exception).
- **Complete** when every step is signed off and every hold released by QA.

Sections: errors and events · the record and what it derives · the actions · sign-off content ·
review by exception and trends · kinetics.

Pure: no database, web or template code (tests/unit/architecture/test_import_rules.py).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from vein2vein.core.canonical import sha256_hex
from vein2vein.core.errors import InputError, RuleViolation
from vein2vein.identity import isbt128
from vein2vein.manufacturing import domain, materials, units
from vein2vein.manufacturing.deviation_rules import Source
from vein2vein.manufacturing.domain import (
    Calculation,
    Control,
    Mbr,
    Operation,
    Parameter,
    Quantity,
    Verdict,
)
from vein2vein.stats import kinetics as stats_kinetics

MIN_REASON = 5  # a reason shorter than this says nothing
MAX_INSTRUMENT = 64  # an instrument's identifier (asset number) as scanned or typed
#: out-of-trend rule: at least this many earlier batches, and this many standard deviations
TREND_MIN_BATCHES = 5
TREND_SIGMAS = 3.0

# --- errors and events --------------------------------------------------------------------


class ExecutionError(RuleViolation):
    """A rule of the executed batch record refused the action; names the step (and entry)."""

    title = "Batch record rule"

    def __init__(self, step: str | None, message: str) -> None:
        self.step = step
        super().__init__(f"step {step}: {message}" if step else message)


class EntryError(ExecutionError):
    """An imported entry refused, naming the ``column`` of the import file that is wrong."""

    def __init__(self, step: str | None, column: str, message: str) -> None:
        self.column = column
        super().__init__(step, message)


class RecordStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"  # a step with a QA hold is signed off and QA has not decided
    STOPPED = "stopped"  # QA did not release a hold: the batch goes no further
    COMPLETE = "complete"


class StepStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    SIGNED_OFF = "signed_off"


@dataclass(frozen=True)
class Event:
    """Common to every event: its 1-based sequence number in the record, when and by whom."""

    seq: int
    at: dt.datetime
    by: str
    step: str


@dataclass(frozen=True)
class StepStarted(Event):
    suite: str
    suite_reason: str = ""


@dataclass(frozen=True)
class ValueEntered(Event):
    """A value of a parameter or control, in the MBR's unit (``value``/``unit``) and as typed
    (``typed``/``typed_unit``). ``corrects`` is the sequence number of the entry it replaces;
    a calculated entry has ``calculated`` true, ``by`` is the person whose action triggered it
    and ``inputs`` the ``(argument, source, value, unit)`` it was computed from."""

    entry: str
    value: float
    unit: str
    typed: float | None
    typed_unit: str | None
    verdict: Verdict
    message: str
    corrects: int | None = None
    reason: str = ""
    calculated: bool = False
    inputs: tuple[tuple[str, str, float, str], ...] = ()


@dataclass(frozen=True)
class LotScanned(Event):
    material: str
    lot_number: str
    titer_tu_per_ml: float | None = None


@dataclass(frozen=True)
class EquipmentUsed(Event):
    """The instrument used for ``equipment`` (the MBR's code) in the step: its identifier
    (asset number, scanned or typed) and calibration due date (None where the MBR asks for no
    calibration), with ``domain.check_calibration``'s verdict on the day of use (UTC) and its
    message. ``replaces`` is the number of the record of the same equipment it replaces
    (another instrument, or a mistyped one), with the ``reason``; both stay in the record."""

    equipment: str
    instrument: str
    calibration_due: dt.date | None
    verdict: Verdict
    message: str
    replaces: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class Verified(Event):
    """A second person's verification of entry, scan or equipment record number ``target``."""

    target: int


@dataclass(frozen=True)
class QaDecision(Event):
    released: bool
    reason: str


@dataclass(frozen=True)
class StepSignedOff(Event):
    content_hash: str


@dataclass(frozen=True)
class DeviationToOpen:
    """What the service passes to ``deviations.record_deviation`` (source ``process_limit``)."""

    step: str
    entry: str
    entry_seq: int
    title: str
    description: str
    source: Source = Source.PROCESS_LIMIT


# --- the record and what it derives -------------------------------------------------------


@dataclass(frozen=True)
class BatchRecord:
    """An executed batch record: its binding and its events (never changed, only extended)."""

    mbr: Mbr
    mbr_id: int
    mbr_version: int
    mbr_hash: str
    coi: str
    din: str
    planned_suite: str
    order_facts: tuple[tuple[str, float, str], ...] = ()  # (field, value, unit): weight, dose
    events: tuple[Event, ...] = field(default=())
    #: False for a process-development run (no order: ``coi`` and ``din`` are empty)
    gmp: bool = True

    # what the events say ------------------------------------------------------------------

    def of(self, kind: type[Any], step: str | None = None) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind) and step in (None, e.step)]

    def event(self, seq: int) -> Event:
        if not 1 <= seq <= len(self.events):
            raise ExecutionError(None, f"no entry number {seq}")
        return self.events[seq - 1]

    def current(self, step: str, entry: str) -> ValueEntered | None:
        """The latest value of ``step.entry`` (the last correction), or None."""
        found = [e for e in self.of(ValueEntered, step) if e.entry == entry]
        return found[-1] if found else None

    def history(self, step: str, entry: str) -> list[ValueEntered]:
        """Every value of ``step.entry``: the original first, then each correction."""
        return [e for e in self.of(ValueEntered, step) if e.entry == entry]

    def lot(self, step: str, material: str) -> LotScanned | None:
        found = [e for e in self.of(LotScanned, step) if e.material == material]
        return found[-1] if found else None

    def instrument(self, step: str, equipment: str) -> EquipmentUsed | None:
        """The instrument recorded now for ``equipment`` in ``step`` (the latest), or None."""
        found = [e for e in self.of(EquipmentUsed, step) if e.equipment == equipment]
        return found[-1] if found else None

    def step_status(self, step: str) -> StepStatus:
        if self.of(StepSignedOff, step):
            return StepStatus.SIGNED_OFF
        if self.of(StepStarted, step):
            return StepStatus.IN_PROGRESS
        return StepStatus.NOT_STARTED

    def decision(self, step: str) -> QaDecision | None:
        found = self.of(QaDecision, step)
        return found[-1] if found else None

    def verifications(self, seq: int) -> list[Verified]:
        return [e for e in self.of(Verified) if e.target == seq]

    @property
    def status(self) -> RecordStatus:
        for op in self.mbr.operations:
            decided = self.decision(op.code)
            if decided is not None and not decided.released:
                return RecordStatus.STOPPED
            if self.step_status(op.code) is not StepStatus.SIGNED_OFF:
                return RecordStatus.IN_PROGRESS
            if op.hold is not None and decided is None:
                return RecordStatus.ON_HOLD
        return RecordStatus.COMPLETE

    @property
    def complete(self) -> bool:
        return self.status is RecordStatus.COMPLETE

    def next_step(self) -> Operation | None:
        """The operation to work on now (None when complete or stopped)."""
        if self.status in (RecordStatus.COMPLETE, RecordStatus.STOPPED):
            return None
        return next(
            op
            for op in self.mbr.operations
            if self.step_status(op.code) is not StepStatus.SIGNED_OFF
            or (op.hold is not None and self.decision(op.code) is None)
        )


@dataclass(frozen=True)
class Outcome:
    """A record after an action: the new record, the event made (the entry, the lot scan, the
    step's start), what the system calculated because of it, and the deviations to open (one
    per value, typed or calculated, outside its PAR)."""

    record: BatchRecord
    event: Event
    calculated: tuple[ValueEntered, ...] = ()
    deviations: tuple[DeviationToOpen, ...] = ()


# --- the actions --------------------------------------------------------------------------


def create(
    mbr: Mbr,
    *,
    mbr_id: int,
    mbr_version: int,
    mbr_hash: str,
    coi: str,
    din: str,
    planned_suite: str,
    weight_kg: float | None = None,
    dose_per_kg: float | None = None,
) -> BatchRecord:
    """A new record bound to the order (its CoI identifier and the apheresis DIN, checked as
    ISBT 128) and to one MBR version; weight (kg) and dose (cells/kg) feed the calculations."""
    if not coi.strip():
        raise InputError("the record needs the order's chain-of-identity identifier", field="coi")
    if not planned_suite.strip():
        raise InputError("the record needs the suite the plan assigned", field="suite")
    if len(mbr_hash) != 64:
        raise InputError("the MBR content hash is a SHA-256 (64 hex digits)", field="mbr_hash")
    code = isbt128.parse_din(din).code
    facts = []
    for name, value in (("weight", weight_kg), ("dose_per_kg", dose_per_kg)):
        if value is not None:
            if not math.isfinite(value) or value <= 0:
                raise InputError(f"{name} must be a number above 0", field=name)
            facts.append((name, float(value), domain.ORDER_FIELDS[name]))
    return BatchRecord(
        mbr=mbr,
        mbr_id=mbr_id,
        mbr_version=mbr_version,
        mbr_hash=mbr_hash,
        coi=coi.strip(),
        din=code,
        planned_suite=planned_suite.strip(),
        order_facts=tuple(facts),
    )


def start_step(
    record: BatchRecord,
    step: str,
    *,
    by: str,
    at: dt.datetime,
    suite: str | None = None,
    reason: str = "",
) -> Outcome:
    """Start ``step``: the previous step signed off (and released by QA when it has a hold);
    in the planned suite, or another one with a reason. Calculations whose inputs are all known
    run at once (the dose calculation of formulation, from harvest's values)."""
    op = _operation(record, step)
    _check_time_and_person(record, step, by, at)
    if record.status is RecordStatus.STOPPED:
        raise ExecutionError(step, "the record is stopped: QA did not release a hold")
    if record.step_status(step) is not StepStatus.NOT_STARTED:
        raise ExecutionError(step, "is started already")
    index = record.mbr.operations.index(op)
    if index > 0:
        prev = record.mbr.operations[index - 1]
        if record.step_status(prev.code) is not StepStatus.SIGNED_OFF:
            raise ExecutionError(
                step, f"cannot start before the previous step {prev.code} is signed off"
            )
        if prev.hold is not None and record.decision(prev.code) is None:
            raise ExecutionError(
                step, f"waits for QA's decision on the hold of {prev.code}: {prev.hold.question}"
            )
    where = (suite or record.planned_suite).strip()
    why = reason.strip()
    if where != record.planned_suite and len(why) < MIN_REASON:
        raise ExecutionError(
            step,
            f"runs in suite {where}, not the planned {record.planned_suite}: give the reason "
            f"(at least {MIN_REASON} characters)",
        )
    started = StepStarted(
        _seq(record), at, by, step, where, why if where != record.planned_suite else ""
    )
    record = _append(record, started)
    record, calculated, deviations = _recalculate(record, by, at)
    return Outcome(record, started, calculated, deviations)


def enter_value(
    record: BatchRecord,
    step: str,
    entry: str,
    value: float,
    unit: str,
    *,
    by: str,
    at: dt.datetime,
) -> Outcome:
    """Enter the first value of a parameter or in-process control of the open ``step``."""
    item = _open_item(record, step, entry, by, at)
    if record.current(step, entry) is not None:
        raise ExecutionError(
            step, f"{entry} is entered already: correct it (with a reason) to change it"
        )
    return _record_value(record, step, item, value, unit, by=by, at=at)


def correct(
    record: BatchRecord,
    step: str,
    entry: str,
    value: float,
    unit: str,
    *,
    reason: str,
    by: str,
    at: dt.datetime,
) -> Outcome:
    """Correct the current value of ``step.entry``: a new entry with its reason that points at
    the one it corrects (both stay in the record); calculations using it run again."""
    item = _open_item(record, step, entry, by, at)
    before = record.current(step, entry)
    if before is None:
        raise ExecutionError(step, f"{entry} has no value to correct: enter it")
    if len(reason.strip()) < MIN_REASON:
        raise ExecutionError(
            step, f"a correction of {entry} needs a reason (at least {MIN_REASON} characters)"
        )
    return _record_value(
        record, step, item, value, unit, by=by, at=at, corrects=before.seq, reason=reason.strip()
    )


def scan_lot(
    record: BatchRecord,
    step: str,
    material: str,
    lot: materials.LotFacts,
    *,
    by: str,
    at: dt.datetime,
) -> Outcome:
    """Record the lot used for ``material`` in the open ``step`` once ``check_lot_for_use``
    accepts it (``LotRefused`` names lot, material and reason otherwise)."""
    op = _open_step(record, step, by, at)
    code = material.strip().upper()
    if code not in {m.upper() for m in op.materials}:
        used = ", ".join(op.materials) or "none"
        raise ExecutionError(step, f"does not use material {code} (it uses: {used})")
    materials.check_lot_for_use(lot, code, at)
    if record.lot(step, code) is not None:
        raise ExecutionError(step, f"a lot of {code} is scanned already")
    titer = float(lot.titer_tu_per_ml) if lot.titer_tu_per_ml is not None else None
    scanned = LotScanned(_seq(record), at, by, step, code, lot.lot_number, titer)
    record, calculated, deviations = _recalculate(_append(record, scanned), by, at)
    return Outcome(record, scanned, calculated, deviations)


def record_equipment(
    record: BatchRecord,
    step: str,
    equipment: str,
    instrument: str,
    calibration_due: dt.date | None,
    *,
    by: str,
    at: dt.datetime,
    reason: str = "",
) -> Outcome:
    """Record the instrument used for ``equipment`` (a code the open ``step``'s operation
    lists) with its calibration due date, required where the MBR calibrates the equipment.
    ``domain.check_calibration`` judges it on the day of use (UTC): a calibration due before
    that day is recorded, flagged ``deviation``, and the outcome carries the deviation to open
    (source ``equipment``). Another instrument for equipment recorded already (a replacement or
    a mistyped identifier) needs a reason and points at the record it replaces.

    The batch record identifies the major equipment used (21 CFR 211.188(b)(3)); instruments
    are calibrated at defined intervals (EU GMP Part I 3.41; 21 CFR 211.160(b)(4)), and one
    past its due date "shall not be used" (211.160(b)(4)): here it is recorded as used, since
    it was, and investigated as a deviation."""
    op = _open_step(record, step, by, at)
    code = next((c for c in op.equipment if c.casefold() == equipment.strip().casefold()), None)
    if code is None:
        used = ", ".join(op.equipment) or "none"
        raise ExecutionError(step, f"does not use equipment {equipment.strip()} (it uses: {used})")
    spec = _equipment_spec(record, code)
    ident = instrument.strip()
    if not ident or len(ident) > MAX_INSTRUMENT or not ident.isprintable():
        raise InputError(
            f"step {step}: {code}: give the instrument's identifier (its asset number, 1 to "
            f"{MAX_INSTRUMENT} printable characters)",
            field="instrument",
        )
    if spec.calibration and calibration_due is None:
        raise InputError(
            f"step {step}: {code}: {spec.name} is calibrated: give the instrument's calibration "
            "due date",
            field="calibration_due",
        )
    before = record.instrument(step, code)
    why = reason.strip()
    if before is not None:
        if (before.instrument, before.calibration_due) == (ident, calibration_due):
            raise ExecutionError(step, f"{code}: instrument {ident} is recorded already")
        if len(why) < MIN_REASON:
            raise InputError(
                f"step {step}: {code} is recorded already (instrument {before.instrument}, entry "
                f"{before.seq}): give the reason for recording another (at least {MIN_REASON} "
                "characters)",
                field="reason",
            )
    day = at.astimezone(dt.UTC).date()
    verdict = domain.check_calibration(spec, calibration_due, day)
    if not spec.calibration:
        message = "no calibration required"
    elif verdict is Verdict.DEVIATION:
        assert calibration_due is not None
        message = (
            f"calibration was due on {calibration_due.isoformat()}, before the day of use "
            f"{day.isoformat()}"
        )
    else:
        assert calibration_due is not None
        message = f"calibration due {calibration_due.isoformat()}"
    made = EquipmentUsed(
        _seq(record), at, by, step, code, ident, calibration_due, verdict, message,
        before.seq if before is not None else None, why if before is not None else "",
    )  # fmt: skip
    deviations: tuple[DeviationToOpen, ...] = ()
    if verdict is Verdict.DEVIATION:
        deviations = (
            DeviationToOpen(
                step=step,
                entry=code,
                entry_seq=made.seq,
                title=f"{step}: {spec.name} ({code}) used past its calibration due date",
                description=(
                    f"Step {step}, instrument {ident} of {spec.name} recorded by {by}: {message}."
                ),
                source=Source.EQUIPMENT,
            ),
        )
    return Outcome(_append(record, made), made, (), deviations)


def verify(record: BatchRecord, seq: int, *, by: str, at: dt.datetime) -> BatchRecord:
    """A second person verifies entry, scan or equipment record number ``seq`` of an open step:
    the MBR must ask for it, the entry must be the current one, and the verifier another
    person."""
    target = record.event(seq)
    if not isinstance(target, ValueEntered | LotScanned | EquipmentUsed):
        raise ExecutionError(target.step, f"entry {seq} is not a value, a lot scan or equipment")
    _open_step(record, target.step, by, at)
    name = _subject(target)
    if not needs_second_person(record, target):
        raise ExecutionError(target.step, f"{name} needs no second-person verification")
    if isinstance(target, ValueEntered | EquipmentUsed):
        latest = (
            record.current(target.step, target.entry)
            if isinstance(target, ValueEntered)
            else record.instrument(target.step, target.equipment)
        )
        if latest is not None and latest.seq != seq:
            raise ExecutionError(
                target.step, f"{name}: entry {seq} was corrected by entry {latest.seq}: verify that"
            )
    if by.strip().casefold() == target.by.strip().casefold():
        raise ExecutionError(
            target.step,
            f"{name}: the verifier must be another person than {target.by}, who entered it",
        )
    if record.verifications(seq):
        raise ExecutionError(target.step, f"{name}: entry {seq} is verified already")
    return _append(record, Verified(_seq(record), at, by, target.step, seq))


def sign_off(record: BatchRecord, step: str, *, by: str, at: dt.datetime) -> BatchRecord:
    """Sign the step off: every parameter and control entered, every material scanned, the
    instrument of every piece of equipment the operation lists recorded (an MES treats the
    MBR's equipment as the equipment used; equipment a step may do without is not listed). The
    signature is over the SHA-256 of :func:`signoff_content` (what the signer saw)."""
    op = _open_step(record, step, by, at)
    missing = [i.code for i in _items(op) if record.current(step, i.code) is None]
    missing += [f"lot of {m}" for m in op.materials if record.lot(step, m.upper()) is None]
    missing += [f"instrument of {q}" for q in op.equipment if record.instrument(step, q) is None]
    if missing:
        raise ExecutionError(step, f"cannot be signed off: missing {', '.join(missing)}")
    digest = sha256_hex(signoff_content(record, step))
    return _append(record, StepSignedOff(_seq(record), at, by, step, digest))


def decide_hold(
    record: BatchRecord,
    step: str,
    *,
    released: bool,
    reason: str,
    by: str,
    at: dt.datetime,
) -> BatchRecord:
    """QA's decision on the hold after ``step`` (signed off first): released, the next step may
    start; not released, the record stops. QA decides independently of production (EU GMP
    Part I 2.5, ICH Q7 2.13): the person who signed the step off cannot decide its hold."""
    op = _operation(record, step)
    _check_time_and_person(record, step, by, at)
    if op.hold is None:
        raise ExecutionError(step, "has no QA hold")
    if record.step_status(step) is not StepStatus.SIGNED_OFF:
        raise ExecutionError(step, "QA decides the hold once the step is signed off")
    if record.decision(step) is not None:
        raise ExecutionError(step, "QA has decided this hold already")
    signer = record.of(StepSignedOff, step)[-1].by
    if signer.strip().casefold() == by.strip().casefold():
        raise ExecutionError(step, f"{by} signed the step off and cannot decide its QA hold")
    if len(reason.strip()) < MIN_REASON:
        raise ExecutionError(
            step, f"state the QA decision's reason (at least {MIN_REASON} characters)"
        )
    return _append(record, QaDecision(_seq(record), at, by, step, released, reason.strip()))


# helpers of the actions -------------------------------------------------------------------


def _seq(record: BatchRecord) -> int:
    return len(record.events) + 1


def _append(record: BatchRecord, event: Event) -> BatchRecord:
    return replace(record, events=(*record.events, event))


def _operation(record: BatchRecord, step: str) -> Operation:
    for op in record.mbr.operations:
        if op.code == step:
            return op
    known = ", ".join(o.code for o in record.mbr.operations)
    raise ExecutionError(step, f"is not a step of this MBR (steps: {known})")


def _items(op: Operation) -> tuple[Parameter | Control, ...]:
    """The operation's parameters, then its controls."""
    return (*op.parameters, *op.controls)


def _check_time_and_person(record: BatchRecord, step: str, by: str, at: dt.datetime) -> None:
    if not by.strip():
        raise ExecutionError(step, "every entry names the person who made it")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ExecutionError(step, "the time of an entry needs its time zone")
    if record.events and at < record.events[-1].at:
        raise ExecutionError(
            step,
            f"time {at.isoformat()} is before the last entry ({record.events[-1].at.isoformat()})",
        )


def _open_step(record: BatchRecord, step: str, by: str, at: dt.datetime) -> Operation:
    op = _operation(record, step)
    _check_time_and_person(record, step, by, at)
    status = record.step_status(step)
    if status is StepStatus.NOT_STARTED:
        raise ExecutionError(step, "is not started")
    if status is StepStatus.SIGNED_OFF:
        raise ExecutionError(step, "is signed off: nothing in it can change")
    return op


def _open_item(
    record: BatchRecord, step: str, entry: str, by: str, at: dt.datetime
) -> Parameter | Control:
    op = _open_step(record, step, by, at)
    item = op.entry(entry)
    if item is None:
        known = ", ".join(i.code for i in _items(op))
        raise ExecutionError(step, f"has no parameter or control '{entry}' (it has: {known})")
    calc = record.mbr.calculated().get(f"{step}.{entry}")
    if calc is not None:
        raise ExecutionError(
            step,
            f"{entry} is calculated by the system ({calc.name}), never typed",
        )
    return item


def _equipment_spec(record: BatchRecord, code: str) -> domain.Equipment:
    found = next((e for e in record.mbr.equipment if e.code == code), None)
    assert found is not None  # domain.validate: an operation's equipment is listed at the top
    return found


def _subject(event: ValueEntered | LotScanned | EquipmentUsed) -> str:
    """The entry, material or equipment an event is about."""
    if isinstance(event, ValueEntered):
        return event.entry
    return event.material if isinstance(event, LotScanned) else event.equipment


def needs_second_person(
    record: BatchRecord, event: ValueEntered | LotScanned | EquipmentUsed
) -> bool:
    """Does the MBR ask a second person to verify this entry, lot scan or instrument?"""
    if isinstance(event, EquipmentUsed):
        return _equipment_spec(record, event.equipment).second_person
    if isinstance(event, LotScanned):
        material = record.mbr.material(event.material)
        return material is not None and material.second_person
    item = _operation(record, event.step).entry(event.entry)
    return item is not None and item.second_person


def _record_value(
    record: BatchRecord,
    step: str,
    item: Parameter | Control,
    value: float,
    unit: str,
    *,
    by: str,
    at: dt.datetime,
    corrects: int | None = None,
    reason: str = "",
) -> Outcome:
    if not math.isfinite(value):
        raise ExecutionError(step, f"{item.code}: not a number")
    try:
        check = domain.check_value(item, value, unit)
    except units.UnitError as exc:
        raise ExecutionError(step, f"{item.code}: {exc}") from None
    made = ValueEntered(
        _seq(record), at, by, step, item.code, check.value, check.unit,
        float(value), units.normalise(unit), check.verdict, check.message, corrects, reason,
    )  # fmt: skip
    record = _append(record, made)
    record, calculated, deviations = _recalculate(record, by, at)
    return Outcome(record, made, calculated, (*_deviation(made), *deviations))


def _deviation(entry: ValueEntered) -> tuple[DeviationToOpen, ...]:
    if entry.verdict is not Verdict.DEVIATION:
        return ()
    what = "calculated value" if entry.calculated else "value"
    return (
        DeviationToOpen(
            step=entry.step,
            entry=entry.entry,
            entry_seq=entry.seq,
            title=f"{entry.step}.{entry.entry} outside its proven acceptable range",
            description=f"Step {entry.step}, {what} entered by {entry.by}: {entry.message}.",
        ),
    )


def _inputs(record: BatchRecord, calc: Calculation) -> list[tuple[str, str, float, str]] | None:
    """The calculation's inputs as ``(argument, source, value, unit)``, None while one is
    unknown."""
    out = []
    facts = {name: (value, unit) for name, value, unit in record.order_facts}
    for arg, source in calc.inputs:
        if source.startswith("order:"):
            known = facts.get(source.removeprefix("order:"))
            if known is None:
                return None
            out.append((arg, source, *known))
        elif source.startswith("lot:"):
            material = source.removeprefix("lot:").split(".", 1)[0].upper()
            scans = [e for e in record.of(LotScanned) if e.material == material]
            if not scans or scans[-1].titer_tu_per_ml is None:
                return None
            out.append((arg, source, scans[-1].titer_tu_per_ml, "TU/mL"))
        else:
            step, entry = source.split(".", 1)
            current = record.current(step, entry)
            if current is None:
                return None
            out.append((arg, source, current.value, current.unit))
    return out


def _recalculate(
    record: BatchRecord, by: str, at: dt.datetime
) -> tuple[BatchRecord, tuple[ValueEntered, ...], tuple[DeviationToOpen, ...]]:
    """Run every calculation whose result lies in an open step and whose inputs are known, when
    it has no value yet or its inputs changed."""
    made: list[ValueEntered] = []
    deviations: list[DeviationToOpen] = []
    for calc in record.mbr.calculations:
        step, entry = calc.result.split(".", 1)
        if record.step_status(step) is not StepStatus.IN_PROGRESS:
            continue
        inputs = _inputs(record, calc)
        if inputs is None:
            continue
        before = record.current(step, entry)
        if before is not None and before.inputs == tuple(inputs):
            continue
        try:
            result = domain.calculate(
                calc.formula, {arg: Quantity(value, unit) for arg, _, value, unit in inputs}
            )
        except domain.CalculationError as exc:
            raise ExecutionError(step, f"{entry} cannot be calculated: {exc}") from None
        item = _operation(record, step).entry(entry)
        assert item is not None  # domain.validate checks a result names a parameter
        check = domain.check_value(item, result.value, result.unit)
        entered = ValueEntered(
            _seq(record), at, by, step, entry, check.value, check.unit, None, None,
            check.verdict, check.message,
            corrects=before.seq if before is not None else None,
            reason="recalculated: an input changed" if before is not None else "",
            calculated=True, inputs=tuple(inputs),
        )  # fmt: skip
        record = _append(record, entered)
        made.append(entered)
        deviations.extend(_deviation(entered))
    return record, tuple(made), tuple(deviations)


# --- process-development runs ------------------------------------------------------------
#
# A process-development (PD) run is the same record flagged non-GMP: no order, so no CoI
# identifier, DIN or order facts, and made from any MBR version whose content is signed (the
# service decides which). Its entries come from a file after the run (``pd_import``): each is
# checked against the MBR's limits exactly as a GMP entry and keeps its verdict, and
# calculations run as they do in a GMP record, but a value outside the PAR opens no deviation
# (the flag is shown in the review), and the GMP execution rules that need people at the time
# (step order after sign-off, QA holds, second-person verification, signed sign-off) do not
# apply: a PD run is never signed off, submitted, approved or released.


def create_pd(
    mbr: Mbr, *, mbr_id: int, mbr_version: int, mbr_hash: str, planned_suite: str
) -> BatchRecord:
    """A new process-development record of one MBR version (no order, CoI or DIN)."""
    if not planned_suite.strip():
        raise InputError("the record needs the suite or laboratory of the run", field="suite")
    if len(mbr_hash) != 64:
        raise InputError("the MBR content hash is a SHA-256 (64 hex digits)", field="mbr_hash")
    return BatchRecord(
        mbr=mbr,
        mbr_id=mbr_id,
        mbr_version=mbr_version,
        mbr_hash=mbr_hash,
        coi="",
        din="",
        planned_suite=planned_suite.strip(),
        gmp=False,
    )


def record_pd_entry(
    record: BatchRecord,
    step: str,
    entry: str,
    value: float,
    unit: str,
    *,
    by: str,
    at: dt.datetime,
    note: str = "",
) -> Outcome:
    """One imported value of a PD run: the step starts (in the run's suite) with its first
    entry; the first value of ``step.entry`` is entered, a later one corrects it and needs a
    ``note`` saying why (at least :data:`MIN_REASON` characters). Checked against the MBR's
    limits as a GMP entry (verdict kept); never a deviation to open. Each refusal is an
    :class:`EntryError` naming the file's column."""
    if record.gmp:
        raise ExecutionError(None, "only a process-development run takes imported entries")
    op = next((o for o in record.mbr.operations if o.code == step), None)
    if op is None:
        known = ", ".join(o.code for o in record.mbr.operations)
        raise EntryError(step, "step", f"is not a step of this MBR (steps: {known})")
    item = op.entry(entry)
    if item is None:
        known = ", ".join(i.code for i in _items(op))
        raise EntryError(step, "item", f"has no parameter or control '{entry}' (it has: {known})")
    calc = record.mbr.calculated().get(f"{step}.{entry}")
    if calc is not None:
        raise EntryError(step, "item", f"{entry} is calculated by the system ({calc.name})")
    if not by.strip():
        raise EntryError(step, "entered_by", "every entry names the person who made it")
    if at.tzinfo is None or at.utcoffset() is None:
        raise EntryError(step, "entered_at", "the time of an entry needs its time zone")
    if record.events and at < record.events[-1].at:
        raise EntryError(step, "entered_at", f"{at.isoformat()} is before the run's previous entry")
    if not math.isfinite(value):
        raise EntryError(step, "value", f"{entry}: not a number")
    try:
        units.convert(1.0, unit, item.unit)
    except units.UnitError as exc:
        raise EntryError(step, "unit", f"{entry}: {exc}") from None
    before = record.current(step, entry)
    note = note.strip()
    if before is not None and len(note) < MIN_REASON:
        raise EntryError(
            step,
            "note",
            f"{entry} has a value already (entry {before.seq}): a second value corrects it and "
            f"needs a note saying why (at least {MIN_REASON} characters)",
        )
    if record.step_status(step) is StepStatus.NOT_STARTED:
        record = _append(record, StepStarted(_seq(record), at, by, step, record.planned_suite))
    outcome = _record_value(
        record, step, item, value, unit, by=by, at=at,
        corrects=before.seq if before is not None else None, reason=note,
    )  # fmt: skip
    return replace(outcome, deviations=())


# --- sign-off content ---------------------------------------------------------------------


def signoff_content(record: BatchRecord, step: str) -> dict[str, Any]:
    """What a step's signature covers, as a plain dict to hash as canonical JSON: the record's
    binding (CoI, DIN, MBR id, version and content hash), the step, its suite, and every event
    of the step before the sign-off (entries with original and corrections, calculations with
    their inputs, lot scans, verifications), in order."""
    _operation(record, step)
    events = []
    for e in record.events:
        if e.step != step or isinstance(e, StepSignedOff | QaDecision):
            continue
        item: dict[str, Any] = {"seq": e.seq, "kind": type(e).__name__, "at": e.at, "by": e.by}
        item |= {k: v for k, v in vars(e).items() if k not in ("seq", "at", "by", "step")}
        events.append(item)
    started = record.of(StepStarted, step)
    return {
        "coi": record.coi,
        "din": record.din,
        "mbr_id": record.mbr_id,
        "mbr_version": record.mbr_version,
        "mbr_hash": record.mbr_hash,
        "step": step,
        "suite": started[0].suite if started else None,
        "events": events,
    }


def signature_intact(record: BatchRecord, step: str) -> bool:
    """Does the stored sign-off hash still match the step's content?"""
    signed = record.of(StepSignedOff, step)
    return bool(signed) and signed[-1].content_hash == sha256_hex(signoff_content(record, step))


# --- review by exception and trends -------------------------------------------------------


class ExceptionKind(StrEnum):
    DEVIATION = "deviation"
    CORRECTION = "correction"
    FLAGGED = "flagged"
    OUT_OF_TREND = "out_of_trend"
    SUITE_OVERRIDE = "suite_override"
    UNVERIFIED = "unverified"
    CALIBRATION_OVERDUE = "calibration_overdue"
    QA_HOLD_NOT_RELEASED = "qa_hold_not_released"
    HOLD_TOO_LONG = "hold_too_long"


@dataclass(frozen=True)
class ReviewItem:
    kind: ExceptionKind
    step: str
    subject: str  # the entry, material or equipment, or the suite
    seq: int
    message: str


@dataclass(frozen=True)
class Trend:
    """Earlier batches' values of one entry: mean, sample SD (n − 1) and the limits."""

    n: int
    mean: float
    sd: float

    @property
    def low(self) -> float:
        return self.mean - TREND_SIGMAS * self.sd

    @property
    def high(self) -> float:
        return self.mean + TREND_SIGMAS * self.sd


def trend(values: Sequence[float]) -> Trend | None:
    """The trend limits from earlier batches, or None with fewer than
    :data:`TREND_MIN_BATCHES` values (too few to judge)."""
    if len(values) < TREND_MIN_BATCHES:
        return None
    return Trend(len(values), statistics.fmean(values), statistics.stdev(values))


def earlier_values(record: BatchRecord, earlier: Iterable[BatchRecord]) -> dict[str, list[float]]:
    """``STEP.entry`` → the current values of the complete earlier records made from the same
    MBR version (in the MBR's unit), the basis of the out-of-trend rule."""
    out: dict[str, list[float]] = {}
    for other in earlier:
        if (other.mbr_id, other.mbr_version) != (record.mbr_id, record.mbr_version):
            continue
        if other is record or other.din == record.din or not other.complete:
            continue
        for op in other.mbr.operations:
            for item in _items(op):
                current = other.current(op.code, item.code)
                if current is not None:
                    out.setdefault(f"{op.code}.{item.code}", []).append(current.value)
    return out


def executed_by(record: BatchRecord) -> set[str]:
    """Who started, entered, corrected, scanned, verified or signed off anything in the record
    (QA's hold decisions are not execution). Such a person cannot be the record's QA approver:
    the review is by someone independent of the work (EU GMP Part I 1.9, 2.7; 21 CFR 211.192)."""
    return {e.by for e in record.events if not isinstance(e, QaDecision) and e.by}


def check_independent_approver(record: BatchRecord, approver: str) -> None:
    """Refuse a QA approver who took part in executing the batch."""
    if approver in executed_by(record):
        raise ExecutionError(
            None,
            f"{approver} executed or verified entries of this batch: its QA approval needs "
            "someone who took no part in the work",
        )


def review_by_exception(
    record: BatchRecord, earlier: Mapping[str, Sequence[float]] | None = None
) -> list[ReviewItem]:
    """What QA must look at, in record order: deviations, corrections, flagged values,
    out-of-trend values, suites other than planned, entries left unverified, instruments used
    past their calibration due date (or recorded in place of another), a hold not
    released or decided later than its ``max_hours`` after the step's sign-off. ``earlier``
    maps ``STEP.entry`` to earlier batches' values (:func:`earlier_values`).

    Out of trend: a current value outside mean ± 3 SD of at least five earlier batches of the
    same MBR version — Shewhart's 3-sigma limits for individual values (Montgomery, *Introduction
    to Statistical Quality Control*, 7th ed., §6.4), used for trending in continued process
    verification (PDA Technical Report 60, *Process Validation: A Lifecycle Approach*, 2013, §5;
    FDA *Process Validation: General Principles and Practices*, 2011, Stage 3; ICH Q7 §2.50
    product quality reviews). Sigma is estimated by the sample SD (n − 1) of the earlier batches,
    not by Montgomery's average moving range: the earlier batches are a reference set, not a
    time series of this batch. A value in trend may still be flagged by its NOR, and the reverse.
    """
    earlier = earlier or {}
    items: list[ReviewItem] = []
    for e in record.events:
        if isinstance(e, StepStarted) and e.suite != record.planned_suite:
            items.append(ReviewItem(
                ExceptionKind.SUITE_OVERRIDE, e.step, e.suite, e.seq,
                f"ran in {e.suite}, not the planned {record.planned_suite}: {e.suite_reason}",
            ))  # fmt: skip
        elif isinstance(e, ValueEntered):
            items.extend(_entry_exceptions(record, e, earlier))
        elif isinstance(e, LotScanned) and unverified(record, e):
            items.append(ReviewItem(
                ExceptionKind.UNVERIFIED, e.step, e.material, e.seq,
                f"lot {e.lot_number} of {e.material} was not verified by a second person",
            ))  # fmt: skip
        elif isinstance(e, EquipmentUsed):
            items.extend(_equipment_exceptions(record, e))
        elif isinstance(e, QaDecision) and not e.released:
            items.append(ReviewItem(
                ExceptionKind.QA_HOLD_NOT_RELEASED, e.step, "hold", e.seq,
                f"QA ({e.by}) did not release the hold: {e.reason}",
            ))  # fmt: skip
        if isinstance(e, QaDecision):
            items.extend(_hold_too_long(record, e))
    return items


def _hold_too_long(record: BatchRecord, decision: QaDecision) -> list[ReviewItem]:
    """A QA decision taken later after the step's sign-off than the hold's ``max_hours``."""
    hold = _operation(record, decision.step).hold
    if hold is None or hold.max_hours is None:
        return []
    signed = record.of(StepSignedOff, decision.step)[-1]
    hours = (decision.at - signed.at).total_seconds() / 3600
    if hours <= hold.max_hours:
        return []
    return [
        ReviewItem(
            ExceptionKind.HOLD_TOO_LONG, decision.step, "hold", decision.seq,
            f"QA decided {hours:.1f} h after sign-off; the MBR allows {hold.max_hours:g} h",
        )
    ]  # fmt: skip


def unverified(record: BatchRecord, e: ValueEntered | LotScanned | EquipmentUsed) -> bool:
    """A second person's verification is asked for and missing."""
    return needs_second_person(record, e) and not record.verifications(e.seq)


def _equipment_exceptions(record: BatchRecord, e: EquipmentUsed) -> list[ReviewItem]:
    """An instrument used past its calibration due date, one recorded in place of another,
    and the current one left unverified where the MBR asks for a second person."""
    items: list[ReviewItem] = []
    if e.verdict is Verdict.DEVIATION:
        items.append(ReviewItem(
            ExceptionKind.CALIBRATION_OVERDUE, e.step, e.equipment, e.seq,
            f"{e.equipment} instrument {e.instrument}: {e.message}",
        ))  # fmt: skip
    if e.replaces is not None:
        old = record.event(e.replaces)
        assert isinstance(old, EquipmentUsed)
        items.append(ReviewItem(
            ExceptionKind.CORRECTION, e.step, e.equipment, e.seq,
            f"{e.by} recorded instrument {e.instrument} of {e.equipment} in place of "
            f"{old.instrument} (entry {old.seq} by {old.by}): {e.reason}",
        ))  # fmt: skip
    latest = record.instrument(e.step, e.equipment)
    if latest is not None and latest.seq == e.seq and unverified(record, e):
        items.append(ReviewItem(
            ExceptionKind.UNVERIFIED, e.step, e.equipment, e.seq,
            f"instrument {e.instrument} of {e.equipment} was not verified by a second person",
        ))  # fmt: skip
    return items


def _entry_exceptions(
    record: BatchRecord, e: ValueEntered, earlier: Mapping[str, Sequence[float]]
) -> list[ReviewItem]:
    items: list[ReviewItem] = []
    name = f"{e.step}.{e.entry}"
    if e.verdict is Verdict.DEVIATION:
        items.append(ReviewItem(ExceptionKind.DEVIATION, e.step, e.entry, e.seq, e.message))
    elif e.verdict is Verdict.FLAG:
        items.append(ReviewItem(ExceptionKind.FLAGGED, e.step, e.entry, e.seq, e.message))
    if e.corrects is not None and not e.calculated:
        old = record.event(e.corrects)
        assert isinstance(old, ValueEntered)
        items.append(ReviewItem(
            ExceptionKind.CORRECTION, e.step, e.entry, e.seq,
            f"{e.by} corrected {old.value:g} to {e.value:g} {e.unit} "
            f"(entry {old.seq} by {old.by}): {e.reason}",
        ))  # fmt: skip
    latest = record.current(e.step, e.entry)
    if latest is None or latest.seq != e.seq:
        return items  # trend and verification concern the current value only
    limits = trend(earlier.get(name, ()))
    # on a limit counts as inside (as for the MBR's ranges): identical earlier values give
    # SD 0, and their mean may differ from each of them in the last bit
    if limits is not None and not domain.Limits(limits.low, limits.high).contains(e.value):
        items.append(ReviewItem(
            ExceptionKind.OUT_OF_TREND, e.step, e.entry, e.seq,
            f"{name} {e.value:g} {e.unit} is outside mean ± 3 SD of {limits.n} earlier batches "
            f"({limits.low:.4g} to {limits.high:.4g})",
        ))  # fmt: skip
    if unverified(record, e):
        items.append(ReviewItem(
            ExceptionKind.UNVERIFIED, e.step, e.entry, e.seq,
            f"{name} was not verified by a second person",
        ))  # fmt: skip
    return items


# --- kinetics -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordKinetics:
    """Fold expansion, population doublings and doubling time (days) from the record's counts."""

    points: tuple[str, ...]  # STEP.entry of each count
    days: tuple[float, ...]  # time of each count since the first (the original entry's time)
    cells: tuple[float, ...]  # viable cells
    fold_expansion: float
    doublings: float
    doubling_time_days: float | None
    step_fold_expansion: tuple[float, ...]


def viable_counts(mbr: Mbr) -> list[str]:
    """``STEP.entry`` of the viable cell counts of the culture: parameters and controls counted
    in cells whose name starts with "Viable", not calculated, in MBR order (in the EpCAM MBRs:
    seeded, at transduction, day 5, harvested)."""
    calculated = mbr.calculated()
    return [
        f"{op.code}.{item.code}"
        for op in mbr.operations
        for item in _items(op)
        if units.dimension(item.unit) == "cell count"
        and item.name.lower().startswith("viable")
        and f"{op.code}.{item.code}" not in calculated
    ]


def record_kinetics(record: BatchRecord, points: Sequence[str] | None = None) -> RecordKinetics:
    """Kinetics of the counts entered (current values, at the time of their first entry), by
    ``stats.kinetics.expansion_kinetics`` (full re-seed between counts: FE = N_last/N_first,
    PD = log₂ FE, DT = elapsed/PD). Needs at least two counts."""
    names = list(points) if points is not None else viable_counts(record.mbr)
    found: list[tuple[str, dt.datetime, float]] = []
    for name in names:
        step, entry = name.split(".", 1)
        history = record.history(step, entry)
        if history:
            cells = units.convert(history[-1].value, history[-1].unit, "cells")
            found.append((name, history[0].at, cells))
    if len(found) < 2:
        raise ExecutionError(None, "kinetics need at least two cell counts entered")
    start = found[0][1]
    days = [(at - start).total_seconds() / 86400 for _, at, _ in found]
    result = stats_kinetics.expansion_kinetics(days, [c for _, _, c in found])
    return RecordKinetics(
        points=tuple(n for n, _, _ in found),
        days=tuple(days),
        cells=tuple(c for _, _, c in found),
        fold_expansion=result.fold_expansion,
        doublings=result.doublings,
        doubling_time_days=result.doubling_time,
        step_fold_expansion=result.step_fold_expansion,
    )
