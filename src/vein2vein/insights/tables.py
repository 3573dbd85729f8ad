"""The ORM tables of the insights feature: importing this module registers every part's tables
with the metadata (the Alembic environment and the tests import it through ``features.py``)."""

from __future__ import annotations

from vein2vein.insights.comparability_tables import CmpProtocol, CmpRun  # noqa: F401
from vein2vein.insights.cpv_tables import CpvBaseline  # noqa: F401
from vein2vein.insights.outcome_tables import OutcomeLink  # noqa: F401
