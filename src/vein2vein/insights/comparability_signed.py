"""What each signed comparability record says now, for ``v2v audit verify`` (``features.py``:
``signed_contents``; see ``manufacturing/signed_content.py`` for the mechanism): a protocol
version's ``comparability_service.signed_content`` (number, version, program, content hash
and content), signed as authored and as approved. When another insights part signs records,
its readers join this mapping."""

from __future__ import annotations

from vein2vein.auth.signatures import ContentReader, row_content_reader
from vein2vein.insights import comparability_service as service
from vein2vein.insights.comparability_tables import CmpProtocol


def content_readers() -> dict[str, ContentReader]:
    return {service.RECORD: row_content_reader(CmpProtocol, service.signed_content)}
