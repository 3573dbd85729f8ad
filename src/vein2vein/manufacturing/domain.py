"""Master batch record (MBR): the model of a manufacturing process, its rules, the check of an
entry against its limits, the process calculations and the differences between two versions.

An MBR defines one product's process at one site (ICH Q7 §6.4 "Master production instructions";
EU GMP Part I §4.15-4.18; 21 CFR 211.186): the unit operations in order, and in each the
parameters with their unit, target, normal operating range (NOR) and proven acceptable range
(PAR) (ICH Q8(R2) glossary: PAR is "a characterised range of a process parameter for which
operation within this range ... will produce material meeting relevant quality criteria"; the
NOR is the narrower range a site aims to run in), the in-process controls with their limits, the
materials with the lot data each needs, the equipment, the calculations the system performs,
the holds that need a QA decision and the entries a second person must verify.

The executed batch record (a later feature) checks every entry with :func:`check_value`:

============================== ==================== ======================================
value (converted to the MBR's   verdict              what the batch record does
unit, limits inclusive)
============================== ==================== ======================================
inside the NOR                  ``ok``               records it
outside the NOR, inside the PAR ``flag``             records it, flagged for QA review
outside the PAR                 ``deviation``        records it and opens a deviation
============================== ==================== ======================================

An in-process control has acceptance limits (its PAR) and optional alert limits (its NOR); a
control without alert limits is ``ok`` or ``deviation``. A value within 1e-9 (relative) of a limit
counts as on the limit: unit conversion must not turn 80 % into 0.7999999 of a fraction.

Sections: the model · reading and validating (:func:`from_data`, paths such as
``operations[3].parameters[1].par.high``, 0-based) · checks of entries, lots and equipment ·
calculations · edits of a draft · differences between versions.

Pure: no database, web or template code (tests/unit/architecture/test_import_rules.py).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from vein2vein.manufacturing import units
from vein2vein.manufacturing.units import UnitError

FORMAT = 1  # the MBR data format (``mbr_format`` in YAML)

# --- the model ----------------------------------------------------------------------------


class Verdict(StrEnum):
    OK = "ok"
    FLAG = "flag"
    DEVIATION = "deviation"


class MaterialKind(StrEnum):
    STARTING_MATERIAL = "starting_material"
    LENTIVIRAL_VECTOR = "lentiviral_vector"
    REAGENT = "reagent"
    MEDIUM = "medium"
    CYTOKINE = "cytokine"
    EXCIPIENT = "excipient"
    CONSUMABLE = "consumable"


class LotField(StrEnum):
    """Lot data a material's scan must bring (``functional_titer`` in TU/mL)."""

    LOT_NUMBER = "lot_number"
    EXPIRY = "expiry"
    RELEASE_STATUS = "release_status"
    FUNCTIONAL_TITER = "functional_titer"


#: the unit of a numeric lot field
LOT_FIELD_UNIT = {LotField.FUNCTIONAL_TITER: "TU/mL"}


class Formula(StrEnum):
    VECTOR_VOLUME = "vector_volume_for_moi"
    FEED_VOLUME = "feed_volume"
    CELLS_FOR_DOSE = "cells_for_dose"


class MbrError(ValueError):
    """A rule of the MBR broken at ``path`` (``operations[2].parameters[0].nor.low``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Limits:
    """An inclusive range; ``None`` on a side: no limit there."""

    low: float | None = None
    high: float | None = None

    @property
    def bounded(self) -> bool:
        return self.low is not None or self.high is not None

    def contains(self, value: float) -> bool:
        return not self.below(value) and not self.above(value)

    def below(self, value: float) -> bool:
        return self.low is not None and value < self.low and not _on(value, self.low)

    def above(self, value: float) -> bool:
        return self.high is not None and value > self.high and not _on(value, self.high)

    def text(self, unit: str) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low:g}–{self.high:g} {unit}"
        if self.low is not None:
            return f"≥ {self.low:g} {unit}"
        if self.high is not None:
            return f"≤ {self.high:g} {unit}"
        return "no limit"


def _on(value: float, limit: float) -> bool:
    return math.isclose(value, limit, rel_tol=1e-9, abs_tol=1e-12)


@dataclass(frozen=True)
class Parameter:
    """A process parameter: typed by the operator, or computed by a calculation."""

    code: str
    name: str
    unit: str
    target: float | None = None
    nor: Limits = Limits()
    par: Limits = Limits()
    second_person: bool = False
    note: str = ""

    @property
    def acceptable(self) -> Limits:
        return self.par


@dataclass(frozen=True)
class Control:
    """An in-process control (IPC): acceptance ``limits`` and optional ``alert`` limits."""

    code: str
    name: str
    unit: str
    method: str = ""
    limits: Limits = Limits()
    alert: Limits = Limits()
    second_person: bool = False
    note: str = ""

    @property
    def nor(self) -> Limits:
        return self.alert if self.alert.bounded else self.limits

    @property
    def par(self) -> Limits:
        return self.limits


@dataclass(frozen=True)
class Hold:
    """The process stops after the operation until QA decides (release to continue or not)."""

    question: str
    max_hours: float | None = None


@dataclass(frozen=True)
class Operation:
    code: str
    name: str
    day: int | None = None
    instructions: str = ""
    parameters: tuple[Parameter, ...] = ()
    controls: tuple[Control, ...] = ()
    materials: tuple[str, ...] = ()
    equipment: tuple[str, ...] = ()
    hold: Hold | None = None
    note: str = ""

    def entry(self, code: str) -> Parameter | Control | None:
        for item in (*self.parameters, *self.controls):
            if item.code == code:
                return item
        return None


@dataclass(frozen=True)
class Material:
    code: str
    name: str
    kind: MaterialKind
    quantity: float | None = None
    unit: str | None = None
    lot_data: tuple[LotField, ...] = (LotField.LOT_NUMBER, LotField.EXPIRY, LotField.RELEASE_STATUS)
    second_person: bool = False


@dataclass(frozen=True)
class Equipment:
    """A class of equipment the process uses; the instrument and its calibration due date are
    recorded at execution (a recalibration must not need a new MBR version). ``second_person``:
    a second person verifies the instrument recorded."""

    code: str
    name: str
    kind: str = ""
    calibration: bool = True
    second_person: bool = False


@dataclass(frozen=True)
class Calculation:
    """A value the system computes, never typed: ``inputs`` maps the formula's arguments to
    sources (``OPERATION.ENTRY``, ``lot:MATERIAL.functional_titer``, ``order:weight``,
    ``order:dose_per_kg``); ``result`` names the parameter it fills (``OPERATION.PARAMETER``)."""

    code: str
    name: str
    formula: Formula
    inputs: tuple[tuple[str, str], ...]
    result: str
    note: str = ""


@dataclass(frozen=True)
class Mbr:
    product: str
    site: str
    title: str
    description: str = ""
    materials: tuple[Material, ...] = ()
    equipment: tuple[Equipment, ...] = ()
    operations: tuple[Operation, ...] = ()
    calculations: tuple[Calculation, ...] = field(default=())

    def operation(self, code: str) -> Operation:
        for op in self.operations:
            if op.code == code:
                return op
        raise MbrError("operations", f"no operation '{code}'")

    def material(self, code: str) -> Material | None:
        return next((m for m in self.materials if m.code == code), None)

    def calculated(self) -> dict[str, Calculation]:
        """``OPERATION.PARAMETER`` of every computed parameter → its calculation."""
        return {c.result: c for c in self.calculations}


# --- reading and validating ---------------------------------------------------------------

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def from_data(data: Any) -> Mbr:
    """An MBR from plain data (parsed YAML, or stored JSON), validated; ``MbrError`` names the
    first problem's path."""
    d = _mapping(data, "")
    _known(
        d,
        "",
        {"mbr_format", "product", "site", "title", "description"}
        | {"materials", "equipment", "operations", "calculations"},
    )
    fmt = d.get("mbr_format", FORMAT)
    if fmt != FORMAT:
        raise MbrError("mbr_format", f"this version reads format {FORMAT}, not {fmt!r}")
    mbr = Mbr(
        product=_text(d.get("product"), "product", 32, required=True),
        site=_text(d.get("site"), "site", 200, required=True),
        title=_text(d.get("title"), "title", 200, required=True),
        description=_text(d.get("description"), "description", 4000),
        materials=tuple(
            _material(m, f"materials[{i}]") for i, m in enumerate(_list(d, "materials"))
        ),
        equipment=tuple(
            _equipment(e, f"equipment[{i}]") for i, e in enumerate(_list(d, "equipment"))
        ),
        operations=tuple(
            _operation(o, f"operations[{i}]") for i, o in enumerate(_list(d, "operations"))
        ),
        calculations=tuple(
            _calculation(c, f"calculations[{i}]") for i, c in enumerate(_list(d, "calculations"))
        ),
    )
    if not mbr.operations:
        raise MbrError("operations", "an MBR needs at least one operation")
    validate(mbr)
    return mbr


def material_from_data(data: Any) -> Material:
    """One material from plain data (a form, an API body), checked like a file's."""
    return _material(data, "material")


def equipment_from_data(data: Any) -> Equipment:
    return _equipment(data, "equipment")


def number(value: Any, path: str) -> float | None:
    """An optional finite number (``MbrError`` at ``path`` otherwise)."""
    return _number(value, path)


def limits_from(low: Any, high: Any, path: str) -> Limits:
    """A range from two optional numbers (a form's fields), low ≤ high."""
    return _limits({"low": low, "high": high}, path)


def _material(data: Any, path: str) -> Material:
    d = _mapping(data, path)
    _known(d, path, {"code", "name", "kind", "quantity", "unit", "lot_data", "second_person"})
    kind = _enum(MaterialKind, d.get("kind"), f"{path}.kind")
    raw = d.get("lot_data")
    if raw is None:
        lot_data = Material.__dataclass_fields__["lot_data"].default
    else:
        items = _list({"lot_data": raw}, "lot_data", f"{path}.lot_data")
        lot_data = tuple(_enum(LotField, v, f"{path}.lot_data[{i}]") for i, v in enumerate(items))
    quantity = _number(d.get("quantity"), f"{path}.quantity")
    unit = _unit(d.get("unit"), f"{path}.unit") if d.get("unit") is not None else None
    if quantity is not None and unit is None:
        raise MbrError(f"{path}.unit", "a quantity needs a unit")
    return Material(
        code=_code(d.get("code"), f"{path}.code"),
        name=_text(d.get("name"), f"{path}.name", 200, required=True),
        kind=kind,
        quantity=quantity,
        unit=unit,
        lot_data=lot_data,
        second_person=_bool(d.get("second_person", False), f"{path}.second_person"),
    )


def _equipment(data: Any, path: str) -> Equipment:
    d = _mapping(data, path)
    _known(d, path, {"code", "name", "kind", "calibration", "second_person"})
    return Equipment(
        code=_code(d.get("code"), f"{path}.code"),
        name=_text(d.get("name"), f"{path}.name", 200, required=True),
        kind=_text(d.get("kind"), f"{path}.kind", 80),
        calibration=_bool(d.get("calibration", True), f"{path}.calibration"),
        second_person=_bool(d.get("second_person", False), f"{path}.second_person"),
    )


def _operation(data: Any, path: str) -> Operation:
    d = _mapping(data, path)
    _known(
        d,
        path,
        {"code", "name", "day", "instructions", "parameters", "controls"}
        | {"materials", "equipment", "hold", "note"},
    )
    day = _number(d.get("day"), f"{path}.day")
    if day is not None and (day != int(day) or not 0 <= day <= 60):
        raise MbrError(f"{path}.day", "the process day is a whole number from 0 to 60")
    hold = None
    if d.get("hold") is not None:
        h = _mapping(d["hold"], f"{path}.hold")
        _known(h, f"{path}.hold", {"question", "max_hours"})
        max_hours = _number(h.get("max_hours"), f"{path}.hold.max_hours")
        if max_hours is not None and max_hours <= 0:
            raise MbrError(f"{path}.hold.max_hours", "must be more than 0")
        hold = Hold(
            _text(h.get("question"), f"{path}.hold.question", 500, required=True), max_hours
        )
    return Operation(
        code=_code(d.get("code"), f"{path}.code"),
        name=_text(d.get("name"), f"{path}.name", 200, required=True),
        day=int(day) if day is not None else None,
        instructions=_text(d.get("instructions"), f"{path}.instructions", 4000),
        parameters=tuple(
            _parameter(p, f"{path}.parameters[{i}]")
            for i, p in enumerate(_list(d, "parameters", f"{path}.parameters"))
        ),
        controls=tuple(
            _control(c, f"{path}.controls[{i}]")
            for i, c in enumerate(_list(d, "controls", f"{path}.controls"))
        ),
        materials=tuple(
            _code(m, f"{path}.materials[{i}]")
            for i, m in enumerate(_list(d, "materials", f"{path}.materials"))
        ),
        equipment=tuple(
            _code(e, f"{path}.equipment[{i}]")
            for i, e in enumerate(_list(d, "equipment", f"{path}.equipment"))
        ),
        hold=hold,
        note=_text(d.get("note"), f"{path}.note", 2000),
    )


def _parameter(data: Any, path: str) -> Parameter:
    d = _mapping(data, path)
    _known(d, path, {"code", "name", "unit", "target", "nor", "par", "second_person", "note"})
    return Parameter(
        code=_code(d.get("code"), f"{path}.code"),
        name=_text(d.get("name"), f"{path}.name", 200, required=True),
        unit=_unit(d.get("unit"), f"{path}.unit"),
        target=_number(d.get("target"), f"{path}.target"),
        nor=_limits(d.get("nor"), f"{path}.nor"),
        par=_limits(d.get("par"), f"{path}.par"),
        second_person=_bool(d.get("second_person", False), f"{path}.second_person"),
        note=_text(d.get("note"), f"{path}.note", 2000),
    )


def _control(data: Any, path: str) -> Control:
    d = _mapping(data, path)
    _known(d, path, {"code", "name", "unit", "method", "limits", "alert", "second_person", "note"})
    limits = _limits(d.get("limits"), f"{path}.limits")
    if not limits.bounded:
        raise MbrError(f"{path}.limits", "an in-process control needs at least one limit")
    return Control(
        code=_code(d.get("code"), f"{path}.code"),
        name=_text(d.get("name"), f"{path}.name", 200, required=True),
        unit=_unit(d.get("unit"), f"{path}.unit"),
        method=_text(d.get("method"), f"{path}.method", 200),
        limits=limits,
        alert=_limits(d.get("alert"), f"{path}.alert"),
        second_person=_bool(d.get("second_person", False), f"{path}.second_person"),
        note=_text(d.get("note"), f"{path}.note", 2000),
    )


def _calculation(data: Any, path: str) -> Calculation:
    d = _mapping(data, path)
    _known(d, path, {"code", "name", "formula", "inputs", "result", "note"})
    inputs = _mapping(d.get("inputs"), f"{path}.inputs")
    return Calculation(
        code=_code(d.get("code"), f"{path}.code"),
        name=_text(d.get("name"), f"{path}.name", 200, required=True),
        formula=_enum(Formula, d.get("formula"), f"{path}.formula"),
        inputs=tuple(  # sorted: the stored (canonical) JSON sorts keys too
            sorted(
                (str(k), _text(v, f"{path}.inputs.{k}", 120, required=True))
                for k, v in inputs.items()
            )
        ),
        result=_text(d.get("result"), f"{path}.result", 120, required=True),
        note=_text(d.get("note"), f"{path}.note", 2000),
    )


def _limits(data: Any, path: str) -> Limits:
    if data is None:
        return Limits()
    d = _mapping(data, path)
    _known(d, path, {"low", "high"})
    limits = Limits(_number(d.get("low"), f"{path}.low"), _number(d.get("high"), f"{path}.high"))
    if limits.low is not None and limits.high is not None and limits.low > limits.high:
        raise MbrError(f"{path}.high", f"must be ≥ {path.rsplit('.', 1)[-1]}.low")
    return limits


def validate(mbr: Mbr) -> None:
    """The rules across fields: unique codes, NOR inside PAR, target inside NOR, references to
    materials, equipment and parameters that exist, calculations with inputs of the right
    dimension. Raises ``MbrError`` naming the first problem's path."""
    _unique([m.code for m in mbr.materials], "materials")
    _unique([e.code for e in mbr.equipment], "equipment")
    _unique([o.code for o in mbr.operations], "operations")
    _unique([c.code for c in mbr.calculations], "calculations")
    materials = {m.code for m in mbr.materials}
    equipment = {e.code for e in mbr.equipment}
    for i, m in enumerate(mbr.materials):
        path = f"materials[{i}]"
        if LotField.LOT_NUMBER not in m.lot_data:
            raise MbrError(f"{path}.lot_data", "every material needs its lot number")
        if m.kind == MaterialKind.LENTIVIRAL_VECTOR and LotField.FUNCTIONAL_TITER not in m.lot_data:
            raise MbrError(
                f"{path}.lot_data", "a lentiviral vector needs its functional titer (TU/mL)"
            )
    for i, op in enumerate(mbr.operations):
        path = f"operations[{i}]"
        entries = [p.code for p in op.parameters] + [c.code for c in op.controls]
        _unique(entries, f"{path}.parameters/controls")
        for j, p in enumerate(op.parameters):
            _check_ranges(p, f"{path}.parameters[{j}]")
        for j, c in enumerate(op.controls):
            if c.alert.bounded:
                _nested(c.alert, c.limits, f"{path}.controls[{j}]", "alert", "limits")
        for j, code in enumerate(op.materials):
            if code not in materials:
                raise MbrError(f"{path}.materials[{j}]", f"no material '{code}' in materials")
        for j, code in enumerate(op.equipment):
            if code not in equipment:
                raise MbrError(f"{path}.equipment[{j}]", f"no equipment '{code}' in equipment")
    results: set[str] = set()
    for i, calc in enumerate(mbr.calculations):
        _check_calculation(mbr, calc, f"calculations[{i}]")
        if calc.result in results:
            raise MbrError(f"calculations[{i}].result", f"{calc.result} is computed twice")
        results.add(calc.result)


def _check_ranges(p: Parameter, path: str) -> None:
    if p.par.bounded or p.nor.bounded:
        _nested(p.nor, p.par, path, "nor", "par")
    if p.target is not None and not p.nor.contains(p.target):
        raise MbrError(f"{path}.target", f"must be inside the NOR ({p.nor.text(p.unit)})")


def _nested(inner: Limits, outer: Limits, path: str, inner_name: str, outer_name: str) -> None:
    """``inner`` (NOR, alert limits) lies inside ``outer`` (PAR, acceptance limits)."""
    if outer.low is not None:
        if inner.low is None:
            raise MbrError(f"{path}.{inner_name}.low", f"required when {outer_name}.low is set")
        if inner.low < outer.low:
            raise MbrError(f"{path}.{outer_name}.low", f"must be ≤ {inner_name}.low")
    if outer.high is not None:
        if inner.high is None:
            raise MbrError(f"{path}.{inner_name}.high", f"required when {outer_name}.high is set")
        if inner.high > outer.high:
            raise MbrError(f"{path}.{outer_name}.high", f"must be ≥ {inner_name}.high")


@dataclass(frozen=True)
class FormulaSpec:
    arguments: dict[str, str]  # argument → unit it is computed in
    result_unit: str
    text: str


FORMULAS: dict[Formula, FormulaSpec] = {
    Formula.VECTOR_VOLUME: FormulaSpec(
        {"moi": "TU/cell", "viable_cells": "cells", "titer": "TU/mL"},
        "mL",
        "V = MOI × viable cells / functional titer",
    ),
    Formula.FEED_VOLUME: FormulaSpec(
        {"viable_cells": "cells", "target_density": "cells/mL", "current_volume": "mL"},
        "mL",
        "V = viable cells / target density − current volume (never below 0)",
    ),
    Formula.CELLS_FOR_DOSE: FormulaSpec(
        {"dose_per_kg": "cells/kg", "weight": "kg", "viability": "1", "car_fraction": "1"},
        "cells",
        "N = dose per kg × weight / (viability × CAR+ fraction)",
    ),
}

#: what an ``order:`` source of a calculation may name, with its unit
ORDER_FIELDS = {"weight": "kg", "dose_per_kg": "cells/kg"}


def source_unit(mbr: Mbr, source: str, path: str) -> str:
    """The unit of a calculation's input source (``MbrError`` when it names nothing)."""
    if source.startswith("order:"):
        name = source.removeprefix("order:")
        if name not in ORDER_FIELDS:
            raise MbrError(path, f"order fields are {', '.join(ORDER_FIELDS)}, not '{name}'")
        return ORDER_FIELDS[name]
    if source.startswith("lot:"):
        material, _, name = source.removeprefix("lot:").partition(".")
        found = mbr.material(material)
        if found is None:
            raise MbrError(path, f"no material '{material}'")
        lot_field = LotField(name) if name in LotField.__members__.values() else None
        if lot_field is None or lot_field not in LOT_FIELD_UNIT:
            raise MbrError(path, "a lot source names a numeric lot field (functional_titer)")
        if lot_field not in found.lot_data:
            raise MbrError(path, f"material '{material}' does not ask for {name} in lot_data")
        return LOT_FIELD_UNIT[lot_field]
    op_code, _, entry_code = source.partition(".")
    op = next((o for o in mbr.operations if o.code == op_code), None)
    entry = op.entry(entry_code) if op is not None else None
    if entry is None:
        raise MbrError(path, f"no parameter or control '{source}' (OPERATION.CODE)")
    return entry.unit


def _check_calculation(mbr: Mbr, calc: Calculation, path: str) -> None:
    spec = FORMULAS[calc.formula]
    given = dict(calc.inputs)
    missing = [a for a in spec.arguments if a not in given]
    extra = [a for a in given if a not in spec.arguments]
    if missing or extra:
        raise MbrError(
            f"{path}.inputs",
            f"{calc.formula.value} takes {', '.join(spec.arguments)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(extra)}" if extra else ""),
        )
    for name, unit in spec.arguments.items():
        where = f"{path}.inputs.{name}"
        found = source_unit(mbr, given[name], where)
        if units.dimension(found) != units.dimension(unit):
            raise MbrError(
                where, f"{given[name]} is in {found}; {name} needs {units.dimension(unit)}"
            )
    result_unit = source_unit(mbr, calc.result, f"{path}.result")
    if calc.result.startswith(("order:", "lot:")):
        raise MbrError(f"{path}.result", "a calculation fills a parameter (OPERATION.PARAMETER)")
    if units.dimension(result_unit) != units.dimension(spec.result_unit):
        raise MbrError(
            f"{path}.result",
            f"{calc.result} is in {result_unit}; {calc.formula.value} gives {spec.result_unit}",
        )


def _unique(codes: Sequence[str], path: str) -> None:
    seen: set[str] = set()
    for i, code in enumerate(codes):
        if code in seen:
            raise MbrError(f"{path}[{i}].code", f"'{code}' appears twice")
        seen.add(code)


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MbrError(path, "expected a mapping of fields (key: value)")
    return value


def _list(d: Mapping[str, Any], key: str, path: str | None = None) -> list[Any]:
    value = d.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MbrError(path or key, "expected a list (items starting with '-')")
    return value


def _known(d: Mapping[str, Any], path: str, allowed: set[str]) -> None:
    for key in d:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise MbrError(where, f"unknown field (known: {', '.join(sorted(allowed))})")


def _text(value: Any, path: str, max_length: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MbrError(path, "expected text")
    text = str(value).strip()
    if required and not text:
        raise MbrError(path, "required")
    if len(text) > max_length:
        raise MbrError(path, f"at most {max_length} characters ({len(text)} given)")
    if any((ord(ch) < 32 and ch not in "\n\t") or ord(ch) == 127 for ch in text):
        raise MbrError(path, "control characters are not allowed")
    return text


def _code(value: Any, path: str) -> str:
    text = _text(value, path, 40, required=True)
    if not _CODE.fullmatch(text):
        raise MbrError(path, "a code is letters, digits, '-' and '_' (at most 40)")
    return text


def _number(value: Any, path: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise MbrError(path, "expected a number")
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        if not _NUMBER.fullmatch(text):
            raise MbrError(path, "expected a number (such as 3, 0.8 or 1.0e8)")
        value = float(text)
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise MbrError(path, "expected a finite number")
    return float(value)


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise MbrError(path, "expected true or false")
    return value


def _unit(value: Any, path: str) -> str:
    text = _text(value, path, 40, required=True)
    try:
        return units.normalise(text)
    except UnitError as exc:
        raise MbrError(path, str(exc)) from None


def _enum(kind: type[StrEnum], value: Any, path: str) -> Any:
    try:
        return kind(str(value).strip().lower())
    except ValueError:
        raise MbrError(path, f"one of {', '.join(k.value for k in kind)}") from None


def to_data(mbr: Mbr) -> dict[str, Any]:
    """The plain data of an MBR (what is stored as canonical JSON and exported as YAML):
    ``from_data(to_data(m)) == m``. Optional fields at their default are left out."""
    return {
        "mbr_format": FORMAT,
        "product": mbr.product,
        "site": mbr.site,
        "title": mbr.title,
        **_opt("description", mbr.description),
        "materials": [_material_data(m) for m in mbr.materials],
        "equipment": [
            {"code": e.code, "name": e.name, **_opt("kind", e.kind), "calibration": e.calibration}
            | ({"second_person": True} if e.second_person else {})  # left out at its default
            for e in mbr.equipment
        ],
        "operations": [_operation_data(o) for o in mbr.operations],
        "calculations": [
            {
                "code": c.code,
                "name": c.name,
                "formula": c.formula.value,
                "inputs": dict(c.inputs),
                "result": c.result,
                **_opt("note", c.note),
            }
            for c in mbr.calculations
        ],
    }


def _opt(key: str, value: Any) -> dict[str, Any]:
    return {key: value} if value not in (None, "", (), []) else {}


def _limits_data(limits: Limits) -> dict[str, float]:
    out = {}
    if limits.low is not None:
        out["low"] = limits.low
    if limits.high is not None:
        out["high"] = limits.high
    return out


def _material_data(m: Material) -> dict[str, Any]:
    return {
        "code": m.code,
        "name": m.name,
        "kind": m.kind.value,
        **_opt("quantity", m.quantity),
        **_opt("unit", m.unit),
        "lot_data": [f.value for f in m.lot_data],
        "second_person": m.second_person,
    }


def _operation_data(o: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"code": o.code, "name": o.name}
    out |= _opt("day", o.day) | _opt("instructions", o.instructions)
    out["parameters"] = [
        {
            "code": p.code,
            "name": p.name,
            "unit": p.unit,
            **_opt("target", p.target),
            **_opt("nor", _limits_data(p.nor)),
            **_opt("par", _limits_data(p.par)),
            "second_person": p.second_person,
            **_opt("note", p.note),
        }
        for p in o.parameters
    ]
    out["controls"] = [
        {
            "code": c.code,
            "name": c.name,
            "unit": c.unit,
            **_opt("method", c.method),
            "limits": _limits_data(c.limits),
            **_opt("alert", _limits_data(c.alert)),
            "second_person": c.second_person,
            **_opt("note", c.note),
        }
        for c in o.controls
    ]
    out |= _opt("materials", list(o.materials)) | _opt("equipment", list(o.equipment))
    if o.hold is not None:
        out["hold"] = {"question": o.hold.question, **_opt("max_hours", o.hold.max_hours)}
    return out | _opt("note", o.note)


# --- checks of entries, lots and equipment ------------------------------------------------


@dataclass(frozen=True)
class Check:
    """The verdict on one entry, with the value in the MBR's unit and what it was held to."""

    verdict: Verdict
    value: float
    unit: str
    message: str


def check_value(item: Parameter | Control, value: float, unit: str) -> Check:
    """Check an entered ``value`` in ``unit`` against a parameter's NOR and PAR (a control's
    alert and acceptance limits); the value is converted to the item's unit first.

    Raises ``UnitError`` when ``unit`` is unknown or of another dimension (the entry is refused,
    not judged).
    """
    converted = units.convert(float(value), unit, item.unit)
    shown = f"{converted:g} {item.unit}"
    if not item.par.contains(converted):
        return Check(
            Verdict.DEVIATION,
            converted,
            item.unit,
            f"{item.name} {shown} is outside the acceptable range ({item.par.text(item.unit)}): "
            "a deviation is required",
        )
    if not item.nor.contains(converted):
        return Check(
            Verdict.FLAG,
            converted,
            item.unit,
            f"{item.name} {shown} is outside the normal operating range "
            f"({item.nor.text(item.unit)}) but inside the acceptable range: flagged for review",
        )
    return Check(Verdict.OK, converted, item.unit, f"{item.name} {shown} is within range")


def lot_problems(material: Material, lot: Mapping[str, Any], on: dt.date) -> list[str]:
    """What keeps a scanned lot from being used on day ``on``: lot data the MBR asks for and the
    lot lacks, a status other than released, an expiry before ``on``."""
    problems = [
        f"{material.name}: {name.value.replace('_', ' ')} missing"
        for name in material.lot_data
        if lot.get(name.value) in (None, "")
    ]
    status = lot.get(LotField.RELEASE_STATUS.value)
    if status not in (None, "") and str(status).lower() != "released":
        problems.append(f"{material.name}: lot is {str(status).lower()}, not released")
    expiry = lot.get(LotField.EXPIRY.value)
    if isinstance(expiry, dt.date) and expiry < on:
        problems.append(f"{material.name}: lot expired on {expiry.isoformat()}")
    return problems


def check_calibration(equipment: Equipment, due: dt.date | None, on: dt.date) -> Verdict:
    """Equipment whose calibration is due before the day of use is a deviation."""
    if not equipment.calibration:
        return Verdict.OK
    if due is None or due < on:
        return Verdict.DEVIATION
    return Verdict.OK


# --- calculations -------------------------------------------------------------------------


class CalculationError(ValueError):
    """Inputs a calculation cannot use (a titer of zero, a viability above 100 %)."""


@dataclass(frozen=True)
class Quantity:
    value: float
    unit: str


def vector_volume_ml(moi: float, viable_cells: float, titer_tu_per_ml: float) -> float:
    """Volume of lentiviral vector (mL) that gives ``moi`` transducing units per viable cell.

    V = MOI × viable cells / functional titer (TU/mL). MOI is the ratio of transducing units to
    target cells and the functional titer is counted in transducing units per mL on a
    permissive cell line (Kutner, Zhang & Reiser, "Production, concentration and titration of
    pseudotyped HIV-1-based lentiviral vectors", Nat Protoc 4:495-505, 2009). Approved CAR-T
    processes transduce activated T cells at a low MOI, within 1-5 (tisagenlecleucel: FDA BLA
    125646 CMC review; Levine et al., "Global manufacturing of CAR T cell therapy", Mol Ther
    Methods Clin Dev 4:92-101, 2017).

    Worked example: 1.0e8 viable cells at MOI 3 with a titer of 1.0e8 TU/mL need 3.0 mL.
    """
    if titer_tu_per_ml <= 0:
        raise CalculationError("the functional titer must be more than 0 TU/mL")
    if moi < 0 or viable_cells < 0:
        raise CalculationError("MOI and viable cells cannot be negative")
    return moi * viable_cells / titer_tu_per_ml


def feed_volume_ml(viable_cells: float, target_density: float, current_volume_ml: float) -> float:
    """Medium to add (mL) to bring a culture to ``target_density`` viable cells/mL.

    Mass balance of the cells, which a feed only dilutes: final volume = cells / target density,
    so V_add = viable cells / target density − current volume, and 0 when the culture is already
    at or below the density (medium is never removed by a feed). Expansion cultures of approved
    processes are fed or split to keep about 0.5-2 × 10^6 cells/mL (Levine et al. 2017, above;
    Kaiser et al., "Towards a commercial process for the manufacture of genetically modified T
    cells for therapy", Cancer Gene Ther 22:72-78, 2015).

    Worked example: 6.0e8 cells in 300 mL fed to 1.0e6 cells/mL need 300 mL more.
    """
    if target_density <= 0:
        raise CalculationError("the target density must be more than 0 cells/mL")
    if viable_cells < 0 or current_volume_ml < 0:
        raise CalculationError("cells and volume cannot be negative")
    return max(0.0, viable_cells / target_density - current_volume_ml)


def cells_for_dose(
    dose_per_kg: float, weight_kg: float, viability: float, car_fraction: float
) -> float:
    """Total nucleated cells to harvest so that the dose, counted as viable CAR+ T cells per kg
    of body weight, is met: N = dose/kg × weight / (viability × CAR+ fraction).

    Doses of approved CAR-T products are stated in viable CAR-positive T cells per kg
    (axicabtagene ciloleucel: 2 × 10^6 CAR-positive viable T cells/kg, at most 2 × 10^8,
    YESCARTA prescribing information §2.2; tisagenlecleucel: 0.2-5.0 × 10^6/kg up to 50 kg,
    KYMRIAH prescribing information §2.2), so the cells formulated must be divided by the
    fractions that are viable and that express the CAR. Viability and CAR+ fraction are
    fractions of 1 here (convert % with :mod:`units`).

    Worked example: 2 × 10^6 /kg × 70 kg at 90 % viability and 50 % CAR+ → 3.111 × 10^8 cells.
    """
    if not 0 < viability <= 1 or not 0 < car_fraction <= 1:
        raise CalculationError("viability and CAR+ fraction must be above 0 and at most 100 %")
    if dose_per_kg < 0 or weight_kg <= 0:
        raise CalculationError("the dose cannot be negative and the weight must be above 0 kg")
    return dose_per_kg * weight_kg / (viability * car_fraction)


_IMPLEMENTATION: dict[Formula, Callable[..., float]] = {
    Formula.VECTOR_VOLUME: lambda moi, viable_cells, titer: vector_volume_ml(
        moi, viable_cells, titer
    ),
    Formula.FEED_VOLUME: lambda viable_cells, target_density, current_volume: feed_volume_ml(
        viable_cells, target_density, current_volume
    ),
    Formula.CELLS_FOR_DOSE: lambda dose_per_kg, weight, viability, car_fraction: cells_for_dose(
        dose_per_kg, weight, viability, car_fraction
    ),
}


def calculate(formula: Formula, inputs: Mapping[str, Quantity]) -> Quantity:
    """Run a formula on quantities in any units of the right dimension: each argument is
    converted to the unit the formula is written in (``FORMULAS``)."""
    spec = FORMULAS[formula]
    missing = [a for a in spec.arguments if a not in inputs]
    if missing:
        raise CalculationError(f"{formula.value} needs {', '.join(missing)}")
    try:
        args = {
            name: units.convert(inputs[name].value, inputs[name].unit, unit)
            for name, unit in spec.arguments.items()
        }
    except UnitError as exc:
        raise CalculationError(str(exc)) from None
    return Quantity(_IMPLEMENTATION[formula](**args), spec.result_unit)


# --- edits of a draft ---------------------------------------------------------------------


def _replace_operation(mbr: Mbr, op_code: str, change: Callable[[Operation], Operation]) -> Mbr:
    mbr.operation(op_code)  # refuses an unknown operation
    ops = tuple(change(o) if o.code == op_code else o for o in mbr.operations)
    return _valid(replace(mbr, operations=ops))


def _valid(mbr: Mbr) -> Mbr:
    validate(mbr)
    return mbr


def set_parameter_limits(
    mbr: Mbr,
    op_code: str,
    parameter: str,
    *,
    target: float | None,
    nor: Limits,
    par: Limits,
) -> Mbr:
    """A parameter's target, NOR and PAR changed (the rules checked again)."""

    def change(op: Operation) -> Operation:
        if not any(p.code == parameter for p in op.parameters):
            raise MbrError(f"operations[{op.code}]", f"no parameter '{parameter}'")
        params = tuple(
            replace(p, target=target, nor=nor, par=par) if p.code == parameter else p
            for p in op.parameters
        )
        return replace(op, parameters=params)

    return _replace_operation(mbr, op_code, change)


def set_second_person(mbr: Mbr, op_code: str, entry: str, required: bool) -> Mbr:
    """Whether a second person must verify an entry (parameter or control) of an operation."""

    def change(op: Operation) -> Operation:
        if op.entry(entry) is None:
            raise MbrError(f"operations[{op.code}]", f"no parameter or control '{entry}'")
        return replace(
            op,
            parameters=tuple(
                replace(p, second_person=required) if p.code == entry else p for p in op.parameters
            ),
            controls=tuple(
                replace(c, second_person=required) if c.code == entry else c for c in op.controls
            ),
        )

    return _replace_operation(mbr, op_code, change)


def add_material(mbr: Mbr, material: Material, op_code: str | None = None) -> Mbr:
    """A material added to the list (and to an operation's materials, when named)."""
    if mbr.material(material.code) is not None:
        raise MbrError("materials", f"material '{material.code}' exists already")
    new = replace(mbr, materials=(*mbr.materials, material))
    if op_code:
        return _replace_operation(
            new, op_code, lambda op: replace(op, materials=(*op.materials, material.code))
        )
    return _valid(new)


def remove_material(mbr: Mbr, code: str) -> Mbr:
    """A material removed from the list and from every operation that used it; refused while a
    calculation reads its lot data."""
    if mbr.material(code) is None:
        raise MbrError("materials", f"no material '{code}'")
    for calc in mbr.calculations:
        if any(src.startswith(f"lot:{code}.") for _, src in calc.inputs):
            raise MbrError("materials", f"calculation '{calc.code}' reads the lot of '{code}'")
    ops = tuple(
        replace(o, materials=tuple(m for m in o.materials if m != code)) for o in mbr.operations
    )
    return _valid(
        replace(mbr, materials=tuple(m for m in mbr.materials if m.code != code), operations=ops)
    )


def add_equipment(mbr: Mbr, equipment: Equipment, op_code: str | None = None) -> Mbr:
    if any(e.code == equipment.code for e in mbr.equipment):
        raise MbrError("equipment", f"equipment '{equipment.code}' exists already")
    new = replace(mbr, equipment=(*mbr.equipment, equipment))
    if op_code:
        return _replace_operation(
            new, op_code, lambda op: replace(op, equipment=(*op.equipment, equipment.code))
        )
    return _valid(new)


def remove_equipment(mbr: Mbr, code: str) -> Mbr:
    if not any(e.code == code for e in mbr.equipment):
        raise MbrError("equipment", f"no equipment '{code}'")
    ops = tuple(
        replace(o, equipment=tuple(e for e in o.equipment if e != code)) for o in mbr.operations
    )
    return _valid(
        replace(mbr, equipment=tuple(e for e in mbr.equipment if e.code != code), operations=ops)
    )


# --- differences between versions ---------------------------------------------------------


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    MOVED = "moved"


@dataclass(frozen=True)
class Change:
    """One difference: ``path`` names the item by codes (``operations[TRANSDUCE].parameters[moi]
    .nor.high``), ``before``/``after`` are the plain values (None for added/removed)."""

    kind: ChangeKind
    path: str
    before: Any = None
    after: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "path": self.path,
            "before": self.before,
            "after": self.after,
        }


#: lists whose items are told apart by their ``code``
_KEYED = {"materials", "equipment", "operations", "calculations", "parameters", "controls"}


def diff(a: Mbr, b: Mbr) -> list[Change]:
    """What changed from ``a`` to ``b``: items added, removed, changed field by field, and
    operations whose order changed, in document order."""
    out: list[Change] = []
    _diff_value(to_data(a), to_data(b), "", out)
    return out


def _coded(value: Any) -> bool:
    """A list of items that carry codes (operations, parameters, ...), not of codes."""
    return isinstance(value, list) and all(isinstance(i, dict) and "code" in i for i in value)


def _keyed(items: list[Any]) -> dict[str, Any]:
    return {str(item["code"]): item for item in items}


def _diff_value(a: Any, b: Any, path: str, out: list[Change]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in b:
                out.append(Change(ChangeKind.REMOVED, sub, before=a[key]))
            elif key not in a:
                out.append(Change(ChangeKind.ADDED, sub, after=b[key]))
            elif key in _KEYED and _coded(a[key]) and _coded(b[key]):
                _diff_keyed(a[key], b[key], sub, out)
            else:
                _diff_value(a[key], b[key], sub, out)
    elif a != b:
        out.append(Change(ChangeKind.CHANGED, path, before=a, after=b))


def _diff_keyed(a: list[Any], b: list[Any], path: str, out: list[Change]) -> None:
    ka, kb = _keyed(a), _keyed(b)
    common_a = [k for k in ka if k in kb]
    common_b = [k for k in kb if k in ka]
    if common_a != common_b:
        out.append(Change(ChangeKind.MOVED, path, before=common_a, after=common_b))
    for code in [*ka, *(k for k in kb if k not in ka)]:
        sub = f"{path}[{code}]"
        if code not in kb:
            out.append(Change(ChangeKind.REMOVED, sub, before=ka[code]))
        elif code not in ka:
            out.append(Change(ChangeKind.ADDED, sub, after=kb[code]))
        else:
            _diff_value(ka[code], kb[code], sub, out)
