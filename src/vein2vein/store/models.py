"""Imports every feature's tables so that ``Base.metadata`` knows the whole schema (Alembic)."""

from vein2vein.audittrail import tables as _audittrail  # noqa: F401
from vein2vein.auth import tables as _auth  # noqa: F401
from vein2vein.clinical import tables as _clinical  # noqa: F401
from vein2vein.identity import tables as _identity  # noqa: F401
from vein2vein.programs import tables as _programs  # noqa: F401
from vein2vein.scheduling import tables as _scheduling  # noqa: F401
from vein2vein.store import audit as _audit  # noqa: F401
from vein2vein.store.base import Base

metadata = Base.metadata
