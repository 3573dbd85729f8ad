"""The Certificate of Analysis of one batch: its content, the content's hash, what changed since
a certificate was issued, and whether a presented certificate is one this system issued
(issue 13, "Certificate of Analysis").

References
----------
* A CoA states, for one batch, every test of the specification it was released against, the
  acceptance criterion and the result, and is signed by the quality unit (21 CFR 211.84(d)(2)
  and 211.194; EudraLex Vol. 4 Part II §11.4 "Certificates of Analysis": name, batch number,
  date of release, each test with its acceptance limits and numerical result, dated signature).
* Results are printed as entered and as rounded to the reportable precision beside each other
  (USP General Notices 7.20; ``quality/domain.py``).
* Results obtained after release (sterility, VCN) make the release *conditional*; an
  out-of-specification autologous product given at the physician's request is an *exceptional*
  release (EudraLex Vol. 4 Part IV, GMP for ATMPs, 2017; shared/references/quality.md §1, §4).
* Electronic signatures carry the printed name, the UTC time and the meaning (21 CFR 11.50).

Sections: the model · plain data and hash (:func:`content_data`, :func:`content_hash`,
:func:`from_data`) · what changed (:func:`changes`) · the verdict on a presented certificate
(:func:`verdict`).

The **content** is everything the certificate states. Its hash (SHA-256 of the canonical JSON of
:func:`content_data`, ``core/canonical.py``) is printed on every page as the *document hash*
and embedded, with the content itself, in the PDF (``quality/coa_pdf.py``). The document
number, the time of issue and the audit chain's head are part of the content (so part of the
hash) but not of what :func:`changes` compares: they change with every issue, not with the
batch.

Pure: no database, web or template code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from vein2vein.core import diff
from vein2vein.core.canonical import sha256_hex, to_jsonable
from vein2vein.core.errors import InputError

FORMAT = 1  # the content data format (``coa_format``)

__all__ = [
    "FORMAT",
    "CoaBag",
    "CoaContent",
    "CoaOutcome",
    "CoaSignature",
    "CoaTest",
    "PendingTest",
    "ReleaseState",
    "Status",
    "Verdict",
    "changes",
    "content_data",
    "content_hash",
    "from_data",
    "verdict",
]

# --- the model ----------------------------------------------------------------------------


class CoaOutcome(StrEnum):
    """How one test stands on the certificate."""

    CONFORMS = "conforms"
    DOES_NOT_CONFORM = "does not conform"
    PENDING = "pending"  # released before the result (conditional release)
    REPORTED = "reported"  # a report-only test: recorded, never judged


class ReleaseState(StrEnum):
    RELEASED = "released"
    CONDITIONAL = "conditional"  # some after-release results still to come
    EXCEPTIONAL = "exceptional"  # out of specification, given at the physician's request


@dataclass(frozen=True)
class CoaTest:
    """One test as printed: ``raw`` is the result as entered with its unit (``0.92`` →
    ``92 %`` is shown as ``0.92 = 92 %`` by the judgement), ``rounded`` as reported at the
    reportable precision; both empty while pending."""

    code: str
    name: str
    category: str
    method: str
    criterion: str
    unit: str | None
    raw: str
    rounded: str
    outcome: CoaOutcome
    result_id: str | None = None
    analyst: str = ""
    tested_on: dt.date | None = None


@dataclass(frozen=True)
class PendingTest:
    """A test released before its result, with the date the result is expected."""

    code: str
    expected_on: dt.date


@dataclass(frozen=True)
class CoaSignature:
    printed_name: str
    username: str
    signed_at: dt.datetime  # UTC
    meaning: str  # authored, reviewed, approved, released


@dataclass(frozen=True)
class CoaBag:
    """One bag of the fill: its ISBT 128 division, volume, CAR+ viable T cells and cells per
    kg at the patient's weight at order."""

    number: int
    division: str
    volume_ml: float
    cells: float
    cells_per_kg: float

    def __post_init__(self) -> None:
        _floats(self, "volume_ml", "cells", "cells_per_kg")


@dataclass(frozen=True)
class CoaContent:
    """Everything a certificate states. The subject appears by study identifier only."""

    document_number: str  # COA-<batch number>-<n>
    issued_at: dt.datetime  # UTC
    product_code: str
    product_name: str
    sponsor: str
    coi: str  # chain-of-identity identifier
    din: str  # ISBT 128 donation identification number
    order_number: str
    subject_id: str
    batch_id: str
    batch_number: str
    manufacturing_site: str
    mbr_version: str
    collection_date: dt.date
    spec_title: str
    spec_version: int
    spec_id: str
    release_state: ReleaseState
    dose_level: str  # with its unit: 1.0 × 10^6 CAR-positive viable T cells/kg
    patient_weight_kg: float
    total_cells: float
    tests: tuple[CoaTest, ...]
    bags: tuple[CoaBag, ...]
    signatures: tuple[CoaSignature, ...]
    audit_head_hash: str
    audit_head_sequence: int
    pending_tests: tuple[PendingTest, ...] = ()
    exceptional_reason: str | None = None

    def __post_init__(self) -> None:
        _floats(self, "patient_weight_kg", "total_cells")
        _check(self)

    @property
    def total_volume_ml(self) -> float:
        return sum(b.volume_ml for b in self.bags)

    @property
    def cells_per_kg(self) -> float:
        return self.total_cells / self.patient_weight_kg


def _floats(obj: object, *names: str) -> None:
    """Quantities are floats (80 kg is kept as 80.0), so the same content is the same JSON."""
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError("expected a number", field=name)
        object.__setattr__(obj, name, float(value))


def _check(c: CoaContent) -> None:
    """The rules that make a content coherent; each refusal names the field."""
    _utc(c.issued_at, "issued_at")
    for i, s in enumerate(c.signatures):
        _utc(s.signed_at, f"signatures[{i}].signed_at")
    codes = [t.code for t in c.tests]
    if not codes:
        raise InputError("a certificate lists at least one test", field="tests")
    if len(set(codes)) != len(codes):
        raise InputError("test codes must be unique", field="tests")
    pending = {t.code for t in c.tests if t.outcome is CoaOutcome.PENDING}
    listed = [p.code for p in c.pending_tests]
    if set(listed) != pending or len(listed) != len(pending):
        raise InputError(
            f"the pending tests ({', '.join(listed) or 'none'}) must be exactly the tests whose "
            f"outcome is pending ({', '.join(sorted(pending)) or 'none'})",
            field="pending_tests",
        )
    state = c.release_state
    if state is ReleaseState.CONDITIONAL and not pending:
        raise InputError("a conditional release names its pending tests", field="release_state")
    if state is ReleaseState.RELEASED and pending:
        raise InputError("a release with pending results is conditional", field="release_state")
    failed = [t.code for t in c.tests if t.outcome is CoaOutcome.DOES_NOT_CONFORM]
    if failed and state is not ReleaseState.EXCEPTIONAL:
        raise InputError(
            f"{', '.join(failed)} does not conform: only an exceptional release may carry it",
            field="release_state",
        )
    if (state is ReleaseState.EXCEPTIONAL) != bool(c.exceptional_reason):
        raise InputError(
            "an exceptional release, and only one, states its reason", field="exceptional_reason"
        )
    numbers = [b.number for b in c.bags]
    if len(set(numbers)) != len(numbers):
        raise InputError("bag numbers must be unique", field="bags")
    if not c.patient_weight_kg > 0:
        raise InputError("the weight must be more than 0", field="patient_weight_kg")


def _utc(value: dt.datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() != dt.timedelta(0):
        raise InputError("a time on the certificate is in UTC", field=name)


# --- plain data and hash ------------------------------------------------------------------


def content_data(c: CoaContent) -> dict[str, Any]:
    """The content as plain JSON data (dates ISO 8601, times UTC, tuples as lists), with
    ``coa_format``: stable, so its canonical JSON is the same bytes for the same content."""
    data: dict[str, Any] = to_jsonable(c)
    return {"coa_format": FORMAT, **data}


def content_hash(c: CoaContent | Mapping[str, Any]) -> str:
    """The document hash: SHA-256 (hex) of the canonical JSON of :func:`content_data`."""
    return sha256_hex(content_data(c) if isinstance(c, CoaContent) else dict(c))


def from_data(data: Any, *, file: str | None = None) -> CoaContent:
    """The content back from :func:`content_data`; any other shape is refused with
    ``InputError`` naming the field (``tests[2].outcome``)."""
    r = _Reader(file)
    d = r.mapping(data, "")
    fmt = d.get("coa_format")
    if fmt != FORMAT:
        raise r.error(f"unknown certificate format {fmt!r} (expected {FORMAT})", "coa_format")
    body = {k: v for k, v in d.items() if k != "coa_format"}
    content: CoaContent = r.build(CoaContent, body, "")
    return content


class _Reader:
    """Reads the plain data into the model, field by field, with the path of each problem."""

    def __init__(self, file: str | None) -> None:
        self.file = file

    def error(self, message: str, path: str) -> InputError:
        return InputError(message, file=self.file, field=path or None)

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error("expected an object", path)
        return value

    def build(self, kind: type, value: Any, path: str) -> Any:
        d = self.mapping(value, path)
        spec = _SHAPES[kind]
        unknown = sorted(set(d) - set(spec))
        if unknown:
            raise self.error(f"unknown field(s): {', '.join(unknown)}", path)
        missing = sorted(set(spec) - set(d))
        if missing:
            raise self.error(f"missing field(s): {', '.join(missing)}", path)
        values = {}
        for name, read in spec.items():
            where = f"{path}.{name}" if path else name
            values[name] = read(self, d[name], where)
        try:
            return kind(**values)
        except InputError as exc:
            where = f"{path}.{exc.field}" if path else exc.field or ""
            raise self.error(exc.detail, where) from None
        except ValueError as exc:
            raise self.error(str(exc), path) from None


def _text(r: _Reader, v: Any, p: str) -> str:
    if not isinstance(v, str):
        raise r.error("expected text", p)
    return v


def _opt_text(r: _Reader, v: Any, p: str) -> str | None:
    return None if v is None else _text(r, v, p)


def _int(r: _Reader, v: Any, p: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise r.error("expected a whole number", p)
    return v


def _number(r: _Reader, v: Any, p: str) -> float:
    """A JSON number as a float; a whole number must already be written as one (``70.0``) so
    that the data round-trips to the same bytes."""
    if not isinstance(v, float):
        raise r.error("expected a decimal number (written with a point)", p)
    return v


def _date(r: _Reader, v: Any, p: str) -> dt.date:
    try:
        return dt.date.fromisoformat(_text(r, v, p))
    except ValueError:
        raise r.error(f"expected a date YYYY-MM-DD, not {v!r}", p) from None


def _opt_date(r: _Reader, v: Any, p: str) -> dt.date | None:
    return None if v is None else _date(r, v, p)


def _time(r: _Reader, v: Any, p: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(_text(r, v, p))
    except ValueError:
        raise r.error(f"expected a UTC time in ISO 8601, not {v!r}", p) from None
    if t.tzinfo is None:
        raise r.error("a time on the certificate is in UTC", p)
    return t.astimezone(dt.UTC)


def _choice(kind: type[StrEnum]) -> Callable[[_Reader, Any, str], Any]:
    def read(r: _Reader, v: Any, p: str) -> Any:
        try:
            return kind(_text(r, v, p))
        except ValueError:
            allowed = ", ".join(repr(k.value) for k in kind)
            raise r.error(f"{v!r} is not one of {allowed}", p) from None

    return read


def _list_of(kind: type) -> Callable[[_Reader, Any, str], tuple[Any, ...]]:
    def read(r: _Reader, v: Any, p: str) -> tuple[Any, ...]:
        if not isinstance(v, list):
            raise r.error("expected a list", p)
        return tuple(r.build(kind, item, f"{p}[{i}]") for i, item in enumerate(v))

    return read


_SHAPES: dict[type, dict[str, Callable[[_Reader, Any, str], Any]]] = {
    CoaTest: {
        "code": _text,
        "name": _text,
        "category": _text,
        "method": _text,
        "criterion": _text,
        "unit": _opt_text,
        "raw": _text,
        "rounded": _text,
        "outcome": _choice(CoaOutcome),
        "result_id": _opt_text,
        "analyst": _text,
        "tested_on": _opt_date,
    },
    PendingTest: {"code": _text, "expected_on": _date},
    CoaSignature: {"printed_name": _text, "username": _text, "signed_at": _time, "meaning": _text},
    CoaBag: {
        "number": _int,
        "division": _text,
        "volume_ml": _number,
        "cells": _number,
        "cells_per_kg": _number,
    },
}
_SHAPES[CoaContent] = {
    "document_number": _text,
    "issued_at": _time,
    "product_code": _text,
    "product_name": _text,
    "sponsor": _text,
    "coi": _text,
    "din": _text,
    "order_number": _text,
    "subject_id": _text,
    "batch_id": _text,
    "batch_number": _text,
    "manufacturing_site": _text,
    "mbr_version": _text,
    "collection_date": _date,
    "spec_title": _text,
    "spec_version": _int,
    "spec_id": _text,
    "release_state": _choice(ReleaseState),
    "dose_level": _text,
    "patient_weight_kg": _number,
    "total_cells": _number,
    "tests": _list_of(CoaTest),
    "bags": _list_of(CoaBag),
    "signatures": _list_of(CoaSignature),
    "audit_head_hash": _text,
    "audit_head_sequence": _int,
    "pending_tests": _list_of(PendingTest),
    "exceptional_reason": _opt_text,
}

# --- what changed -------------------------------------------------------------------------

#: fields that change with every issue, not with the batch: never reported as a change
ISSUE_FIELDS = frozenset(
    {"coa_format", "document_number", "issued_at", "audit_head_hash", "audit_head_sequence"}
)
_LABELS = {
    "product_code": "product code",
    "product_name": "product name",
    "sponsor": "sponsor",
    "coi": "chain of identity",
    "din": "DIN",
    "order_number": "order",
    "subject_id": "subject",
    "batch_id": "batch identifier",
    "batch_number": "batch number",
    "manufacturing_site": "manufacturing site",
    "mbr_version": "master batch record version",
    "collection_date": "collection date",
    "spec_title": "specification title",
    "spec_version": "specification version",
    "spec_id": "specification identifier",
    "release_state": "release state",
    "exceptional_reason": "exceptional release reason",
    "dose_level": "dose level",
    "patient_weight_kg": "patient weight (kg)",
    "total_cells": "total cells",
}
_TEST_LABELS = {
    "raw": "result",
    "rounded": "reported result",
    "outcome": "conformance",
    "result_id": "result record",
    "tested_on": "tested on",
    "criterion": "criterion",
}
_LISTS = ("tests", "bags", "signatures", "pending_tests")


def changes(issued: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What differs between an issued certificate's content and the batch's current content
    (both :func:`content_data`), one line a change, in the order of the certificate:

    ``release state: released → conditional``, ``specification version: 1 → 2``,
    ``test viability: result 92 % → 88 %``, ``test rcl added``, ``bag 2 no longer present``,
    ``signature of jdoe (released) no longer present``. The fields of :data:`ISSUE_FIELDS` are
    left out. Field-by-field comparison is ``core/diff.py``'s; list items are paired by their
    identity (test code, bag number, signer and meaning)."""
    lines: list[str] = []
    plain_old = {k: v for k, v in issued.items() if k not in ISSUE_FIELDS and k not in _LISTS}
    plain_new = {k: v for k, v in current.items() if k not in ISSUE_FIELDS and k not in _LISTS}
    for c in diff.changes(plain_old, plain_new):
        lines.append(f"{_LABELS.get(c.field, c.field)}: {_was(c)}")
    lines += _items(
        issued.get("tests", []),
        current.get("tests", []),
        key=lambda t: t.get("code"),
        name=lambda k: f"test {k}",
        labels=_TEST_LABELS,
    )
    lines += _items(
        issued.get("pending_tests", []),
        current.get("pending_tests", []),
        key=lambda p: p.get("code"),
        name=lambda k: f"pending result of {k}",
        labels={"expected_on": "expected on"},
    )
    lines += _items(
        issued.get("bags", []),
        current.get("bags", []),
        key=lambda b: b.get("number"),
        name=lambda k: f"bag {k}",
        labels={"volume_ml": "volume (mL)", "cells_per_kg": "cells/kg"},
    )
    lines += _items(
        issued.get("signatures", []),
        current.get("signatures", []),
        key=lambda s: (s.get("username"), s.get("meaning")),
        name=lambda k: f"signature of {k[0]} ({k[1]})",
        labels={"signed_at": "signed at", "printed_name": "printed name"},
    )
    return lines


def _was(c: diff.Change) -> str:
    if c.kind == diff.ADDED:
        return f"added ({_shown(c.after)})"
    if c.kind == diff.REMOVED:
        return f"removed (was {_shown(c.before)})"
    return f"{_shown(c.before)} → {_shown(c.after)}"


def _shown(value: str | None) -> str:
    """A value as the line reads it: nothing (an empty text, JSON null) as ``(none)``."""
    return "(none)" if value in (None, "", "null") else value


def _items(
    old: Sequence[Mapping[str, Any]],
    new: Sequence[Mapping[str, Any]],
    *,
    key: Callable[[Mapping[str, Any]], Any],
    name: Callable[[Any], str],
    labels: Mapping[str, str],
) -> list[str]:
    before = {key(i): i for i in old}
    after = {key(i): i for i in new}
    lines = []
    for k, item in before.items():
        if k not in after:
            lines.append(f"{name(k)} no longer present")
            continue
        for c in diff.changes(item, after[k]):
            lines.append(f"{name(k)}: {labels.get(c.field, c.field.replace('_', ' '))} {_was(c)}")
    lines += [f"{name(k)} added" for k in after if k not in before]
    return lines


# --- the verdict on a presented certificate -----------------------------------------------


class Status(StrEnum):
    CURRENT = "current"
    SUPERSEDED = "superseded"
    ALTERED = "altered after issue"
    UNKNOWN = "not issued by this system"


@dataclass(frozen=True)
class Verdict:
    """What the store's facts say of a presented file: ``authentic`` (these exact bytes were
    issued), ``current`` (and the batch still says the same), the status and the reasons."""

    authentic: bool
    current: bool
    status: Status
    reasons: tuple[str, ...]

    def summary(self) -> str:
        return "; ".join([self.status.value, *self.reasons])


def verdict(
    *,
    issued_by_file: Mapping[str, Any] | None,
    issued_by_content: Mapping[str, Any] | None,
    current: Mapping[str, Any] | None,
    embedded_hash_matches: bool = True,
) -> Verdict:
    """Judge a presented certificate from what the store found (docs/quality.md, "Verifying a
    certificate"):

    * ``issued_by_file``: the content data of the issued certificate whose file SHA-256 is the
      presented bytes' (None when no issued file has these bytes);
    * ``issued_by_content``: the content data of the issued certificate whose content hash is
      the one the file carries (None when none);
    * ``current``: the batch's content data as it would be issued now (None when the batch no
      longer has one, e.g. its release was withdrawn);
    * ``embedded_hash_matches``: whether the embedded content hashes to the hash the file
      states (``coa_pdf.read_pdf``).

    Known bytes are authentic, then current or superseded by the changes since issue; unknown
    bytes whose content was issued were altered after issue; anything else was not issued
    here."""
    if issued_by_file is not None:
        if current is None:
            return Verdict(
                True, False, Status.SUPERSEDED, ("the batch no longer has a certificate",)
            )
        lines = changes(issued_by_file, current)
        if not lines:
            return Verdict(True, True, Status.CURRENT, ())
        return Verdict(True, False, Status.SUPERSEDED, tuple(lines))
    if issued_by_content is not None:
        number = issued_by_content.get("document_number", "?")
        reasons = [
            f"the file's bytes are not those of any issued certificate; its content is that of "
            f"{number}, so the file was changed after issue"
        ]
        if not embedded_hash_matches:
            reasons.append("the embedded content does not match the hash the file states")
        return Verdict(False, False, Status.ALTERED, tuple(reasons))
    reasons = ["neither the file nor its content hash is among the certificates issued"]
    if not embedded_hash_matches:
        reasons.append("the embedded content does not match the hash the file states")
    return Verdict(False, False, Status.UNKNOWN, tuple(reasons))
