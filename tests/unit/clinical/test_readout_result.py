"""The readout is the house result type (issue 9): ``core.results.Result`` with provenance,
immutable (read-only tables, counts and curves), and the same JSON as before."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from vein2vein.clinical.csv_reader import read_csv_folder
from vein2vein.clinical.demo_data import CUTOFF, LOW, write_demo_csv
from vein2vein.clinical.readout import ReadoutOptions, ReadoutResult, readout
from vein2vein.core.provenance import Provenance
from vein2vein.core.results import Result


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> ReadoutResult:
    folder = write_demo_csv(tmp_path_factory.mktemp("demo"))
    return readout(read_csv_folder(folder), ReadoutOptions(cutoff=CUTOFF))


def test_the_readout_is_a_result_with_provenance(result: ReadoutResult) -> None:
    assert isinstance(result, Result) and isinstance(result.provenance, Provenance)
    prov = result.to_dict()["provenance"]
    assert set(prov) == {"method", "options", "input_hash", "library_versions", "computed_at"}
    assert {"numpy", "scipy", "pandas", "lifelines", "python", "vein2vein"} <= set(
        prov["library_versions"]
    )
    assert prov["method"] == "RECIST 1.1 readout of a csv dataset"
    assert prov["options"]["cutoff"] == CUTOFF.isoformat()


def test_the_readout_json_keeps_its_shape(result: ReadoutResult) -> None:
    out = result.to_dict()
    assert list(out) == [
        "criteria",
        "subjects",
        "groups",
        "disagreements",
        "warnings",
        "provenance",
    ]
    json.dumps(out, allow_nan=False)  # JSON-ready, no NaN
    assert "Warnings:" not in result.summary() or result.warnings


@pytest.mark.parametrize("cow", [False, True, "warn"])
def test_the_readout_tables_cannot_be_written(result: ReadoutResult, cow: object) -> None:
    before = result.to_dict()
    before["provenance"].pop("computed_at")
    with pd.option_context("mode.copy_on_write", cow):
        for frame in (result.subjects, result.timepoints):
            with pytest.raises(ValueError, match="read-only"):
                frame.iloc[0, 0] = frame.iloc[1, 0]
        with pytest.raises(ValueError, match="read-only"):
            result.subjects.loc[result.subjects.index[:3], "best_pct_change"] = 0.0
    after = result.to_dict()
    after["provenance"].pop("computed_at")
    assert after == before


def test_counts_curves_and_fields_cannot_be_changed(result: ReadoutResult) -> None:
    group = result.group(LOW)
    with pytest.raises(TypeError):
        group.bor_counts["PR"] = 3  # type: ignore[index]
    with pytest.raises(ValueError, match="read-only"):
        group.os.survival[0] = 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.warnings = ()  # type: ignore[misc]
    assert isinstance(result.groups, tuple) and isinstance(result.warnings, tuple)
