"""Use case: import process-development (PD) runs from a CSV or XLSX file (``pd_files``).

A PD run is an executed batch record flagged non-GMP (``mfg_batch.gmp`` false, migration 0014):
no order, CoI identifier or DIN but a run label, unique in its program; it belongs to the
program's sponsor (who may read its status, as for a GMP batch) and is made at a CDMO site from
one MBR version of that program and site.

**Which MBR versions.** PD runs are how the process is developed, so a run may use a version
that is not effective yet: any version whose content is signed and therefore frozen, that is
IN_REVIEW (signed as authored), EFFECTIVE, SUPERSEDED or RETIRED. A DRAFT is refused: its
content still changes, and a run keeps the content hash it was checked against (as a GMP batch
does; ``batches.record_of`` refuses a record whose MBR changed).

**What is checked.** Every cell (``pd_files``), then every entry against the MBR exactly as a GMP
entry (``execution.record_pd_entry``: step and item known, not a calculated item, unit
convertible, a second value of an item only with a note): verdicts (ok, flag outside the NOR,
deviation outside the PAR) are kept on the entries and shown in the record's review, but no
deviation is opened for a non-GMP run. Each run's entries are taken in time order (ties in file
order). An imported run is COMPLETE: it happened before it was imported. It is never signed off,
submitted, approved or released (``batches`` refuses it; the database's CHECK constraint keeps
it out of IN_REVIEW and APPROVED; ``release_gate`` names it).

**One transaction.** The whole file is one unit of work: any bad cell or refused entry raises a
``PdFileError`` naming file, sheet, row and column, and nothing is written. Each run is audited
(``mfg.batch_pd_import``) with the file's name and SHA-256 and its rows' events.

Who: CDMO staff with ``batch.execute`` (never the administrator, as for GMP entries).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.scope import Scope
from vein2vein.core.canonical import canonical_json, sha256_hex
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import InputError
from vein2vein.core.text import clean_text
from vein2vein.manufacturing import batches, execution, mbrs
from vein2vein.manufacturing.domain import Verdict
from vein2vein.manufacturing.pd_files import PdFile, PdRow, read_pd_file
from vein2vein.manufacturing.tables import Batch, MasterBatchRecord
from vein2vein.programs.tables import Program
from vein2vein.store.uow import UnitOfWork

#: MBR statuses a PD run may be made from (content signed, so frozen)
PD_MBR_STATUSES = (mbrs.IN_REVIEW, mbrs.EFFECTIVE, mbrs.SUPERSEDED, mbrs.RETIRED)
PD_SUITE = "PD laboratory"


@dataclass(frozen=True)
class ImportedRun:
    batch_id: int
    run_label: str
    entries: int  # values recorded from the file (calculated ones not counted)
    flagged: int  # outside the NOR
    outside_par: int  # outside the PAR (a deviation in a GMP batch; only flagged here)

    def public(self) -> dict[str, Any]:
        return vars(self).copy()


@dataclass(frozen=True)
class PdImport:
    file: str
    sheet: str | None
    file_sha256: str
    mbr_id: int
    mbr_version: int
    mbr_status: str
    runs: tuple[ImportedRun, ...]

    def public(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sheet": self.sheet,
            "file_sha256": self.file_sha256,
            "mbr_id": self.mbr_id,
            "mbr_version": self.mbr_version,
            "mbr_status": self.mbr_status,
            "runs": [r.public() for r in self.runs],
        }


def _program(session: Session, code: str) -> Program:
    found = list(session.scalars(select(Program).where(func.upper(Program.code) == code.upper())))
    if len(found) != 1:
        what = "no program" if not found else "several programs"
        raise InputError(f"{what} with the code '{code}'", field="program")
    return found[0]


def pd_mbr(session: Session, program_id: int, site_id: int, version: int) -> MasterBatchRecord:
    """The MBR version a PD run is made from: it must exist and not be a DRAFT."""
    rows = list(
        session.scalars(
            select(MasterBatchRecord)
            .where(MasterBatchRecord.program_id == program_id, MasterBatchRecord.site_id == site_id)
            .order_by(MasterBatchRecord.version)
        )
    )
    found = next((r for r in rows if r.version == version), None)
    if found is None:
        have = ", ".join(f"{r.version} ({r.status})" for r in rows) or "none"
        raise InputError(
            f"the program has no MBR version {version} at this site (versions: {have})",
            field="mbr_version",
        )
    if found.status not in PD_MBR_STATUSES:
        raise InputError(
            f"MBR version {version} is a {found.status}: a PD run uses a version whose content "
            "is signed (in review, effective, superseded or retired); sign it as authored first",
            field="mbr_version",
        )
    return found


def import_pd_runs(
    uow: UnitOfWork,
    scope: Scope,
    *,
    filename: str,
    data: bytes,
    program: str,
    site: int | str,
    mbr_version: int,
) -> PdImport:
    """Import every run of the file as a non-GMP record, in the caller's unit of work (the
    caller commits once; any error leaves nothing written)."""
    batches.cdmo_executes(scope)
    name = clean_text(filename, "file", 200, required=True)
    pd_file = read_pd_file(name, data)
    s = uow.session
    prog = _program(s, clean_text(program, "program", 40, required=True))
    where = batches.site_of(s, scope, site)
    mbr_row = pd_mbr(s, prog.id, where.id, int(mbr_version))
    digest = sha256_hex(data)
    runs: dict[str, list[PdRow]] = {}
    for row in pd_file.rows:
        runs.setdefault(row.run_label, []).append(row)
    imported = []
    for label, rows in runs.items():
        imported.append(_import_run(uow, pd_file, digest, prog.id, prog.organisation_id,
                                    where.id, mbr_row, label, rows))  # fmt: skip
    return PdImport(
        file=name,
        sheet=pd_file.sheet,
        file_sha256=digest,
        mbr_id=mbr_row.id,
        mbr_version=mbr_row.version,
        mbr_status=mbr_row.status,
        runs=tuple(imported),
    )


def _import_run(
    uow: UnitOfWork,
    pd_file: PdFile,
    digest: str,
    program_id: int,
    organisation_id: int,
    site_id: int,
    mbr_row: MasterBatchRecord,
    label: str,
    rows: Sequence[PdRow],
) -> ImportedRun:
    s = uow.session
    existing = s.scalars(
        select(Batch.id).where(Batch.program_id == program_id, Batch.run_label == label)
    ).first()
    if existing is not None:
        raise pd_file.error(
            f"run {label} exists already (batch {existing}): a run is imported once",
            row=rows[0].row,
            column="run_label",
        )
    record = execution.create_pd(
        mbrs.model_of(mbr_row),
        mbr_id=mbr_row.id,
        mbr_version=mbr_row.version,
        mbr_hash=mbr_row.content_hash,
        planned_suite=PD_SUITE,
    )
    start = record
    for row in sorted(rows, key=lambda r: (r.entered_at, r.row)):
        try:
            record = execution.record_pd_entry(
                record, row.step, row.item, row.value, row.unit,
                by=row.entered_by, at=row.entered_at, note=row.note,
            ).record  # fmt: skip
        except execution.EntryError as exc:
            raise pd_file.error(str(exc), row=row.row, column=exc.column) from None
        except execution.ExecutionError as exc:  # a calculation its value made impossible
            raise pd_file.error(str(exc), row=row.row, column="value") from None
    batch = Batch(
        organisation_id=organisation_id,
        order_id=None,
        coi=None,
        din=None,
        gmp=False,
        run_label=label,
        program_id=program_id,
        mbr_id=mbr_row.id,
        mbr_version=mbr_row.version,
        mbr_hash=mbr_row.content_hash,
        site_id=site_id,
        planned_suite=PD_SUITE,
        order_facts=canonical_json([]).decode("utf-8"),
        status=batches.COMPLETE,
        created_at=utcnow(),
        created_by=uow.actor.name,
    )
    s.add(batch)
    s.flush()
    events = batches.append_events(s, batch, start, record, None)
    batch.status = batches.COMPLETE  # imported after the fact: the run is over
    values = [e for e in record.of(execution.ValueEntered) if not e.calculated]
    uow.record(
        "mfg.batch_pd_import",
        batches.RECORD,
        batch.id,
        after=batches.public(batch)
        | {
            "file": pd_file.name,
            "sheet": pd_file.sheet,
            "file_sha256": digest,
            "rows": [r.row for r in rows],
            "events": [json.loads(e.payload) for e in events],
        },
        organisation_id=organisation_id,
    )
    return ImportedRun(
        batch_id=batch.id,
        run_label=label,
        entries=len(values),
        flagged=sum(e.verdict is Verdict.FLAG for e in values),
        outside_par=sum(e.verdict is Verdict.DEVIATION for e in values),
    )
