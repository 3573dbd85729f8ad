"""The parsed-dataset cache of ``clinical/datasets.py`` (issue 9): what a caller gets cannot
change what the next caller computes, under every copy-on-write setting of pandas."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.integration.clinical.world import World, build, demo

from vein2vein.clinical import datasets, readouts, studies
from vein2vein.clinical.schemas import ReadoutParams
from vein2vein.store.database import Database


def _uploaded(db: Database) -> tuple[World, int]:
    """Sponsor A's study with the demo dataset as version 1 (the world, the version's id)."""
    w = build(db)
    with w.uow("a.clinical") as uow:
        scope = w.scopes["a.clinical"]
        study = studies.create_study(
            uow, scope, program_id=w.ids["program_a"], code="IIT-C", title="Cache"
        )
        version_id = datasets.upload_dataset(uow, scope, study.id, demo()).id
        uow.commit()
    return w, version_id


def _readout_json(result: Any) -> dict[str, Any]:
    out = result.to_dict()
    out["provenance"].pop("computed_at")
    return out


@pytest.mark.parametrize("cow", [False, True, "warn"], ids=["cow-off", "cow-on", "cow-warn"])
def test_mutating_a_cached_dataset_a_caller_got_does_not_change_the_next_readout(
    sqlite_db: Database, cow: Any
) -> None:
    w, version_id = _uploaded(sqlite_db)
    viewer = w.scopes["a.viewer"]
    params = ReadoutParams(cutoff="2025-03-01")
    with pd.option_context("mode.copy_on_write", cow), sqlite_db.read() as session:
        _, first = readouts.compute_readout(session, viewer, version_id, params)
        version = datasets.get_version(session, viewer, version_id)
        got = datasets.load_dataset(session, version)  # from the cache
        a, s = got.assessments, got.subjects
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # writes into the cached data: refused (or, under copy-on-write, made on a copy)
            for write in (
                lambda: a.loc.__setitem__((a.index[0], "value"), 1),
                lambda: a.iloc.__setitem__((slice(None), a.columns.get_loc("day")), 0),
                lambda: s.loc.__setitem__((slice(None), "death_day"), np.nan),
                lambda: a["value"].to_numpy().__setitem__(slice(None), 0),
                lambda: s["infusion_day"].fillna(0, inplace=True),
            ):
                with contextlib.suppress(ValueError):
                    write()
            # changes to the caller's own frame objects
            a["state"] = 0
            s.drop(columns=["dose_group"], inplace=True)
            got.lesions.sort_values("lesion_id", inplace=True)
        assert (a["state"] == 0).all() and "dose_group" not in s.columns  # the caller's view
        again = datasets.load_dataset(session, version)
        assert again.assessments is not got.assessments
        assert "dose_group" in again.subjects.columns
        _, second = readouts.compute_readout(session, viewer, version_id, params)
    assert _readout_json(second) == _readout_json(first)


def test_the_cached_frames_are_read_only(sqlite_db: Database) -> None:
    w, version_id = _uploaded(sqlite_db)
    with pd.option_context("mode.copy_on_write", False), sqlite_db.read() as session:
        version = datasets.get_version(session, w.scopes["a.viewer"], version_id)
        got = datasets.load_dataset(session, version)
        for frame in (got.subjects, got.lesions, got.assessments, got.new_lesions):
            with pytest.raises(ValueError, match="read-only"):
                frame.iloc[0, 0] = frame.iloc[1, 0]
        with pytest.raises(TypeError):
            got.files["subjects"] = "elsewhere.csv"  # type: ignore[index]
