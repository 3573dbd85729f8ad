"""Read-only pandas tables, for results and caches that hand out DataFrames
(:func:`vein2vein.core.results.frozen_frame` is the way in; this module imports pandas, so it is
loaded only when a table is frozen).

Two layers, because neither holds alone under pandas' copy-on-write mode:

* the **buffers** of every block are made read-only, so pandas cannot write into the shared
  data in place (pandas keeps columns of one dtype in one 2-D block: making a per-column view
  read-only left the block writable);
* the **frame object** refuses every write (``.loc``, ``.iloc``, ``.at``, ``.iat``,
  ``frame[name] = ...``, ``insert``, ``del``, ``update``, in-place methods, new index or
  columns). Under copy-on-write, a write to a frame whose data another object references
  copies the block and writes the copy *into that frame* without touching the read-only
  buffers; only the frame can refuse it.

Whatever is derived from a read-only frame (a selection, ``copy()``, ``drop``, ``assign``...) is
an ordinary, writable DataFrame: ``_constructor`` is ``pandas.DataFrame``.
"""

from __future__ import annotations

from typing import Any, NoReturn

import numpy as np
import pandas as pd

MESSAGE = "this table is read-only (core.results.frozen_frame): change a copy, frame.copy()"


def _refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise ValueError(MESSAGE)


class _ReadOnlyIndexer:
    """``.loc`` / ``.iloc`` of a read-only frame: reads pass through, writes raise."""

    __slots__ = ("_indexer",)

    def __init__(self, indexer: Any) -> None:
        self._indexer = indexer

    def __getitem__(self, key: Any) -> Any:
        return self._indexer[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        _refuse()

    def __call__(self, axis: Any = None) -> _ReadOnlyIndexer:
        return _ReadOnlyIndexer(self._indexer(axis))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_setitem"):
            _refuse()
        return getattr(self._indexer, name)


class ReadOnlyFrame(pd.DataFrame):
    """A DataFrame that refuses writes; see the module docstring."""

    @property
    def _constructor(self) -> type[pd.DataFrame]:  # type: ignore[override]
        return pd.DataFrame

    @property
    def loc(self) -> Any:  # type: ignore[override]
        return _ReadOnlyIndexer(super().loc)

    @property
    def iloc(self) -> Any:  # type: ignore[override]
        return _ReadOnlyIndexer(super().iloc)

    # the frame's public ways to change ...
    __setitem__ = _refuse  # type: ignore[assignment]
    __delitem__ = _refuse  # type: ignore[assignment]
    isetitem = _refuse  # type: ignore[assignment]
    insert = _refuse  # type: ignore[assignment]
    update = _refuse  # type: ignore[assignment]
    # ... and the internal ones pandas 2.3 routes writes through (a write that does not come
    # in through the methods above still ends in one of these)
    _set_value = _refuse  # type: ignore[assignment]  # .at, .iat
    _iset_item_mgr = _refuse  # type: ignore[assignment]  # replace a column (e.g. replace)
    _set_item_mgr = _refuse  # type: ignore[assignment]  # add a column
    _maybe_cache_changed = _refuse  # type: ignore[assignment]  # a cached column was written
    _update_inplace = _refuse  # type: ignore[assignment]  # every inplace=True method, +=
    _set_axis = _refuse  # type: ignore[assignment]  # frame.index = ..., frame.columns = ...

    def __setattr__(self, name: str, value: Any) -> None:
        # the block manager is the frame's data: once set, it may not be swapped for another
        if name == "_mgr" and "_mgr" in self.__dict__ and value is not self.__dict__["_mgr"]:
            _refuse()
        super().__setattr__(name, value)


def freeze(frame: pd.DataFrame) -> ReadOnlyFrame:
    """A read-only copy of ``frame``: copied, its block buffers made read-only, wrapped in a
    :class:`ReadOnlyFrame`. Columns backed by numpy (including masked integer/boolean,
    categorical, string and datetime columns) are supported; storage that cannot be made
    read-only (Arrow, sparse, interval) raises ``TypeError`` rather than being handed out
    writable."""
    copy = frame.copy(deep=True)
    copy._consolidate_inplace()
    for block in copy._mgr.blocks:
        values = block.values
        if isinstance(values, np.ndarray):
            buffers = [values]
        else:  # extension arrays backed by numpy: NDArrayBacked (_ndarray) or masked (_data, _mask)
            buffers = [
                getattr(values, name)
                for name in ("_ndarray", "_data", "_mask")
                if isinstance(getattr(values, name, None), np.ndarray)
            ]
        if not buffers:
            raise TypeError(
                f"frozen_frame cannot make columns of type {type(values).__name__} read-only"
            )
        for buffer in buffers:
            buffer.flags.writeable = False
    return ReadOnlyFrame(copy)
