"""The values an analysis reads from executed batch records, in one place (comparability and
continued process verification use the same reads; docs/comparability.md, docs/cpv.md):

* ``record:<STEP>.<entry>``: the entry's *current* value (the last correction), in the unit of
  the MBR version the batch was made from, with the sequence number of the entry it came from;
* ``derived:fold_expansion`` (unit ``1``) and ``derived:doubling_time_h`` (unit ``h``): the
  batch's growth from the record's viable counts (``manufacturing.kinetics.growth_of``:
  FE = N_last / N_first, DT = elapsed / log₂ FE), computed once per batch.

A value that is not there comes back as the reason, never as a number (the entry was not
entered, the cells did not grow, fewer than two counts).

What the MBR says of a process value (``describe``): its name, unit and limits. A parameter's
limits are its proven acceptable range (PAR; outside it the record opens a deviation), an
in-process control's its acceptance limits; the normal operating range (NOR) is named beside
them. Fold expansion and doubling time have no limits in the MBR.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from vein2vein.insights.comparability_domain import DERIVED, Source
from vein2vein.manufacturing import batches as batch_service
from vein2vein.manufacturing.domain import Control, Limits, Mbr, MbrError, Parameter
from vein2vein.manufacturing.execution import BatchRecord
from vein2vein.manufacturing.kinetics import Growth, growth_of
from vein2vein.manufacturing.tables import Batch

#: the unit of each derived quantity
DERIVED_UNITS = {"fold_expansion": "1", "doubling_time_h": "h"}
DERIVED_NAMES = {"fold_expansion": "Fold expansion", "doubling_time_h": "Doubling time"}


@dataclass(frozen=True)
class RecordValue:
    """One value of a batch record and where it was read."""

    value: float
    unit: str
    record: str  # "mfg_batch 3 entry 41" | "mfg_batch 3 kinetics"
    seq: int | None = None  # the entry's sequence number (None: derived)
    typed: str = ""  # as the operator typed it, with its unit ("" when derived)
    verdict: str | None = None  # the record's check against the MBR: ok, flag, deviation


def load_records(session: Session, batch_ids: Iterable[int]) -> dict[int, BatchRecord]:
    """The executed records of the batches (events and MBR loaded in one query each)."""
    ids = sorted(set(batch_ids))
    if not ids:
        return {}
    rows = session.scalars(
        select(Batch)
        .where(Batch.id.in_(ids))
        .options(selectinload(Batch.events), selectinload(Batch.mbr))
    )
    return {b.id: batch_service.record_of(b) for b in rows}


class BatchValues:
    """The record values of one batch; its growth is computed at most once."""

    def __init__(self, batch_id: int, record: BatchRecord) -> None:
        self.batch_id = batch_id
        self.record = record
        self._growth: Growth | None = None

    @property
    def growth(self) -> Growth:
        if self._growth is None:
            self._growth = growth_of(self.record)
        return self._growth

    def read(self, src: Source) -> tuple[RecordValue | None, str]:
        """The value of a ``record`` or ``derived`` source, or None and the reason."""
        if src.kind == "record":
            step, _, entry = src.key.partition(".")
            e = self.record.current(step, entry)
            if e is None:
                return None, f"no {src.key} in the record"
            typed = "" if e.typed is None else f"{e.typed:g} {e.typed_unit or ''}".strip()
            where = f"mfg_batch {self.batch_id} entry {e.seq}"
            return RecordValue(float(e.value), e.unit, where, e.seq, typed, e.verdict.value), ""
        if src.kind != "derived" or src.key not in DERIVED:
            raise ValueError(f"not a batch-record source: {src.text}")
        g = self.growth
        number = g.fold_expansion if src.key == "fold_expansion" else g.doubling_time_h
        if number is None:
            return None, g.problem or "no growth in the record"
        unit = DERIVED_UNITS[src.key]
        return RecordValue(float(number), unit, f"mfg_batch {self.batch_id} kinetics"), ""


# --------------------------------------------------------------------------------------------
# what the MBR says of a process value
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessItem:
    """A process value of an MBR: its source, name, unit and limits."""

    source: Source
    name: str
    unit: str
    limits: Limits  # PAR of a parameter, acceptance limits of a control; none when derived
    nor: Limits
    kind: str  # "parameter" | "control" | "derived"

    def limits_text(self) -> str:
        """``PAR 0.5–2 10^8 cells; NOR 0.8–1.2 10^8 cells``; "" when the MBR gives none."""
        if not self.limits.bounded:
            return ""
        name = "PAR" if self.kind == "parameter" else "acceptance limits"
        text = f"{name} {self.limits.text(self.unit)}"
        if self.nor.bounded and self.nor != self.limits:
            text += f"; NOR {self.nor.text(self.unit)}"
        return text


def describe(mbr: Mbr, src: Source) -> ProcessItem | None:
    """The MBR's description of a ``record`` or ``derived`` source (None: not in this MBR)."""
    if src.kind == "derived":
        if src.key not in DERIVED:
            return None
        name, unit = DERIVED_NAMES[src.key], DERIVED_UNITS[src.key]
        return ProcessItem(src, name, unit, Limits(), Limits(), "derived")
    step, _, code = src.key.partition(".")
    try:
        op = mbr.operation(step)
    except MbrError:
        return None
    item = op.entry(code)
    if item is None:
        return None
    kind = "control" if item in op.controls else "parameter"
    return ProcessItem(src, f"{item.name} ({op.code})", item.unit, item.par, item.nor, kind)


def process_items(mbr: Mbr) -> list[ProcessItem]:
    """Every parameter and in-process control of the MBR in process order, then the derived
    growth quantities: what continued process verification charts for a batch record."""
    out = []
    for op in mbr.operations:
        items: tuple[Parameter | Control, ...] = (*op.parameters, *op.controls)
        for item in items:
            found = describe(mbr, Source("record", f"{op.code}.{item.code}"))
            if found is not None:
                out.append(found)
    for key in DERIVED:
        found = describe(mbr, Source("derived", key))
        assert found is not None
        out.append(found)
    return out
