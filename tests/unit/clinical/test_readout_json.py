"""Issue 15: ``v2v clinical readout --json`` writes its JSON as a stream
(:mod:`vein2vein.clinical.readout_json`). The document must be *byte for byte* what it was:
``json.dumps(result.to_dict(), indent=2, allow_nan=False)`` plus a newline."""

from __future__ import annotations

import dataclasses
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bench.clinical_readout import write_study
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from vein2vein.clinical.cli import app
from vein2vein.clinical.csv_reader import read_csv_folder
from vein2vein.clinical.demo_data import CUTOFF, write_demo_csv
from vein2vein.clinical.readout import ReadoutOptions, ReadoutResult, readout
from vein2vein.clinical.readout_json import column_texts, write_readout_json


def _old(result: ReadoutResult, timepoints: bool = True) -> bytes:
    """What the command printed before issue 15 (typer.echo adds the newline)."""
    doc = result.to_dict()
    if not timepoints:
        for s in doc["subjects"]:
            del s["timepoints"]
    return (json.dumps(doc, indent=2, allow_nan=False) + "\n").encode()


def _new(result: ReadoutResult, timepoints: bool = True, block: int | None = None) -> bytes:
    buf = io.BytesIO()
    if block is None:
        write_readout_json(result, buf, timepoints=timepoints)
    else:
        import vein2vein.clinical.readout_json as rj

        old, rj.BLOCK = rj.BLOCK, block
        try:
            write_readout_json(result, buf, timepoints=timepoints)
        finally:
            rj.BLOCK = old
    return buf.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_csv(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("generated")
    write_study(root, 700, seed=15)
    return root


@pytest.mark.parametrize(
    "options",
    [
        ReadoutOptions(),
        ReadoutOptions(cutoff=CUTOFF),
        ReadoutOptions(irecist=True, use_confirmed=False, population="infused"),
    ],
    ids=["default", "cutoff", "irecist-infused"],
)
def test_byte_equal_on_the_demo_study(demo: Path, options: ReadoutOptions) -> None:
    result = readout(read_csv_folder(demo), options)
    assert _new(result) == _old(result)
    assert _new(result, timepoints=False) == _old(result, timepoints=False)


def test_byte_equal_on_a_generated_study_across_blocks(generated: Path) -> None:
    result = readout(read_csv_folder(generated), ReadoutOptions(cutoff=CUTOFF))
    assert (result.timepoints.groupby("subj").size() > 0).all()
    old = _old(result)
    for block in (1, 7, 1000):  # subjects per block of text: boundaries anywhere
        assert _new(result, block=block) == old
    assert _new(result, timepoints=False) == _old(result, timepoints=False)


def test_the_command_prints_the_same_bytes(demo: Path) -> None:
    out = CliRunner().invoke(app, ["readout", str(demo), "--json", "--cutoff", "2025-03-01"])
    assert out.exit_code == 0, out.output
    result = readout(read_csv_folder(demo), ReadoutOptions(cutoff=CUTOFF))
    printed, expected = out.stdout_bytes, _old(result)
    stamp = b'"computed_at": '  # the only field that depends on the clock
    assert printed.split(stamp)[0] == expected.split(stamp)[0]
    assert printed.split(stamp)[1].split(b"\n", 1)[1] == expected.split(stamp)[1].split(b"\n", 1)[1]
    assert json.loads(printed)["subjects"] == json.loads(expected)["subjects"]


def _with(result: ReadoutResult, **columns: object) -> ReadoutResult:
    subjects = result.subjects.copy()
    for name, values in columns.items():
        subjects[name] = values
    return dataclasses.replace(result, subjects=subjects)


def test_none_nan_text_and_number_formats(demo: Path) -> None:
    result = readout(read_csv_folder(demo))
    n = len(result.subjects)
    odd = _with(
        result,
        subject_id=["Zoë 😀", 'quote " back \\ slash', "tab\tnew\nline\x1b", *["S"] * (n - 3)],
        dose_per_kg=[1e-05, 2.5e-07, 1e16, 1.5e22, -0.0, math.nan, 0.1, 1e15, 123.456, 5e-324],
        best_pct_change=[math.nan] * n,
        dose_group=[None, *["DL1"] * (n - 1)],
        pfs_days=[1e-4, 9.999999999999999e-05, 9999999999999998.0, *[0.0] * (n - 3)],
    )
    assert _new(odd) == _old(odd)
    text = _new(odd).decode("ascii")  # non-ASCII as \\u escapes, as ensure_ascii writes
    assert '"subject_id": "Zo\\u00eb \\ud83d\\ude00"' in text
    assert '"dose_per_kg": 1e-05' in text and '"dose_per_kg": 1.5e+22' in text
    assert '"best_pct_change": null' in text and '"dose_group": null' in text


def test_an_event_column_of_floats_and_odd_objects_go_through_json(demo: Path) -> None:
    result = readout(read_csv_folder(demo))
    n = len(result.subjects)
    odd = _with(
        result,
        os_event=[1.0, -1.0, math.nan, *[0.0] * (n - 3)],
        pfs_reason=[1, 2.5, None, True, *["x"] * (n - 4)],
    )
    assert _new(odd) == _old(odd)
    nan_in_text = _with(result, bor_date=[math.nan, *["2024-01-01"] * (n - 1)])
    for write in (_old, _new):  # a NaN among strings was refused, and still is
        with pytest.raises(ValueError, match="Out of range float values"):
            write(nan_in_text)


def test_an_infinite_number_is_refused_as_before(demo: Path) -> None:
    result = readout(read_csv_folder(demo))
    bad = _with(result, dose_per_kg=[math.inf, *[1.0] * (len(result.subjects) - 1)])
    with pytest.raises(ValueError, match="Out of range float values"):
        _old(bad)
    with pytest.raises(ValueError, match="Out of range float values"):
        _new(bad)


def test_no_subjects(demo: Path) -> None:
    result = readout(read_csv_folder(demo))
    empty = dataclasses.replace(
        result, subjects=result.subjects.iloc[:0], timepoints=result.timepoints.iloc[:0]
    )
    assert _new(empty) == _old(empty)
    assert _new(empty, timepoints=False) == _old(empty, timepoints=False)


def _json(x: float) -> str:
    return "null" if math.isnan(x) else json.dumps(x)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_infinity=False), max_size=60))
def test_floats_are_written_as_json_writes_them(values: list[float]) -> None:
    assert column_texts(np.array(values, dtype=float)) == [_json(x) for x in values]


def test_floats_of_every_magnitude_are_written_as_json_writes_them() -> None:
    rng = np.random.default_rng(15)
    mantissa = rng.uniform(1, 10, 2000)
    values = np.concatenate([mantissa * 10.0**e for e in range(-330, 309, 7)])
    values = values[np.isfinite(values)]
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.concatenate([values, -values, np.round(values, 1), [0.0, -0.0, math.nan]])
    values = values[~np.isinf(values)]
    bits = rng.integers(0, 2**63, 200_000, dtype=np.uint64).view(np.float64)
    values = np.concatenate([values, bits[np.isfinite(bits)]])
    assert column_texts(values) == [_json(x) for x in values.tolist()]


def test_column_kinds() -> None:
    cols = {
        "b": np.array([True, False]),
        "i": np.array([-(2**62), 7], dtype=np.int64),
        "u": np.array([0, 2**63], dtype=np.uint64),
        "O": np.array(["a", None, "é"], dtype=object),
    }
    for col in cols.values():
        assert column_texts(col) == [json.dumps(v) for v in col.tolist()]
    dates = pd.to_datetime(["2024-01-01"]).to_numpy()  # any other kind: json, value by value
    assert column_texts(dates) == [json.dumps(v) for v in dates.tolist()]


def test_the_clinical_cli_module_imports_no_numpy_pandas_or_scipy() -> None:
    """`v2v clinical --help` and the sub-app's loading do not pay for the engine (issue 15)."""
    import subprocess
    import sys

    code = (
        "import sys; import vein2vein.clinical.cli\n"
        "print(sorted(m for m in ('numpy', 'pandas', 'scipy', 'orjson') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
