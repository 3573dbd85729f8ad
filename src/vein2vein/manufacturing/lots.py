"""Use cases of material lots: define a material, receive a lot into quarantine, record a
vector lot's titer, release or reject a lot (QA, with a reason), and the scan check the executed
batch record calls. One unit of work per use case, owned by the caller; every change writes its
audit entry in the same transaction. Rules are in ``materials.py``.

Materials and lots are the CDMO's own records: a sponsor's user finds none of them (not found,
never forbidden). A QA decision locks the lot's row first, so two decisions made at once are
taken one after the other and the second sees the first.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.core import dates
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import Conflict, InputError, NotFound
from vein2vein.core.text import clean_text, parse_id
from vein2vein.manufacturing import materials as rules
from vein2vein.manufacturing.materials import LotFacts, LotStatus, MaterialKind
from vein2vein.manufacturing.tables import Material, MaterialLot
from vein2vein.store.uow import UnitOfWork

UNITS = rules.UNITS_SHOWN
#: received quantities: up to a million of the unit (a typing error beyond)
QUANTITY_MAX = Decimal(1_000_000)


def _cdmo_only(scope: Scope, what: str, ident: object) -> None:
    """Lots and materials are the CDMO's: anybody else finds none (as if absent)."""
    if not scope.is_cdmo:
        raise NotFound(f"{what} {ident} not found")


# --------------------------------------------------------------------------------------------
# look-ups
# --------------------------------------------------------------------------------------------


def get_material(session: Session, scope: Scope, ref: str | int) -> Material:
    """A material by id or by code (as printed on its label)."""
    _cdmo_only(scope, "material", ref)
    scope.require(Perm.LOT_READ)
    text = str(ref).strip()
    key = parse_id(text) if text.isdigit() else None
    stmt = select(Material)
    stmt = stmt.where(Material.id == key) if key else stmt.where(Material.code == text.upper())
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(f"material {ref} not found")
    return row


def get_lot(session: Session, scope: Scope, ref: str | int, *, lock: bool = False) -> MaterialLot:
    """A lot by id (an ``int``, as routes pass it), or by what is typed or scanned: the lot
    number (``MATERIAL:LOT`` when two materials share a number), else an id in digits.

    ``lock``: hold the row (SELECT ... FOR UPDATE) until the transaction ends, to decide it."""
    _cdmo_only(scope, "lot", ref)
    stmt = select(MaterialLot).options(selectinload(MaterialLot.material))
    text = str(ref).strip()
    if isinstance(ref, int):
        rows = list(session.scalars(stmt.where(MaterialLot.id == parse_id(ref))))
    else:
        code, sep, number = text.rpartition(":")
        by_number = stmt.where(MaterialLot.lot_number == (number.strip() if sep else text))
        if sep:
            by_number = by_number.join(Material).where(Material.code == code.strip().upper())
        rows = list(session.scalars(by_number.order_by(MaterialLot.id)))
        key = parse_id(text) if text.isascii() and text.isdigit() else None
        if not rows and key is not None:
            rows = list(session.scalars(stmt.where(MaterialLot.id == key)))
    if not rows:
        raise NotFound(f"lot {ref} not found")
    if len(rows) > 1:
        which = ", ".join(f"{r.material.code}:{r.lot_number}" for r in rows)
        raise InputError(f"lot number {text} is used by several materials: give one of {which}")
    lot = rows[0]
    if lock:
        lot = session.get_one(MaterialLot, lot.id, with_for_update=True, populate_existing=True)
    scope.require(Perm.LOT_READ)
    return lot


def facts(lot: MaterialLot) -> LotFacts:
    """The lot as the rules see it."""
    return LotFacts(
        lot_number=lot.lot_number,
        material_code=lot.material.code,
        material_name=lot.material.name,
        kind=MaterialKind(lot.material.kind),
        status=LotStatus(lot.status),
        expiry=lot.expiry,
        titer_tu_per_ml=lot.titer_tu_per_ml,
    )


def public(lot: MaterialLot, day: dt.date | None = None) -> dict[str, object]:
    """What pages, the API and the CLI show of a lot (the status on ``day``, expiry derived)."""
    today = day or utcnow().date()
    return {
        "id": lot.id,
        "material_id": lot.material_id,
        "material_code": lot.material.code,
        "material_name": lot.material.name,
        "kind": lot.material.kind,
        "unit": lot.material.unit,
        "lot_number": lot.lot_number,
        "supplier": lot.supplier,
        "supplier_lot": lot.supplier_lot,
        "expiry": lot.expiry,
        "quantity": lot.quantity,
        "titer_tu_per_ml": lot.titer_tu_per_ml,
        "recorded_status": lot.status,
        "status": rules.status_on(facts(lot), today).value,
        "status_reason": lot.status_reason,
        "status_by": lot.status_by,
        "status_at": lot.status_at,
        "received_at": lot.received_at,
        "received_by": lot.received_by,
    }


def material_public(m: Material) -> dict[str, object]:
    return {"id": m.id, "code": m.code, "name": m.name, "kind": m.kind, "unit": m.unit}


# --------------------------------------------------------------------------------------------
# materials
# --------------------------------------------------------------------------------------------


def add_material(
    uow: UnitOfWork, scope: Scope, *, code: str, name: str, kind: str, unit: str
) -> Material:
    """Define a material (QA keeps the list of approved materials)."""
    _cdmo_only(scope, "organisation", scope.organisation_id)
    scope.require(Perm.LOT_RELEASE)
    code = clean_text(code, "code", rules.CODE_MAX, required=True).upper()
    if not all(ch.isalnum() or ch in "-_." for ch in code):
        raise InputError("letters, digits, '-', '_' and '.' only", field="code")
    name = clean_text(name, "name", 200, required=True)
    kind_enum = rules.parse_kind(kind)
    unit = clean_text(unit, "unit", 16, required=True)
    if unit not in UNITS:
        raise InputError(f"unit is one of {', '.join(UNITS)}", field="unit")
    s = uow.session
    if s.scalar(select(Material.id).where(Material.code == code)) is not None:
        raise Conflict(f"material {code} already exists")
    m = Material(
        organisation_id=scope.organisation_id,
        code=code,
        name=name,
        kind=kind_enum.value,
        unit=unit,
        created_by=uow.actor.name,
    )
    s.add(m)
    s.flush()
    uow.record("mfg.material_add", "mfg_material", m.id, after=material_public(m))
    return m


# --------------------------------------------------------------------------------------------
# lots
# --------------------------------------------------------------------------------------------


def _titer(value: Decimal | str | None) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        titer = Decimal(str(value).strip())
    except ArithmeticError:
        raise InputError("enter the titer as a number, e.g. 2.5E8", field="titer") from None
    if not titer.is_finite():
        raise InputError("enter the titer as a number, e.g. 2.5E8", field="titer")
    if titer != titer.to_integral_value():
        raise InputError("the titer is a whole number of TU/mL", field="titer")
    return titer


def receive_lot(
    uow: UnitOfWork,
    scope: Scope,
    *,
    material: str | int,
    lot_number: str,
    supplier: str,
    expiry: dt.date | str,
    quantity: Decimal | str,
    supplier_lot: str | None = None,
    titer: Decimal | str | None = None,
) -> MaterialLot:
    """Receive a lot into quarantine (status QUARANTINE until QA decides)."""
    s = uow.session
    mat = get_material(s, scope, material)
    scope.require(Perm.LOT_RECEIVE)
    number = clean_text(lot_number, "lot_number", rules.LOT_NUMBER_MAX, required=True)
    if any(ch.isspace() for ch in number):
        raise InputError("a lot number has no spaces (as scanned)", field="lot_number")
    supplier = clean_text(supplier, "supplier", 200, required=True)
    supplier_lot = clean_text(supplier_lot, "supplier_lot", 64) or None
    expiry = dates.bounded_date(expiry, "expiry", years=10)
    today = utcnow().date()
    qty = _quantity(quantity)
    titer_value = _titer(titer)
    rules.check_titer(MaterialKind(mat.kind), titer_value)
    exists = s.scalar(
        select(MaterialLot.id).where(
            MaterialLot.material_id == mat.id, MaterialLot.lot_number == number
        )
    )
    if exists is not None:
        raise Conflict(f"lot {number} of {mat.code} was already received")
    lot = MaterialLot(
        organisation_id=mat.organisation_id,
        material_id=mat.id,
        lot_number=number,
        supplier=supplier,
        supplier_lot=supplier_lot,
        expiry=expiry,
        quantity=qty,
        titer_tu_per_ml=titer_value,
        status=LotStatus.QUARANTINE.value,
        received_by=uow.actor.name,
    )
    lot.material = mat
    s.add(lot)
    s.flush()
    uow.record("mfg.lot_receive", "mfg_lot", lot.id, after=public(lot, today))
    return lot


def _quantity(value: Decimal | str) -> Decimal:
    try:
        qty = Decimal(str(value).strip())
    except ArithmeticError:
        raise InputError("enter the quantity as a number", field="quantity") from None
    if not qty.is_finite() or qty <= 0 or qty > QUANTITY_MAX:
        raise InputError(f"the quantity is above 0 and at most {QUANTITY_MAX}", field="quantity")
    if -qty.as_tuple().exponent > 3:  # type: ignore[operator]
        raise InputError("at most 3 decimal places", field="quantity")
    return qty


def record_titer(
    uow: UnitOfWork, scope: Scope, lot_ref: str | int, titer: Decimal | str
) -> MaterialLot:
    """Record a vector lot's functional titer (from its certificate or the site's assay) while
    it is in quarantine: a released lot's data are what QA released."""
    s = uow.session
    lot = get_lot(s, scope, lot_ref, lock=True)
    scope.require(Perm.LOT_RECEIVE)
    if lot.status != LotStatus.QUARANTINE:
        raise Conflict(f"lot {lot.lot_number} is {lot.status}: its titer can no longer change")
    value = _titer(titer)
    if value is None:
        raise InputError("enter the functional titer (TU/mL)", field="titer")
    rules.check_titer(MaterialKind(lot.material.kind), value)
    before = public(lot)
    lot.titer_tu_per_ml = value
    uow.record("mfg.lot_titer", "mfg_lot", lot.id, before=before, after=public(lot))
    return lot


def decide_lot(
    uow: UnitOfWork, scope: Scope, lot_ref: str | int, to: LotStatus | str, reason: str
) -> MaterialLot:
    """QA releases or rejects a lot, with a reason (the row is locked first)."""
    s = uow.session
    lot = get_lot(s, scope, lot_ref, lock=True)
    scope.require(Perm.LOT_RELEASE)
    target = rules.parse_status(to) if isinstance(to, str) else to
    reason = clean_text(reason, "reason", 2000, multiline=True)
    if len(reason) < 5:
        raise InputError("give the reason for the decision (at least 5 characters)", field="reason")
    now = utcnow()
    rules.check_transition(facts(lot), target, now.date())
    before = public(lot, now.date())
    lot.status = target.value
    lot.status_reason = reason
    lot.status_by = uow.actor.name
    lot.status_at = now
    action = "mfg.lot_release" if target is LotStatus.RELEASED else "mfg.lot_reject"
    uow.record(action, "mfg_lot", lot.id, before=before, after=public(lot), reason=reason)
    return lot


# --------------------------------------------------------------------------------------------
# the scan check (for the executed batch record)
# --------------------------------------------------------------------------------------------


def check_scanned_lot(
    session: Session, scope: Scope, scanned: str, required_material: str, at: dt.datetime
) -> MaterialLot:
    """The lot a scanner read, if it may be used for ``required_material`` at ``at``; else
    ``materials.LotRefused`` naming lot, material and reason, or ``NotFound``."""
    text = clean_text(scanned, "lot", rules.CODE_MAX + rules.LOT_NUMBER_MAX + 1, required=True)
    lot = get_lot(session, scope, text)
    rules.check_lot_for_use(facts(lot), required_material, at)
    return lot


# --------------------------------------------------------------------------------------------
# reads
# --------------------------------------------------------------------------------------------


def list_lots(
    session: Session, scope: Scope, *, status: str = "", material: str = ""
) -> list[dict[str, object]]:
    """Lots with their status today, newest first; ``status`` filters on the status shown
    (expired included), ``material`` on a material code."""
    _cdmo_only(scope, "lots of", scope.organisation_id)
    scope.require(Perm.LOT_READ)
    wanted = None
    if status.strip():
        try:
            wanted = LotStatus(status.strip().lower())
        except ValueError:
            raise InputError(
                "status is quarantine, released, rejected or expired", field="status"
            ) from None
    stmt = select(MaterialLot).options(selectinload(MaterialLot.material))
    if material.strip():
        stmt = stmt.join(Material).where(Material.code == material.strip().upper())
    today = utcnow().date()
    rows = [public(lot, today) for lot in session.scalars(stmt.order_by(MaterialLot.id.desc()))]
    return [r for r in rows if wanted is None or r["status"] == wanted.value]


def list_materials(session: Session, scope: Scope) -> list[dict[str, object]]:
    _cdmo_only(scope, "materials of", scope.organisation_id)
    scope.require(Perm.LOT_READ)
    counts = dict(
        session.execute(
            select(MaterialLot.material_id, func.count()).group_by(MaterialLot.material_id)
        ).all()
    )
    return [
        material_public(m) | {"lots": counts.get(m.id, 0)}
        for m in session.scalars(select(Material).order_by(Material.code))
    ]


def lot_detail(session: Session, scope: Scope, lot_id: str | int) -> dict[str, object]:
    from vein2vein.store import audit

    lot = get_lot(session, scope, lot_id)
    history = [
        e.to_dict()
        for e in audit.query(session, entity_type="mfg_lot", entity_id=str(lot.id))
        if scope.can(Perm.LOT_READ)
    ]
    return public(lot) | {"history": history}
