"""The fast CSV readers (issue 15) give what the ``csv`` module reader gives: the same numbers,
bit for bit, or they step aside and the ``csv`` reader names the bad cell. Checked on odd files
(BOM, CRLF, quotes, blank lines, spaces, underscores, non-finite values, ragged rows...) and on
random cells, through both fast parsers (``float()`` and pyarrow)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vein2vein.core.errors import InputError
from vein2vein.stats import csv_input
from vein2vein.stats.csv_input import _read_plain_column, read_column, read_column_csv

FILES = {
    "one column": b"value\n1.5\n2\n-3e2\n",
    "no final newline": b"value\n1.5\n2",
    "bom and crlf": b"\xef\xbb\xbfvalue\r\n1.5\r\n2.25\r\n",
    "lone cr": b"value\r1.5\r2.25\r",
    "text first column": b"lot,value\nL1,1.5\nL2,2.5\n",
    "spaces": b" lot , value \nL1,  1.5 \nL2,\t2.5\n",
    "numeric first column": b"n,value\n1,1.5\n2,2.5\n",
    "blank line inside": b"value\n1.5\n\n2.5\n",
    "blank lines at the end": b"value\n1.5\n2.5\n\n\n",
    "only blank lines": b"value\n\n\n\n",
    "underscores": b"value\n1_000\n2\n",
    "quoted": b'value\n"1.5"\n2\n',
    "non ascii header": "lot,valeur é\nL1,1.5\nL2,2\n".encode(),
    "extra field": b"value\n1.5,7\n2\n",
    "missing field": b"lot,value\nL1,1.5\nL2\n",
    "empty first cell": b"a,b\n,1.5\n2,2.5\n",
    "duplicate header": b"value,value\n1,2\n3,4\n",
    "header only": b"value\n",
    "empty file": b"",
    "not a number": b"value\n1.5\nabc\n",
    "missing value": b"value\n1.5\n \n2\n",
    "infinite": b"value\n1.5\ninf\n",
    "nan": b"value\n1.5\nnan\n",
    "too large": b"value\n1.5\n1e400\n",
    "odd but valid numbers": b"value\n+.5\n5.\n1E+05\n-0\n0001e0001\n",
    "long field": b"value\n1.5\n" + b"1" * 131_073 + b"\n",
    "nul byte": b"value\n1.5\x00\n2\n",
    "no numeric column": b"lot\nL1\nL2\n",
}


def outcome(read, path, column=None):
    try:
        return read(path, column).tobytes()
    except InputError as exc:
        return f"{type(exc).__name__}: {exc.message}"


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("column", [None, "value"])
def test_fast_readers_agree_with_the_csv_reader(tmp_path, name, column):
    path = tmp_path / "data.csv"
    path.write_bytes(FILES[name])
    expected = outcome(read_column_csv, path, column)
    for arrow in (False, True):
        fast = _read_plain_column(path, column, arrow)
        assert fast is None or fast.tobytes() == expected, (name, arrow)
        assert outcome(lambda p, c, a=arrow: read_column(p, c, arrow=a), path, column) == expected


PLAIN = [
    "one column",
    "no final newline",
    "bom and crlf",
    "text first column",
    "spaces",
    "numeric first column",
    "odd but valid numbers",
]


@pytest.mark.parametrize("name", PLAIN)
def test_plain_files_take_both_fast_paths(tmp_path, name):
    path = tmp_path / "data.csv"
    path.write_bytes(FILES[name])
    for arrow in (False, True):
        assert _read_plain_column(path, None, arrow) is not None


def test_a_cpv_series_reads_back_bit_for_bit(tmp_path):
    path = tmp_path / "cpv.csv"
    values = np.random.default_rng(1).normal(100, 2, 500)
    path.write_text("lot,value\n" + "".join(f"L{i},{v!r}\n" for i, v in enumerate(values.tolist())))
    for arrow in (False, True):
        fast = _read_plain_column(path, None, arrow)
        assert fast is not None and fast.tobytes() == values.tobytes()


def test_pyarrow_is_used_from_the_threshold_on(tmp_path, monkeypatch):
    path = tmp_path / "cpv.csv"
    path.write_text("value\n1.5\n2.5\n")
    used = []
    monkeypatch.setattr(csv_input, "_parse_arrow", lambda *a: used.append(a) or None)
    read_column(path)
    assert used == []
    monkeypatch.setattr(csv_input, "ARROW_FROM", 4)
    read_column(path)
    assert len(used) == 1


CELL = st.one_of(
    st.text(alphabet=" 0123456789.+-eE_", max_size=8),
    st.sampled_from(["inf", "-Infinity", "nan", "1e400", "1e-400", "0x10", '"1"', "1,5", "ä"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(CELL, min_size=2, max_size=2), min_size=1, max_size=6),
    width=st.sampled_from([1, 2]),
    column=st.sampled_from([None, "b"]),
)
def test_random_cells(tmp_path_factory, rows, width, column):
    header = "a,b" if width == 2 else "b"
    text = header + "\n" + "".join(",".join(row[:width]) + "\n" for row in rows)
    path = tmp_path_factory.mktemp("cells") / "data.csv"
    path.write_bytes(text.encode())
    expected = outcome(read_column_csv, path, column)
    for arrow in (False, True):
        fast = _read_plain_column(path, column, arrow)
        assert fast is None or fast.tobytes() == expected, (text, arrow)
