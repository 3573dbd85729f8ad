"""Typed warnings and errors of the statistics package.

Degenerate input raises; a result that is computable but fragile (few lots, an approximation, a
design that cannot reach its goal) warns by name and records the warning in the result, so that
nothing comes back as a silent NaN and nothing is logged and swallowed.
"""

from __future__ import annotations

import warnings

from vein2vein.core.errors import InputError, V2VError


class StatisticalWarning(UserWarning):
    """Base of every warning the statistics package emits."""


class SmallSampleWarning(StatisticalWarning):
    """Too few lots for the result to be reliable (for example capability from < 30 values)."""


class DesignWarning(StatisticalWarning):
    """The study design cannot reach its goal (for example equivalence can never be concluded)."""


class ApproximationWarning(StatisticalWarning):
    """An approximation was used where it is known to be poor."""


class DegenerateDataError(InputError):
    """Data the method cannot use: n too small, zero variance, NaN, non-positive values on a log
    scale, a lower bound above the upper one."""

    title = "Degenerate data"


class InsufficientDataError(DegenerateDataError):
    """Fewer observations than the method needs (for example a nonparametric tolerance interval)."""

    title = "Insufficient data"


class ConvergenceError(V2VError):
    """A numerical root search or integration did not converge."""

    title = "Convergence failure"
    status = 500


def emit(message: str, category: type[StatisticalWarning]) -> str:
    """Emit ``message`` as a warning of ``category`` and return it, so results can record it."""
    warnings.warn(message, category, stacklevel=3)
    return message
