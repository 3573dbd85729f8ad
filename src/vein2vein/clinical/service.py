"""Use cases of clinical studies: create a study, upload a dataset version, compute a readout,
produce a report. Each change is one unit of work with its audit entry, within the caller's
tenant scope (a record of another sponsor is *not found*, checked before the permission).

Who may write: roles holding ``Perm.CLINICAL_WRITE`` (the sponsor's ``sponsor_clinical`` users and
CDMO administrators, e.g. to load a sponsor's data on their behalf).
Everyone who may read the program may read its studies and readouts.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from threading import Lock
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, undefer

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import Conflict, InputError, NotFound, PermissionDenied
from vein2vein.core.text import clean_text
from vein2vein.programs.tables import Program
from vein2vein.store import audit
from vein2vein.store.locks import lock_row
from vein2vein.store.uow import UnitOfWork

from .dataset import ClinicalDataset
from .readout import ReadoutResult, readout
from .schemas import ReadoutParams
from .tables import DatasetFile, DatasetVersion, Study
from .upload import Format, ParsedUpload, UploadedFile, parse_upload, read_files

EDITABLE = ("title", "description", "options")


# ------------------------------------------------------------------ permissions


def can_write(scope: Scope) -> bool:
    return scope.can(Perm.CLINICAL_WRITE)


def require_write(scope: Scope) -> None:
    if not can_write(scope):
        raise PermissionDenied(
            f"your role ({scope.role}) may not change clinical studies "
            "(sponsor_clinical of the sponsor, or a CDMO administrator)"
        )


# ------------------------------------------------------------------ studies


def add_study(
    uow: UnitOfWork,
    program: Program,
    *,
    code: str,
    title: str,
    description: str = "",
    options: ReadoutParams | None = None,
) -> Study:
    """Create a study of ``program`` (already resolved within the caller's scope)."""
    code = clean_text(code, "code", 32).upper()
    if not code:
        raise InputError("a study code of 1 to 32 characters is required", field="code")
    title = clean_text(title, "title", 300)
    description = clean_text(description, "description", 10_000, multiline=True)
    if not title:
        raise InputError("a study needs a title", field="title")
    s = uow.session
    exists = s.scalar(
        select(Study.id).where(Study.organisation_id == program.organisation_id, Study.code == code)
    )
    if exists:
        raise Conflict(f"this sponsor already has a study {code}")
    study = Study(
        organisation_id=program.organisation_id,
        program_id=program.id,
        code=code,
        title=title,
        description=description,
        options=(options or ReadoutParams()).stored(),
        created_at=utcnow(),
        created_by=uow.actor.name,
    )
    s.add(study)
    s.flush()
    uow.record(
        "clinical.study.create",
        "clinical_study",
        study.id,
        after=study.public(),
        organisation_id=study.organisation_id,
    )
    return study


def create_study(
    uow: UnitOfWork,
    scope: Scope,
    *,
    program_id: int,
    code: str,
    title: str,
    description: str = "",
    options: ReadoutParams | None = None,
) -> Study:
    program = get_scoped(uow.session, scope, Program, program_id)
    require_write(scope)
    return add_study(uow, program, code=code, title=title, description=description, options=options)


def update_study(
    uow: UnitOfWork, scope: Scope, study_id: int, changes: dict[str, Any], reason: str
) -> Study:
    """Change a study's title, description or default readout options, with a reason."""
    study = get_scoped(uow.session, scope, Study, study_id)
    require_write(scope)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InputError(f"cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    if not reason.strip():
        raise InputError("a reason is required to change a study", field="reason")
    before = study.public()
    if "title" in changes:
        changes["title"] = clean_text(str(changes["title"]), "title", 300)
        if not changes["title"]:
            raise InputError("a study needs a title", field="title")
        study.title = str(changes["title"]).strip()
    if "description" in changes:
        study.description = clean_text(
            str(changes["description"]), "description", 10_000, multiline=True
        )
    if "options" in changes:
        study.options = ReadoutParams.model_validate(changes["options"]).stored()
    uow.record(
        "clinical.study.update",
        "clinical_study",
        study.id,
        before=before,
        after=study.public(),
        reason=reason.strip(),
        organisation_id=study.organisation_id,
    )
    return study


def list_studies(session: Session, scope: Scope) -> list[Study]:
    scope.require(Perm.PROGRAM_READ)
    stmt = (
        scope.filter(select(Study), Study)
        .options(selectinload(Study.program), selectinload(Study.organisation))
        .order_by(Study.code)
    )
    return list(session.scalars(stmt))


def get_study(session: Session, scope: Scope, study_id: int | str) -> Study:
    study = get_scoped(session, scope, Study, study_id)
    scope.require(Perm.PROGRAM_READ)
    return study


def study_defaults(study: Study) -> ReadoutParams:
    return ReadoutParams.model_validate(study.options or {})


def study_detail(session: Session, scope: Scope, study_id: int | str) -> dict[str, Any]:
    study = get_study(session, scope, study_id)
    versions = list_versions(session, scope, study.id)
    return study.public() | {
        "sponsor": study.organisation.name,
        "program": study.program.code,
        "versions": [v.public() for v in versions],
    }


# ------------------------------------------------------------------ dataset versions


def _lock_study(session: Session, study_id: int) -> None:
    """Serialise concurrent uploads to one study (PostgreSQL row lock; SQLite transactions
    already begin IMMEDIATE), so two uploads get versions n and n + 1, never the same."""
    lock_row(session, Study, study_id)


def add_version(
    uow: UnitOfWork, study: Study, parsed: ParsedUpload, comment: str = ""
) -> DatasetVersion:
    """Store a validated upload as the study's next version (never an overwrite)."""
    s = uow.session
    _lock_study(s, study.id)
    last = s.scalar(
        select(func.max(DatasetVersion.version)).where(DatasetVersion.study_id == study.id)
    )
    counts = parsed.counts()
    version = DatasetVersion(
        organisation_id=study.organisation_id,
        study_id=study.id,
        version=(last or 0) + 1,
        format=parsed.format,
        evaluator=parsed.evaluator,
        sha256=parsed.sha256,
        n_subjects=counts["subjects"],
        n_lesions=counts["lesions"],
        n_assessments=counts["assessments"],
        n_new_lesions=counts["new_lesions"],
        n_investigator_responses=counts["investigator_responses"],
        warnings=list(parsed.dataset.warnings),
        ignored_files=list(parsed.ignored),
        comment=clean_text(comment, "comment", 4000, multiline=True),
        uploaded_at=utcnow(),
        uploaded_by=uow.actor.name,
        uploaded_by_id=uow.actor.user_id,
    )
    version.files = [
        DatasetFile(name=f.name, sha256=f.sha256, size=len(f.content), content=f.content)
        for f in parsed.files
    ]
    s.add(version)
    s.flush()
    uow.record(
        "clinical.dataset.upload",
        "clinical_dataset_version",
        version.id,
        after=version.public() | {"study": study.code},
        organisation_id=study.organisation_id,
    )
    return version


def upload_dataset(
    uow: UnitOfWork,
    scope: Scope,
    study_id: int | str,
    files: Sequence[UploadedFile],
    *,
    fmt: Format = "auto",
    evaluator: str | None = "INVESTIGATOR",
    comment: str = "",
) -> DatasetVersion:
    """Validate an upload by reading it with the engine, then store it as a new version.
    Bad input raises :class:`InputError` (file, row, field) before anything is written."""
    study = get_scoped(uow.session, scope, Study, study_id)
    require_write(scope)
    parsed = parse_upload(files, fmt, evaluator)
    return add_version(uow, study, parsed, comment)


def list_versions(session: Session, scope: Scope, study_id: int) -> list[DatasetVersion]:
    stmt = (
        scope.filter(select(DatasetVersion), DatasetVersion)
        .where(DatasetVersion.study_id == study_id)
        .options(selectinload(DatasetVersion.files))
        .order_by(DatasetVersion.version.desc())
    )
    return list(session.scalars(stmt))


def get_version(session: Session, scope: Scope, version_id: int | str) -> DatasetVersion:
    version = get_scoped(session, scope, DatasetVersion, version_id)
    scope.require(Perm.PROGRAM_READ)
    return version


def get_file(session: Session, scope: Scope, version_id: int | str, name: str) -> DatasetFile:
    """A raw file of a version, its bytes checked against the SHA-256 recorded at upload."""
    version = get_version(session, scope, version_id)
    row = session.scalars(
        select(DatasetFile)
        .where(DatasetFile.dataset_version_id == version.id, DatasetFile.name == name)
        .options(undefer(DatasetFile.content))
    ).first()
    if row is None:
        raise NotFound(f"file {name} not found in this dataset version")
    _check_integrity(row)
    return row


class StoredDataAltered(RuntimeError):
    """Stored raw bytes no longer match the SHA-256 recorded at upload (tampering)."""


def _check_integrity(row: DatasetFile) -> None:
    if hashlib.sha256(row.content).hexdigest() != row.sha256:
        raise StoredDataAltered(
            f"stored file {row.name} of dataset version {row.dataset_version_id} does not match "
            "the SHA-256 recorded at upload: the stored data was altered"
        )


# Parsed datasets by dataset hash. Versions are immutable, so a hash always names the same
# bytes and the parse can be reused (the engine never mutates a dataset).
_CACHE: OrderedDict[tuple[str, str, str | None], ClinicalDataset] = OrderedDict()
_CACHE_SIZE = 4
_CACHE_LOCK = Lock()


def load_dataset(session: Session, version: DatasetVersion) -> ClinicalDataset:
    key = (version.sha256, version.format, version.evaluator)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    rows = list(
        session.scalars(
            select(DatasetFile)
            .where(DatasetFile.dataset_version_id == version.id)
            .options(undefer(DatasetFile.content))
        )
    )
    for row in rows:
        _check_integrity(row)
    ds = read_files(
        [UploadedFile(r.name, r.content) for r in rows], version.format, version.evaluator
    )
    if ds.input_hash() != version.sha256:
        raise StoredDataAltered(f"dataset version {version.id}: files do not match its hash")
    with _CACHE_LOCK:
        _CACHE[key] = ds
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return ds


def compute_readout(
    session: Session, scope: Scope, version_id: int | str, params: ReadoutParams
) -> tuple[DatasetVersion, ReadoutResult]:
    version = get_version(session, scope, version_id)
    return version, readout(load_dataset(session, version), params.to_options())


# ------------------------------------------------------------------ reports

MEDIA_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


@dataclass(frozen=True)
class Report:
    content: bytes
    fmt: str
    filename: str
    sha256: str
    head: audit.Head
    version_id: int
    organisation_id: int
    options: dict[str, Any]

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.fmt]


def build_report(
    session: Session, scope: Scope, version_id: int | str, params: ReadoutParams, fmt: str
) -> Report:
    """The steering-committee report of a version, anchored to the dataset hash and the audit
    trail's head at the time it is produced (docs/audit-trail.md, "Anchoring the head")."""
    from .report import to_html, to_pdf

    if fmt not in MEDIA_TYPES:
        raise InputError("the report format is html or pdf", field="format")
    version, result = compute_readout(session, scope, version_id, params)
    study = version.study
    head = audit.head(session)
    now = utcnow().isoformat(timespec="seconds")
    anchors = {
        "Study": f"{study.code} - {study.title} ({study.organisation.name}, "
        f"program {study.program.code})",
        "Dataset": f"version {version.version} ({version.format.upper()}), uploaded "
        f"{version.uploaded_at.isoformat(timespec='seconds')} by {version.uploaded_by}",
        "Dataset SHA-256": version.sha256,
        "Audit trail head": f"#{head.seq} {head.hash}",
        "Generated": f"{now} by {scope.username}",
    }
    title = f"Clinical readout - {study.code}, dataset version {version.version}"
    if fmt == "pdf":
        content = to_pdf(result, title, anchors=anchors)
    else:
        content = to_html(result, title, anchors=anchors).encode("utf-8")
    stamp = utcnow().date().isoformat()
    return Report(
        content=content,
        fmt=fmt,
        filename=f"{study.code}-v{version.version}-readout-{stamp}.{fmt}",
        sha256=hashlib.sha256(content).hexdigest(),
        head=head,
        version_id=version.id,
        organisation_id=version.organisation_id,
        options=params.model_dump(mode="json"),
    )


def record_report(uow: UnitOfWork, report: Report) -> None:
    """Audit the hand-out of a report: which file (SHA-256) anchored which head."""
    uow.record(
        "clinical.report.export",
        "clinical_dataset_version",
        report.version_id,
        after={
            "format": report.fmt,
            "filename": report.filename,
            "report_sha256": report.sha256,
            "anchored_head_seq": report.head.seq,
            "anchored_head_hash": report.head.hash,
            "options": report.options,
        },
        organisation_id=report.organisation_id,
    )
