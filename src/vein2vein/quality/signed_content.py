"""What each signed QC record says now, for ``v2v audit verify`` (``features.py``:
``signed_contents``; see ``manufacturing/signed_content.py`` for the mechanism):

===================== ===================================== ====================================
record type           signed by                             content recomputed
===================== ===================================== ====================================
``qc_spec``           ``specs.approve`` (approved)          ``specs.content``: the version and
                                                            its content hash and content
``qc_investigation``  ``oos.conclude_phase_i`` (reviewed,   ``oos.content``: the result, the
                      invalidation) or ``close_phase_ii``   finding and the conclusions
                      (approved)
``qc_exception``      ``release.sign_exception`` (QA and    ``release.exception_content``
                      sponsor, approved)
``qc_release``        ``release.release`` / ``reject``      the decision as stored with it (the
                      (released)                            batch's results may follow later)
===================== ===================================== ====================================

A reader returns None when the record is gone (reported as missing).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vein2vein.auth.signatures import ContentReader, row_content_reader
from vein2vein.core.text import parse_id
from vein2vein.quality import oos, release, specs
from vein2vein.quality.tables import QcException, QcInvestigation, QcRelease, QcSpec

Reader = ContentReader


def release_now(session: Session, record_id: str) -> Any:
    key = parse_id(record_id)
    if key is None:
        return None
    row = session.scalars(select(QcRelease).where(QcRelease.batch_id == key)).first()
    return json.loads(row.content) if row is not None else None


def content_readers() -> dict[str, Reader]:
    """Record type → reader of its signed content now (the feature's ``signed_contents``)."""
    return {
        specs.RECORD: row_content_reader(QcSpec, specs.content),
        oos.RECORD: row_content_reader(QcInvestigation, oos.content),
        release.EXCEPTION_RECORD: row_content_reader(QcException, release.exception_content),
        release.RECORD: release_now,
    }
