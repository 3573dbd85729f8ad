"""CMC statistics for autologous CAR-T programs: pure functions, typed results.

Arrays or DataFrames in, immutable result objects out (numbers, method, options, warnings,
provenance, ``summary()``, ``to_dict()``); no database or web code. See docs/stats.md.
"""

# Submodules import scipy/statsmodels; load them on first use so that `v2v` starts quickly
# (PEP 562 module __getattr__).
from __future__ import annotations

from vein2vein.core.lazy import lazy_exports

_EXPORTS = {
    "ApproximationWarning": "errors",
    "CapabilityResult": "capability",
    "ChartConstants": "constants",
    "ControlChartResult": "charts",
    "ConvergenceError": "errors",
    "DegenerateDataError": "errors",
    "DesignWarning": "errors",
    "FactorialResult": "doe",
    "GrowthFit": "kinetics",
    "InsufficientDataError": "errors",
    "KineticsResult": "kinetics",
    "Margin": "margins",
    "NonparametricToleranceResult": "tolerance",
    "PowerResult": "power",
    "RangeResult": "ranges",
    "RuleSet": "rules",
    "SampleSizeResult": "power",
    "SmallSampleWarning": "errors",
    "StatisticalWarning": "errors",
    "ToleranceResult": "tolerance",
    "TostResult": "equivalence",
    "capability": "capability",
    "chart_constants": "constants",
    "cumulative_doublings": "kinetics",
    "cusum_chart": "charts",
    "doubling_time": "kinetics",
    "ewma_chart": "charts",
    "expansion_kinetics": "kinetics",
    "factorial_analysis": "doe",
    "fold_expansion": "kinetics",
    "growth_rate_fit": "kinetics",
    "imr_chart": "charts",
    "k_one_sided": "tolerance",
    "k_two_sided": "tolerance",
    "margin_from_bounds": "margins",
    "margin_from_reference": "margins",
    "minmax_range": "ranges",
    "nelson": "rules",
    "nonparametric_min_n": "tolerance",
    "nonparametric_tolerance_interval": "tolerance",
    "population_doublings": "kinetics",
    "quality_range": "ranges",
    "tolerance_from_summary": "tolerance",
    "tolerance_interval": "tolerance",
    "tost": "equivalence",
    "tost_from_summary": "equivalence",
    "tost_power": "power",
    "tost_sample_size": "power",
    "western_electric": "rules",
    "xbar_r_chart": "charts",
    "xbar_s_chart": "charts",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
