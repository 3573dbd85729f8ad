"""Generating a program's CTD tables (issue 14; docs/ctd.md): one use case,
:func:`generate`, that the page, the API and ``v2v reports ctd`` call alike.

In one unit of work it finds the program in the caller's scope (another client's program is
not found), checks the caller may read QC records, reads the audit chain's head, asks the
section's builder (``ctd_sections``) for the document, renders it as PDF or Word (the
``reports`` kit) and records the generation in the audit trail (``insights.ctd_generate``:
section, format, the file's SHA-256, the head it printed and the ids of the records used).
Generating is a read of signed records: nothing else is written, and the head printed is the
one the generation's own audit entry follows.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import InputError, NotFound
from vein2vein.insights import ctd_sections
from vein2vein.insights.ctd_domain import Stamp
from vein2vein.programs.tables import Program
from vein2vein.reports.document import Document
from vein2vein.store import audit
from vein2vein.store.uow import UnitOfWork

ACTION = "insights.ctd_generate"

__all__ = ["ACTION", "Generated", "find_program", "generate", "sections_page"]


@dataclass(frozen=True)
class Generated:
    data: bytes
    media_type: str
    filename: str
    sha256: str
    section: str
    fmt: str
    program_id: int
    program_code: str
    head_seq: int
    head_hash: str
    records: dict[str, list[int]]

    def summary(self) -> dict[str, Any]:
        return {
            "program": self.program_code,
            "program_id": self.program_id,
            "section": self.section,
            "format": self.fmt,
            "filename": self.filename,
            "sha256": self.sha256,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "records": self.records,
        }


def find_program(session: Session, scope: Scope, ref: int | str) -> Program:
    """A program in the caller's scope by id (int) or code (str); a code two clients share
    (a CDMO sees both) must be given as the id."""
    if isinstance(ref, int):
        return get_scoped(session, scope, Program, ref)
    code = ref.strip()
    rows = list(session.scalars(scope.filter(select(Program), Program).where(Program.code == code)))
    if not rows:
        raise NotFound(f"no program with code {code!r}")
    if len(rows) > 1:
        ids = ", ".join(str(p.id) for p in rows)
        raise InputError(
            f"program code {code!r} is used by several clients: give its id ({ids})",
            field="program",
        )
    return rows[0]


def _render(doc: Document, fmt: str) -> bytes:
    if fmt == "pdf":
        from vein2vein.reports.pdf_document import render_pdf

        return render_pdf(doc)
    from vein2vein.reports.docx_document import render_docx

    return render_docx(doc)


def _builder(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(f"vein2vein.insights.{module}"), name)  # type: ignore[no-any-return]


def generate(
    uow: UnitOfWork, scope: Scope, program: int | str, section: str, fmt: str
) -> Generated:
    """The section's tables of ``program`` as a PDF or Word file, its generation audited."""
    s = uow.session
    row = find_program(s, scope, program)
    scope.require(Perm.QC_READ)
    media = ctd_sections.media_type(fmt)
    fmt = fmt.strip().lower()
    entry = ctd_sections.available(section)
    assert entry.builder is not None
    head = audit.head(s)
    now = utcnow().replace(microsecond=0)
    who = f"{scope.full_name} ({scope.username})" if scope.full_name else scope.username
    stamp = Stamp(now, who, head.seq, head.hash)
    built = _builder(entry.builder)(s, scope, row, stamp)
    data = _render(built.document, fmt)
    digest = hashlib.sha256(data).hexdigest()
    stem = f"{row.code}-CTD-{entry.code}-{now:%Y%m%dT%H%M%SZ}"
    out = Generated(
        data=data,
        media_type=media,
        filename=f"{stem}.{fmt}",
        sha256=digest,
        section=entry.code,
        fmt=fmt,
        program_id=row.id,
        program_code=row.code,
        head_seq=head.seq,
        head_hash=head.hash,
        records=built.records,
    )
    uow.record(
        ACTION,
        "program",
        row.id,
        after={
            "section": entry.code,
            "format": fmt,
            "filename": out.filename,
            "sha256": digest,
            "head_seq": head.seq,
            "head_hash": head.hash,
            "records": built.records,
        },
        organisation_id=row.organisation_id,
    )
    return out


def sections_page(session: Session, scope: Scope) -> dict[str, Any]:
    """The CTD page: the programs in scope and the sections, available or not (and why)."""
    scope.require(Perm.QC_READ)
    programs = session.scalars(scope.filter(select(Program), Program).order_by(Program.code))
    return {
        "programs": [
            {"id": p.id, "code": p.code, "name": p.name, "product": p.product} for p in programs
        ],
        "sections": [
            {
                "code": x.code,
                "title": x.title,
                "available": x.available,
                "unavailable": x.unavailable,
            }
            for x in ctd_sections.SECTIONS
        ],
        "formats": list(ctd_sections.FORMATS),
    }
