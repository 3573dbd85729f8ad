"""Large binary values (raw uploaded files) written fast, in one place.

PostgreSQL compresses a large ``bytea`` before it stores it out of line (TOAST). Its default
method, ``pglz``, is slow: a 30 MB CSV file takes it about two seconds, more than reading and
validating the file. ``lz4`` takes a fifth of that and keeps the file a little larger (issue
15, target 5; ``bench/clinical_upload.py``). The method is chosen per value when it is written
and recorded with it, so reading is unchanged and values written either way read back the same
bytes. SQLite stores blobs as they are: nothing to do there.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

_LZ4_OFFERED = text(
    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
)


def compress_fast(session: Session) -> bool:
    """Make the large values written in this transaction use ``lz4`` (PostgreSQL 14 or later,
    built with lz4); the setting ends with the transaction. Returns whether it was set."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    if not session.scalar(_LZ4_OFFERED):
        return False
    session.execute(text("SET LOCAL default_toast_compression = 'lz4'"))
    return True
