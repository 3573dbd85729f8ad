"""Manufacturing records: ORM models (one section per record family)."""

from __future__ import annotations
