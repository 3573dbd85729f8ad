"""``core.results.frozen_frame``: a table held by a result (or a cache) cannot be written, under
every copy-on-write setting of the pinned pandas (off, on, "warn"), even while other objects
reference its data; what is derived from it is an ordinary, writable DataFrame."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from vein2vein.core.results import frozen_frame

COW_MODES = [False, True, "warn"]


@pytest.fixture(params=COW_MODES, ids=["cow-off", "cow-on", "cow-warn"])
def cow(request: pytest.FixtureRequest) -> Iterator[Any]:
    with pd.option_context("mode.copy_on_write", request.param):
        yield request.param


def _frame() -> pd.DataFrame:
    # several columns of one dtype share one 2-D block: the case a per-column freeze missed
    return pd.DataFrame(
        {
            "subj": [0, 1, 2],
            "day": [10, 20, 30],
            "value": [1.5, np.nan, 3.0],
            "sum": [4.0, 5.0, 6.0],
            "subject_id": ["S1", "S2", "S3"],
            "flag": [True, False, True],
            "count": pd.array([1, None, 3], dtype="Int64"),
            "group": pd.Categorical(["low", "high", "low"]),
            "label": pd.array(["a", "b", "c"], dtype="string"),
        }
    )


WRITES: dict[str, Callable[[pd.DataFrame], object]] = {
    "loc int": lambda f: f.loc.__setitem__((0, "day"), 99),
    "loc float": lambda f: f.loc.__setitem__((0, "sum"), 99.0),
    "loc object": lambda f: f.loc.__setitem__((0, "subject_id"), "X"),
    "loc bool": lambda f: f.loc.__setitem__((0, "flag"), False),
    "loc masked": lambda f: f.loc.__setitem__((0, "count"), 7),
    "loc categorical": lambda f: f.loc.__setitem__((0, "group"), "high"),
    "loc string": lambda f: f.loc.__setitem__((0, "label"), "z"),
    "loc mask": lambda f: f.loc.__setitem__((f["day"] > 10, "day"), 0),
    "loc row": lambda f: f.loc.__setitem__(0, f.iloc[1]),
    "iloc": lambda f: f.iloc.__setitem__((0, 0), 99),
    "at": lambda f: f.at.__setitem__((1, "value"), 0.0),
    "iat": lambda f: f.iat.__setitem__((2, 1), 99),
    "to_numpy": lambda f: f["sum"].to_numpy().__setitem__(0, 99.0),
    "values": lambda f: f["day"].values.__setitem__(0, 99),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_a_write_into_a_frozen_frame_raises(
    cow: Any, write: Callable[[pd.DataFrame], object]
) -> None:
    frozen = frozen_frame(_frame())
    before = frozen.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # copy-on-write "warn" mode warns before it raises
        with pytest.raises(ValueError, match="read-only"):
            write(frozen)
    pd.testing.assert_frame_equal(frozen, before)


CHANGES: dict[str, Callable[[pd.DataFrame], object]] = {
    "replace column": lambda f: f.__setitem__("day", 0),
    "add column": lambda f: f.__setitem__("extra", 1),
    "loc whole column": lambda f: f.loc.__setitem__((slice(None), "day"), 0),
    "loc new column": lambda f: f.loc.__setitem__((slice(None), "extra"), 0),
    "insert": lambda f: f.insert(0, "extra", 1),
    "isetitem": lambda f: f.isetitem(0, [7, 7, 7]),
    "delete column": lambda f: f.__delitem__("day"),
    "pop": lambda f: f.pop("day"),
    "update": lambda f: f.update(pd.DataFrame({"day": [7, 7, 7]})),
    "fillna inplace": lambda f: f.fillna({"value": 0.0}, inplace=True),
    "replace inplace": lambda f: f.replace({"day": {10: 11}}, inplace=True),
    "where inplace": lambda f: f.where(f.isna(), inplace=True),
    "drop inplace": lambda f: f.drop(columns=["day"], inplace=True),
    "sort inplace": lambda f: f.sort_values("day", ascending=False, inplace=True),
    "rename inplace": lambda f: f.rename(columns={"day": "d"}, inplace=True),
    "new index": lambda f: setattr(f, "index", [5, 6, 7]),
    "new columns": lambda f: setattr(f, "columns", list("abcdefghi")),
    "attribute of a column": lambda f: setattr(f, "day", 0),
    "iloc private": lambda f: f.iloc._setitem_with_indexer((0, 0), 9, "iloc"),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_the_frame_itself_refuses_to_change(
    cow: Any, change: Callable[[pd.DataFrame], object]
) -> None:
    frozen = frozen_frame(_frame())
    before = frozen.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="read-only"):
            change(frozen)
    pd.testing.assert_frame_equal(frozen, before)


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_a_write_raises_while_other_objects_reference_the_data(
    cow: Any, write: Callable[[pd.DataFrame], object]
) -> None:
    """Under copy-on-write, pandas copies a referenced block and writes the copy into the
    frame: read-only buffers alone would let the frame change; the frame itself refuses."""
    frozen = frozen_frame(_frame())
    column, shallow = frozen["day"], frozen.copy(deep=False)  # live references to the blocks
    before = frozen.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="read-only"):
            write(frozen)
    pd.testing.assert_frame_equal(frozen, before)
    assert column.iloc[0] == 10 and shallow.loc[0, "day"] == 10


SERIES_WRITES: dict[str, Callable[[pd.DataFrame], object]] = {
    "chained iloc": lambda f: f["day"].iloc.__setitem__(0, 99),
    "series setitem": lambda f: f["day"].__setitem__(0, 99),
    "fillna inplace": lambda f: f["value"].fillna(0.0, inplace=True),
    "clip inplace": lambda f: f["sum"].clip(0, 1, inplace=True),
}


@pytest.mark.parametrize("write", SERIES_WRITES.values(), ids=SERIES_WRITES.keys())
def test_a_write_through_a_column_never_reaches_the_frame(
    cow: Any, write: Callable[[pd.DataFrame], object]
) -> None:
    """Without copy-on-write a column is a view of the frame's data and the write raises; with
    it the column is a lazy copy, the write goes to that copy and the frame is unchanged."""
    frozen = frozen_frame(_frame())
    before = frozen.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ChainedAssignmentError warnings under copy-on-write
        if cow is True:
            write(frozen)
        else:
            with pytest.raises(ValueError, match="read-only"):
                write(frozen)
    pd.testing.assert_frame_equal(frozen, before)


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_shallow_copy_handed_out_is_writable_and_leaves_the_frozen_frame_unchanged(
    cow: Any, change: Callable[[pd.DataFrame], object]
) -> None:
    frozen = frozen_frame(_frame())
    before = frozen.copy(deep=True)
    handed_out = frozen.copy(deep=False)
    assert type(handed_out) is pd.DataFrame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(ValueError):  # a write into the shared data raises: also fine
            change(handed_out)
    pd.testing.assert_frame_equal(frozen, before)


def test_frozen_frame_copies_and_keeps_values_and_dtypes(cow: Any) -> None:
    original = _frame()
    frozen = frozen_frame(original)
    pd.testing.assert_frame_equal(frozen, original)
    original.loc[0, "day"] = 42  # the caller's own frame stays writable and separate
    assert frozen.loc[0, "day"] == 10
    # reading, selecting and deriving work as usual and give writable frames
    derived = frozen[frozen["flag"].to_numpy()]
    derived.loc[derived.index[0], "day"] = 1
    assert frozen.loc[0, "day"] == 10


def test_storage_that_cannot_be_frozen_is_refused() -> None:
    sparse = pd.DataFrame({"x": pd.arrays.SparseArray([0.0, 1.0, 0.0])})
    with pytest.raises(TypeError, match="read-only"):
        frozen_frame(sparse)


def test_a_frozen_frame_survives_pickling_still_read_only() -> None:
    import pickle

    frozen = frozen_frame(_frame())
    back = pickle.loads(pickle.dumps(frozen))
    pd.testing.assert_frame_equal(back, frozen)
    with pytest.raises(ValueError, match="read-only"):
        back.loc[0, "day"] = 99
    with pytest.raises(ValueError, match="read-only"):
        frozen._mgr = frozen._mgr.copy()  # swapping the data underneath
