"""The executed batch record's rules, walked through the demo EpCAM v1 MBR with worked numbers.

Reference values are computed by hand in the comments: the vector volume V = MOI × cells /
titer (Kutner et al., Nat Protoc 4:495, 2009), the 3-sigma trend limits (Montgomery, Introduction
to Statistical Quality Control, §6.4), and the kinetics FE = N_t/N_0, PD = log2 FE, DT = Δt/PD
(ATCC Animal Cell Culture Guide; Roth 2006).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import replace
from decimal import Decimal

import pytest
from tests.mbr_world import V1

from vein2vein.core.errors import InputError
from vein2vein.identity.isbt128 import Din
from vein2vein.manufacturing import domain as mbr_domain
from vein2vein.manufacturing import execution as ex
from vein2vein.manufacturing import mbr_yaml
from vein2vein.manufacturing.domain import Verdict
from vein2vein.manufacturing.execution import ExceptionKind, ExecutionError, RecordStatus
from vein2vein.manufacturing.materials import LotFacts, LotRefused, LotStatus, MaterialKind

MBR = mbr_yaml.parse(V1.read_text(encoding="utf-8"), V1.name)
HASH = "ab" * 32
DIN = Din("A9999", 26, 42).code
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
OP, OP2, QA = "op.anna", "op.ben", "qa.clara"

#: in-range values for every typed entry of epcam v1 (value, unit), by step
NOMINAL: dict[str, dict[str, tuple[float, str]]] = {
    "RECEIPT": {
        "transit_temperature": (5, "°C"),
        "age_at_receipt": (20, "h"),
        "tnc": (3.2, "10^9 cells"),
        "viability": (95, "%"),
    },
    "SELECT": {"input_tnc": (3.0, "10^9 cells"), "cd3_purity": (94, "%")},
    "ACTIVATE": {
        "seeded_cells": (1.0, "10^8 cells"),
        "seeding_density": (1.0, "10^6 cells/mL"),
        "bead_ratio": (3.0, "beads/cell"),
        "il2": (300, "IU/mL"),
        "temperature": (37.0, "°C"),
    },
    "TRANSDUCE": {
        "viable_cells": (0.9, "10^8 cells"), "moi": (3.0, "TU/cell"), "viability": (90, "%"),
    },
    "EXPAND": {
        "viable_cells_d5": (8.0, "10^8 cells"),
        "culture_volume_d5": (300, "mL"),
        "target_density": (1.0, "10^6 cells/mL"),
        "temperature": (37.0, "°C"),
        "viability_d5": (92, "%"),
    },
    "HARVEST": {
        "culture_days": (9, "d"),
        "viable_cells": (4.0, "10^9 cells"),
        "viability": (90, "%"),
        "car_positive": (50, "%"),
        "residual_beads": (0.00001, "beads/cell"),
    },
    "FORMULATE": {
        "final_volume": (68, "mL"), "time_to_freeze": (20, "min"), "temperature": (5, "°C"),
    },
    "FREEZE": {
        "cooling_rate": (1.0, "°C/min"), "end_temperature": (-100, "°C"),
        "storage_temperature": (-160, "°C"),
    },
}  # fmt: skip
#: the instrument used for each piece of equipment of epcam v1: asset number and calibration
#: due date (after the whole process: T0 + 9 days is 2026-03-11)
INSTRUMENTS = {e.code: (f"{e.code}-0001", dt.date(2026, 6, 30)) for e in MBR.equipment}
#: days of the process on which each step is worked (the counts' times give the kinetics)
DAY = {"RECEIPT": 0, "SELECT": 0, "ACTIVATE": 0, "TRANSDUCE": 1, "EXPAND": 5, "HARVEST": 9}


def lot(code: str, number: str, *, kind: MaterialKind = MaterialKind.MEDIUM, **kw) -> LotFacts:
    facts = {"status": LotStatus.RELEASED, "expiry": dt.date(2027, 12, 31)} | kw
    return LotFacts(number, code, f"material {code}", kind, **facts)


VECTOR = lot(
    "LV-EPCAM",
    "LV-EPC-2026-001",
    kind=MaterialKind.LENTIVIRAL_VECTOR,
    titer_tu_per_ml=Decimal("320000000"),  # 3.2 × 10^8 TU/mL
)


class Clock:
    """Times that move forward one minute per action, jumping to the step's process day."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self, step: str | None = None) -> dt.datetime:
        day = T0 + dt.timedelta(days=DAY.get(step or "", 0))
        self.now = max(self.now + dt.timedelta(minutes=1), day)
        return self.now


def new_record() -> ex.BatchRecord:
    return ex.create(
        MBR,
        mbr_id=7,
        mbr_version=1,
        mbr_hash=HASH,
        coi="HLX-EPC-01-0042",
        din=DIN,
        planned_suite="Suite 2",
        weight_kg=70,
        dose_per_kg=2e6,
    )


def run_step(
    rec: ex.BatchRecord, step: str, clock: Clock, values: dict[str, tuple[float, str]] | None = None
) -> ex.BatchRecord:
    """Start, enter the nominal (or given) values, scan released lots, verify, sign off and
    release the hold."""
    rec = ex.start_step(rec, step, by=OP, at=clock(step)).record
    for entry, (value, unit) in (NOMINAL[step] | (values or {})).items():
        rec = ex.enter_value(rec, step, entry, value, unit, by=OP, at=clock()).record
    for material in MBR.operation(step).materials:
        facts = VECTOR if material == "LV-EPCAM" else lot(material, f"{material}-L1")
        rec = ex.scan_lot(rec, step, material, facts, by=OP, at=clock()).record
    rec = use_equipment(rec, step, clock)
    for e in list(rec.events):
        if (
            e.step == step
            and isinstance(e, ex.ValueEntered | ex.LotScanned | ex.EquipmentUsed)
            and ex.unverified(rec, e)
            and (not isinstance(e, ex.ValueEntered) or _current(rec, e))
        ):
            rec = ex.verify(rec, e.seq, by=OP2, at=clock())
    rec = ex.sign_off(rec, step, by=OP, at=clock())
    if MBR.operation(step).hold is not None:
        rec = ex.decide_hold(rec, step, released=True, reason="all criteria met", by=QA, at=clock())
    return rec


def use_equipment(rec: ex.BatchRecord, step: str, clock: Clock) -> ex.BatchRecord:
    """Record the instrument of every piece of equipment of ``step`` (:data:`INSTRUMENTS`)."""
    for code in MBR.operation(step).equipment:
        asset, due = INSTRUMENTS[code]
        rec = ex.record_equipment(rec, step, code, asset, due, by=OP, at=clock()).record
    return rec


def _current(rec: ex.BatchRecord, e: ex.ValueEntered) -> bool:
    latest = rec.current(e.step, e.entry)
    return latest is not None and latest.seq == e.seq


def through(step: str) -> tuple[ex.BatchRecord, Clock]:
    """A record with every step before ``step`` done."""
    rec, clock = new_record(), Clock()
    for op in MBR.operations:
        if op.code == step:
            break
        rec = run_step(rec, op.code, clock)
    return rec, clock


# --- creation and order of steps ----------------------------------------------------------


def test_a_record_is_bound_to_the_order_and_the_mbr_version() -> None:
    rec = new_record()
    assert (rec.coi, rec.din, rec.mbr_id, rec.mbr_version, rec.mbr_hash) == (
        "HLX-EPC-01-0042", "A999926000042", 7, 1, HASH,
    )  # fmt: skip
    assert rec.status is RecordStatus.IN_PROGRESS and rec.events == ()
    assert rec.next_step().code == "RECEIPT"
    with pytest.raises(InputError, match="check character does not match"):
        ex.create(MBR, mbr_id=7, mbr_version=1, mbr_hash=HASH, coi="C", din=DIN + "X",
                  planned_suite="Suite 2")  # fmt: skip
    with pytest.raises(InputError, match="chain-of-identity"):
        ex.create(MBR, mbr_id=7, mbr_version=1, mbr_hash=HASH, coi=" ", din=DIN,
                  planned_suite="Suite 2")  # fmt: skip


def test_steps_run_in_mbr_order_and_a_hold_stops_the_record_until_qa_decides() -> None:
    clock = Clock()
    rec = new_record()
    with pytest.raises(
        ExecutionError,
        match="step SELECT: cannot start before the previous step RECEIPT is signed off",
    ):
        ex.start_step(rec, "SELECT", by=OP, at=clock())  # fmt: skip
    rec = ex.start_step(rec, "RECEIPT", by=OP, at=clock()).record
    with pytest.raises(ExecutionError, match="step RECEIPT: cannot be signed off: missing"):
        ex.sign_off(rec, "RECEIPT", by=OP, at=clock())
    for entry, (value, unit) in NOMINAL["RECEIPT"].items():
        rec = ex.enter_value(rec, "RECEIPT", entry, value, unit, by=OP, at=clock()).record
    with pytest.raises(ExecutionError, match="missing lot of APH"):
        ex.sign_off(rec, "RECEIPT", by=OP, at=clock())
    rec = ex.scan_lot(rec, "RECEIPT", "APH", lot("APH", DIN), by=OP, at=clock()).record
    with pytest.raises(ExecutionError, match="missing instrument of COUNTER"):
        ex.sign_off(rec, "RECEIPT", by=OP, at=clock())
    rec = use_equipment(rec, "RECEIPT", clock)
    rec = ex.sign_off(rec, "RECEIPT", by=OP, at=clock())
    # the hold: the record waits for QA
    assert rec.status is RecordStatus.ON_HOLD
    with pytest.raises(
        ExecutionError, match="step SELECT: waits for QA's decision on the hold of RECEIPT"
    ):
        ex.start_step(rec, "SELECT", by=OP, at=clock())  # fmt: skip
    with pytest.raises(ExecutionError, match="signed the step off and cannot decide"):
        ex.decide_hold(rec, "RECEIPT", released=True, reason="accepted", by=OP, at=clock())
    with pytest.raises(ExecutionError, match="has no QA hold"):
        ex.decide_hold(rec, "SELECT", released=True, reason="accepted", by=QA, at=clock())
    # QA does not release it: the record stops
    stopped = ex.decide_hold(
        rec, "RECEIPT", released=False, reason="bag leaking", by=QA, at=clock()
    )
    assert stopped.status is RecordStatus.STOPPED and stopped.next_step() is None
    with pytest.raises(ExecutionError, match="the record is stopped"):
        ex.start_step(stopped, "SELECT", by=OP, at=clock())
    # decided 5 h after the sign-off: the MBR allows 4 h, so QA's review shows it
    late = ex.decide_hold(
        rec, "RECEIPT", released=True, reason="DIN and bag checked", by=QA,
        at=rec.events[-1].at + dt.timedelta(hours=5),
    )  # fmt: skip
    # (the TNC count and the apheresis bag were left unverified: shown too)
    kinds = [(i.kind.value, i.subject) for i in ex.review_by_exception(late)]
    assert kinds == [("unverified", "tnc"), ("unverified", "APH"), ("hold_too_long", "hold")]
    assert "5.0 h after sign-off; the MBR allows 4 h" in ex.review_by_exception(late)[-1].message
    assert ex.review_by_exception(stopped)[-1].kind is ExceptionKind.QA_HOLD_NOT_RELEASED
    # QA releases it: the next step may start, and nothing of the signed step changes
    rec = ex.decide_hold(
        rec, "RECEIPT", released=True, reason="DIN and bag checked", by=QA, at=clock()
    )
    assert rec.status is RecordStatus.IN_PROGRESS and rec.next_step().code == "SELECT"
    with pytest.raises(ExecutionError, match="step RECEIPT: is signed off"):
        ex.correct(rec, "RECEIPT", "viability", 90, "%", reason="re-count", by=OP, at=clock())
    rec = ex.start_step(rec, "SELECT", by=OP, at=clock()).record
    with pytest.raises(ExecutionError, match="step SELECT: is started already"):
        ex.start_step(rec, "SELECT", by=OP, at=clock())
    with pytest.raises(ExecutionError, match="is before the last entry"):
        ex.enter_value(rec, "SELECT", "cd3_purity", 94, "%", by=OP, at=T0)


def test_a_suite_other_than_planned_needs_a_reason() -> None:
    rec, clock = new_record(), Clock()
    with pytest.raises(ExecutionError, match="runs in suite Suite 3, not the planned Suite 2"):
        ex.start_step(rec, "RECEIPT", by=OP, at=clock(), suite="Suite 3")
    rec = ex.start_step(
        rec, "RECEIPT", by=OP, at=clock(), suite="Suite 3", reason="Suite 2 HVAC alarm"
    ).record
    assert rec.of(ex.StepStarted)[0].suite == "Suite 3"
    [item] = ex.review_by_exception(rec)
    assert item.kind is ExceptionKind.SUITE_OVERRIDE and "Suite 2 HVAC alarm" in item.message


# --- entries, calculations, corrections, verification -------------------------------------


def test_transduction_walk_deviation_correction_calculation_and_verification() -> None:
    rec, clock = through("TRANSDUCE")
    rec = ex.start_step(rec, "TRANSDUCE", by=OP, at=clock("TRANSDUCE")).record
    # 2.4 × 10^8 viable cells: above the PAR (0.5-2 × 10^8): a deviation to open
    out = ex.enter_value(rec, "TRANSDUCE", "viable_cells", 2.4e8, "cells", by=OP, at=clock())
    assert out.event.verdict is Verdict.DEVIATION
    assert math.isclose(out.event.value, 2.4) and out.event.unit == "10^8 cells"  # converted
    assert (out.event.typed, out.event.typed_unit) == (2.4e8, "cells")
    [dev] = out.deviations
    assert (dev.step, dev.entry, dev.entry_seq) == ("TRANSDUCE", "viable_cells", out.event.seq)
    assert dev.source.value == "process_limit" and "outside the acceptable range" in dev.description
    first = out.event.seq
    rec = out.record
    # the MOI is typed; a flagged value (outside the NOR 2.5-3.5, inside the PAR 2-5)
    out = ex.enter_value(rec, "TRANSDUCE", "moi", 2.2, "TU/cell", by=OP, at=clock())
    assert out.event.verdict is Verdict.FLAG and out.deviations == () and out.calculated == ()
    rec = out.record
    with pytest.raises(ExecutionError, match="moi is entered already: correct it"):
        ex.enter_value(rec, "TRANSDUCE", "moi", 3.0, "TU/cell", by=OP, at=clock())
    rec = ex.correct(
        rec, "TRANSDUCE", "moi", 3.0, "TU/cell", reason="typing error", by=OP, at=clock()
    ).record
    # the vector lot's scan brings the titer: V = 3 × 2.4e8 / 3.2e8 = 2.25 mL, computed
    rec = ex.scan_lot(rec, "TRANSDUCE", "LV-EPCAM", VECTOR, by=OP, at=clock()).record
    calc = rec.current("TRANSDUCE", "vector_volume")
    assert calc.calculated and math.isclose(calc.value, 2.25) and calc.unit == "mL"
    assert calc.by == OP and calc.typed is None
    assert calc.inputs == (
        ("moi", "TRANSDUCE.moi", 3.0, "TU/cell"),
        ("titer", "lot:LV-EPCAM.functional_titer", 3.2e8, "TU/mL"),
        ("viable_cells", "TRANSDUCE.viable_cells", 2.4, "10^8 cells"),
    )  # in the MBR's order of arguments (sorted by name)
    # typing or correcting the calculated value is refused
    with pytest.raises(ExecutionError, match="vector_volume is calculated by the system"):
        ex.enter_value(rec, "TRANSDUCE", "vector_volume", 2.0, "mL", by=OP, at=clock())
    with pytest.raises(ExecutionError, match="vector_volume is calculated by the system"):
        ex.correct(
            rec, "TRANSDUCE", "vector_volume", 2.0, "mL", reason="rounded", by=OP, at=clock()
        )
    # the count was a transcription error: a correction needs a reason and keeps the original
    with pytest.raises(ExecutionError, match="needs a reason"):
        ex.correct(
            rec, "TRANSDUCE", "viable_cells", 1.2, "10^8 cells", reason=" ", by=OP, at=clock()
        )
    out = ex.correct(
        rec, "TRANSDUCE", "viable_cells", 1.2, "10^8 cells",
        reason="read 2.4 off the wrong counter slide", by=OP, at=clock(),
    )  # fmt: skip
    assert out.event.verdict is Verdict.OK and out.event.corrects == first and out.deviations == ()
    rec = out.record
    history = rec.history("TRANSDUCE", "viable_cells")
    assert [h.value for h in history] == [2.4, 1.2] and rec.current(
        "TRANSDUCE", "viable_cells"
    ).value == 1.2
    # ... and the system calculated the volume again: 3 × 1.2e8 / 3.2e8 = 1.125 mL
    [recalc] = out.calculated
    assert math.isclose(recalc.value, 1.125) and recalc.corrects == calc.seq
    assert [v.value for v in rec.history("TRANSDUCE", "vector_volume")] == pytest.approx(
        [2.25, 1.125]
    )
    # second person: refused for the one who entered, for a superseded entry, for no need
    with pytest.raises(ExecutionError, match=r"the verifier must be another person than op\.anna"):
        ex.verify(rec, out.event.seq, by=OP, at=clock())
    with pytest.raises(
        ExecutionError, match=f"entry {first} was corrected by entry {out.event.seq}"
    ):
        ex.verify(rec, first, by=OP2, at=clock())
    moi = rec.current("TRANSDUCE", "moi")
    with pytest.raises(ExecutionError, match="moi needs no second-person verification"):
        ex.verify(rec, moi.seq, by=OP2, at=clock())
    rec = ex.verify(rec, out.event.seq, by=OP2, at=clock())
    with pytest.raises(ExecutionError, match="verified already"):
        ex.verify(rec, out.event.seq, by=QA, at=clock())
    assert [v.by for v in rec.verifications(out.event.seq)] == [OP2]
    rec = ex.enter_value(rec, "TRANSDUCE", "viability", 88, "%", by=OP, at=clock()).record
    rec = use_equipment(rec, "TRANSDUCE", clock)
    rec = ex.sign_off(rec, "TRANSDUCE", by=OP, at=clock())
    # review by exception: the deviation, the flag, both corrections, the unverified ones
    items = [(i.kind.value, i.subject) for i in ex.review_by_exception(rec)]
    assert items == [
        ("deviation", "viable_cells"),
        ("flagged", "moi"),
        ("correction", "moi"),
        ("unverified", "LV-EPCAM"),
        ("correction", "viable_cells"),
        ("unverified", "vector_volume"),
    ]


def test_a_calculated_value_outside_its_par_opens_a_deviation() -> None:
    rec, clock = through("TRANSDUCE")
    rec = ex.start_step(rec, "TRANSDUCE", by=OP, at=clock("TRANSDUCE")).record
    rec = ex.enter_value(
        rec, "TRANSDUCE", "viable_cells", 2.0, "10^8 cells", by=OP, at=clock()
    ).record
    rec = ex.enter_value(rec, "TRANSDUCE", "moi", 5.0, "TU/cell", by=OP, at=clock()).record
    weak = lot(
        "LV-EPCAM", "LV-WEAK", kind=MaterialKind.LENTIVIRAL_VECTOR, titer_tu_per_ml=Decimal("4e7")
    )
    rec = ex.scan_lot(rec, "TRANSDUCE", "LV-EPCAM", weak, by=OP, at=clock()).record
    # 5 × 2e8 / 4e7 = 25 mL > PAR 20 mL; computed at the scan, so the next entry reports nothing
    calc = rec.current("TRANSDUCE", "vector_volume")
    assert math.isclose(calc.value, 25.0) and calc.verdict is Verdict.DEVIATION
    [item] = [i for i in ex.review_by_exception(rec) if i.kind is ExceptionKind.DEVIATION]
    assert item.subject == "vector_volume"
    out = ex.correct(
        rec, "TRANSDUCE", "moi", 3.0, "TU/cell", reason="MOI per MBR", by=OP, at=clock()
    )
    # 3 × 2e8 / 4e7 = 15 mL: flagged (NOR ≤ 10, PAR ≤ 20), no deviation
    assert [c.value for c in out.calculated] == pytest.approx([15.0]) and out.deviations == ()
    assert out.calculated[0].verdict is Verdict.FLAG


def test_units_are_converted_and_other_dimensions_refused() -> None:
    rec, clock = new_record(), Clock()
    rec = ex.start_step(rec, "RECEIPT", by=OP, at=clock()).record
    out = ex.enter_value(rec, "RECEIPT", "viability", 0.79, "fraction", by=OP, at=clock())
    assert math.isclose(out.event.value, 79.0) and out.event.verdict is Verdict.FLAG
    with pytest.raises(ExecutionError, match="step RECEIPT: tnc: cannot convert mL"):
        ex.enter_value(out.record, "RECEIPT", "tnc", 3, "mL", by=OP, at=clock())
    with pytest.raises(ExecutionError, match="has no parameter or control 'weight'"):
        ex.enter_value(out.record, "RECEIPT", "weight", 3, "kg", by=OP, at=clock())


# --- materials ----------------------------------------------------------------------------


def test_a_lot_is_refused_at_the_scan() -> None:
    rec, clock = through("TRANSDUCE")
    rec = ex.start_step(rec, "TRANSDUCE", by=OP, at=clock("TRANSDUCE")).record
    quarantined = lot(
        "LV-EPCAM", "LV-EPC-2026-004", kind=MaterialKind.LENTIVIRAL_VECTOR,
        status=LotStatus.QUARANTINE, titer_tu_per_ml=Decimal("2.1e8"),
    )  # fmt: skip
    with pytest.raises(LotRefused, match=r"LV-EPC-2026-004 of LV-EPCAM .* in quarantine") as err:
        ex.scan_lot(rec, "TRANSDUCE", "LV-EPCAM", quarantined, by=OP, at=clock())
    assert err.value.reason.value == "not_released"
    expired = lot("LV-EPCAM", "LV-OLD", kind=MaterialKind.LENTIVIRAL_VECTOR,
                  expiry=dt.date(2026, 3, 1), titer_tu_per_ml=Decimal("3e8"))  # fmt: skip
    with pytest.raises(LotRefused, match="expired on 2026-03-01"):
        ex.scan_lot(rec, "TRANSDUCE", "LV-EPCAM", expired, by=OP, at=clock())
    with pytest.raises(LotRefused, match="needs material LV-EPCAM, not MEDIUM"):
        ex.scan_lot(rec, "TRANSDUCE", "LV-EPCAM", lot("MEDIUM", "M-1"), by=OP, at=clock())
    with pytest.raises(ExecutionError, match="does not use material MEDIUM"):
        ex.scan_lot(rec, "TRANSDUCE", "MEDIUM", lot("MEDIUM", "M-1"), by=OP, at=clock())
    assert rec.of(ex.LotScanned, "TRANSDUCE") == []  # nothing recorded
    rec = ex.scan_lot(rec, "TRANSDUCE", "lv-epcam", VECTOR, by=OP, at=clock()).record
    assert rec.lot("TRANSDUCE", "LV-EPCAM").lot_number == "LV-EPC-2026-001"


# --- equipment ----------------------------------------------------------------------------


def _with_equipment(**changes: dict[str, object]) -> object:
    """Epcam v1 with some equipment changed: ``COUNTER={"second_person": True}``."""
    return replace(
        MBR,
        equipment=tuple(replace(e, **changes.get(e.code, {})) for e in MBR.equipment),
    )


def test_the_instrument_and_its_calibration_are_recorded_and_an_overdue_one_opens_a_deviation() -> (
    None
):
    rec, clock = through("TRANSDUCE")
    # transduction is worked on day 1: 2026-03-03 (UTC); it lists BSC and COUNTER
    rec = ex.start_step(rec, "TRANSDUCE", by=OP, at=clock("TRANSDUCE")).record
    assert clock.now.date() == dt.date(2026, 3, 3)
    with pytest.raises(
        ExecutionError, match=r"does not use equipment INCUBATOR \(it uses: BSC, COUNTER\)"
    ):
        ex.record_equipment(
            rec, "TRANSDUCE", "INCUBATOR", "INC-7", dt.date(2026, 6, 1), by=OP, at=clock()
        )
    with pytest.raises(InputError, match="COUNTER: NucleoCounter NC-200 is calibrated: give"):
        ex.record_equipment(rec, "TRANSDUCE", "COUNTER", "NC-0012", None, by=OP, at=clock())
    with pytest.raises(InputError, match="give the instrument's identifier"):
        ex.record_equipment(
            rec, "TRANSDUCE", "COUNTER", "  ", dt.date(2026, 6, 1), by=OP, at=clock()
        )
    with pytest.raises(InputError, match="give the instrument's identifier"):
        ex.record_equipment(
            rec, "TRANSDUCE", "COUNTER", "N" * 65, dt.date(2026, 6, 1), by=OP, at=clock()
        )
    assert rec.of(ex.EquipmentUsed, "TRANSDUCE") == []  # nothing recorded
    # due on the day of use (2026-03-03): still in calibration; the code as the MBR spells it
    out = ex.record_equipment(
        rec, "TRANSDUCE", "bsc", " BSC-0417 ", dt.date(2026, 3, 3), by=OP, at=clock()
    )
    assert (out.event.equipment, out.event.instrument, out.event.verdict) == (
        "BSC",
        "BSC-0417",
        Verdict.OK,
    )
    assert out.event.message == "calibration due 2026-03-03" and out.deviations == ()
    rec = out.record
    # due on 2026-03-02, the day before use: recorded, flagged, and a deviation to open
    out = ex.record_equipment(
        rec, "TRANSDUCE", "COUNTER", "NC-0012", dt.date(2026, 3, 2), by=OP, at=clock()
    )
    assert out.event.verdict is Verdict.DEVIATION
    assert (
        out.event.message == "calibration was due on 2026-03-02, before the day of use 2026-03-03"
    )
    [dev] = out.deviations
    assert (dev.step, dev.entry, dev.entry_seq, dev.source.value) == (
        "TRANSDUCE",
        "COUNTER",
        out.event.seq,
        "equipment",
    )
    assert (
        dev.title == "TRANSDUCE: NucleoCounter NC-200 (COUNTER) used past its calibration due date"
    )
    assert "instrument NC-0012" in dev.description and OP in dev.description
    overdue = out.event.seq
    rec = out.record
    # another instrument for the same equipment needs a reason and keeps the first
    with pytest.raises(
        InputError,
        match=rf"COUNTER is recorded already \(instrument NC-0012, entry {overdue}\): give",
    ):
        ex.record_equipment(
            rec, "TRANSDUCE", "COUNTER", "NC-0031", dt.date(2026, 9, 1), by=OP, at=clock()
        )
    with pytest.raises(ExecutionError, match="instrument NC-0012 is recorded already"):
        ex.record_equipment(
            rec,
            "TRANSDUCE",
            "COUNTER",
            "NC-0012",
            dt.date(2026, 3, 2),
            by=OP,
            at=clock(),
            reason="again please",
        )
    out = ex.record_equipment(
        rec,
        "TRANSDUCE",
        "COUNTER",
        "NC-0031",
        dt.date(2026, 9, 1),
        by=OP,
        at=clock(),
        reason="NC-0012 overdue: counted again on NC-0031",
    )
    assert (
        out.event.replaces == overdue and out.event.verdict is Verdict.OK and out.deviations == ()
    )
    rec = out.record
    assert [e.instrument for e in rec.of(ex.EquipmentUsed, "TRANSDUCE")] == [
        "BSC-0417",
        "NC-0012",
        "NC-0031",
    ]
    assert rec.instrument("TRANSDUCE", "COUNTER").instrument == "NC-0031"
    with pytest.raises(ExecutionError, match="COUNTER needs no second-person verification"):
        ex.verify(rec, out.event.seq, by=OP2, at=clock())
    for entry, (value, unit) in NOMINAL["TRANSDUCE"].items():
        rec = ex.enter_value(rec, "TRANSDUCE", entry, value, unit, by=OP, at=clock()).record
    rec = ex.scan_lot(rec, "TRANSDUCE", "LV-EPCAM", VECTOR, by=OP, at=clock()).record
    rec = ex.sign_off(rec, "TRANSDUCE", by=OP, at=clock())
    with pytest.raises(ExecutionError, match="step TRANSDUCE: is signed off"):
        ex.record_equipment(
            rec, "TRANSDUCE", "BSC", "BSC-0999", dt.date(2026, 9, 1), by=OP, at=clock()
        )
    # QA sees the overdue instrument and the replacement
    items = [
        (i.kind.value, i.subject, i.seq)
        for i in ex.review_by_exception(rec)
        if i.subject == "COUNTER"
    ]
    assert items == [
        ("calibration_overdue", "COUNTER", overdue),
        ("correction", "COUNTER", overdue + 1),
    ]
    [late] = [i for i in ex.review_by_exception(rec) if i.kind is ExceptionKind.CALIBRATION_OVERDUE]
    assert late.message == (
        "COUNTER instrument NC-0012: calibration was due on 2026-03-02, "
        "before the day of use 2026-03-03"
    )
    # the instruments are part of the signed content
    kinds = [
        (e["kind"], e.get("instrument")) for e in ex.signoff_content(rec, "TRANSDUCE")["events"]
    ]
    assert ("EquipmentUsed", "NC-0031") in kinds and ex.signature_intact(rec, "TRANSDUCE")


def test_the_day_of_use_is_the_utc_day_and_uncalibrated_equipment_needs_no_date() -> None:
    rec = ex.start_step(new_record(), "RECEIPT", by=OP, at=T0).record
    # 01:30 in Ghent (UTC+2) on 2026-03-03 is 23:30 UTC on 2026-03-02: due that day, in time
    ghent = dt.timezone(dt.timedelta(hours=2))
    at = dt.datetime(2026, 3, 3, 1, 30, tzinfo=ghent)
    out = ex.record_equipment(
        rec, "RECEIPT", "COUNTER", "NC-0012", dt.date(2026, 3, 2), by=OP, at=at
    )
    assert out.event.verdict is Verdict.OK
    # five minutes later it is 2026-03-03 in UTC too: the same due date is overdue
    later = ex.record_equipment(
        rec,
        "RECEIPT",
        "COUNTER",
        "NC-0012",
        dt.date(2026, 3, 2),
        by=OP,
        at=at + dt.timedelta(minutes=35),
    )
    assert later.event.verdict is Verdict.DEVIATION and len(later.deviations) == 1
    # equipment the MBR does not calibrate: no due date asked, none judged
    mbr = _with_equipment(COUNTER={"calibration": False})
    plain = ex.start_step(replace(new_record(), mbr=mbr), "RECEIPT", by=OP, at=T0).record
    out = ex.record_equipment(plain, "RECEIPT", "COUNTER", "NC-0012", None, by=OP, at=T0)
    assert (out.event.verdict, out.event.message, out.deviations) == (
        Verdict.OK,
        "no calibration required",
        (),
    )


def test_a_second_person_verifies_the_instrument_where_the_mbr_asks() -> None:
    mbr = _with_equipment(COUNTER={"second_person": True})
    clock = Clock()
    rec = ex.start_step(replace(new_record(), mbr=mbr), "RECEIPT", by=OP, at=clock()).record
    rec = ex.record_equipment(
        rec, "RECEIPT", "COUNTER", "NC-0012", dt.date(2026, 6, 30), by=OP, at=clock()
    ).record
    first = rec.instrument("RECEIPT", "COUNTER").seq
    assert [(i.kind.value, i.subject) for i in ex.review_by_exception(rec)] == [
        ("unverified", "COUNTER")
    ]
    with pytest.raises(ExecutionError, match=r"the verifier must be another person than op\.anna"):
        ex.verify(rec, first, by=OP, at=clock())
    # another instrument recorded in its place must be verified instead
    rec = ex.record_equipment(
        rec,
        "RECEIPT",
        "COUNTER",
        "NC-0031",
        dt.date(2026, 6, 30),
        by=OP,
        at=clock(),
        reason="NC-0012 failed its daily check",
    ).record
    second = rec.instrument("RECEIPT", "COUNTER").seq
    with pytest.raises(ExecutionError, match=f"entry {first} was corrected by entry {second}"):
        ex.verify(rec, first, by=OP2, at=clock())
    rec = ex.verify(rec, second, by=OP2, at=clock())
    assert [(i.kind.value, i.subject) for i in ex.review_by_exception(rec)] == [
        ("correction", "COUNTER")
    ]


def test_equipment_asks_for_a_second_person_only_when_the_mbr_says_so_and_keeps_its_hash() -> None:
    data = mbr_domain.to_data(MBR)
    assert all("second_person" not in e for e in data["equipment"])  # at its default: left out
    changed = mbr_domain.to_data(_with_equipment(CRF={"second_person": True}))
    [crf] = [e for e in changed["equipment"] if e["code"] == "CRF"]
    assert crf["second_person"] is True
    assert (
        mbr_domain.from_data(changed).equipment
        == _with_equipment(CRF={"second_person": True}).equipment
    )


# --- sign-off -----------------------------------------------------------------------------


def test_signoff_content_is_canonical_and_its_hash_stable() -> None:
    rec, clock = new_record(), Clock()
    rec = ex.start_step(rec, "RECEIPT", by=OP, at=clock()).record
    for entry, (value, unit) in NOMINAL["RECEIPT"].items():
        rec = ex.enter_value(rec, "RECEIPT", entry, value, unit, by=OP, at=clock()).record
    rec = ex.scan_lot(rec, "RECEIPT", "APH", lot("APH", DIN), by=OP, at=clock()).record
    rec = use_equipment(rec, "RECEIPT", clock)
    content = ex.signoff_content(rec, "RECEIPT")
    assert content["coi"] == "HLX-EPC-01-0042" and content["mbr_hash"] == HASH
    assert [e["kind"] for e in content["events"]] == ["StepStarted"] + ["ValueEntered"] * 4 + [
        "LotScanned", "EquipmentUsed",
    ]  # fmt: skip
    assert content["events"][3]["entry"] == "tnc" and content["events"][3]["value"] == 3.2
    # the instrument and its calibration due date are signed with the step
    assert (content["events"][6]["instrument"], content["events"][6]["calibration_due"]) == (
        "COUNTER-0001", dt.date(2026, 6, 30),
    )  # fmt: skip
    # the hash is SHA-256 of the JSON with sorted keys and no spaces, made independently here
    plain = json.loads(json.dumps(content, default=lambda o: o.isoformat()))
    expected = hashlib.sha256(
        json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    signed = ex.sign_off(rec, "RECEIPT", by=OP, at=clock())
    assert signed.of(ex.StepSignedOff)[0].content_hash == expected
    assert ex.signature_intact(signed, "RECEIPT")
    # the same entries give the same hash; a verification is part of what is signed
    again = ex.sign_off(rec, "RECEIPT", by=OP, at=signed.events[-1].at)
    assert again.of(ex.StepSignedOff)[0].content_hash == expected
    tnc = rec.current("RECEIPT", "tnc")
    verified = ex.verify(rec, tnc.seq, by=OP2, at=clock())
    other = ex.sign_off(verified, "RECEIPT", by=OP, at=clock())
    assert other.of(ex.StepSignedOff)[0].content_hash != expected
    # a record whose events were altered behind the rules no longer matches its signature
    tampered = list(signed.events)
    tampered[3] = replace(tampered[3], value=4.2)
    assert not ex.signature_intact(replace(signed, events=tuple(tampered)), "RECEIPT")


# --- a whole batch, review by exception, trends, kinetics ---------------------------------


def test_the_record_is_complete_when_every_step_is_signed_off_and_held_steps_released() -> None:
    rec, clock = through("FREEZE")
    rec = run_step(rec, "FREEZE", clock)
    assert rec.complete and rec.next_step() is None
    assert all(ex.signature_intact(rec, op.code) for op in MBR.operations)
    # the dose calculation ran when formulation started: 2e6/kg × 70 kg / (0.9 × 0.5) = 3.111e8
    cells = rec.current("FORMULATE", "cells_required")
    assert cells.calculated and math.isclose(cells.value, 3.1111111111, rel_tol=1e-9)
    # feed on day 5: 8e8 cells / 1e6 per mL − 300 mL = 500 mL
    assert math.isclose(rec.current("EXPAND", "feed_volume").value, 500.0)
    # nothing to review in a nominal batch
    assert ex.review_by_exception(rec) == []


def test_trend_limits_and_out_of_trend_values() -> None:
    # five earlier batches of 10, 11, 12, 13, 14: mean 12, sample SD √2.5 = 1.5811,
    # limits 12 ± 4.7434 = 7.2566 to 16.7434
    t = ex.trend([10, 11, 12, 13, 14])
    assert (t.n, t.mean) == (5, 12.0) and math.isclose(t.sd, math.sqrt(2.5))
    assert math.isclose(t.low, 7.256583509747431) and math.isclose(t.high, 16.74341649025257)
    assert ex.trend([10, 11, 12, 13]) is None  # four batches are too few
    rec, clock = through("TRANSDUCE")
    earlier = {
        "EXPAND.viable_cells_d5": [7.5, 8.0, 8.5, 7.8, 8.2],  # mean 8.0, SD 0.3808
        "SELECT.cd3_purity": [94, 95, 93, 94, 96, 92],
        "RECEIPT.tnc": [3.0, 3.2],  # too few: never out of trend
    }
    items = ex.review_by_exception(rec, earlier)
    assert items == []  # every current value in trend so far (94 % is the mean)
    rec = run_step(rec, "TRANSDUCE", clock)
    rec = run_step(rec, "EXPAND", clock, {"viable_cells_d5": (12.0, "10^8 cells")})
    # 12 is inside the NOR (3-15) but above 8.0 + 3 × 0.3808 = 9.142: out of trend only
    [item] = ex.review_by_exception(rec, earlier)
    assert (item.kind, item.step, item.subject) == (
        ExceptionKind.OUT_OF_TREND,
        "EXPAND",
        "viable_cells_d5",
    )
    assert "5 earlier batches (6.858 to 9.142)" in item.message


def test_earlier_values_come_from_complete_records_of_the_same_mbr_version() -> None:
    done, clock = through("FREEZE")
    done = run_step(done, "FREEZE", clock)
    other = [replace(done, din=Din("A9999", 26, n).code) for n in range(50, 55)]
    v2 = replace(other[0], mbr_version=2)
    running, _ = through("SELECT")
    values = ex.earlier_values(running, [*other, v2, running])
    assert values["RECEIPT.tnc"] == [3.2] * 5 and values["EXPAND.feed_volume"] == [500.0] * 5


def test_kinetics_from_the_counts_entered() -> None:
    rec, _ = through("FORMULATE")
    assert ex.viable_counts(MBR) == [
        "ACTIVATE.seeded_cells", "TRANSDUCE.viable_cells",
        "EXPAND.viable_cells_d5", "HARVEST.viable_cells",
    ]  # fmt: skip
    k = ex.record_kinetics(rec)
    # counts 1.0e8 (day 0), 0.9e8 (day 1), 8.0e8 (day 5), 4.0e9 (day 9), each entered on its day
    assert k.cells == pytest.approx((1.0e8, 0.9e8, 8.0e8, 4.0e9))
    assert [round(d) for d in k.days] == [0, 1, 5, 9]
    # FE = 4e9 / 1e8 = 40; PD = log2 40 = 5.321928; DT = elapsed / PD
    assert math.isclose(k.fold_expansion, 40.0)
    assert math.isclose(k.doublings, 5.321928094887363)
    assert math.isclose(k.doubling_time_days, k.days[-1] / 5.321928094887363)
    # about 9 days (the counts are minutes apart from their day): DT ≈ 9 / 5.3219 = 1.691 d
    assert math.isclose(k.days[-1], 9.0, abs_tol=0.02)
    assert math.isclose(k.doubling_time_days, 1.6911, abs_tol=0.005)
    assert k.step_fold_expansion == pytest.approx((0.9, 8.0 / 0.9, 5.0))
    with pytest.raises(ExecutionError, match="at least two cell counts"):
        ex.record_kinetics(new_record())


# --- independence of the QA approval --------------------------------------------------------


def test_whoever_executed_or_verified_cannot_approve_but_the_qa_hold_decider_can() -> None:
    """EU GMP Part I 1.9/2.7: the record is reviewed by someone independent of the work. The
    operator (entries, sign-offs) and the verifier (second-person checks) are refused; the QA
    person who decided the holds took no part in the execution and may approve."""
    rec, _clock = through("EXPAND")
    assert ex.executed_by(rec) == {OP, OP2}
    for person in (OP, OP2):
        with pytest.raises(ex.ExecutionError, match="took no part in the work"):
            ex.check_independent_approver(rec, person)
    ex.check_independent_approver(rec, QA)
    ex.check_independent_approver(rec, "someone.else")
