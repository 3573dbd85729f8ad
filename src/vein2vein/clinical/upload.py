"""Uploaded files to a validated dataset: unpack zips, pick the files of the CSV-folder or SDTM
format, and read them with the engine's own readers (so an upload is accepted only if a readout
can be computed from it). No database code: the store keeps what this returns.

Conventions (docs/clinical.md, "Uploading a dataset"):

* Files may come one by one or inside ``.zip`` archives (folders inside the archive are
  ignored: only base names count; ``__MACOSX/`` and hidden files are skipped).
* CSV folder: ``subjects.csv``, ``lesions.csv``, ``assessments.csv`` and optionally
  ``new_lesions.csv``, ``pd_dates.csv`` (names matched without regard to case). SDTM:
  ``<domain>.xpt`` or ``<domain>.csv`` for DM, EX, TU, TR and the optional RS, DS, DD, CM, PR,
  SV, AE, LB.
* Files that are not part of the chosen format are not stored; their names are kept with the
  version (``ignored_files``) so the upload is transparent: the first ``MAX_IGNORED_LISTED``
  of them (sorted), with ``ignored_count`` saying how many there were in all, so an archive of
  thousands of stray files cannot make one version (and its audit entry) megabytes long.
* File names are made safe when received (issue 10): a control or other non-printable
  character (a terminal escape code, NUL, a line break) is written as its escape (``\x1b``),
  and a name is cut to ``MAX_NAME_LENGTH`` characters (an ellipsis marks the cut), so no name
  is stored, shown or echoed in a message raw. The names of the files kept are the format's
  own (``subjects.csv``, ``dm.xpt``...), which such a name never matches.
* The dataset hash is the engine's input hash (SHA-256 over ``name:sha256`` lines of the
  stored files), so a readout's provenance names exactly the stored version.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Literal

from vein2vein.core.errors import InputError
from vein2vein.core.text import printable

from .dataset import ClinicalDataset

CSV_FILES = ("subjects.csv", "lesions.csv", "assessments.csv", "new_lesions.csv", "pd_dates.csv")
CSV_REQUIRED = CSV_FILES[:3]
SDTM_REQUIRED = ("dm", "ex", "tu", "tr")
SDTM_OPTIONAL = ("rs", "ds", "dd", "cm", "pr", "sv", "ae", "lb")
SDTM_SUFFIXES = (".xpt", ".csv")
#: Largest dataset accepted (all files, uncompressed): 10,000 subjects with a million
#: assessment rows is about 40 MB of CSV.
MAX_TOTAL_BYTES = 256 * 1024 * 1024
FORMATS = ("csv", "sdtm")
#: Longest file name kept or shown (longer ones are cut, an ellipsis marking the cut).
MAX_NAME_LENGTH = 200
#: Names of ignored files kept with a version (and its audit entry); the count says the rest.
MAX_IGNORED_LISTED = 50
Format = Literal["auto", "csv", "sdtm"]


@dataclass(frozen=True)
class UploadedFile:
    name: str
    content: bytes

    @cached_property
    def sha256(self) -> str:
        # computed once: the dataset hash, the stored row and the audit entry all use it
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class ParsedUpload:
    """A validated upload: the files that make up the dataset, and the dataset read from them."""

    format: str
    files: tuple[UploadedFile, ...]
    ignored: tuple[str, ...]  # the first MAX_IGNORED_LISTED names, sorted
    dataset: ClinicalDataset
    evaluator: str | None
    ignored_count: int = 0  # every ignored file, listed or not

    @property
    def sha256(self) -> str:
        return dataset_hash({f.name: f.sha256 for f in self.files})

    def counts(self) -> dict[str, int]:
        return dataset_counts(self.dataset)


def dataset_hash(file_hashes: dict[str, str]) -> str:
    """The hash :meth:`ClinicalDataset.input_hash` computes from the raw files."""
    h = hashlib.sha256()
    for name in sorted(file_hashes):
        h.update(f"{name}:{file_hashes[name]}\n".encode())
    return h.hexdigest()


def dataset_counts(ds: ClinicalDataset) -> dict[str, int]:
    return {
        "subjects": len(ds.subjects),
        "lesions": len(ds.lesions),
        "assessments": len(ds.assessments),
        "new_lesions": len(ds.new_lesions),
        "investigator_responses": 0 if ds.investigator is None else len(ds.investigator),
    }


def safe_name(path: str) -> str:
    """The base name of an uploaded file, safe to store and show: non-printable characters
    escaped, at most :data:`MAX_NAME_LENGTH` characters."""
    return printable(PurePosixPath(path.replace("\\", "/")).name, MAX_NAME_LENGTH)


def _skipped(path: str) -> bool:
    parts = PurePosixPath(path.replace("\\", "/")).parts
    return not parts or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts)


def _unzip(archive: UploadedFile, budget: int) -> list[UploadedFile]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(archive.content))
        infos = [i for i in zf.infolist() if not i.is_dir() and not _skipped(i.filename)]
        if sum(i.file_size for i in infos) > budget:
            raise InputError(
                f"the archive holds more than {MAX_TOTAL_BYTES // 2**20} MB", file=archive.name
            )
        out = []
        for info in infos:
            with zf.open(info) as fh:
                data = fh.read(budget + 1)  # the declared size may lie
            budget -= len(data)
            if budget < 0:
                raise InputError(
                    f"the archive holds more than {MAX_TOTAL_BYTES // 2**20} MB", file=archive.name
                )
            out.append(UploadedFile(safe_name(info.filename), data))
        return out
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, EOFError, OSError) as exc:
        raise InputError(f"not a readable zip archive ({exc})", file=archive.name) from exc


def unpack(files: Sequence[UploadedFile]) -> list[UploadedFile]:
    """Expand ``.zip`` archives; refuse empty uploads, oversize uploads and clashing names."""
    if not files:
        raise InputError("no files were uploaded", field="files")
    out: list[UploadedFile] = []
    budget = MAX_TOTAL_BYTES
    for f in files:
        name = safe_name(f.name)
        if not name:
            raise InputError("an uploaded file has no name", field="files")
        if name.lower().endswith(".zip"):
            inner = _unzip(UploadedFile(name, f.content), budget)
            budget -= sum(len(i.content) for i in inner)
            out += inner
        else:
            budget -= len(f.content)
            out.append(UploadedFile(name, f.content))
        if budget < 0:
            raise InputError(f"the upload is larger than {MAX_TOTAL_BYTES // 2**20} MB")
    seen: dict[str, str] = {}
    for f in out:
        key = f.name.lower()
        if key in seen:
            raise InputError(f"two files are named {f.name!r}: upload only one", file=f.name)
        seen[key] = f.name
    return out


def _sdtm_domain(name: str) -> str | None:
    p = PurePosixPath(name.lower())
    if p.suffix in SDTM_SUFFIXES and p.stem in (*SDTM_REQUIRED, *SDTM_OPTIONAL):
        return p.stem
    return None


def detect_format(files: Sequence[UploadedFile]) -> str:
    names = {f.name.lower() for f in files}
    csv = "subjects.csv" in names
    sdtm = any(_sdtm_domain(n) == "dm" for n in names)
    if csv and sdtm:
        raise InputError(
            "the upload holds both a CSV-folder dataset (subjects.csv) and SDTM domains (DM): "
            "choose the format",
            field="format",
        )
    if csv:
        return "csv"
    if sdtm:
        return "sdtm"
    listed = ", ".join(sorted(f.name for f in files)[:8])
    raise InputError(
        "neither a CSV-folder dataset (subjects.csv, lesions.csv, assessments.csv) nor SDTM "
        f"domains (dm, ex, tu, tr as .xpt or .csv) were found among: {listed}",
        field="files",
    )


def select_files(files: Sequence[UploadedFile], fmt: str) -> tuple[list[UploadedFile], list[str]]:
    """The files of the dataset (canonical lower-case names) and the names of the others."""
    chosen: list[UploadedFile] = []
    ignored: list[str] = []
    if fmt == "csv":
        for f in files:
            if f.name.lower() in CSV_FILES:
                chosen.append(UploadedFile(f.name.lower(), f.content))
            else:
                ignored.append(f.name)
        have = {f.name for f in chosen}
        for name in CSV_REQUIRED:
            if name not in have:
                raise InputError(f"missing {name} in the upload", file=name)
        return chosen, ignored
    domains: dict[str, str] = {}
    for f in files:
        domain = _sdtm_domain(f.name)
        if domain is None:
            ignored.append(f.name)
            continue
        if domain in domains:
            raise InputError(
                f"SDTM domain {domain.upper()} is uploaded twice ({domains[domain]} and "
                f"{f.name}): upload one",
                file=f.name,
            )
        domains[domain] = f.name
        chosen.append(UploadedFile(f.name.lower(), f.content))
    for domain in SDTM_REQUIRED:
        if domain not in domains:
            raise InputError(
                f"missing SDTM domain {domain.upper()} ({domain}.xpt or {domain}.csv)",
                file=f"{domain}.xpt",
            )
    return chosen, ignored


def read_files(
    files: Sequence[UploadedFile], fmt: str, evaluator: str | None = "INVESTIGATOR"
) -> ClinicalDataset:
    """Read stored or uploaded files with the engine's reader (through a temporary folder)."""
    from .csv_reader import read_csv_folder
    from .sdtm import read_sdtm

    with tempfile.TemporaryDirectory(prefix="v2v-clinical-") as tmp:
        root = Path(tmp)
        for f in files:
            (root / f.name).write_bytes(f.content)
        if fmt == "csv":
            return read_csv_folder(root)
        if fmt == "sdtm":
            return read_sdtm(root, evaluator=evaluator)
    raise InputError(f"unknown format {fmt!r}; use csv or sdtm", field="format")


def parse_upload(
    files: Sequence[UploadedFile], fmt: Format = "auto", evaluator: str | None = "INVESTIGATOR"
) -> ParsedUpload:
    """Unpack, select and read an upload; raises :class:`InputError` naming file, row, field."""
    if fmt not in ("auto", *FORMATS):
        raise InputError(f"unknown format {fmt!r}; use auto, csv or sdtm", field="format")
    everything = unpack(files)
    chosen_fmt = detect_format(everything) if fmt == "auto" else fmt
    chosen, ignored = select_files(everything, chosen_fmt)
    # the evaluator filters SDTM records only (TUEVAL/TREVAL/RSEVAL)
    evaluator = ((evaluator or "").strip().upper() or None) if chosen_fmt == "sdtm" else None
    if evaluator is not None and (len(evaluator) > 64 or not evaluator.isprintable()):
        raise InputError("an evaluator name of at most 64 printable characters", field="evaluator")
    dataset = read_files(chosen, chosen_fmt, evaluator)
    if len(dataset.subjects) == 0:
        first = next(f.name for f in chosen if f.name.startswith(("subjects.", "dm.")))
        raise InputError("the dataset has no subjects", file=first, row=2)
    return ParsedUpload(
        format=chosen_fmt,
        files=tuple(sorted(chosen, key=lambda f: f.name)),
        ignored=tuple(sorted(ignored)[:MAX_IGNORED_LISTED]),
        dataset=dataset,
        evaluator=evaluator,
        ignored_count=len(ignored),
    )


class ParseAhead:
    """:func:`parse_upload` started in a thread, so that a command line upload reads and
    validates the files while it loads the store and logs the user in (issue 15: Argon2 and the
    CSV tokenizer release the GIL, and a machine has two cores). Calling it waits for the
    parse and returns its result or raises its error, exactly as :func:`parse_upload` would:
    the service calls it where it would parse (``datasets.upload_dataset(parse=...)``), after
    its own checks, so errors come in the same order. It answers only for the files it was
    started with."""

    def __init__(
        self,
        files: Sequence[UploadedFile],
        fmt: Format = "auto",
        evaluator: str | None = "INVESTIGATOR",
    ) -> None:
        self._args = (tuple(files), fmt, evaluator)
        self._result: ParsedUpload | None = None
        self._error: BaseException | None = None
        # a daemon: a command that fails before it needs the parse exits without waiting
        self._thread = threading.Thread(target=self._run, name="v2v-parse-upload", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = parse_upload(*self._args)
        except BaseException as exc:  # handed to the caller by __call__
            self._error = exc

    def __call__(
        self,
        files: Sequence[UploadedFile],
        fmt: Format = "auto",
        evaluator: str | None = "INVESTIGATOR",
    ) -> ParsedUpload:
        started, started_fmt, started_evaluator = self._args
        same = len(files) == len(started) and all(
            a is b for a, b in zip(files, started, strict=True)
        )
        if not same or (fmt, evaluator) != (started_fmt, started_evaluator):
            raise ValueError("ParseAhead was started with other files or options")
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result
