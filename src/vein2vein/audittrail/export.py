"""Exports of the filtered audit trail: CSV and PDF, each anchored to the chain's head.

An export states the chain's head at the time it is made (sequence and hash of the newest entry:
``v2v audit verify --head SEQ:HASH`` checks it later), who made it and when (UTC), and the
filters used; it holds every entry the exporter may read that matches them, up to that head,
oldest first. Making one is itself recorded in the trail (``record_export``), with the file's
SHA-256, as the clinical report's hand-out is.

CSV (RFC 4180, UTF-8): first a few lines beginning with ``#`` (the head, the filters, who and
when), then one header row and one row per entry: UTC time, actor, organisation, action,
entity (type, id and name), reason, the changes (one ``field: before -> after`` line each),
before and after as canonical JSON (as hashed), the previous hash and the entry's hash. A
text cell a spreadsheet would run as a formula (beginning with ``=``, ``+``, ``-``, ``@``) is
written with a leading apostrophe (OWASP, "CSV injection"); the JSON columns are never altered.

PDF (A4 landscape, fpdf2 through ``reports.pdf``): the same statement, then each entry with its
changes as a table of field, before and after (long values wrapped); every page's footer
carries the head.
"""

from __future__ import annotations

import csv
import hashlib
import io
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from vein2vein.audittrail.filters import AuditFilter
from vein2vein.audittrail.views import labelled
from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.auth.tables import Organisation
from vein2vein.core.clock import utcnow
from vein2vein.core.diff import Change, changes, summary
from vein2vein.core.errors import InputError
from vein2vein.store import audit
from vein2vein.store.uow import UnitOfWork

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}
COLUMNS = (
    "seq",
    "recorded_at_utc",
    "actor",
    "actor_id",
    "organisation_id",
    "organisation",
    "action",
    "entity_type",
    "entity_id",
    "entity_name",
    "reason",
    "changes",
    "before_json",
    "after_json",
    "prev_hash",
    "hash",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_BATCH = 500


@dataclass(frozen=True)
class Export:
    content: bytes
    fmt: str
    filename: str
    sha256: str
    head: audit.Head
    entries: int
    filters: list[tuple[str, str]]
    generated_at: str

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.fmt]

    def summary(self) -> dict[str, Any]:
        """What the command line prints and the trail records of an export."""
        return {
            "format": self.fmt,
            "filename": self.filename,
            "sha256": self.sha256,
            "entries": self.entries,
            "head_seq": self.head.seq,
            "head_hash": self.head.hash,
            "filters": [f"{k}: {v}" for k, v in self.filters],
            "generated_at": self.generated_at,
        }


def build_export(session: Session, scope: Scope, filters: AuditFilter, fmt: str) -> Export:
    """The export of the entries the caller may read that match ``filters`` (up to the head
    read first, so the file and the head it states agree), as CSV or PDF."""
    scope.require(Perm.AUDIT_READ)
    if fmt not in MEDIA_TYPES:
        raise InputError("the export format is csv or pdf", field="format")
    head = audit.head(session)
    org_name = None
    if filters.organisation_id is not None:
        org = session.get(Organisation, filters.organisation_id)
        org_name = org.name if org is not None and scope.sees(org.id) else None
    described = filters.describe(org_name)
    now = utcnow().isoformat(timespec="seconds").replace("+00:00", "Z")
    statement = [
        ("Chain head at export", f"sequence {head.seq}, SHA-256 {head.hash}"),
        ("Verify with", f"v2v audit verify --head {head.seq}:{head.hash}"),
        ("Generated", f"{now} by {scope.username}"),
        ("Filters", "; ".join(f"{k} = {v}" for k, v in described)),
    ]
    criteria = filters.criteria(scope)
    bounded = replace(criteria, to_seq=head.seq)
    rows = _entries(session, scope, bounded)
    if fmt == "csv":
        content, count = _csv(statement, rows)
    else:
        content, count = _pdf(statement, rows, head)
    stamp = now[:10]
    return Export(
        content=content,
        fmt=fmt,
        filename=f"audit-trail-{stamp}-head-{head.seq}.{fmt}",
        sha256=hashlib.sha256(content).hexdigest(),
        head=head,
        entries=count,
        filters=described,
        generated_at=now,
    )


def record_export(uow: UnitOfWork, export: Export) -> None:
    """Audit the export: which file (SHA-256) of how many entries anchored which head."""
    uow.record("audit.export", "audit_log", export.head.seq, after=export.summary())


def _entries(session: Session, scope: Scope, criteria: audit.Criteria) -> Iterator[dict[str, Any]]:
    batch: list[dict[str, Any]] = []
    for row in audit.iter_matching(session, criteria):
        batch.append(row.to_dict() | {"before_json": row.before, "after_json": row.after})
        if len(batch) == _BATCH:
            yield from labelled(session, scope, batch)
            batch = []
    yield from labelled(session, scope, batch)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _csv(statement: list[tuple[str, str]], rows: Iterator[dict[str, Any]]) -> tuple[bytes, int]:
    out = io.StringIO()
    out.write("# vein2vein audit trail export\r\n")
    for key, value in statement:
        out.write(f"# {key}: {value}\r\n")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for r in rows:
        writer.writerow(
            [
                r["seq"],
                r["recorded_at"],
                _cell(r["actor"]),
                "" if r["actor_id"] is None else r["actor_id"],
                "" if r["organisation_id"] is None else r["organisation_id"],
                _cell(r["organisation_label"]),
                _cell(r["action"]),
                _cell(r["entity_type"]),
                _cell(r["entity_id"]),
                _cell(r["entity_label"]),
                _cell(r["reason"]),
                _cell(summary(changes(r["before"], r["after"]))),
                r["before_json"] or "",
                r["after_json"] or "",
                r["prev_hash"],
                r["hash"],
            ]
        )
        count += 1
    return out.getvalue().encode("utf-8"), count


def _pdf(
    statement: list[tuple[str, str]], rows: Iterator[dict[str, Any]], head: audit.Head
) -> tuple[bytes, int]:
    from vein2vein.reports.pdf import anchored_pdf, latin1

    pdf = anchored_pdf([f"Audit trail head at export: #{head.seq} {head.hash}"], "L")
    pdf.set_title("Audit trail export")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 9, "Audit trail export", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    for key, value in statement:
        pdf.multi_cell(0, 4, latin1(f"{key}: {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    count = 0
    for r in rows:
        count += 1
        name = f"{r['entity_label']} " if r["entity_label"] else ""
        org = f" - {r['organisation_label']}" if r["organisation_label"] else ""
        pdf.set_font("Helvetica", "B", 8)
        pdf.multi_cell(
            0,
            4,
            latin1(
                f"#{r['seq']}  {r['recorded_at'][:19].replace('T', ' ')} UTC  {r['actor']}  "
                f"{r['action']}  {name}({r['entity_type']}:{r['entity_id']}){org}"
            ),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_font("Helvetica", "", 7)
        if r["reason"]:
            pdf.multi_cell(0, 3.5, latin1(f"Reason: {r['reason']}"), new_x="LMARGIN", new_y="NEXT")
        diff = changes(r["before"], r["after"])
        if diff:
            _diff_table(pdf, diff, latin1)
        pdf.set_font("Courier", "", 6)
        pdf.cell(0, 3, f"hash {r['hash']}", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)
    if count == 0:
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(0, 6, "No entries match the filters.", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output()), count


_WIDTHS = (52, 14, 102, 102)  # field, change, before, after (mm; A4 landscape less margins)
_SIZE = 6.5  # pt, Courier: every character is 0.6 em wide, so wrapping needs no measuring
_CHAR = 0.6 * _SIZE * 25.4 / 72  # mm
_LINE = 2.9  # mm


def _wrap(text: str, width: float) -> list[str]:
    per_line = max(1, int((width - 1) / _CHAR))
    lines: list[str] = []
    for part in text.split("\n"):
        lines += textwrap.wrap(
            part, per_line, break_long_words=True, break_on_hyphens=False, replace_whitespace=False
        ) or [""]
    return lines


def _diff_table(pdf: Any, diff: list[Change], latin1: Any) -> None:
    """Field, change, before and after in four columns; a long value wraps within its column
    and the row is as tall as its tallest cell. Drawn in Courier with plain text lines:
    fpdf2's measured ``multi_cell`` costs about a millisecond a cell, too slow for exports of
    thousands of entries."""
    _diff_row(pdf, ("Field", "Change", "Before", "After"), bold=True)
    for c in diff:
        values = (c.field, c.kind, c.before, c.after)
        _diff_row(pdf, tuple(latin1("" if v is None else v) for v in values))


def _diff_row(pdf: Any, cells: tuple[str, ...], *, bold: bool = False) -> None:
    pdf.set_font("Courier", "B" if bold else "", _SIZE)
    lines = [_wrap(text, w) for w, text in zip(_WIDTHS, cells, strict=True)]
    height = max(len(x) for x in lines) * _LINE + 0.6
    if pdf.will_page_break(height):
        pdf.add_page()
        pdf.set_font("Courier", "B" if bold else "", _SIZE)
    x, y = pdf.l_margin, pdf.get_y()
    for w, cell_lines in zip(_WIDTHS, lines, strict=True):
        pdf.rect(x, y, w, height)
        for i, line in enumerate(cell_lines):
            pdf.text(x + 0.5, y + (i + 1) * _LINE - 0.4, line)
        x += w
    pdf.set_xy(pdf.l_margin, y + height)
