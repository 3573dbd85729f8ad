"""``ParseAhead`` (the command line's upload parse, started in a thread while the store loads)
gives what ``parse_upload`` gives on the same files: the same dataset hash, counts, warnings
and frames, and for a bad file the same error naming file, row and field; it refuses to answer
for files it was not started with."""

from __future__ import annotations

import pandas as pd
import pytest
from tests.integration.clinical.world import corrupt

from vein2vein.clinical.demo import demo_files
from vein2vein.clinical.upload import ParseAhead, UploadedFile, parse_upload
from vein2vein.core.errors import InputError


def test_the_same_result_as_parse_upload() -> None:
    files = demo_files()
    ahead = ParseAhead(files, "auto", "INVESTIGATOR")(files, "auto", "INVESTIGATOR")
    now = parse_upload(files, "auto", "INVESTIGATOR")
    assert ahead.sha256 == now.sha256
    assert ahead.counts() == now.counts()
    assert ahead.dataset.warnings == now.dataset.warnings
    assert [f.name for f in ahead.files] == [f.name for f in now.files]
    for name in ("subjects", "lesions", "assessments", "new_lesions"):
        pd.testing.assert_frame_equal(getattr(ahead.dataset, name), getattr(now.dataset, name))


@pytest.mark.parametrize(
    ("file", "row", "column", "value"),
    [("assessments.csv", 11, "date", "2023-02-30"), ("subjects.csv", 3, "dose_per_kg", "lots")],
)
def test_the_same_error_for_a_bad_file(file: str, row: int, column: str, value: str) -> None:
    bad = corrupt(demo_files(), file, row, column, value)
    with pytest.raises(InputError) as now:
        parse_upload(bad)
    with pytest.raises(InputError) as ahead:
        ParseAhead(bad)(bad)
    assert (ahead.value.message, ahead.value.file, ahead.value.row, ahead.value.field) == (
        now.value.message,
        now.value.file,
        now.value.row,
        now.value.field,
    )
    assert (now.value.file, now.value.row, now.value.field) == (file, row, column)


def test_it_answers_only_for_the_files_and_options_it_was_started_with() -> None:
    files = demo_files()
    ahead = ParseAhead(files, "csv")
    copies = [UploadedFile(f.name, f.content) for f in files]
    with pytest.raises(ValueError, match="other files"):
        ahead(copies, "csv")
    with pytest.raises(ValueError, match="other files"):
        ahead(files, "auto")
    assert ahead(files, "csv").format == "csv"
