"""Use cases of the Certificate of Analysis: issue it for a released batch (``coa.py`` is the
content, ``coa_pdf.py`` the PDF), download it again, and verify a presented file.

**Issue.** The content is built from the store as it stands: the batch, its order and chain of
identity, the specification version it was judged by, every test with its raw and rounded
result, the dose per bag and per kg, the signatures (QA's approval of the batch record, the
release, an exceptional release's sign-offs) and the audit chain's head. If the last
certificate issued for the batch says the same (``coa.changes`` finds nothing), it is handed
out again, byte for byte (the PDF is rendered deterministically from the stored content and
its SHA-256 checked); otherwise a new document number is issued (COA-<batch>-<n>) and stored
with the content hash and the file's SHA-256. A certificate is issued only for a batch
released, conditionally or exceptionally.

**Verify** (``v2v coa verify``, the upload page): the file's SHA-256 names the issued
certificate; the batch's content now, compared with the issued content, says whether it is
still current, and names what changed if not; a file whose bytes were not issued but whose
embedded content was is "altered after issue"; anything else "not issued by this system"
(``coa.verdict``). A certificate of another client's batch is, to the caller, not issued.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm
from vein2vein.auth.scope import Scope
from vein2vein.auth.signatures import signatures_for
from vein2vein.core.canonical import canonical_json
from vein2vein.core.clock import as_utc, utcnow
from vein2vein.core.errors import InputError, RuleViolation
from vein2vein.identity.domain import Step
from vein2vein.identity.labels import bag_division
from vein2vein.manufacturing import batches
from vein2vein.manufacturing.tables import Batch
from vein2vein.quality import coa, coa_pdf, release, results, specs
from vein2vein.quality import release_rules as rules
from vein2vein.quality.tables import QcCoa
from vein2vein.store import audit
from vein2vein.store.uow import UnitOfWork

RECORD = "qc_coa"

_OUTCOME = {
    "conforms": coa.CoaOutcome.CONFORMS,
    "does not conform": coa.CoaOutcome.DOES_NOT_CONFORM,
    "reported": coa.CoaOutcome.REPORTED,
}


@dataclass(frozen=True)
class IssuedCoa:
    number: str
    data: bytes
    new: bool

    @property
    def filename(self) -> str:
        return f"{self.number}.pdf"


def _frozen_on(batch: Batch) -> dt.date | None:
    record = batches.record_of(batch)
    times = [e.at for e in record.events if e.step == release.FREEZE_STEP]
    return max(times).date() if times else None


def _collected_on(batch: Batch) -> dt.date:
    order = batch.order
    assert order is not None
    for e in order.events:
        if e.step == Step.COLLECTED.value:
            return e.occurred_at.date()
    return order.planned_apheresis


def _signatures(session: Session, batch: Batch, br: release.BatchRelease) -> list[coa.CoaSignature]:
    sigs = [s for s in signatures_for(session, batches.RECORD, batch.id) if s.meaning == "approved"]
    sigs += signatures_for(session, release.RECORD, batch.id)
    if br.exception is not None:
        sigs += signatures_for(session, release.EXCEPTION_RECORD, br.exception.id)
    return [
        coa.CoaSignature(s.printed_name, s.username, as_utc(s.signed_at), s.meaning)
        for s in sorted(sigs, key=lambda s: (s.signed_at, s.id))
    ]


def content_now(
    session: Session, scope: Scope, batch: Batch, *, number: str, issued_at: dt.datetime
) -> coa.CoaContent | None:
    """The certificate the batch would get now (None: it is not released)."""
    br = release.gather(session, scope, batch)
    state = release.display_state(br.release)
    if state not in rules.RELEASED_STATES or br.release is None or br.model is None:
        return None
    order = batch.order
    assert order is not None and br.spec is not None
    program = order.program
    valid = results.valid_results(session, batch.id)
    frozen = _frozen_on(batch)
    tests, pending = [], []
    for t in br.model.tests:
        r = valid.get(t.code)
        common = {
            "code": t.code,
            "name": t.name,
            "category": t.category.value,
            "method": t.method,
            "criterion": specs.domain.criterion_text(t),
            "unit": t.unit,
        }
        if r is None:
            tests.append(coa.CoaTest(**common, raw="", rounded="", outcome=coa.CoaOutcome.PENDING))
            # counted from freezing, as the worklist's due date (``views.py``)
            start = frozen or br.release.decided_at.date()
            expected = start + dt.timedelta(days=t.days_to_result)
            pending.append(coa.PendingTest(t.code, expected))
            continue
        tests.append(
            coa.CoaTest(
                **common,
                raw=f"{r.value_text} {r.unit}" if r.unit else r.value_text,
                rounded=r.rounded,
                outcome=_OUTCOME[r.outcome],
                result_id=str(r.id),
                analyst=r.analyst_name,
                tested_on=r.tested_on,
            )
        )
    plan = br.dose.plan
    level_text = br.dose.level
    if br.model.dose is not None:
        try:
            lv = br.model.dose.level(br.dose.level)
            level_text = f"{br.dose.level}: {lv.value:g} × {lv.unit} (CAR-positive viable T cells)"
        except KeyError:
            pass
    head = audit.head(session)
    state_value = coa.ReleaseState(state.value)
    if state_value is coa.ReleaseState.RELEASED and pending:
        state_value = coa.ReleaseState.CONDITIONAL
    reason = None
    if state is rules.ReleaseState.EXCEPTIONAL and br.exception is not None:
        reason = (
            "; ".join(json.loads(br.exception.nonconformities))
            + f" (treating physician's request {br.exception.physician_request}, "
            f"{br.exception.physician})"
        )
    return coa.CoaContent(
        document_number=number,
        issued_at=issued_at,
        product_code=program.code,
        product_name=order.product_name or program.product or program.name,
        sponsor=order.organisation.name,
        coi=order.coi,
        din=order.product_din or batch.din or "",
        order_number=order.number,
        subject_id=order.patient.subject_id,
        batch_id=str(batch.id),
        batch_number=order.batch_number or f"B-{batch.id}",
        manufacturing_site=batch.site.name,
        mbr_version=str(batch.mbr_version),
        collection_date=_collected_on(batch),
        spec_title=br.spec.title,
        spec_version=br.spec.version,
        spec_id=str(br.spec.id),
        release_state=state_value,
        dose_level=level_text,
        patient_weight_kg=float(order.weight_kg),
        total_cells=float(plan.cells) if plan else 0.0,
        tests=tuple(tests),
        bags=tuple(
            coa.CoaBag(b.number, bag_division(b.number), b.volume_ml, b.cells, b.cells_per_kg)
            for b in (plan.bags if plan else ())
        ),
        signatures=tuple(_signatures(session, batch, br)),
        audit_head_hash=head.hash,
        audit_head_sequence=head.seq,
        pending_tests=tuple(pending),
        exceptional_reason=reason,
    )


def _plain(content: coa.CoaContent) -> dict[str, Any]:
    """The content as stored (canonical JSON read back), so that it compares with the stored."""
    data: dict[str, Any] = json.loads(canonical_json(coa.content_data(content)))
    return data


def _latest(session: Session, batch_id: int) -> QcCoa | None:
    return session.scalars(
        select(QcCoa).where(QcCoa.batch_id == batch_id).order_by(QcCoa.id.desc())
    ).first()


def _render(row: QcCoa) -> bytes:
    data = coa_pdf.render_pdf(coa.from_data(json.loads(row.content)))
    if coa_pdf.document_sha256(data) != row.file_sha256:
        raise RuleViolation(
            f"certificate {row.number} no longer renders to the file that was issued: "
            "report this to QA (the renderer changed)"
        )
    return data


def issue(uow: UnitOfWork, scope: Scope, batch_id: int | str) -> IssuedCoa:
    """The batch's certificate: the last one issued if the batch still says the same, else a
    new one (stored and audited)."""
    s = uow.session
    scope.require(Perm.QC_READ)
    batch = batches.get_batch(s, scope, batch_id, lock=True)
    last = _latest(s, batch.id)
    now = utcnow().replace(microsecond=0)
    count = s.scalar(select(func.count()).select_from(QcCoa).where(QcCoa.batch_id == batch.id))
    number = f"COA-{batch.id:05d}-{(count or 0) + 1}"
    current = content_now(s, scope, batch, number=number, issued_at=now)
    if current is None:
        raise RuleViolation(
            f"batch {batch.id} is not released: a certificate is issued only after QA's release"
        )
    if last is not None and not coa.changes(json.loads(last.content), _plain(current)):
        return IssuedCoa(last.number, _render(last), new=False)
    data = coa_pdf.render_pdf(current)
    row = QcCoa(
        organisation_id=batch.organisation_id,
        batch_id=batch.id,
        number=number,
        content=canonical_json(coa.content_data(current)).decode(),
        content_hash=coa.content_hash(current),
        file_sha256=coa_pdf.document_sha256(data),
        issued_at=now,
        issued_by=uow.actor.name,
    )
    s.add(row)
    s.flush()
    uow.record(
        "qc.coa_issue",
        RECORD,
        row.id,
        after={
            "number": number,
            "batch_id": batch.id,
            "content_hash": row.content_hash,
            "file_sha256": row.file_sha256,
            "supersedes": last.number if last else None,
        },
        organisation_id=row.organisation_id,
    )
    return IssuedCoa(number, data, new=True)


def verify(session: Session, scope: Scope, data: bytes, file: str = "coa.pdf") -> dict[str, Any]:
    """Whether a presented certificate is authentic and current, with the reasons."""
    scope.require(Perm.QC_READ)
    sha = coa_pdf.document_sha256(data)
    try:
        read = coa_pdf.read_pdf(data, file)
    except InputError as exc:  # not a PDF, or its embedded content damaged
        return {
            "file": file,
            "sha256": sha,
            "authentic": False,
            "current": False,
            "status": coa.Status.UNKNOWN.value,
            "reasons": [exc.message],
            "document_number": None,
            "batch_id": None,
            "issued_at": None,
        }

    def visible(row: QcCoa | None) -> QcCoa | None:
        return row if row is not None and scope.sees(row.organisation_id) else None

    by_file = visible(session.scalars(select(QcCoa).where(QcCoa.file_sha256 == sha)).first())
    by_content = visible(
        session.scalars(
            select(QcCoa).where(QcCoa.content_hash == read.embedded_hash).order_by(QcCoa.id)
        ).first()
    )
    current = None
    issued = by_file or by_content
    if issued is not None:
        batch = session.get_one(Batch, issued.batch_id)
        now = content_now(
            session, scope, batch, number=issued.number, issued_at=as_utc(issued.issued_at)
        )
        current = _plain(now) if now is not None else None
    verdict = coa.verdict(
        issued_by_file=json.loads(by_file.content) if by_file else None,
        issued_by_content=json.loads(by_content.content) if by_content else None,
        current=current,
        embedded_hash_matches=read.embedded_hash_matches,
    )
    return {
        "file": file,
        "sha256": sha,
        "authentic": verdict.authentic,
        "current": verdict.current,
        "status": verdict.status.value,
        "reasons": list(verdict.reasons),
        "document_number": issued.number if issued else None,
        "batch_id": issued.batch_id if issued else None,
        "issued_at": issued.issued_at if issued else None,
    }


def issued_for(session: Session, scope: Scope, batch_id: int | str) -> list[dict[str, Any]]:
    scope.require(Perm.QC_READ)
    batch = batches.get_batch(session, scope, batch_id)
    rows = session.scalars(select(QcCoa).where(QcCoa.batch_id == batch.id).order_by(QcCoa.id))
    return [
        {
            "number": r.number,
            "issued_at": r.issued_at,
            "issued_by": r.issued_by,
            "content_hash": r.content_hash,
            "file_sha256": r.file_sha256,
        }
        for r in rows
    ]
