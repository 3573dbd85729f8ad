"""Validation of numeric inputs: every public function passes its data through here first.

The checks name the argument (``field``) so that a CLI or web caller can tell the user which input
was wrong; the CLI layer adds the file and row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vein2vein.stats.errors import DegenerateDataError, InsufficientDataError

FloatArray = NDArray[np.float64]


def as_values(data: Any, name: str, *, min_n: int = 1) -> FloatArray:
    """Return ``data`` as a finite 1-D float array of at least ``min_n`` values, or raise."""
    try:
        arr = np.asarray(data, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DegenerateDataError(f"{name} must be numeric ({exc})", field=name) from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise DegenerateDataError(
            f"{name} must be one-dimensional, got shape {arr.shape}", field=name
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DegenerateDataError(
            f"{name} contains a missing or non-finite value at position {first + 1}", field=name
        )
    if arr.size < min_n:
        raise InsufficientDataError(
            f"{name} needs at least {min_n} values, got {arr.size}", field=name
        )
    return arr


def as_sample(data: Any, name: str, *, min_n: int = 2, need_spread: bool = True) -> FloatArray:
    """A sample for mean/SD work: at least ``min_n`` finite values and, if asked, non-zero SD."""
    arr = as_values(data, name, min_n=min_n)
    if need_spread and np.ptp(arr) == 0:
        raise DegenerateDataError(
            f"{name} has zero variance (all {arr.size} values equal {arr[0]:g})", field=name
        )
    return arr


def as_positive(data: Any, name: str, *, min_n: int = 1) -> FloatArray:
    """Values that must be strictly positive (log scale, cell counts)."""
    arr = as_values(data, name, min_n=min_n)
    if (arr <= 0).any():
        first = int(np.flatnonzero(arr <= 0)[0])
        raise DegenerateDataError(
            f"{name} must be > 0 for a log scale; value {arr[first]:g} at position {first + 1}",
            field=name,
        )
    return arr


def as_groups(data: Any, name: str, *, min_size: int = 2, min_groups: int = 2) -> FloatArray:
    """Rational subgroups as an (m, n) array: m subgroups of equal size n."""
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        sizes = {len(g) if hasattr(g, "__len__") else 1 for g in data}
        if len(sizes) > 1:
            raise DegenerateDataError(
                f"{name}: subgroups must have equal sizes, got sizes {sorted(sizes)}", field=name
            )
    try:
        arr = np.asarray(data, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DegenerateDataError(f"{name} must be numeric ({exc})", field=name) from None
    if arr.ndim != 2:
        raise DegenerateDataError(
            f"{name} must be a 2-D array (subgroups x size), got shape {arr.shape}", field=name
        )
    if not np.isfinite(arr).all():
        raise DegenerateDataError(f"{name} contains a missing or non-finite value", field=name)
    m, n = arr.shape
    if n < min_size:
        raise InsufficientDataError(
            f"{name}: subgroup size must be >= {min_size}, got {n}", field=name
        )
    if m < min_groups:
        raise InsufficientDataError(
            f"{name}: needs at least {min_groups} subgroups, got {m}", field=name
        )
    return arr


def check_probability(value: float, name: str) -> float:
    """A probability strictly between 0 and 1."""
    if not (isinstance(value, int | float) and 0.0 < float(value) < 1.0):
        raise DegenerateDataError(
            f"{name} must be strictly between 0 and 1, got {value!r}", field=name
        )
    return float(value)


def check_positive(value: float, name: str) -> float:
    if not (np.isfinite(value) and value > 0):
        raise DegenerateDataError(f"{name} must be a finite number > 0, got {value!r}", field=name)
    return float(value)


def check_bounds(lower: float | None, upper: float | None, lname: str, uname: str) -> None:
    """Raise when both bounds are given and the lower is not below the upper."""
    for value, nm in ((lower, lname), (upper, uname)):
        if value is not None and not np.isfinite(value):
            raise DegenerateDataError(f"{nm} must be finite, got {value!r}", field=nm)
    if lower is not None and upper is not None and not lower < upper:
        raise DegenerateDataError(
            f"{lname} ({lower:g}) must be below {uname} ({upper:g})", field=lname
        )
