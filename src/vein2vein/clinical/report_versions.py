"""Versions of the signed readout report: generate one from a stored dataset version and the
study's settings, name the steering-committee members who sign it, sign it, and render it.

**Who does what** (``access.py``): a ``clinical.write`` holder (the sponsor's clinical user,
or a CDMO administrator loading data for the sponsor) generates a version and names the
members who must sign it; each named member signs it with the meaning *approved*, password
asked again (``auth.signatures``), and must hold ``clinical.report_sign`` (the sponsor's
clinical users: a steering committee is the sponsor's; CDMO staff make the product and do not
judge its efficacy, so they hold no such permission). Members are users of the study's
sponsor. The version is **final** when every named member has signed.

**Versions.** The content of a version (the readout's numbers under the study's settings, the
dataset version and its SHA-256, the options, the named members, when and by whom it was
generated, the audit head then) is stored as canonical JSON and is what the members sign.
Generating again with nothing changed (same dataset version, settings and members) gives the
same version back; a new dataset version, a change of the settings or of the members makes
the next version, and the old one stays readable, marked *superseded by version n*. A
superseded version can no longer be signed. The rows are immutable in the database
(migration 0020).

**Locks.** Generating and signing take the same lock, the study's row (``SELECT ... FOR
UPDATE``; SQLite writers begin IMMEDIATE), before they look at the versions and signatures:
two generations at once give one version, a signature never lands on a version that a
generation superseded meanwhile, and two members signing at once both sign, the second
seeing the first (``tests/integration/clinical/test_report_versions_races.py``).

**Rendering.** The PDF is printed from the stored content and the signatures now; the readout
is computed again from the stored dataset and must give the same numbers as stored (else the
version "no longer renders" and nothing is handed out). The same version with the same
signatures and the same supersession gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm, has_permission
from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.auth.signatures import (
    ContentReader,
    require_credentials,
    row_content_reader,
    sign,
    signatures_for,
)
from vein2vein.auth.tables import Signature, User
from vein2vein.core.canonical import canonical_json, sha256_hex
from vein2vein.core.clock import as_utc, iso_utc, utcnow
from vein2vein.core.errors import InputError, PermissionDenied, RuleViolation
from vein2vein.core.settings import Settings
from vein2vein.store import audit
from vein2vein.store.locks import lock_row
from vein2vein.store.uow import UnitOfWork

from . import report_document as D
from .access import require_read, require_write
from .datasets import load_dataset
from .readout import readout
from .schemas import ReadoutParams
from .studies import get_study, study_defaults
from .tables import DatasetVersion, ReportVersion, Study

RECORD = "clinical_report_version"
MEANING = "approved"


# ------------------------------------------------------------------ reads


def _latest_dataset(session: Session, study_id: int) -> DatasetVersion | None:
    return session.scalars(
        select(DatasetVersion)
        .where(DatasetVersion.study_id == study_id)
        .order_by(DatasetVersion.version.desc())
        .limit(1)
    ).first()


def _latest(session: Session, study_id: int) -> ReportVersion | None:
    return session.scalars(
        select(ReportVersion)
        .where(ReportVersion.study_id == study_id)
        .order_by(ReportVersion.number.desc())
        .limit(1)
    ).first()


def _newest_number(session: Session, study_id: int) -> int:
    return int(
        session.scalar(
            select(func.max(ReportVersion.number)).where(ReportVersion.study_id == study_id)
        )
        or 0
    )


def content_of(row: ReportVersion) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(row.content)
    return data


def eligible_signatories(session: Session, study: Study) -> list[User]:
    """Users of the study's sponsor who may sign its report (enabled, holding
    ``clinical.report_sign``), by name."""
    users = session.scalars(
        select(User).where(User.organisation_id == study.organisation_id).order_by(User.full_name)
    )
    return [u for u in users if u.enabled and has_permission(u.role, Perm.CLINICAL_REPORT_SIGN)]


def _signoff(
    session: Session, row: ReportVersion, signed: Sequence[Signature] | None = None
) -> D.SignOff:
    content = content_of(row)
    named = tuple(D.Signatory(p["username"], p["printed_name"]) for p in content["signatories"])
    if signed is None:
        signed = signatures_for(session, RECORD, row.id)
    sigs = tuple(
        D.SignedBy(s.username, s.printed_name, s.meaning, iso_utc(s.signed_at), s.content_hash)
        for s in signed
        if s.meaning == MEANING
    )
    return D.SignOff(named, sigs)


def state(
    session: Session,
    row: ReportVersion,
    *,
    newest: int | None = None,
    signed: Sequence[Signature] | None = None,
) -> dict[str, Any]:
    """Status of a version: its sign-off, whether it is final, and the version superseding it
    (``newest`` number of the study and the version's ``signed`` signatures when the caller
    already read them, for a list)."""
    signoff = _signoff(session, row, signed)
    if newest is None:
        newest = _newest_number(session, row.study_id)
    superseded_by = newest if newest > row.number else None
    return {
        "signoff": signoff,
        "final": signoff.complete,
        "superseded_by": superseded_by,
        "status": D.status_text(signoff, superseded_by),
        "missing": [p.username for p in signoff.missing],
    }


def awaiting_signature(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Report versions in scope, not superseded, naming the caller, not yet signed by them
    (the home page's queue). Empty for whoever may not sign."""
    if not scope.can(Perm.CLINICAL_REPORT_SIGN):
        return []
    rows = list(session.scalars(scope.filter(select(ReportVersion), ReportVersion)))
    newest: dict[int, int] = {}
    for r in rows:
        newest[r.study_id] = max(newest.get(r.study_id, 0), r.number)
    mine = [
        r
        for r in rows
        if r.number == newest[r.study_id]
        and scope.username.lower() in {p["username"].lower() for p in content_of(r)["signatories"]}
    ]
    if not mine:
        return []
    signed = set(
        session.scalars(
            select(Signature.record_id).where(
                Signature.record_type == RECORD,
                Signature.user_id == scope.user_id,
                Signature.record_id.in_([str(r.id) for r in mine]),
            )
        )
    )
    return [{"id": r.id, "study_id": r.study_id, "number": r.number} for r in mine
            if str(r.id) not in signed]  # fmt: skip


def get_report_version(session: Session, scope: Scope, report_id: int | str) -> ReportVersion:
    row = get_scoped(session, scope, ReportVersion, report_id)
    require_read(scope)
    return row


def _public(session: Session, row: ReportVersion, **known: Any) -> dict[str, Any]:
    st = state(session, row, **known)
    content = content_of(row)
    return row.public() | {
        "study_code": content["study"]["code"],
        "dataset_version": content["dataset"]["version"],
        "dataset_sha256": content["dataset"]["sha256"],
        "options": content["options"],
        "signatories": content["signatories"],
        "signatures": [asdict(s) for s in st["signoff"].signatures],
        "missing": st["missing"],
        "final": st["final"],
        "superseded_by": st["superseded_by"],
        "status": st["status"],
    }


def report_version(session: Session, scope: Scope, report_id: int | str) -> dict[str, Any]:
    """A version with its signatories, signatures, status and supersession."""
    return _public(session, get_report_version(session, scope, report_id))


def report_versions(session: Session, scope: Scope, study_id: int | str) -> list[dict[str, Any]]:
    """The report versions of a study, newest first."""
    study = get_study(session, scope, study_id)
    rows = list(
        session.scalars(
            select(ReportVersion)
            .where(ReportVersion.study_id == study.id)
            .order_by(ReportVersion.number.desc())
        )
    )
    if not rows:
        return []
    signed: dict[str, list[Signature]] = {str(r.id): [] for r in rows}
    for sig in session.scalars(  # one statement for the signatures of every version
        select(Signature)
        .where(Signature.record_type == RECORD, Signature.record_id.in_(list(signed)))
        .order_by(Signature.signed_at, Signature.id)
    ):
        signed[sig.record_id].append(sig)
    newest = rows[0].number
    return [_public(session, r, newest=newest, signed=signed[str(r.id)]) for r in rows]


def report_page(session: Session, scope: Scope, report_id: int | str) -> dict[str, Any]:
    """The report version page: the version, the study, and whether the caller may sign."""
    row = get_report_version(session, scope, report_id)
    data = _public(session, row)
    named = {p["username"] for p in data["signatories"]}
    signed = {s["username"] for s in data["signatures"]}
    may_sign = (
        scope.can(Perm.CLINICAL_REPORT_SIGN)
        and scope.username in named
        and scope.username not in signed
        and data["superseded_by"] is None
    )
    return {"report": data, "study": row.study.public(), "may_sign": may_sign}


def _inputs_hash(dataset_id: int, options: dict[str, Any], members: Sequence[str]) -> str:
    return sha256_hex(
        {"dataset_version_id": dataset_id, "options": options, "signatories": list(members)}
    )


def _outdated(session: Session, study: Study, newest: dict[str, Any]) -> str | None:
    """Why the newest version no longer reflects the study (a newer dataset version, changed
    settings), or None."""
    dataset = _latest_dataset(session, study.id)
    if dataset is not None and dataset.id != newest["dataset_version_id"]:
        return (
            f"dataset version {dataset.version} was uploaded after report version "
            f"{newest['number']}"
        )
    options = study_defaults(study).model_dump(mode="json")
    members = [p["username"] for p in newest["signatories"]]
    if _inputs_hash(newest["dataset_version_id"], options, members) != newest["inputs_hash"]:
        return f"the study's options changed after report version {newest['number']}"
    return None


def study_section(session: Session, scope: Scope, study: Study) -> dict[str, Any]:
    """The study page's "Signed readout report" section: the versions, and for a caller who
    may generate one, the members who may be named (and those named last time)."""
    versions = report_versions(session, scope, study.id)
    can_generate = scope.can(Perm.CLINICAL_WRITE)
    signers = eligible_signatories(session, study) if can_generate else []
    named = [p["username"] for p in versions[0]["signatories"]] if versions else []
    if not named and scope.username in {u.username for u in signers}:
        named = [scope.username]
    return {
        "report_versions": versions,
        "report_outdated": _outdated(session, study, versions[0]) if versions else None,
        "report_can_generate": can_generate,
        "report_signers": [{"username": u.username, "printed_name": u.full_name} for u in signers],
        "report_named": " ".join(named),
    }


# ------------------------------------------------------------------ generate


def _resolve_signatories(
    session: Session, study: Study, usernames: Sequence[str]
) -> list[dict[str, Any]]:
    eligible = {u.username.lower(): u for u in eligible_signatories(session, study)}
    out, seen = [], set()
    for name in usernames:
        key = name.strip().lower()
        if not key or key in seen:
            continue
        user = eligible.get(key)
        if user is None:
            raise InputError(
                f"'{name.strip()}' cannot sign this study's report: name users of "
                f"{study.organisation.name} who hold clinical.report_sign (the sponsor's "
                "clinical users)",
                field="signatories",
            )
        seen.add(key)
        out.append({"user_id": user.id, "username": user.username, "printed_name": user.full_name})
    if not out:
        raise InputError(
            "name at least one steering-committee member who signs the report",
            field="signatories",
        )
    return out


def _readout_part(result: Any) -> dict[str, Any]:
    """The numbers of a readout as stored in a report version (its provenance apart: the time
    of computing and the library versions are not the numbers)."""
    data: dict[str, Any] = json.loads(canonical_json({
        k: v for k, v in result.to_dict().items() if k != "provenance"
    }))  # fmt: skip
    return data


@dataclass(frozen=True)
class Generated:
    report: ReportVersion
    new: bool


def generate(
    uow: UnitOfWork,
    scope: Scope,
    study_id: int | str,
    signatories: Sequence[str] | None = None,
) -> Generated:
    """The report version of the study's newest dataset version under its settings, signed by
    ``signatories`` (user names; None: the members named on the previous version). The
    previous version when nothing changed, else the next one (audited)."""
    s = uow.session
    study = get_scoped(s, scope, Study, study_id)
    require_write(scope)
    lock_row(s, Study, study.id)
    dataset = _latest_dataset(s, study.id)
    if dataset is None:
        raise RuleViolation(f"study {study.code} has no dataset version: upload one first")
    last = _latest(s, study.id)
    if signatories is None:
        if last is None:
            raise InputError(
                "name the steering-committee members who sign the first report version",
                field="signatories",
            )
        signatories = [p["username"] for p in content_of(last)["signatories"]]
    named = _resolve_signatories(s, study, signatories)
    params = study_defaults(study)
    options = params.model_dump(mode="json")
    inputs_hash = _inputs_hash(dataset.id, options, [p["username"] for p in named])
    if last is not None and last.inputs_hash == inputs_hash:
        return Generated(last, new=False)
    result = readout(load_dataset(s, dataset), params.to_options())
    now = utcnow().replace(microsecond=0)
    head = audit.head(s)
    number = (last.number if last else 0) + 1
    provenance = result.provenance.to_dict() | {"computed_at": now.isoformat()}
    content = {
        "record": RECORD,
        "number": number,
        "study": {
            "id": study.id,
            "code": study.code,
            "title": study.title,
            "sponsor": study.organisation.name,
            "program": study.program.code,
        },
        "dataset": {
            "id": dataset.id,
            "version": dataset.version,
            "format": dataset.format,
            "sha256": dataset.sha256,
            "uploaded_at": iso_utc(dataset.uploaded_at),
            "uploaded_by": dataset.uploaded_by,
        },
        "options": options,
        "signatories": named,
        "generated_at": now.isoformat(),
        "generated_by": uow.actor.name,
        "audit_head": {"seq": head.seq, "hash": head.hash},
        "readout": _readout_part(result),
        "provenance": provenance,
    }
    content = json.loads(canonical_json(content))
    row = ReportVersion(
        organisation_id=study.organisation_id,
        study_id=study.id,
        number=number,
        dataset_version_id=dataset.id,
        inputs_hash=inputs_hash,
        content=canonical_json(content).decode(),
        content_hash=sha256_hex(content),
        generated_at=now,
        generated_by=uow.actor.name,
    )
    s.add(row)
    s.flush()
    uow.record(
        "clinical.report.generate",
        RECORD,
        row.id,
        after={
            "study_id": study.id,
            "number": number,
            "dataset_version": dataset.version,
            "dataset_sha256": dataset.sha256,
            "options": options,
            "signatories": [p["username"] for p in named],
            "content_hash": row.content_hash,
            "supersedes": last.number if last else None,
        },
        organisation_id=study.organisation_id,
    )
    return Generated(row, new=True)


# ------------------------------------------------------------------ sign


def sign_report(
    uow: UnitOfWork,
    scope: Scope,
    settings: Settings,
    report_id: int | str,
    *,
    username: str,
    password: str,
    shown_hash: str | None = None,
) -> Signature:
    """A named member signs the version (meaning approved); when the last named member signs,
    the version is final (audited as ``clinical.report.final``)."""
    s = uow.session
    row = get_scoped(s, scope, ReportVersion, report_id)
    scope.require(Perm.CLINICAL_REPORT_SIGN)
    lock_row(s, Study, row.study_id)  # the lock generation takes: no version appears meanwhile
    lock_row(s, ReportVersion, row.id)
    newest = _newest_number(s, row.study_id)
    if newest > row.number:
        raise RuleViolation(
            f"report version {row.number} is superseded by version {newest}: "
            "review and sign the current version"
        )
    content = content_of(row)
    named = {p["username"].lower() for p in content["signatories"]}
    if scope.username.lower() not in named:
        raise PermissionDenied(
            f"you are not a named signatory of report version {row.number} "
            f"(named: {', '.join(p['printed_name'] for p in content['signatories'])})"
        )
    require_credentials(username, password)
    sig = sign(
        uow,
        settings,
        signer_id=scope.user_id,
        username=username,
        password=password,
        record_type=RECORD,
        record_id=row.id,
        organisation_id=row.organisation_id,
        meaning=MEANING,
        content=content,
        shown_hash=shown_hash,
        reason=f"steering-committee approval of the readout report of study "
        f"{content['study']['code']}, version {row.number}",
    )
    signoff = _signoff(s, row)
    if signoff.complete:
        uow.record(
            "clinical.report.final",
            RECORD,
            row.id,
            after={
                "number": row.number,
                "content_hash": row.content_hash,
                "signed_by": [x.username for x in signoff.signatures],
            },
            organisation_id=row.organisation_id,
        )
    return sig


# ------------------------------------------------------------------ render


class ReportNoLongerRenders(RuleViolation):
    """The stored dataset no longer gives the numbers that were stored (and signed)."""


@dataclass(frozen=True)
class RenderedReport:
    content: bytes
    filename: str
    sha256: str
    report_id: int
    number: int
    organisation_id: int


def _meta(session: Session, row: ReportVersion, st: dict[str, Any]) -> D.ReportMeta:
    c = content_of(row)
    study, ds = c["study"], c["dataset"]
    head = c["audit_head"]
    anchors = {
        "Study": f"{study['code']} - {study['title']} ({study['sponsor']}, program "
        f"{study['program']})",
        "Dataset": f"version {ds['version']} ({ds['format'].upper()}), uploaded "
        f"{ds['uploaded_at']} by {ds['uploaded_by']}",
        "Dataset SHA-256": ds["sha256"],
        "Audit trail head": f"#{head['seq']} {head['hash']}",
        "Report content SHA-256": row.content_hash,
        "Generated": f"{c['generated_at']} by {c['generated_by']}",
    }
    p = c["provenance"]
    opts = ", ".join(f"{k}={v}" for k, v in sorted(p["options"].items()))
    libs = ", ".join(f"{k} {v}" for k, v in sorted(p["library_versions"].items()))
    provenance = (
        f"Method: {p['method']}\nOptions: {opts}\nInput SHA-256: {p['input_hash']}\n"
        f"Software: {libs}\nComputed: {p['computed_at']}"
    )
    return D.ReportMeta(
        version_label=f"{row.number} (dataset version {ds['version']}), {st['status']}",
        status=st["status"],
        sponsor=study["sponsor"],
        anchors=anchors,
        signoff=st["signoff"],
        provenance=provenance,
    )


def render_pdf(session: Session, scope: Scope, report_id: int | str) -> RenderedReport:
    """The version's PDF: the same bytes while its signatures and supersession are unchanged."""
    from .report import to_pdf

    row = get_report_version(session, scope, report_id)
    c = content_of(row)
    params = ReadoutParams.model_validate(c["options"])
    result = readout(load_dataset(session, row.dataset_version), params.to_options())
    if _readout_part(result) != c["readout"]:
        raise ReportNoLongerRenders(
            f"report version {row.number} no longer renders: the stored dataset gives other "
            "numbers than were stored (report this to the study's owner)"
        )
    st = state(session, row)
    title = f"Clinical readout - {c['study']['code']}"
    data = to_pdf(result, title, meta=_meta(session, row, st), created=as_utc(row.generated_at))
    return RenderedReport(
        content=data,
        filename=f"{c['study']['code']}-report-v{row.number}.pdf",
        sha256=hashlib.sha256(data).hexdigest(),
        report_id=row.id,
        number=row.number,
        organisation_id=row.organisation_id,
    )


def record_download(uow: UnitOfWork, rendered: RenderedReport) -> None:
    """Audit the hand-out of a version's PDF (which bytes)."""
    uow.record(
        "clinical.report.export",
        RECORD,
        rendered.report_id,
        after={
            "number": rendered.number,
            "filename": rendered.filename,
            "report_sha256": rendered.sha256,
        },
        organisation_id=rendered.organisation_id,
    )


def signed_contents() -> dict[str, ContentReader]:
    """The content of a report version now, for ``v2v audit verify``."""
    return {RECORD: row_content_reader(ReportVersion, content_of)}


__all__ = [
    "RECORD",
    "Generated",
    "RenderedReport",
    "ReportNoLongerRenders",
    "eligible_signatories",
    "generate",
    "record_download",
    "render_pdf",
    "report_page",
    "report_version",
    "report_versions",
    "sign_report",
    "signed_contents",
]
