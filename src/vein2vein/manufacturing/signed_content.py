"""What each signed manufacturing record says now, for ``v2v audit verify``.

``signatures.find_bad_signatures`` checks a locking signature against the content of its record
*now* when the record's type has a reader here (``features.py``: ``signed_contents``); the
audit trail asks every feature through the composition root and imports nothing of
manufacturing. Each reader recomputes, from the current rows, exactly the content the service
signed, so a row changed in the database after signing (triggers set aside, or a table without
one) shows:

================== ============================= =============================================
record type        signed by                     content recomputed
================== ============================= =============================================
``mbr``            ``mbrs.sign_mbr`` (authored,  ``mbrs.content_of``: the version's content
                   reviewed, approved)
``mfg_deviation``  ``deviations.close``          ``deviations.content``: the deviation, its
                                                 links and QA's investigation
``mfg_batch_step`` ``batches.sign_off_step``     ``execution.signoff_content`` of the record
                   (id ``BATCH:STEP``)           rebuilt from its events
``mfg_batch``      ``batches.approve``           ``batches.approval_content`` (the record in
                                                 review: binding, events, review, deviations)
================== ============================= =============================================

A batch's failure signature (``mfg_batch_failure``) signs the batch's state at the moment of
failure, which the row no longer holds (its status is FAILED since); its own hash and the audit
entry of its signing still protect it.

A reader returns None when the record is gone (reported as missing).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from vein2vein.auth.signatures import ContentReader, row_content_reader
from vein2vein.core.errors import V2VError
from vein2vein.core.text import parse_id
from vein2vein.manufacturing import batches, deviations, execution, mbrs
from vein2vein.manufacturing.tables import Batch, Deviation, MasterBatchRecord

Reader = ContentReader


def _record(batch: Batch) -> execution.BatchRecord | dict[str, str]:
    """The batch's record, or what stops it being rebuilt (so that the hash differs and the
    signature is reported rather than the verification failing)."""
    try:
        return batches.record_of(batch)
    except (V2VError, ValueError, KeyError, TypeError) as exc:
        return {"unreadable": f"{type(exc).__name__}: {exc}"}


def step_signoff_now(session: Session, record_id: str) -> Any:
    batch_ref, _, step = record_id.partition(":")
    key = parse_id(batch_ref)
    batch = session.get(Batch, key) if key is not None else None
    if batch is None or not step:
        return None
    record = _record(batch)
    if isinstance(record, dict):
        return record
    try:
        return execution.signoff_content(record, step)
    except execution.ExecutionError:
        return None  # the step is no longer in the record's MBR


def approval_now(session: Session, record_id: str) -> Any:
    key = parse_id(record_id)
    batch = session.get(Batch, key) if key is not None else None
    if batch is None:
        return None
    record = _record(batch)
    if isinstance(record, dict):
        return record
    return batches.approval_content(session, batch, record)


def content_readers() -> dict[str, Reader]:
    """Record type → reader of its signed content now (the feature's ``signed_contents``)."""
    return {
        mbrs.RECORD: row_content_reader(MasterBatchRecord, mbrs.content_of),
        deviations.RECORD: row_content_reader(Deviation, deviations.content),
        batches.STEP_RECORD: step_signoff_now,
        batches.RECORD: approval_now,
    }
