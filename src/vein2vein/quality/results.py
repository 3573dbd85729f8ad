"""Use cases of QC results: enter one (form, API, command line), import a file of them, and the
results the system calculates; each judged at once against the specification version the
batch is judged by, with the rounded value kept beside the raw one (``domain.judge``).

Rules (FDA OOS guidance 2006, rev. 2022; 21 CFR 211.194; docs/quality.md):

* a result is never overwritten or deleted (the database refuses it, migration 0016); a test
  has at most one *valid* result, and a second one is a **retest**, accepted only after the
  earlier one was invalidated by its out-of-specification investigation;
* a result out of specification opens its investigation in the same transaction
  (``oos.open_investigation``);
* a failing result of a test that may follow release, for a batch already released
  conditionally, escalates (``release.late_result``);
* viable CAR+ T cells (``car_t_cells``) are calculated by the system from the total nucleated
  cells, viability, CD3+ and CAR+ results (``calculated.viable_car_t_cells``) once all four are
  valid, and never typed.

Entering results for a batch takes the batch's row lock, as release does, so two analysts
entering the same test at once are taken one after the other and the second is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import InputError, NotFound, PermissionDenied, RuleViolation
from vein2vein.core.text import clean_text
from vein2vein.manufacturing import batches, units
from vein2vein.manufacturing.domain import Quantity
from vein2vein.manufacturing.tables import Batch
from vein2vein.quality import calculated, domain, specs
from vein2vein.quality.domain import Kind, Specification
from vein2vein.quality.tables import QcResult, QcSpec
from vein2vein.store.uow import UnitOfWork

RECORD = "qc_result"
SOURCES = ("form", "csv", "flow", "qpcr", "calculated")
CALCULATED = "car_t_cells"
#: the inputs of the calculated viable CAR+ T cells, by argument of the formula
CALC_INPUTS = {
    "total_nucleated": "tnc",
    "viability": "viability",
    "cd3_fraction": "cd3",
    "car_fraction": "car_positive",
}
SYSTEM = "system"


@dataclass(frozen=True)
class ResultInput:
    """One result to store, as a form, the API or a file row gives it."""

    batch: int | str
    test: str
    value: str
    unit: str | None = None
    tested_on: dt.date | None = None
    instrument: str | None = None
    method_ref: str | None = None
    analyst: str | None = None  # a user name; default: whoever enters it
    source: str = "form"
    source_file: str | None = None
    source_row: int | None = None


def outcome_of(judgement: domain.Judgement) -> str:
    if judgement.conforms is None:
        return "reported"
    return "conforms" if judgement.conforms else "does not conform"


def _batch_for_results(session: Session, scope: Scope, batch_ref: int | str) -> Batch:
    batch = _find_batch(session, scope, batch_ref)
    batches.get_batch(session, scope, batch.id, lock=True)
    if not batch.gmp:
        raise RuleViolation(
            f"batch {batch.id} is a process-development run: it has no release results"
        )
    return batch


def _find_batch(session: Session, scope: Scope, ref: int | str) -> Batch:
    """A batch by its id, by its batch number (the one custody records at the start of
    manufacturing, ``B-HLX-EPC-01-0011``) or by its order's number; within the caller's
    scope (another client's: not found)."""
    from vein2vein.identity.tables import Order

    text = str(ref).strip()
    if text.isdigit():
        return batches.get_batch(session, scope, text)
    stmt = (
        scope.filter(select(Batch), Batch)
        .join(Order, Batch.order_id == Order.id)
        .where(
            Batch.gmp.is_(True),
            (func.upper(Order.batch_number) == text.upper()) | (Order.number == text.upper()),
        )
        .order_by(Batch.id.desc())
    )
    batch = session.scalars(stmt).first()
    if batch is None:
        raise NotFound(f"batch {ref} not found")
    scope.require(Perm.BATCH_READ)
    return batch


def spec_of(session: Session, batch: Batch) -> QcSpec:
    spec = specs.for_batch(session, batch)
    if spec is None:
        raise RuleViolation(
            f"no specification of {specs.program_of(batch).code} was in force when batch "
            f"{batch.id} was made ({batch.created_at:%Y-%m-%d %H:%M} UTC): approve one first"
        )
    return spec


def valid_results(session: Session, batch_id: int) -> dict[str, QcResult]:
    """The valid result of each test of a batch (at most one each)."""
    rows = session.scalars(
        select(QcResult).where(QcResult.batch_id == batch_id, QcResult.valid.is_(True))
    )
    return {r.test_code: r for r in rows}


def all_results(session: Session, batch_id: int) -> list[QcResult]:
    return list(
        session.scalars(
            select(QcResult)
            .where(QcResult.batch_id == batch_id)
            .order_by(QcResult.test_code, QcResult.attempt, QcResult.id)
        )
    )


def _analyst(session: Session, scope: Scope, username: str | None) -> tuple[str, str]:
    from vein2vein.auth.tables import User

    if not username or username.strip().lower() == scope.username.lower():
        return scope.username, scope.full_name
    user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None or user.organisation_id != scope.organisation_id:
        raise InputError(f"analyst {username} is not a user of this laboratory", field="analyst")
    return user.username, user.full_name


def enter_result(uow: UnitOfWork, scope: Scope, item: ResultInput) -> QcResult:
    """Store and judge one result (one unit of work with the caller's)."""
    return enter_results(uow, scope, [item])[0]


def enter_results(uow: UnitOfWork, scope: Scope, items: Sequence[ResultInput]) -> list[QcResult]:
    """Store and judge results, all or none: the first refusal names the row and field."""
    if not scope.is_cdmo:
        for item in items:  # another client's batch is not found, as an absent one
            _find_batch(uow.session, scope, item.batch)
        raise PermissionDenied("results are entered by the CDMO's QC laboratory")
    scope.require(Perm.QC_RESULT_ENTER)
    stored: list[QcResult] = []
    for item in items:
        try:
            stored.append(_enter(uow, scope, item))
        except InputError as exc:
            if item.source_file is None:
                raise
            raise InputError(
                exc.detail, file=item.source_file, row=item.source_row, field=exc.field
            ) from None
        except NotFound as exc:
            if item.source_file is None:
                raise
            raise InputError(
                exc.message, file=item.source_file, row=item.source_row, field="batch"
            ) from None
        except RuleViolation as exc:
            if item.source_file is None:
                raise
            raise InputError(
                exc.message, file=item.source_file, row=item.source_row, field="test"
            ) from None
    return stored


def _enter(uow: UnitOfWork, scope: Scope, item: ResultInput) -> QcResult:
    from vein2vein.quality import oos, release

    s = uow.session
    batch = _batch_for_results(s, scope, item.batch)
    spec_row = spec_of(s, batch)
    model = specs.model_of(spec_row)
    code = item.test.strip().lower()
    try:
        test = model.test(code)
    except KeyError:
        known = ", ".join(t.code for t in model.tests)
        raise InputError(
            f"specification {specs.label(spec_row)} has no test '{item.test}' (tests: {known})",
            field="test",
        ) from None
    if code == CALCULATED and item.source != "calculated":
        raise InputError(
            f"{test.name} is calculated by the system from {', '.join(CALC_INPUTS.values())}; "
            "enter those results instead",
            field="test",
        )
    if item.source not in SOURCES:
        raise InputError(f"unknown source '{item.source}'", field="source")
    earlier = [r for r in all_results(s, batch.id) if r.test_code == code]
    current = next((r for r in earlier if r.valid), None)
    if current is not None:
        raise RuleViolation(
            f"batch {batch.id} already has a valid result of {test.name} "
            f"({current.value_text}{' ' + current.unit if current.unit else ''}, result "
            f"{current.id}): a result is never overwritten; a retest needs the earlier result "
            "invalidated by its out-of-specification investigation"
        )
    judgement = domain.judge(test, item.value, item.unit)
    analyst, analyst_name = _analyst(s, scope, item.analyst)
    if item.tested_on is not None and item.tested_on > utcnow().date():
        raise InputError("the test date is in the future", field="tested_on")
    row = QcResult(
        organisation_id=batch.organisation_id,
        batch_id=batch.id,
        spec_id=spec_row.id,
        test_code=code,
        attempt=len(earlier) + 1,
        value_text=clean_text(str(item.value), "value", 200, required=True),
        unit=clean_text(item.unit, "unit", 40) or None,
        value=domain.decimal_text(judgement.value) if judgement.value is not None else None,
        rounded=judgement.rounded_text,
        outcome=outcome_of(judgement),
        message=judgement.message,
        analyst=SYSTEM if item.source == "calculated" else analyst,
        analyst_name="calculated by the system" if item.source == "calculated" else analyst_name,
        tested_on=item.tested_on,
        instrument=clean_text(item.instrument, "instrument", 64) or None,
        method_ref=clean_text(item.method_ref, "method_ref", 120) or None,
        source=item.source,
        source_file=item.source_file,
        source_row=item.source_row,
        entered_at=utcnow(),
        entered_by=uow.actor.name,
        valid=True,
        retest_of_id=earlier[-1].id if earlier else None,
    )
    s.add(row)
    s.flush()
    uow.record(
        "qc.result_enter",
        RECORD,
        row.id,
        after=public(row),
        organisation_id=row.organisation_id,
    )
    if judgement.conforms is False:
        oos.open_investigation(uow, batch, row)
    release.late_result(uow, scope, batch, row, test)
    if code in CALC_INPUTS.values():
        _calculate(uow, scope, batch, spec_row, model)
    return row


def _calculate(
    uow: UnitOfWork, scope: Scope, batch: Batch, spec_row: QcSpec, model: Specification
) -> None:
    """The calculated viable CAR+ T cells, once its four inputs are valid."""
    if CALCULATED not in {t.code for t in model.tests}:
        return
    valid = valid_results(uow.session, batch.id)
    if CALCULATED in valid or any(code not in valid for code in CALC_INPUTS.values()):
        return
    inputs = {arg: valid[code] for arg, code in CALC_INPUTS.items()}
    if any(r.value is None or r.unit is None for r in inputs.values()):
        return
    quantities = {
        arg: Quantity(float(r.value), model.test(r.test_code).unit or "")  # type: ignore[arg-type]
        for arg, r in inputs.items()
    }
    calc = calculated.viable_car_t_cells(**quantities)
    unit = model.test(CALCULATED).unit or calc.unit
    value = f"{units.convert(calc.value, calc.unit, unit):.6g}"  # six figures of the product
    row = _enter(
        uow,
        scope,
        ResultInput(batch=batch.id, test=CALCULATED, value=value, unit=unit, source="calculated"),
    )
    row.inputs = json.dumps(
        {
            "formula": calc.formula,
            "inputs": dict(calc.inputs),
            "results": {arg: r.id for arg, r in inputs.items()},
        }
    )


def dependants(session: Session, result: QcResult) -> list[QcResult]:
    """Valid calculated results that used ``result``."""
    rows = session.scalars(
        select(QcResult).where(
            QcResult.batch_id == result.batch_id,
            QcResult.valid.is_(True),
            QcResult.source == "calculated",
        )
    )
    out = []
    for r in rows:
        used = json.loads(r.inputs or "{}").get("results", {})
        if result.id in used.values():
            out.append(r)
    return out


# --------------------------------------------------------------------------------------------
# reads
# --------------------------------------------------------------------------------------------


def public(r: QcResult) -> dict[str, Any]:
    return {
        "id": r.id,
        "batch_id": r.batch_id,
        "spec_id": r.spec_id,
        "test": r.test_code,
        "attempt": r.attempt,
        "value": r.value_text,
        "unit": r.unit,
        "converted": r.value,
        "rounded": r.rounded,
        "outcome": r.outcome,
        "message": r.message,
        "analyst": r.analyst,
        "analyst_name": r.analyst_name,
        "tested_on": r.tested_on.isoformat() if r.tested_on else None,
        "instrument": r.instrument,
        "method_ref": r.method_ref,
        "source": r.source,
        "source_file": r.source_file,
        "source_row": r.source_row,
        "entered_at": r.entered_at,
        "entered_by": r.entered_by,
        "valid": r.valid,
        "invalidated_at": r.invalidated_at,
        "invalidated_by": r.invalidated_by,
        "retest_of": r.retest_of_id,
        "inputs": json.loads(r.inputs) if r.inputs else None,
    }


def test_rows(session: Session, batch: Batch, spec_row: QcSpec | None) -> list[dict[str, Any]]:
    """Each test of the batch's specification with its valid result (or none) and every
    earlier result of it, in the specification's order."""
    if spec_row is None:
        return []
    model = specs.model_of(spec_row)
    by_test: dict[str, list[QcResult]] = {}
    for r in all_results(session, batch.id):
        by_test.setdefault(r.test_code, []).append(r)
    rows = []
    for t in model.tests:
        results = by_test.get(t.code, [])
        valid = next((r for r in results if r.valid), None)
        rows.append(
            {
                "code": t.code,
                "name": t.name,
                "category": t.category.value,
                "method": t.method,
                "unit": t.unit,
                "criterion": domain.criterion_text(t),
                "after_release": t.after_release,
                "days_to_result": t.days_to_result,
                "calculated": t.code == CALCULATED,
                "qualitative": t.criterion.kind in (Kind.NEGATIVE, Kind.CONFORMS)
                or (t.criterion.kind is Kind.REPORT_ONLY and t.unit is None),
                "result": public(valid) if valid else None,
                "history": [public(r) for r in results if not r.valid],
            }
        )
    return rows


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------

FORMATS = ("auto", "csv", "flow", "qpcr")


def detect_format(text: str) -> str:
    """The format of a result file from its header: the plain CSV starts with ``batch``, a
    flow export names a ``Population``, a qPCR export a ``Target Name`` (docs/quality.md)."""
    head = text[:4000].lower()
    first = next((line for line in head.splitlines() if line.strip()), "")
    if first.replace(" ", "").startswith("batch,") or first.strip() == "batch":
        return "csv"
    if "population" in head:
        return "flow"
    if "target name" in head:
        return "qpcr"
    return "csv"


def import_file(
    uow: UnitOfWork, scope: Scope, data: bytes, filename: str, fmt: str = "auto"
) -> list[QcResult]:
    """Import a results CSV or an instrument export (``result_files``) in one transaction:
    every row judged and stored, or, at the first bad row, nothing (the error names the file,
    row and field). A qPCR export gives copies per cell; for a specification in copies per
    transduced cell it is divided by the batch's valid CAR+ result."""
    from decimal import Decimal

    from vein2vein.quality import result_files

    if fmt not in FORMATS:
        raise InputError(f"unknown format '{fmt}'; use {', '.join(FORMATS)}", field="format")
    text = result_files.decode(data, filename)
    kind = detect_format(text) if fmt == "auto" else fmt
    if kind == "csv":
        rows = result_files.read_results_csv(text, filename)
    elif kind == "flow":
        rows = result_files.read_flow_export(text, filename)
    else:
        first = result_files.read_qpcr_vcn(text, filename)
        fractions: dict[str, Decimal] = {}
        for row in first:
            try:
                batch = _find_batch(uow.session, scope, row.batch)
            except NotFound:
                continue  # named with its row when the results are stored
            car = valid_results(uow.session, batch.id).get("car_positive")
            if car is not None and car.value is not None:
                fractions[row.batch] = Decimal(car.value) / 100
        rows = result_files.read_qpcr_vcn(text, filename, car_fraction=fractions or None)
    items = [
        ResultInput(
            batch=r.batch,
            test=r.test,
            value=r.value,
            unit=r.unit,
            tested_on=r.tested_on,
            instrument=r.instrument,
            method_ref=r.method_ref,
            analyst=r.analyst,
            source=kind,
            source_file=filename,
            source_row=r.row,
        )
        for r in rows
    ]
    if not items:
        raise InputError("the file holds no results", file=filename)
    return enter_results(uow, scope, items)
