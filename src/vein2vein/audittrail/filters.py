"""The filters of the audit trail, shared by the page, the API and the command line.

A reviewer filters by user (the actor's user name as recorded), action, entity type (and id),
organisation (the CDMO's QA: whose records; a sponsor's user sees their own anyway) and a date
range. Dates are calendar days **in the display zone** (``V2V_DISPLAY_TIME_ZONE``, the zone
the pages show), converted to UTC instants, as the trail is kept: ``from`` is the start of
that day there, ``to`` the end of that day there (the start of the next, exclusive). A bad
value raises ``InputError`` naming the form field (``from``, ``to``, ``organisation``, ...).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from vein2vein.auth.scope import Scope
from vein2vein.core.errors import InputError
from vein2vein.core.text import clean_text
from vein2vein.store import audit
from vein2vein.web.forms import parse_date, parse_int

PAGE_SIZE = 100
#: the names of the filters on the page's form and in its links
FILTER_FIELDS = ("user", "action", "entity_type", "entity_id", "organisation", "from", "to")


@dataclass(frozen=True)
class AuditFilter:
    user: str | None = None
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    organisation_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    since: dt.datetime | None = None  # a UTC instant (``--since``, the API's ``since``)
    zone: str = "UTC"

    @property
    def start(self) -> dt.datetime | None:
        """The first UTC instant included: ``from`` at midnight in the display zone, or
        ``since``, whichever is later."""
        starts = [t for t in (_midnight(self.date_from, self.zone), self.since) if t]
        return max(starts) if starts else None

    @property
    def end(self) -> dt.datetime | None:
        """The first UTC instant excluded: midnight after ``to`` in the display zone."""
        if self.date_to is None:
            return None
        return _midnight(self.date_to + dt.timedelta(days=1), self.zone)

    def criteria(self, scope: Scope) -> audit.Criteria:
        ids = scope.organisation_ids
        return audit.Criteria(
            organisation_ids=frozenset(ids) if ids is not None else None,
            organisation_id=self.organisation_id,
            actor=self.user,
            action=self.action,
            entity_type=self.entity_type,
            entity_id=self.entity_id,
            since=self.start,
            until=self.end,
        )

    def params(self) -> dict[str, str]:
        """The filters as the page's query parameters (for links to other pages and exports)."""
        values = {
            "user": self.user,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "organisation": self.organisation_id,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "since": self.since.isoformat() if self.since else None,
        }
        return {k: str(v) for k, v in values.items() if v is not None}

    def describe(self, organisation_name: str | None = None) -> list[tuple[str, str]]:
        """The filters used, in words with their UTC bounds (printed on every export)."""
        out: list[tuple[str, str]] = []
        if self.user:
            out.append(("User", self.user))
        if self.action:
            out.append(("Action", self.action))
        if self.entity_type:
            out.append(("Entity type", self.entity_type))
        if self.entity_id:
            out.append(("Entity id", self.entity_id))
        if self.organisation_id is not None:
            name = f"{organisation_name} " if organisation_name else ""
            out.append(("Organisation", f"{name}(id {self.organisation_id})"))
        start, end = self.start, self.end
        if self.date_from or self.date_to or self.since:
            frm = self.date_from.isoformat() if self.date_from else "the start"
            to = self.date_to.isoformat() if self.date_to else "now"
            bounds = f"{_utc(start) if start else 'the start'} to {_utc(end) if end else 'now'}"
            out.append(("Dates", f"{frm} to {to} in {self.zone} (UTC: {bounds}, end excluded)"))
        return out or [("None", "every entry the exporter may read")]

    def without_dates(self) -> AuditFilter:
        return replace(self, date_from=None, date_to=None, since=None)


def _midnight(day: dt.date | None, zone: str) -> dt.datetime | None:
    if day is None:
        return None
    local = dt.datetime.combine(day, dt.time(0, 0), tzinfo=ZoneInfo(zone))
    return local.astimezone(dt.UTC)


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def parse_filter(
    *,
    user: str | None = None,
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    entity: str | None = None,
    organisation: str | int | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    since: str | None = None,
    zone: str = "UTC",
) -> AuditFilter:
    """The filters typed on the page (or given to the API or CLI), checked; ``entity`` is the
    older ``TYPE[:ID]`` form."""
    etype = clean_text(entity_type, "entity_type", 64) or None
    eid = clean_text(entity_id, "entity_id", 64) or None
    if entity:
        kind, _, ident = clean_text(entity, "entity", 130).partition(":")
        if not kind.strip():
            raise InputError("use TYPE:ID, for example user:3", field="entity")
        etype, eid = kind.strip(), (ident.strip() or eid)
    if eid and not etype:
        raise InputError("choose the entity type of the id", field="entity_type")
    start = parse_date(date_from, "from", "From", required=False)
    end = parse_date(date_to, "to", "To", required=False)
    if start and end and end < start:
        raise InputError("To: the day must not be before From", field="to")
    org = parse_int(
        None if organisation is None else str(organisation),
        "organisation",
        "Organisation",
        required=False,
        minimum=1,
    )
    return AuditFilter(
        user=clean_text(user, "user", 150) or None,
        action=clean_text(action, "action", 64) or None,
        entity_type=etype,
        entity_id=eid,
        organisation_id=org,
        date_from=start,
        date_to=end,
        since=parse_since(since),
        zone=zone,
    )


def parse_since(value: str | None) -> dt.datetime | None:
    """``YYYY-MM-DD`` or an ISO 8601 time, read as UTC when it names no zone."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
        return parsed.replace(tzinfo=parsed.tzinfo or dt.UTC).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise InputError(
            f"'{value}' is not a date; use YYYY-MM-DD or an ISO 8601 time", field="since"
        ) from None
