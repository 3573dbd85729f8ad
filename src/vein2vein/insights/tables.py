"""The ORM tables of the insights feature: importing this module registers every part's tables
with the metadata (the Alembic environment and the tests import it through ``features.py``)."""

from __future__ import annotations

from vein2vein.insights.comparability_tables import CmpProtocol, CmpRun  # noqa: F401
