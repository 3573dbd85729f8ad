"""The CDMO's planning records: GMP suites, their downtime, product and laboratory settings.

Use cases of one unit of work each, audited and scoped. They belong to the CDMO
(``organisation_id`` of the caller's CDMO); every write takes the CDMO's planning lock, which
publishing takes too, so a plan is never published against settings that change while it is
checked. Who may do what: ``scheduling.access``. Also the small pieces the other planning
modules share: the scoped look-up of a CDMO-owned record, the lock, and the parsers of day
counts at the service boundary.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.auth.tables import Site
from vein2vein.core.clock import utcnow
from vein2vein.core.dates import bounded_date
from vein2vein.core.errors import Conflict, InputError, NotFound, RuleViolation
from vein2vein.core.text import clean_text, parse_id
from vein2vein.identity.tables import Facility
from vein2vein.scheduling import access
from vein2vein.scheduling.model import parse_weekdays
from vein2vein.scheduling.tables import (
    Downtime,
    LabSettings,
    ProductSettings,
    ReceivingSite,
    SiteTransfer,
    Suite,
)
from vein2vein.store.locks import advisory_lock
from vein2vein.store.uow import UnitOfWork

T = TypeVar("T")

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
_PRODUCT = re.compile(r"^[A-Z0-9][0-9]{4}$")
_WHOLE = re.compile(r"[+-]?[0-9]{1,9}")
_PLANNING_LOCK = 7_262_004  # advisory lock class: one planning writer per CDMO at a time


# ------------------------------------------------------------------------------------------
# shared by the planning modules
# ------------------------------------------------------------------------------------------


def lock_planning(session: Session, organisation_id: int) -> None:
    """Serialise every write of a CDMO's planning data with publishing (PostgreSQL advisory
    transaction lock; SQLite writing transactions already begin IMMEDIATE): a plan is never
    published against suites, downtime or settings that change while it is being checked."""
    advisory_lock(session, _PLANNING_LOCK, organisation_id)


def own(session: Session, scope: Scope, model: type[T], ident: object) -> T:
    """A CDMO-owned scheduling record of the caller's organisation, or ``NotFound``."""
    row = get_scoped(session, scope, model, ident)
    if row.organisation_id != scope.organisation_id:  # type: ignore[attr-defined]
        label = getattr(model, "__tablename__", "record").replace("_", " ")
        raise NotFound(f"{label} {ident} not found")
    return row


def plan_date(value: object, field: str) -> dt.date:
    """A calendar date within the plausible window (``core.dates``)."""
    return bounded_date(value, field)  # type: ignore[arg-type]


def whole_days(value: object, field: str, low: int = 0, high: int = 365) -> int:
    """A whole number (of days, batches, ...) from an API integer or a form's text: ASCII
    digits only (a superscript or another script's digit is refused), within ``low..high``."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = str(value).strip() if value is not None else ""
        if not text.isascii() or not _WHOLE.fullmatch(text):
            raise InputError("enter a whole number (digits 0-9)", field=field)
        number = int(text)
    if not low <= number <= high:
        raise InputError(f"must be between {low} and {high}", field=field)
    return number


def optional_whole(value: object, field: str, low: int = 1, high: int = 1000) -> int | None:
    """:func:`whole_days`, or ``None`` (no limit) when left empty."""
    if value is None or str(value).strip() == "":
        return None
    return whole_days(value, field, low, high)


def truthy(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "y", "yes", "true", "on")


# ------------------------------------------------------------------------------------------
# suites and downtime
# ------------------------------------------------------------------------------------------


def _suite_values(
    *,
    name: str,
    infectious: object,
    changeover_days: object,
    decon_days: object,
    available_from: object,
) -> dict[str, Any]:
    return {
        "name": clean_text(name, "name", 200),
        "infectious": truthy(infectious),
        "changeover_days": whole_days(changeover_days, "changeover_days", 0, 60),
        "decon_days": whole_days(decon_days, "decon_days", 0, 60),
        "available_from": plan_date(available_from, "available_from"),
    }


def add_suite(
    uow: UnitOfWork,
    scope: Scope,
    *,
    site_id: int,
    code: str,
    name: str = "",
    infectious: object = False,
    changeover_days: object = 1,
    decon_days: object = 0,
    available_from: object = None,
) -> Suite:
    """Add a GMP suite to one of the caller's manufacturing sites."""
    access.require_plan(scope)
    lock_planning(uow.session, scope.organisation_id)
    s = uow.session
    key = parse_id(site_id)  # an id beyond any column's range is simply not one of the sites
    site = s.get(Site, key) if key is not None else None
    if site is None or site.organisation_id != scope.organisation_id:
        raise InputError("choose one of your organisation's manufacturing sites", field="site_id")
    if site.purpose != "MANUFACTURING":
        raise InputError(f"{site.name} is not a manufacturing site", field="site_id")
    code = clean_text(code, "code", 32, required=True).upper()
    if not _CODE.match(code):
        raise InputError("letters, digits and '-' only (e.g. LEI-03)", field="code")
    if s.scalar(
        select(Suite.id).where(Suite.organisation_id == scope.organisation_id, Suite.code == code)
    ):
        raise Conflict(f"suite {code} already exists")
    values = _suite_values(
        name=name,
        infectious=infectious,
        changeover_days=changeover_days,
        decon_days=decon_days,
        available_from=available_from or utcnow().date(),
    )
    suite = Suite(
        organisation_id=scope.organisation_id,
        site_id=site.id,
        code=code,
        created_by=uow.actor.name,
        **values,
    )
    s.add(suite)
    uow.record("schedule.suite_add", "sched_suite", _flush_id(s, suite), after=suite.public())
    return suite


def _flush_id(session: Session, row: Any) -> int:
    session.flush()
    return int(row.id)


def update_suite(
    uow: UnitOfWork, scope: Scope, suite_id: int, *, reason: str, **changes: object
) -> Suite:
    """Change a suite's name, segregation, cleaning days or availability (with a reason)."""
    suite = own(uow.session, scope, Suite, suite_id)
    access.require_plan(scope)
    lock_planning(uow.session, scope.organisation_id)
    reason = clean_text(reason, "reason", 300, required=True)
    before = suite.public()
    current = {k: getattr(suite, k) for k in ("name", "infectious", "changeover_days")} | {
        "decon_days": suite.decon_days,
        "available_from": suite.available_from,
    }
    unknown = set(changes) - set(current)
    if unknown:
        raise InputError(f"cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    values = _suite_values(**(current | {k: v for k, v in changes.items() if v is not None}))  # type: ignore[arg-type]
    for key, value in values.items():
        setattr(suite, key, value)
    uow.record(
        "schedule.suite_update",
        "sched_suite",
        suite.id,
        before=before,
        after=suite.public(),
        reason=reason,
    )
    return suite


def add_downtime(
    uow: UnitOfWork,
    scope: Scope,
    suite_id: int,
    *,
    first_day: object,
    last_day: object,
    reason: str,
) -> Downtime:
    """Close a suite from ``first_day`` to ``last_day`` (both included): maintenance, failure."""
    suite = own(uow.session, scope, Suite, suite_id)
    access.require_plan(scope)
    lock_planning(uow.session, scope.organisation_id)
    first = plan_date(first_day, "first_day")
    last = plan_date(last_day, "last_day")
    if last < first:
        raise InputError("the last day down cannot be before the first", field="last_day")
    window = Downtime(
        organisation_id=scope.organisation_id,
        suite_id=suite.id,
        first_day=first,
        last_day=last,
        reason=clean_text(reason, "reason", 300, required=True),
        created_by=uow.actor.name,
    )
    uow.session.add(window)
    uow.session.flush()
    window.suite = suite
    uow.record("schedule.downtime_add", "sched_downtime", window.id, after=window.public())
    return window


def cancel_downtime(uow: UnitOfWork, scope: Scope, downtime_id: int, reason: str) -> Downtime:
    window = own(uow.session, scope, Downtime, downtime_id)
    access.require_plan(scope)
    lock_planning(uow.session, scope.organisation_id)
    if not window.active:
        raise Conflict(f"downtime {downtime_id} was already cancelled")
    before = window.public()
    window.cancelled_at = utcnow()
    window.cancelled_by = uow.actor.name
    window.cancel_reason = clean_text(reason, "reason", 300, required=True)
    uow.record(
        "schedule.downtime_cancel",
        "sched_downtime",
        window.id,
        before=before,
        after=window.public(),
        reason=window.cancel_reason,
    )
    return window


# ------------------------------------------------------------------------------------------
# product and laboratory settings
# ------------------------------------------------------------------------------------------


def set_product(
    uow: UnitOfWork,
    scope: Scope,
    *,
    product_code: str,
    name: str = "",
    process_days: object,
    start_weekdays: str = "Mon-Fri",
    qc_method: str = "compendial",
    qc_days_rapid: object,
    qc_days_compendial: object,
    fresh_hold_days: object = 2,
    cryo_hold_days: object = 180,
    inbound_days: object = 1,
    ship_days: object = 2,
    reason: str = "",
) -> ProductSettings:
    """Create or change the process settings of a product (ISBT 128 description code)."""
    access.require_plan(scope)
    lock_planning(uow.session, scope.organisation_id)
    code = clean_text(product_code, "product_code", 8, required=True).upper()[:5]
    if not _PRODUCT.match(code):
        raise InputError("the product description code is a letter and 4 digits", field="code")
    try:
        weekdays = parse_weekdays(start_weekdays)
    except ValueError as exc:
        raise InputError(str(exc), field="start_weekdays") from None
    method = (qc_method or "").strip().lower()
    if method not in ("rapid", "compendial"):
        raise InputError("QC release testing is rapid or compendial", field="qc_method")
    values = {
        "name": clean_text(name, "name", 200),
        "process_days": whole_days(process_days, "process_days", 1, 120),
        "start_weekdays": ",".join(
            ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[d] for d in sorted(weekdays)
        ),
        "qc_method": method,
        "qc_days_rapid": whole_days(qc_days_rapid, "qc_days_rapid", 0, 60),
        "qc_days_compendial": whole_days(qc_days_compendial, "qc_days_compendial", 0, 60),
        "fresh_hold_days": whole_days(fresh_hold_days, "fresh_hold_days", 0, 30),
        "cryo_hold_days": whole_days(cryo_hold_days, "cryo_hold_days", 0, 3650),
        "inbound_days": whole_days(inbound_days, "inbound_days", 0, 30),
        "ship_days": whole_days(ship_days, "ship_days", 0, 30),
    }
    s = uow.session
    row = s.scalar(
        select(ProductSettings).where(
            ProductSettings.organisation_id == scope.organisation_id,
            ProductSettings.product_code == code,
        )
    )
    before = row.public() if row is not None else None
    if row is None:
        row = ProductSettings(organisation_id=scope.organisation_id, product_code=code)
        s.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at, row.updated_by = utcnow(), uow.actor.name
    uow.record(
        "schedule.product_set",
        "sched_product",
        _flush_id(s, row),
        before=before,
        after=row.public(),
        reason=clean_text(reason, "reason", 300) or None,
    )
    return row


def set_lab(
    uow: UnitOfWork,
    scope: Scope,
    *,
    qc_capacity: object = None,
    max_starts_per_day: object = None,
    risk_margin_days: object = 2,
    reason: str = "",
) -> LabSettings:
    """QC release capacity (batches in testing at once), starts per day, at-risk margin."""
    access.require_plan(scope)
    lock_planning(uow.session, scope.organisation_id)
    s = uow.session
    row = s.scalar(select(LabSettings).where(LabSettings.organisation_id == scope.organisation_id))
    before = row.public() if row is not None else None
    if row is None:
        row = LabSettings(organisation_id=scope.organisation_id)
        s.add(row)
    row.qc_capacity = optional_whole(qc_capacity, "qc_capacity")
    row.max_starts_per_day = optional_whole(max_starts_per_day, "max_starts_per_day")
    row.risk_margin_days = whole_days(risk_margin_days, "risk_margin_days", 0, 60)
    row.updated_at, row.updated_by = utcnow(), uow.actor.name
    uow.record(
        "schedule.lab_set",
        "sched_lab",
        _flush_id(s, row),
        before=before,
        after=row.public(),
        reason=clean_text(reason, "reason", 300) or None,
    )
    return row


# ------------------------------------------------------------------------------------------
# where material is received, and shipping between sites
# ------------------------------------------------------------------------------------------


def _manufacturing_site(session: Session, scope: Scope, site_id: object, field: str) -> Site:
    key = parse_id(site_id)
    site = session.get(Site, key) if key is not None else None
    if site is None or site.organisation_id != scope.organisation_id:
        raise InputError("choose one of your organisation's manufacturing sites", field=field)
    if site.purpose != "MANUFACTURING":
        raise InputError(f"{site.name} is not a manufacturing site", field=field)
    return site


def set_receiving_site(
    uow: UnitOfWork, scope: Scope, *, facility_id: object, site_id: object, reason: str = ""
) -> ReceivingSite:
    """The manufacturing site that receives the starting material of the orders bound to one
    of the caller's facilities (FIN): plans keep that material at that site, or ship it."""
    access.require_plan(scope)
    lock_planning(uow.session, scope.organisation_id)
    s = uow.session
    key = parse_id(facility_id)
    facility = s.get(Facility, key) if key is not None else None
    if facility is None or facility.organisation_id != scope.organisation_id:
        raise InputError("choose one of your organisation's facilities", field="facility_id")
    site = _manufacturing_site(s, scope, site_id, "site_id")
    row = s.scalar(select(ReceivingSite).where(ReceivingSite.facility_id == facility.id))
    before = row.public() if row is not None else None
    if row is None:
        row = ReceivingSite(organisation_id=scope.organisation_id, facility_id=facility.id)
        s.add(row)
    row.site_id, row.site = site.id, site
    row.updated_at, row.updated_by = utcnow(), uow.actor.name
    uow.record(
        "schedule.receiving_site_set",
        "sched_receiving_site",
        _flush_id(s, row),
        before=before,
        after=row.public() | {"facility": facility.fin},
        reason=clean_text(reason, "reason", 300) or None,
    )
    return row


def set_transfer(
    uow: UnitOfWork,
    scope: Scope,
    *,
    from_site_id: object,
    to_site_id: object,
    days: object,
    reason: str = "",
) -> SiteTransfer:
    """Days of shipping starting material from one manufacturing site to another (one way);
    empty days close the route (no material goes that way)."""
    access.require_plan(scope)
    lock_planning(uow.session, scope.organisation_id)
    s = uow.session
    origin = _manufacturing_site(s, scope, from_site_id, "from_site_id")
    to = _manufacturing_site(s, scope, to_site_id, "to_site_id")
    if origin.id == to.id:
        raise InputError("a shipping route joins two different sites", field="to_site_id")
    text = "" if days is None else str(days).strip()
    value = None if text == "" else whole_days(days, "days", 0, 30)
    row = s.scalar(
        select(SiteTransfer).where(
            SiteTransfer.organisation_id == scope.organisation_id,
            SiteTransfer.from_site_id == origin.id,
            SiteTransfer.to_site_id == to.id,
        )
    )
    before = row.public() if row is not None else None
    if row is None:
        row = SiteTransfer(
            organisation_id=scope.organisation_id, from_site_id=origin.id, to_site_id=to.id
        )
        row.from_site, row.to_site = origin, to
        s.add(row)
    row.days = value
    row.updated_at, row.updated_by = utcnow(), uow.actor.name
    uow.record(
        "schedule.transfer_set",
        "sched_site_transfer",
        _flush_id(s, row),
        before=before,
        after=row.public(),
        reason=clean_text(reason, "reason", 300) or None,
    )
    return row


def lab_settings(session: Session, organisation_id: int) -> LabSettings | None:
    return session.scalar(select(LabSettings).where(LabSettings.organisation_id == organisation_id))


def require_suite_for(
    session: Session, cdmo_id: int, code: str, *, infectious: bool
) -> Suite | None:
    """The plan's ``infectious_suite`` rule where material really enters a suite (a batch made
    or started there, a custody step recorded there): material of a donor with a positive
    infectious-disease marker goes only to a suite designated for it, so an unknown suite is
    refused for it too. Other material may use any suite; the CDMO's suite of that code (codes
    compared without case) is returned, or None when there is none."""
    suite = session.scalars(
        select(Suite).where(
            Suite.organisation_id == cdmo_id, func.upper(Suite.code) == code.strip().upper()
        )
    ).first()
    if infectious and (suite is None or not suite.infectious):
        what = "is not designated" if suite is not None else "is not a GMP suite of the plan"
        raise RuleViolation(
            f"suite {code} {what} for material of infectious donors: the order's donor has a "
            "positive infectious-disease marker, so its material goes only to a designated "
            "suite"
        )
    return suite
