import warnings

import pytest

from vein2vein.stats.errors import StatisticalWarning


@pytest.fixture(autouse=True)
def _quiet_statistical_warnings():
    """Statistical warnings are asserted explicitly where they matter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        yield
