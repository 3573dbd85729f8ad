"""Dataset versions of a study: store a validated upload as the study's next immutable version,
read a version's raw files back (checked against their SHA-256), and load the engine's dataset
of a version through a small cache.

The cache keeps parsed datasets by dataset hash. Versions are immutable, so a hash always names
the same bytes and the parse can be reused; the cached frames are read-only
(:func:`vein2vein.core.results.frozen_frame`) and every caller gets its own frame objects over
them, so nothing a caller does to what it got can change the next readout.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, undefer

from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import InputError, NotFound
from vein2vein.core.kept import Kept
from vein2vein.core.results import frozen_frame, frozen_mapping
from vein2vein.core.text import clean_text
from vein2vein.store.blobs import compress_fast
from vein2vein.store.locks import lock_row
from vein2vein.store.uow import UnitOfWork

from .access import require_read, require_write
from .dataset import ClinicalDataset
from .tables import DatasetFile, DatasetVersion, Study
from .upload import Format, ParsedUpload, UploadedFile, parse_upload, read_files

# ------------------------------------------------------------------ upload


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
    compress_fast(s)  # the raw files: lz4 instead of PostgreSQL's slow default (store/blobs.py)
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
        # ignored_files lists at most upload.MAX_IGNORED_LISTED names; the count says them all
        after=version.public() | {"study": study.code, "ignored_count": parsed.ignored_count},
        organisation_id=study.organisation_id,
    )
    return version


def study_id_by_ref(session: Session, scope: Scope, ref: str, sponsor: str | None = None) -> int:
    """The study with this id (digits) or code, within the caller's scope (``sponsor`` names
    the client when two sponsors' studies share a code). Here rather than in ``studies.py`` so
    that ``v2v clinical upload`` does not load the readout engine (scipy) it does not use."""
    ref = ref.strip()
    if ref.isdigit():
        return get_scoped(session, scope, Study, ref).id
    code = ref.upper()
    stmt = (
        scope.filter(select(Study), Study)
        .where(Study.code == code)
        .options(selectinload(Study.organisation))
    )
    found = [s for s in session.scalars(stmt) if sponsor is None or s.organisation.name == sponsor]
    if not found:
        raise NotFound(f"study {code} not found")
    if len(found) > 1:
        raise InputError(
            "several sponsors have a study with this code: add --sponsor or give the study id",
            field="sponsor",
        )
    return found[0].id


def upload_dataset(
    uow: UnitOfWork,
    scope: Scope,
    study_id: int | str,
    files: Sequence[UploadedFile],
    *,
    fmt: Format = "auto",
    evaluator: str | None = "INVESTIGATOR",
    comment: str = "",
    parse: Callable[[Sequence[UploadedFile], Format, str | None], ParsedUpload] | None = None,
) -> DatasetVersion:
    """Validate an upload by reading it with the engine, then store it as a new version.
    Bad input raises :class:`InputError` (file, row, field) before anything is written.
    ``parse`` is :func:`parse_upload` unless the same parse is already under way
    (:class:`~vein2vein.clinical.upload.ParseAhead`, the command line's)."""
    study = get_scoped(uow.session, scope, Study, study_id)
    require_write(scope)
    parsed = (parse or parse_upload)(files, fmt, evaluator)
    return add_version(uow, study, parsed, comment)


# ------------------------------------------------------------------ versions and raw files


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
    require_read(scope)
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


# ------------------------------------------------------------------ the engine's dataset

_FRAMES = ("subjects", "lesions", "assessments", "new_lesions", "investigator", "pd_dates")
_CACHE: Kept[tuple[str, str, str | None], ClinicalDataset] = Kept(4)


def _frozen(ds: ClinicalDataset) -> ClinicalDataset:
    """The dataset with read-only frames and mappings: what the cache keeps."""
    frames = {n: frozen_frame(f) for n in _FRAMES if (f := getattr(ds, n)) is not None}
    return replace(
        ds,
        **frames,
        files=frozen_mapping(ds.files),
        file_hashes=frozen_mapping(ds.file_hashes),
        field_names=frozen_mapping(ds.field_names),
    )


def _handed_out(ds: ClinicalDataset) -> ClinicalDataset:
    """A caller's own frame objects over the cached read-only data (shallow copies: cheap).
    Writing into them raises (or, under pandas copy-on-write, copies); replacing a column
    changes only the caller's frame."""
    frames = {n: f.copy(deep=False) for n in _FRAMES if (f := getattr(ds, n)) is not None}
    return replace(ds, **frames)


def load_dataset(session: Session, version: DatasetVersion) -> ClinicalDataset:
    key = (version.sha256, version.format, version.evaluator)
    return _handed_out(_CACHE.get_or_make(key, lambda: _frozen(_read_stored(session, version))))


def _read_stored(session: Session, version: DatasetVersion) -> ClinicalDataset:
    """The version's stored files read again, each checked against its hash."""
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
    return ds
