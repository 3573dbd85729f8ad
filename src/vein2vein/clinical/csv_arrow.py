"""The fast path of the clinical CSV reader (issue 15): pyarrow's multi-threaded parser turns a
plain CSV file into dictionary columns, each distinct value a string once, in about a third of
pandas' time for a million rows. It imports neither pandas nor the rest of the reader, so that a
command can begin reading a large file in a thread (:func:`read_ahead`) while it is still
importing the readout engine; pyarrow parses without holding the interpreter lock.

Anything but a plain, regular CSV file is left to pandas (:mod:`.parsing`), whose messages name
file, row and field: here such a file gives ``None``, never an error.
"""

from __future__ import annotations

import csv as _csv
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# the bytes CONTROL matches to NUL, every other byte to 1: one translate and one memchr find
# whether a file has any (a regex scan of a 30 MB file takes ten times as long)
_CONTROL_TABLE = bytes(0 if CONTROL.match(bytes([b])) else 1 for b in range(256))


def has_control_characters(data: bytes) -> bool:
    """Whether ``data`` holds a NUL or another control character (one ``translate`` and one
    ``memchr``)."""
    return b"\x00" in data.translate(_CONTROL_TABLE)


@dataclass(frozen=True)
class Coded:
    """A column as its distinct raw values (``uniques``, strings) and, per row, the index of
    the row's value in them (``codes``; -1 for a cell the row does not have). The parsers of
    :mod:`.parsing` work on exactly this (they parse each distinct value once), so a reader
    that gets it from the CSV parser skips building a Python string per cell."""

    codes: np.ndarray
    uniques: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)


def arrow_coded(data: bytes) -> tuple[list[str], list[Coded]] | None:
    """The raw header names and the columns of a CSV file as :class:`Coded`, parsed by
    pyarrow's multi-threaded reader into dictionary columns (issue 15: a third of pandas' time
    for a million rows), or ``None`` where the file is anything but a plain, regular CSV file
    (a short or long row, a blank-looking line, a repeated header name, bytes that are not
    UTF-8...): the pandas path then reads it and reports what is wrong exactly as before.

    The distinct values come in their order of appearance, pandas' in an order of its own:
    every parser here works per distinct value and reports the first bad row, so the order
    changes nothing they return."""
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    text_type = pa.dictionary(pa.int32(), pa.string())
    try:
        header = next(_csv.reader([data[: data.find(b"\n") + 1 or len(data)].decode("utf-8-sig")]))
    except (UnicodeDecodeError, StopIteration, _csv.Error):
        return None
    if not header or len(set(header)) != len(header):
        return None
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(data),
            parse_options=pa_csv.ParseOptions(newlines_in_values=b'"' in data),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: text_type for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, ValueError):
        return None
    if table.column_names != header:
        return None
    columns = []
    for column in table.unify_dictionaries().columns:
        if column.type != text_type:
            return None
        chunks = column.chunks
        uniques = (
            chunks[0].dictionary.to_numpy(zero_copy_only=False)
            if chunks
            else np.zeros(0, dtype=object)
        )
        codes = (
            np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in chunks])
            if chunks
            else np.zeros(0, dtype=np.int64)
        )
        columns.append(Coded(codes, uniques))
    del table
    pa.default_memory_pool().release_unused()  # its cache would stay in the process' RSS
    return header, columns


@dataclass(frozen=True)
class Parsed:
    """A file's bytes and, if it is a plain CSV file without control characters, its header
    and columns (:func:`arrow_coded`)."""

    data: bytes
    arrow: tuple[list[str], list[Coded]] | None


def _parse(path: Path) -> Parsed:
    data = path.read_bytes()
    return Parsed(data, None if has_control_characters(data) else arrow_coded(data))


def read_ahead(path: Path) -> Future[Parsed] | None:
    """Begin reading and parsing ``path`` in a thread; ``None`` if it is not a file. The reader
    takes the result (``read_csv_coded(..., ahead=...)``) or, if the thread failed, reads the
    file itself and reports what is wrong as it always does."""
    if not path.is_file():
        return None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="v2v-read-ahead")
    future = pool.submit(_parse, path)
    pool.shutdown(wait=False)
    return future
