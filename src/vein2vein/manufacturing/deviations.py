"""Use cases of deviations: open one (by hand, or automatically from another feature's use
case), classify it and record its investigation (QA), close it with an electronic signature;
and the reads. Rules are in ``deviation_rules.py``.

A deviation belongs to the client whose order it concerns (that sponsor reads it, and nothing
of another client's), or to the CDMO when it concerns no order. Classifying and closing lock
the deviation's row first (``SELECT ... FOR UPDATE``), as signing does, so two QA people
closing the same deviation at once are taken one after the other: the second finds it closed
(``tests/integration/manufacturing/test_deviations.py`` has the race on PostgreSQL).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from vein2vein.auth import signatures
from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.auth.signatures import ensure_unlocked, sign, signatures_for
from vein2vein.auth.tables import Signature
from vein2vein.core.canonical import sha256_hex
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import InputError, NotFound, PermissionDenied
from vein2vein.core.settings import Settings
from vein2vein.core.text import clean_text, parse_id
from vein2vein.identity.tables import Order
from vein2vein.manufacturing import deviation_rules as rules
from vein2vein.manufacturing.deviation_rules import Classification, DeviationFacts, Source, Status
from vein2vein.manufacturing.tables import Deviation, DeviationCounter, MaterialLot
from vein2vein.store.locks import advisory_lock
from vein2vein.store.uow import UnitOfWork

RECORD = "mfg_deviation"
#: meaning of the closing signature: QA reviewed the investigation (both QA roles hold it)
CLOSE_MEANING = "reviewed"
_NUMBER_LOCK = 0x5DEF1A7E  # advisory lock key of the deviation numbers (PostgreSQL)


# --------------------------------------------------------------------------------------------
# look-ups
# --------------------------------------------------------------------------------------------


def get_deviation(
    session: Session, scope: Scope, deviation_id: int | str, *, lock: bool = False
) -> Deviation:
    """A deviation within the caller's scope (else not found); ``lock`` holds its row."""
    text = str(deviation_id).strip()
    if text.upper().startswith("DEV-"):
        stmt = scope.filter(select(Deviation), Deviation).where(Deviation.number == text.upper())
        dev = session.scalars(stmt).first()
        if dev is None:
            raise NotFound(f"deviation {deviation_id} not found")
    else:
        dev = get_scoped(session, scope, Deviation, deviation_id)
    scope.require(Perm.DEVIATION_READ)
    if lock:
        dev = session.get_one(Deviation, dev.id, with_for_update=True, populate_existing=True)
    return dev


def _facts(dev: Deviation) -> DeviationFacts:
    return DeviationFacts(
        number=dev.number,
        status=Status(dev.status),
        classification=Classification(dev.classification) if dev.classification else None,
        root_cause=dev.root_cause,
        capa=dev.capa,
    )


def _next_number(session: Session) -> str:
    """DEV-YYYY-NNNN, consecutive per year (the counter row is locked while one is issued)."""
    advisory_lock(session, _NUMBER_LOCK)
    year = utcnow().year
    counter = session.get(DeviationCounter, year, with_for_update=True)
    if counter is None:
        counter = DeviationCounter(year=year, last_sequence=0)
        session.add(counter)
    counter.last_sequence += 1
    session.flush()
    return rules.number(year, counter.last_sequence)


# --------------------------------------------------------------------------------------------
# open
# --------------------------------------------------------------------------------------------


def open_deviation(
    uow: UnitOfWork,
    scope: Scope,
    *,
    title: str,
    description: str,
    order_id: int | str | None = None,
    lot_id: int | str | None = None,
    batch_id: int | None = None,
    step_id: int | None = None,
    entry_id: int | None = None,
) -> Deviation:
    """A person opens a deviation (CDMO staff holding ``deviation.open``)."""
    if not scope.is_cdmo:
        raise PermissionDenied("deviations are opened by the CDMO's staff")
    scope.require(Perm.DEVIATION_OPEN)
    order = _order(uow.session, scope, order_id) if order_id not in (None, "") else None
    lot = None
    if lot_id not in (None, ""):
        key = parse_id(lot_id)
        lot = uow.session.get(MaterialLot, key) if key else None
        if lot is None:
            raise InputError(f"lot {lot_id} not found", field="lot_id")
    return record_deviation(
        uow,
        scope,
        source=Source.MANUAL,
        title=title,
        description=description,
        order=order,
        lot=lot,
        batch_id=batch_id,
        step_id=step_id,
        entry_id=entry_id,
    )


def _order(session: Session, scope: Scope, order_id: int | str | None) -> Order:
    try:
        return get_scoped(session, scope, Order, order_id)
    except NotFound:
        raise InputError(f"order {order_id} not found", field="order_id") from None


def record_deviation(
    uow: UnitOfWork,
    scope: Scope,
    *,
    source: Source,
    title: str,
    description: str,
    order: Order | None = None,
    related_order: Order | None = None,
    mismatch_id: int | None = None,
    lot: MaterialLot | None = None,
    batch_id: int | None = None,
    step_id: int | None = None,
    entry_id: int | None = None,
) -> Deviation:
    """Open a deviation from another feature's use case, which has authorised its caller and
    found ``order``/``related_order`` in the caller's scope (the service for other features:
    the executed batch record opens one for a value outside its acceptable range, the chain of
    identity for a mismatch). The deviation and its audit entries, one on each linked order so
    that it shows in both orders' histories, are written in the caller's unit of work."""
    s = uow.session
    title = clean_text(title, "title", rules.TITLE_MAX, required=True)
    description = clean_text(description, "description", rules.TEXT_MAX, multiline=True)
    if len(description) < rules.MIN_TEXT:
        raise InputError(
            f"describe what happened (at least {rules.MIN_TEXT} characters)", field="description"
        )
    for name, value in (("batch_id", batch_id), ("step_id", step_id), ("entry_id", entry_id)):
        if value is not None and parse_id(value) is None:
            raise InputError("not an identifier", field=name)
    dev = Deviation(
        organisation_id=order.organisation_id if order is not None else scope.organisation_id,
        number=_next_number(s),
        title=title,
        description=description,
        source=source.value,
        order_id=order.id if order is not None else None,
        related_order_id=related_order.id if related_order is not None else None,
        mismatch_id=mismatch_id,
        lot_id=lot.id if lot is not None else None,
        batch_id=batch_id,
        step_id=step_id,
        entry_id=entry_id,
        status=Status.OPEN.value,
        opened_at=utcnow(),
        opened_by=uow.actor.name,
    )
    s.add(dev)
    s.flush()
    after = _audit_view(dev, order, related_order)
    uow.record(
        "mfg.deviation_open", RECORD, dev.id, after=after, organisation_id=dev.organisation_id
    )
    for own, other in ((order, related_order), (related_order, order)):
        if own is None:
            continue
        # in the order's history; another client's order is not named there
        shown = (
            other.number
            if other is not None and other.organisation_id == own.organisation_id
            else None
        )
        uow.record(
            "mfg.deviation_linked",
            "coi_order",
            own.id,
            after={
                "deviation": dev.number,
                "deviation_id": dev.id,
                "source": dev.source,
                # the title may name the deviation's own order: not in another client's history
                "title": dev.title if own.organisation_id == dev.organisation_id else None,
                "other_order": shown,
                "other_order_of_another_client": other is not None and shown is None,
            },
            organisation_id=own.organisation_id,
        )
    return dev


def _audit_view(dev: Deviation, order: Order | None, related: Order | None) -> dict[str, Any]:
    return {
        "number": dev.number,
        "title": dev.title,
        "description": dev.description,
        "source": dev.source,
        "order": order.number if order is not None else None,
        "related_order": related.number if related is not None else None,
        "mismatch_id": dev.mismatch_id,
        "lot_id": dev.lot_id,
        "batch_id": dev.batch_id,
        "step_id": dev.step_id,
        "entry_id": dev.entry_id,
    }


# --------------------------------------------------------------------------------------------
# classify and investigate, close
# --------------------------------------------------------------------------------------------


def _for_qa(uow: UnitOfWork, scope: Scope, deviation_id: int | str) -> Deviation:
    """The deviation, row locked, for a QA change: scope first, then the permission, then the
    lock by signature (as signing checks it, under the same row lock)."""
    dev = get_deviation(uow.session, scope, deviation_id, lock=True)
    scope.require(Perm.DEVIATION_MANAGE)
    ensure_unlocked(uow.session, RECORD, dev.id)
    rules.check_editable(_facts(dev))
    return dev


def classify(
    uow: UnitOfWork,
    scope: Scope,
    deviation_id: int | str,
    *,
    classification: str,
    root_cause: str,
    capa: str = "",
) -> Deviation:
    """QA classifies the deviation and records root cause and CAPA (may be changed until it
    is closed)."""
    dev = _for_qa(uow, scope, deviation_id)
    level = rules.parse_classification(classification)
    root_cause = clean_text(root_cause, "root_cause", rules.TEXT_MAX, multiline=True)
    capa = clean_text(capa, "capa", rules.TEXT_MAX, multiline=True)
    rules.check_investigation(level, root_cause, capa)
    before = investigation(dev)
    dev.classification = level.value
    dev.root_cause = root_cause
    dev.capa = capa
    dev.classified_by = uow.actor.name
    dev.classified_at = utcnow()
    uow.record(
        "mfg.deviation_classify",
        RECORD,
        dev.id,
        before=before,
        after=investigation(dev),
        organisation_id=dev.organisation_id,
    )
    return dev


def investigation(dev: Deviation) -> dict[str, Any]:
    return {
        "classification": dev.classification,
        "root_cause": dev.root_cause,
        "capa": dev.capa,
        "status": dev.status,
    }


def content(dev: Deviation) -> dict[str, Any]:
    """What QA signs when closing: the deviation, its links and its investigation."""
    return {
        "number": dev.number,
        "title": dev.title,
        "description": dev.description,
        "source": dev.source,
        "order_id": dev.order_id,
        "related_order_id": dev.related_order_id,
        "mismatch_id": dev.mismatch_id,
        "lot_id": dev.lot_id,
        "batch_id": dev.batch_id,
        "step_id": dev.step_id,
        "entry_id": dev.entry_id,
        "classification": dev.classification,
        "root_cause": dev.root_cause,
        "capa": dev.capa,
    }


def close(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    deviation_id: int | str,
    *,
    username: str,
    password: str,
    shown_hash: str | None = None,
) -> Signature:
    """QA closes the deviation with an electronic signature (meaning: reviewed); the signature
    locks it. The row is locked before anything is checked, so of two closings at once the
    second finds it closed."""
    dev = _for_qa(uow, scope, deviation_id)
    rules.check_closable(_facts(dev))
    signatures.require_credentials(username, password)
    sig = sign(
        uow,
        settings,
        signer_id=scope.user_id,
        username=username,
        password=password,
        record_type=RECORD,
        record_id=dev.id,
        organisation_id=dev.organisation_id,
        meaning=CLOSE_MEANING,
        content=content(dev),
        shown_hash=shown_hash,
        reason=f"closing deviation {dev.number}",
    )
    before = investigation(dev)
    dev.status = Status.CLOSED.value
    dev.closed_at = sig.signed_at
    dev.closed_by = uow.actor.name
    uow.record(
        "mfg.deviation_close",
        RECORD,
        dev.id,
        before=before,
        after=investigation(dev) | {"signature_id": sig.id},
        organisation_id=dev.organisation_id,
    )
    return sig


# --------------------------------------------------------------------------------------------
# reads
# --------------------------------------------------------------------------------------------

_LOADS = (
    selectinload(Deviation.order),
    selectinload(Deviation.related_order),
    selectinload(Deviation.lot).selectinload(MaterialLot.material),
)


def summary(dev: Deviation, scope: Scope) -> dict[str, Any]:
    """A deviation as the caller may see it: another client's order is not named."""

    def order_ref(order: Order | None) -> dict[str, Any] | None:
        if order is None:
            return None
        if not scope.sees(order.organisation_id):
            return {"id": None, "number": "an order of another client"}
        return {"id": order.id, "number": order.number}

    lot = dev.lot if scope.is_cdmo else None
    return {
        "id": dev.id,
        "number": dev.number,
        "title": dev.title,
        "source": dev.source,
        "status": dev.status,
        "classification": dev.classification,
        "order": order_ref(dev.order),
        "related_order": order_ref(dev.related_order),
        "mismatch_id": dev.mismatch_id,
        "lot": {"id": lot.id, "number": f"{lot.material.code}:{lot.lot_number}"} if lot else None,
        "batch_id": dev.batch_id,
        "step_id": dev.step_id,
        "entry_id": dev.entry_id,
        "opened_at": dev.opened_at,
        "opened_by": dev.opened_by,
        "closed_at": dev.closed_at,
        "closed_by": dev.closed_by,
    }


def list_deviations(
    session: Session,
    scope: Scope,
    *,
    status: str = "",
    classification: str = "",
    order_id: int | None = None,
) -> list[dict[str, Any]]:
    """Deviations in scope, newest first; filters: open/closed, a classification
    (``unclassified`` for none yet), an order (either link)."""
    scope.require(Perm.DEVIATION_READ)
    stmt = scope.filter(select(Deviation), Deviation).options(*_LOADS)
    wanted = rules.parse_status(status)
    if wanted is not None:
        stmt = stmt.where(Deviation.status == wanted.value)
    level = classification.strip().lower()
    if level == "unclassified":
        stmt = stmt.where(Deviation.classification.is_(None))
    elif level:
        stmt = stmt.where(Deviation.classification == rules.parse_classification(level).value)
    if order_id is not None:
        stmt = stmt.where(
            or_(Deviation.order_id == order_id, Deviation.related_order_id == order_id)
        )
    return [summary(d, scope) for d in session.scalars(stmt.order_by(Deviation.id.desc()))]


def of_order(session: Session, scope: Scope, order_id: int) -> list[dict[str, Any]]:
    """The deviations linked to an order (either link) that the caller may read (for the
    order's page and its history); empty for a role without ``deviation.read``."""
    if not scope.can(Perm.DEVIATION_READ):
        return []
    return list_deviations(session, scope, order_id=order_id)[::-1]


def deviation_detail(session: Session, scope: Scope, deviation_id: int | str) -> dict[str, Any]:
    dev = get_deviation(session, scope, deviation_id)
    shown = content(dev)
    return summary(dev, scope) | {
        "description": dev.description,
        "root_cause": dev.root_cause,
        "capa": dev.capa,
        "classified_by": dev.classified_by,
        "classified_at": dev.classified_at,
        "shown_hash": sha256_hex(shown),
        "signatures": [s.public() for s in signatures_for(session, RECORD, dev.id)],
        "editable": dev.status == Status.OPEN.value,
    }
