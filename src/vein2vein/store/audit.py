"""The audit trail: an append-only, hash-chained table (21 CFR 11.10(e), EU GMP Annex 11 §9).

Each entry's hash is SHA-256 over the canonical JSON of every other field of the row, including the
previous entry's hash, so altering, deleting or inserting a row out of band breaks the chain at the
first affected sequence number. Triggers (see the first migration) make the database itself refuse
UPDATE and DELETE. Deleting the newest rows leaves a shorter but valid chain: that is caught by
comparing the head hash with one recorded elsewhere (``verify(head=...)``; see docs/audit-trail.md).
Design after google/trillian (dense sequence numbers, signed tree head) and supabase/supa_audit
(before/after images written in the same transaction).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from vein2vein.core.canonical import canonical_json, sha256_hex
from vein2vein.core.clock import iso_utc, utcnow
from vein2vein.core.diff import changes
from vein2vein.store.base import Base
from vein2vein.store.locks import advisory_lock

GENESIS_HASH = "0" * 64
_PG_AUDIT_LOCK = 7_262_001  # advisory lock key serialising appends on PostgreSQL


class AuditEntry(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recorded_at: Mapped[str] = mapped_column(String(32), index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(150))
    organisation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    def payload(self) -> dict[str, Any]:
        return entry_payload(self)

    def to_dict(self) -> dict[str, Any]:
        d = entry_payload(self)
        d["before"] = json.loads(self.before) if self.before is not None else None
        d["after"] = json.loads(self.after) if self.after is not None else None
        d["hash"] = self.hash
        d["changes"] = [c.to_dict() for c in changes(d["before"], d["after"])]
        return d


HASHED_FIELDS = (
    "seq",
    "recorded_at",
    "actor_id",
    "actor",
    "organisation_id",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "reason",
    "prev_hash",
)


def entry_payload(row: Any) -> dict[str, Any]:
    """Every field of an audit row except its own hash: what the hash covers."""
    return {name: getattr(row, name) for name in HASHED_FIELDS}


def is_hash(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)


def compute_hash(row: Any) -> str:
    return sha256_hex(entry_payload(row))


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


def head(session: Session) -> Head:
    row = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    return Head(0, GENESIS_HASH) if row is None else Head(row.seq, row.hash)


def _encode(value: Any) -> str | None:
    return None if value is None else canonical_json(value).decode("utf-8")


def append(
    session: Session,
    *,
    actor: str,
    actor_id: int | None,
    organisation_id: int | None,
    action: str,
    entity_type: str,
    entity_id: str | int,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
    at: dt.datetime | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (it commits or rolls back with the change)."""
    advisory_lock(session, _PG_AUDIT_LOCK)
    last = head(session)
    entry = AuditEntry(
        seq=last.seq + 1,
        recorded_at=iso_utc(at or utcnow()),
        actor_id=actor_id,
        actor=actor,
        organisation_id=organisation_id,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=_encode(before),
        after=_encode(after),
        reason=reason,
        prev_hash=last.hash,
    )
    entry.hash = compute_hash(entry)
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    head: Head
    broken_seq: int | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "count": self.count,
            "head_seq": self.head.seq,
            "head_hash": self.head.hash,
            "broken_seq": self.broken_seq,
            "problem": self.problem,
        }


def _rows(session: Session, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Every row, in sequence order, with no lower bound (a forged seq 0 or -1 is seen too).

    Plain tuples streamed in batches: the caller's session and its objects are left alone.
    """
    columns = [getattr(AuditEntry, name) for name in (*HASHED_FIELDS, "hash")]
    result = session.execute(
        select(*columns).order_by(AuditEntry.seq).execution_options(yield_per=batch)
    )
    yield from result


class _Row:
    """A read-only view of one audit row with the attribute names ``entry_payload`` expects."""

    __slots__ = (*HASHED_FIELDS, "hash")
    seq: int
    prev_hash: str
    hash: str

    def __init__(self, values: tuple[Any, ...]) -> None:
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)


def verify(
    session: Session,
    *,
    head_hash: str | None = None,
    anchors: Sequence[tuple[int, str]] = (),
) -> VerifyResult:
    """Walk the whole chain; report the first sequence number where it breaks.

    ``head_hash``: a head hash recorded outside the database (a signed report, a review record);
    the chain must contain an entry with that hash, which catches deletion of the newest rows.

    ``anchors``: heads recorded outside the rows with their sequence numbers (``(seq, hash)``, as
    signed audit-trail reviews keep them). A tail rewritten with recomputed hashes is internally
    consistent; the anchors locate the rewrite: it began after the last anchor that still
    matches and at or before the first that does not, and that range is reported.
    """
    for seq, value in anchors:
        if not is_hash(value):
            from vein2vein.core.errors import InputError

            raise InputError(
                f"anchor at sequence {seq}: a SHA-256 is 64 hexadecimal characters", field="head"
            )
    anchored: dict[int, set[str]] = {}
    for seq, value in anchors:  # two anchors of one sequence (two reviews) must both match
        anchored.setdefault(int(seq), set()).add(value.lower())
    matched: list[int] = []
    mismatched: list[int] = []
    if head_hash is not None and not is_hash(head_hash):
        from vein2vein.core.errors import InputError

        raise InputError("an anchored head is a SHA-256: 64 hexadecimal characters", field="head")
    head_hash = head_hash.lower() if head_hash else None
    expected_seq = 1
    prev = GENESIS_HASH
    count = 0
    seen_head = head_hash is None
    last = Head(0, GENESIS_HASH)
    for values in _rows(session):
        row = _Row(values)
        if row.seq != expected_seq:
            if row.seq < expected_seq:
                return VerifyResult(
                    False,
                    count,
                    last,
                    row.seq,
                    f"sequence {row.seq}: a row numbered outside the chain (inserted out of band)",
                )
            return VerifyResult(
                False, count, last, expected_seq, f"sequence {expected_seq} missing (deleted)"
            )
        if row.prev_hash != prev:
            return VerifyResult(
                False, count, last, row.seq, f"sequence {row.seq}: previous-hash link broken"
            )
        if compute_hash(row) != row.hash:
            return VerifyResult(
                False, count, last, row.seq, f"sequence {row.seq}: content does not match its hash"
            )
        if head_hash is not None and row.hash == head_hash:
            seen_head = True
        if row.seq in anchored:
            (matched if anchored[row.seq] == {row.hash} else mismatched).append(row.seq)
        prev = row.hash
        count += 1
        last = Head(row.seq, row.hash)
        expected_seq += 1
    if mismatched:
        bad = mismatched[0]
        good = max((m for m in matched if m < bad), default=0)
        return VerifyResult(
            False,
            count,
            last,
            good + 1,
            f"the entry at sequence {bad} no longer has its anchored hash: the chain was "
            f"rewritten with recomputed hashes, beginning between sequence {good + 1} and {bad}",
        )
    beyond = [seq for seq in anchored if seq > last.seq]
    if beyond:
        return VerifyResult(
            False,
            count,
            last,
            last.seq + 1,
            f"an anchored head at sequence {min(beyond)} is beyond the chain's end: entries after "
            f"sequence {last.seq} were removed",
        )
    if not seen_head:
        return VerifyResult(
            False,
            count,
            last,
            last.seq + 1,
            "the anchored head hash is not in the chain: entries after "
            f"sequence {last.seq} were removed, or the anchor belongs to another database",
        )
    return VerifyResult(True, count, last)


def query(
    session: Session,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    since: dt.datetime | None = None,
    organisation_ids: set[int] | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[AuditEntry]:
    """Read entries; ``organisation_ids`` restricts to entries of those organisations."""
    stmt = select(AuditEntry)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == str(entity_id))
    if since is not None:
        stmt = stmt.where(AuditEntry.recorded_at >= iso_utc(since))
    if organisation_ids is not None:
        stmt = stmt.where(AuditEntry.organisation_id.in_(organisation_ids))
    stmt = stmt.order_by(AuditEntry.seq.desc() if newest_first else AuditEntry.seq)
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class Criteria:
    """Which entries to read: every field that is set narrows the selection (``until`` is
    exclusive, ``since`` inclusive; both UTC). ``organisation_ids`` is the caller's scope
    (None: every organisation); ``organisation_id`` a filter chosen within it."""

    organisation_ids: frozenset[int] | None = None
    organisation_id: int | None = None
    actor: str | None = None
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    from_seq: int | None = None
    to_seq: int | None = None

    def where(self, stmt: Any) -> Any:
        conditions = [
            (self.organisation_ids, lambda v: AuditEntry.organisation_id.in_(v)),
            (self.organisation_id, lambda v: AuditEntry.organisation_id == v),
            (self.actor, lambda v: AuditEntry.actor == v),
            (self.action, lambda v: AuditEntry.action == v),
            (self.entity_type, lambda v: AuditEntry.entity_type == v),
            (self.entity_id, lambda v: AuditEntry.entity_id == str(v)),
            (self.since, lambda v: AuditEntry.recorded_at >= iso_utc(v)),
            (self.until, lambda v: AuditEntry.recorded_at < iso_utc(v)),
            (self.from_seq, lambda v: AuditEntry.seq >= v),
            (self.to_seq, lambda v: AuditEntry.seq <= v),
        ]
        for value, condition in conditions:
            if value is not None:
                stmt = stmt.where(condition(value))
        return stmt


@dataclass(frozen=True)
class Page:
    """One page of entries (in the order asked for) and where the neighbouring pages start."""

    rows: list[AuditEntry]
    total: int
    newer: int | None  # the first sequence of the page of newer entries, if there is one
    older: int | None  # the last sequence of the page of older entries, if there is one


def page(
    session: Session,
    criteria: Criteria,
    *,
    size: int = 100,
    below: int | None = None,
    above: int | None = None,
    newest_first: bool = True,
) -> Page:
    """A page of ``size`` matching entries, newest first, by keyset on the sequence number (no
    offset, no cap): the entries just below ``below`` (the following, older page), or just
    above ``above`` (the preceding, newer page), or neither: the newest. ``page.older`` is the
    ``below`` of the next older page and ``page.newer`` the ``above`` of the next newer page
    (None at either end); ``total`` counts every matching entry."""
    base = criteria.where(select(AuditEntry))
    if above is not None:
        stmt = base.where(AuditEntry.seq > above).order_by(AuditEntry.seq).limit(size)
        rows = list(session.scalars(stmt))[::-1]
    else:
        if below is not None:
            base = base.where(AuditEntry.seq < below)
        rows = list(session.scalars(base.order_by(AuditEntry.seq.desc()).limit(size)))
    total = count_matching(session, criteria)
    newer = older = None
    if rows:
        top, bottom = rows[0].seq, rows[-1].seq
        if _exists(session, criteria, AuditEntry.seq > top):
            newer = top
        if _exists(session, criteria, AuditEntry.seq < bottom):
            older = bottom
    if not newest_first:
        rows.reverse()
    return Page(rows, total, newer, older)


def matching(
    session: Session, criteria: Criteria, *, limit: int | None = None, newest_first: bool = False
) -> list[AuditEntry]:
    """The matching entries in sequence order (newest first when asked), at most ``limit``."""
    stmt = criteria.where(select(AuditEntry))
    stmt = stmt.order_by(AuditEntry.seq.desc() if newest_first else AuditEntry.seq)
    return list(session.scalars(stmt.limit(limit) if limit else stmt))


def _exists(session: Session, criteria: Criteria, condition: Any) -> bool:
    stmt = criteria.where(select(AuditEntry.seq)).where(condition).limit(1)
    return session.scalar(stmt) is not None


def count_matching(session: Session, criteria: Criteria) -> int:
    stmt = criteria.where(select(func.count()).select_from(AuditEntry))
    return int(session.scalar(stmt) or 0)


def iter_matching(session: Session, criteria: Criteria, batch: int = 2000) -> Iterator[AuditEntry]:
    """Every matching entry, oldest first, read in keyset batches (for exports)."""
    last = 0
    while True:
        stmt = criteria.where(select(AuditEntry)).where(AuditEntry.seq > last)
        rows = list(session.scalars(stmt.order_by(AuditEntry.seq).limit(batch)))
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1].seq


def distinct_values(session: Session, column: str, criteria: Criteria) -> list[Any]:
    """The distinct values of one column among the matching entries, sorted (filter choices)."""
    col = getattr(AuditEntry, column)
    stmt = criteria.where(select(col).distinct()).where(col.is_not(None)).order_by(col)
    return list(session.scalars(stmt))


def hashes_digest(hashes: Iterable[tuple[int, str]]) -> str:
    """SHA-256 over ``SEQ:HASH`` lines (one per entry, in sequence order, each ending in a line
    feed): what a signed audit-trail review covers. Any entry altered, added, removed or
    reordered changes it (an altered entry has another hash, or it breaks the chain)."""
    h = hashlib.sha256()
    for seq, value in hashes:
        h.update(f"{seq}:{value}\n".encode("ascii"))
    return h.hexdigest()


def range_digest(session: Session, from_seq: int, to_seq: int) -> str:
    """``hashes_digest`` of the entries from ``from_seq`` to ``to_seq`` as they are now."""
    rows = session.execute(
        select(AuditEntry.seq, AuditEntry.hash)
        .where(AuditEntry.seq >= from_seq, AuditEntry.seq <= to_seq)
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=5000)
    )
    return hashes_digest((seq, value) for seq, value in rows)


def count(session: Session, *, organisation_ids: set[int] | None = None) -> int:
    """How many entries there are (of those organisations, when given)."""
    stmt = select(func.count()).select_from(AuditEntry)
    if organisation_ids is not None:
        stmt = stmt.where(AuditEntry.organisation_id.in_(organisation_ids))
    return int(session.scalar(stmt) or 0)
