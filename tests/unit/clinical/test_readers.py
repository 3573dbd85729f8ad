"""Bad input gives errors that name file, row and field; SDTM (CSV and .xpt) reads into the same
model as the CSV folder; responses.csv feeds the BOR command."""

from __future__ import annotations

import io
import json
import shutil

import pandas as pd
import pytest

from vein2vein.clinical.csv_reader import read_csv_folder
from vein2vein.clinical.demo_data import CUTOFF, RS_DISAGREEMENT, write_demo_csv, write_demo_sdtm
from vein2vein.clinical.readout import ReadoutOptions, readout
from vein2vein.clinical.responses import bor_from_responses, read_responses
from vein2vein.clinical.sdtm import read_sdtm
from vein2vein.core.errors import InputError


@pytest.fixture
def demo(tmp_path):
    return write_demo_csv(tmp_path / "demo")


def edit(path, fn):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = fn(frame)
    frame.to_csv(path, index=False)


def error(folder) -> InputError:
    with pytest.raises(InputError) as exc:
        read_csv_folder(folder)
    return exc.value


def test_demo_reads_cleanly(demo):
    ds = read_csv_folder(demo)
    assert ds.n_subjects == 10 and ds.warnings == ()


def test_unknown_subject(demo):
    edit(
        demo / "assessments.csv",
        lambda f: f.assign(subject_id=f["subject_id"].where(f.index != 4, "NOPE")),
    )
    e = error(demo)
    assert (e.file, e.row, e.field) == ("assessments.csv", 6, "subject_id")
    assert "unknown subject_id 'NOPE'" in str(e)


def test_duplicate_lesion(demo):
    edit(demo / "lesions.csv", lambda f: pd.concat([f, f.iloc[[0]]], ignore_index=True))
    e = error(demo)
    assert (e.file, e.field) == ("lesions.csv", "lesion_id")
    assert e.row == len(pd.read_csv(demo / "lesions.csv")) + 1
    assert "duplicate lesion 'T1'" in str(e)


def test_duplicate_subject(demo):
    edit(demo / "subjects.csv", lambda f: pd.concat([f, f.iloc[[2]]], ignore_index=True))
    e = error(demo)
    assert (e.file, e.row, e.field) == ("subjects.csv", 12, "subject_id")


def test_assessment_after_death(demo):
    def late(f):
        i = f.index[f["subject_id"] == "IIT-G10"][-1]
        f.loc[i, "date"] = "2024-06-01"
        return f

    edit(demo / "assessments.csv", late)
    e = error(demo)
    assert (e.file, e.field) == ("assessments.csv", "date")
    assert "after the death date" in str(e)


def test_unparseable_date(demo):
    edit(
        demo / "assessments.csv",
        lambda f: f.assign(date=f["date"].where(f.index != 9, "2023-02-30")),
    )
    e = error(demo)
    assert (e.file, e.row, e.field) == ("assessments.csv", 11, "date")
    assert "2023-02-30" in str(e)


def test_unparseable_subject_date(demo):
    edit(
        demo / "subjects.csv",
        lambda f: f.assign(death_date=f["death_date"].where(f.index != 1, "soon")),
    )
    e = error(demo)
    assert (e.file, e.row, e.field) == ("subjects.csv", 3, "death_date")


def test_target_without_diameter_at_baseline(demo):
    edit(
        demo / "assessments.csv",
        lambda f: f.assign(diameter_mm=f["diameter_mm"].where(f.index != 0, "")),
    )
    e = error(demo)
    assert (e.file, e.row, e.field) == ("assessments.csv", 2, "diameter_mm")


def test_target_without_any_baseline_row(demo):
    f = pd.read_csv(demo / "assessments.csv", dtype=str, keep_default_na=False)
    f = f.drop(index=0)
    f.to_csv(demo / "assessments.csv", index=False)
    e = error(demo)
    assert (e.file, e.row, e.field) == ("lesions.csv", 2, "lesion_id")


def add_targets(folder, n, organ=None):
    les = pd.read_csv(folder / "lesions.csv", dtype=str, keep_default_na=False)
    ass = pd.read_csv(folder / "assessments.csv", dtype=str, keep_default_na=False)
    new_l, new_a = [], []
    for k in range(n):
        lid = f"X{k}"
        new_l.append(
            {
                "subject_id": "IIT-G03",
                "lesion_id": lid,
                "role": "TARGET",
                "organ": organ or f"ORGAN{k}",
                "nodal": "N",
            }
        )
        new_a.append(
            {
                "subject_id": "IIT-G03",
                "lesion_id": lid,
                "date": "2022-10-30",
                "diameter_mm": "20.0",
                "state": "",
            }
        )
    pd.concat([les, pd.DataFrame(new_l)], ignore_index=True).to_csv(
        folder / "lesions.csv", index=False
    )
    pd.concat([ass, pd.DataFrame(new_a)], ignore_index=True).to_csv(
        folder / "assessments.csv", index=False
    )
    return len(les)


def test_more_than_five_targets(demo):
    n = add_targets(demo, 5)  # IIT-G03 has 1 target: the 5th added one is the 6th
    e = error(demo)
    assert (e.file, e.field) == ("lesions.csv", "role")
    assert e.row == n + 1 + 5
    assert "more than 5 target lesions in total" in str(e)


def test_more_than_two_per_organ(demo):
    n = add_targets(demo, 2, organ="LIVER")  # IIT-G03's T1 is in the liver
    e = error(demo)
    assert (e.file, e.row, e.field) == ("lesions.csv", n + 1 + 2, "role")
    assert "per organ" in str(e)


@pytest.mark.parametrize(
    ("file", "column", "value", "field"),
    [
        ("lesions.csv", "role", "MAYBE", "role"),
        ("lesions.csv", "nodal", "X", "nodal"),
        ("assessments.csv", "state", "GONE", "state"),
        ("assessments.csv", "diameter_mm", "-3", "diameter_mm"),
        ("assessments.csv", "diameter_mm", "abc", "diameter_mm"),
        ("assessments.csv", "lesion_id", "ZZ", "lesion_id"),
        ("subjects.csv", "dose_per_kg", "lots", "dose_per_kg"),
        # float() would read these; what is stored must be what the readout uses
        ("assessments.csv", "diameter_mm", "nan", "diameter_mm"),
        ("assessments.csv", "diameter_mm", "1_0", "diameter_mm"),
        ("assessments.csv", "diameter_mm", "\uff11\uff12", "diameter_mm"),
        ("assessments.csv", "diameter_mm", "1\x002", "diameter_mm"),
    ],
)
def test_bad_cells(demo, file, column, value, field):
    edit(demo / file, lambda f: f.assign(**{column: f[column].where(f.index != 1, value)}))
    e = error(demo)
    assert (e.file, e.row, e.field) == (file, 3, field)


def test_missing_column_and_missing_file(demo):
    edit(demo / "lesions.csv", lambda f: f.drop(columns=["nodal"]))
    e = error(demo)
    assert (e.file, e.row, e.field) == ("lesions.csv", 1, "nodal")
    (demo / "lesions.csv").unlink()
    assert error(demo).file == "lesions.csv"


def test_unequivocal_progression_on_a_target_is_refused(demo):
    edit(
        demo / "assessments.csv",
        lambda f: f.assign(state=f["state"].where(f.index != 3, "UNEQUIVOCAL PROGRESSION")),
    )
    e = error(demo)
    assert (e.file, e.row, e.field) == ("assessments.csv", 5, "state")


def test_small_baseline_target_warns(demo):
    edit(
        demo / "assessments.csv",
        lambda f: f.assign(diameter_mm=f["diameter_mm"].where(f.index != 0, "8.0")),
    )
    ds = read_csv_folder(demo)
    assert any("below RECIST 1.1's measurable size" in w for w in ds.warnings)


@pytest.mark.parametrize("fmt", ["xpt", "csv"])
def test_sdtm_matches_csv_and_reports_rs_disagreement(tmp_path, demo, fmt):
    sdtm = write_demo_sdtm(tmp_path / fmt, fmt)
    opts = ReadoutOptions(cutoff=CUTOFF)
    a = readout(read_sdtm(sdtm), opts)
    b = readout(read_csv_folder(demo), opts)
    cols = [
        "subject_id",
        "dose_group",
        "dose_per_kg",
        "bor",
        "bor_confirmed",
        "best_pct_change",
        "pfs_days",
        "pfs_event",
        "os_days",
        "os_event",
        "dor_days",
        "dor_event",
    ]
    pd.testing.assert_frame_equal(a.subjects[cols], b.subjects[cols])
    pd.testing.assert_frame_equal(
        a.timepoints.drop(columns=["subj"]), b.timepoints.drop(columns=["subj"])
    )
    assert a.disagreements[["subject_id", "investigator", "derived"]].values.tolist() == [
        [RS_DISAGREEMENT[0], RS_DISAGREEMENT[2], "PR"]
    ]
    assert [g.to_dict()["orr"] for g in a.groups] == [g.to_dict()["orr"] for g in b.groups]


def test_sdtm_errors_name_domain_record_and_variable(tmp_path):
    sdtm = write_demo_sdtm(tmp_path / "s", "csv")
    tr = pd.read_csv(sdtm / "tr.csv", dtype=str, keep_default_na=False)
    tr.loc[4, "TRDTC"] = "not a date"
    tr.to_csv(sdtm / "tr.csv", index=False)
    with pytest.raises(InputError) as exc:
        read_sdtm(sdtm)
    assert (exc.value.file, exc.value.row, exc.value.field) == ("tr.csv", 6, "TRDTC")
    (sdtm / "tu.csv").unlink()
    with pytest.raises(InputError, match="TU"):
        read_sdtm(sdtm)


def test_sdtm_unknown_lesion_in_tr(tmp_path):
    sdtm = write_demo_sdtm(tmp_path / "s", "csv")
    tr = pd.read_csv(sdtm / "tr.csv", dtype=str, keep_default_na=False)
    tr.loc[2, "TRLNKID"] = "T99"
    tr.to_csv(sdtm / "tr.csv", index=False)
    with pytest.raises(InputError) as exc:
        read_sdtm(sdtm)
    assert (exc.value.row, exc.value.field) == (4, "TRLNKID")


def test_responses_csv(tmp_path):
    p = tmp_path / "responses.csv"
    p.write_text(
        "subject_id,reference_date,date,response\n"
        "A,2020-01-01,2020-02-01,PR\n"
        "A,2020-01-01,2020-03-01,PR\n"
        "B,2020-01-01,2020-01-20,SD\n"
        "C,2020-01-01,,\n"
        "D,2020-01-01,2020-03-01,NON-CR/NON-PD\n"
        "D,2020-01-01,2020-04-01,CR\n"
    )
    t = bor_from_responses(read_responses(p))
    assert t.iloc[:, :6].values.tolist() == [
        ["A", "PR", "2020-02-01", "PR", "2020-02-01", "2020-03-01"],
        ["B", "NE", "2020-01-20", "NE", "2020-01-20", None],
        ["C", "MISSING", None, "MISSING", None, None],
        ["D", "CR", "2020-04-01", "NON-CR/NON-PD", "2020-03-01", None],
    ]


@pytest.mark.parametrize(
    ("line", "row", "field"),
    [
        ("A,2020-01-01,2020-02-01,GOOD", 2, "response"),
        ("A,2020-01-01,2020-02-01,", 2, "response"),
        ("A,2020-01-01,,PR", 2, "date"),
        ("A,2020-13-01,2020-02-01,PR", 2, "reference_date"),
    ],
)
def test_responses_csv_errors(tmp_path, line, row, field):
    p = tmp_path / "responses.csv"
    p.write_text("subject_id,reference_date,date,response\n" + line + "\n")
    with pytest.raises(InputError) as exc:
        read_responses(p)
    assert (exc.value.row, exc.value.field) == (row, field)


def test_folder_with_extra_files_and_no_new_lesions(demo):
    (demo / "new_lesions.csv").unlink()
    shutil.copy(demo / "subjects.csv", demo / "notes.csv")
    r = readout(read_csv_folder(demo))
    assert r.group("ALL").n == 10


def test_cutoff_before_any_infusion_is_bad_input(demo):
    import datetime as dt

    with pytest.raises(InputError) as exc:
        readout(read_csv_folder(demo), ReadoutOptions(cutoff=dt.date(2000, 1, 1)))
    assert exc.value.field == "cutoff" and "no subject was infused" in exc.value.message


def test_a_mistyped_sdtm_evaluator_is_refused_not_an_empty_dataset(tmp_path):
    sdtm = write_demo_sdtm(tmp_path / "csv", "csv")
    with pytest.raises(InputError) as exc:
        read_sdtm(sdtm, evaluator="E")
    assert exc.value.field == "TUEVAL" and "INVESTIGATOR" in exc.value.message


# --- plausible ranges and the order of events (issue 10) ------------------------------------


@pytest.mark.parametrize(
    ("file", "column", "value", "message"),
    [
        # 10^17 mm used to pass, wrap round in the cast to hundredths and flip PD to PR
        ("assessments.csv", "diameter_mm", "1e17", "from 0 to 1000 mm"),
        ("assessments.csv", "diameter_mm", "1000.01", "from 0 to 1000 mm"),
        ("subjects.csv", "dose_per_kg", "3e14", "cells/kg"),
        ("assessments.csv", "date", "1850-01-01", "implausible date"),
        ("assessments.csv", "date", "2400-01-01", "implausible date"),
    ],
)
def test_implausible_values_are_refused_where_read(demo, file, column, value, message):
    edit(demo / file, lambda f: f.assign(**{column: f[column].where(f.index != 1, value)}))
    e = error(demo)
    assert (e.file, e.row, e.field) == (file, 3, column)
    assert message in str(e)


def test_the_largest_plausible_diameter_is_accepted(demo):
    edit(
        demo / "assessments.csv",
        lambda f: f.assign(diameter_mm=f["diameter_mm"].where(f.index != 1, "1000")),
    )
    read_csv_folder(demo)  # no error: 1 m is the bound, inclusive


@pytest.mark.parametrize("column", ["death_date", "last_alive_date"])
def test_infusion_after_death_or_last_contact_is_refused_at_reading(demo, column):
    """It used to pass validation and make the readout answer 500."""

    def swap(f):
        i = f.index[f[column] != ""][0]
        day = pd.Timestamp(f.loc[i, column]) + pd.Timedelta(days=5)
        f.loc[i, "infusion_date"] = day.date().isoformat()
        return f

    edit(demo / "subjects.csv", swap)
    e = error(demo)
    assert (e.file, e.field) == ("subjects.csv", "infusion_date")
    assert f"the infusion date is after the {column.replace('_', ' ')}" in str(e)


def test_coded_columns_hold_the_cells_the_string_reader_reads(tmp_path):
    """Issue 15: assessments.csv is read as codes of distinct values (pandas' categorical
    conversion); every cell must be exactly the string read_csv_strings gives."""
    from vein2vein.clinical.parsing import read_csv_coded, read_csv_strings

    path = tmp_path / "assessments.csv"
    path.write_text(
        " Subject_ID ,lesion_id,date,diameter_mm,state\n"
        '001,T1,2024-01-01,"12,5",\n'
        '" 001 ",T1 ,2024-02-01,  13.0 ,"PRESENT"\n'
        "002,NT1,2024-01-01,,ABSENT\n"
        "\n"
        'ünï,"multi\nline",x,"a ""quoted"" cell",  \n'
        "003,T2\n",
        encoding="utf-8",
    )
    strings = read_csv_strings(path, ("subject_id",))
    coded = read_csv_coded(path, ("subject_id",))
    assert list(coded) == list(strings.columns)
    for name, col in coded.items():
        cells = [None if c < 0 else col.uniques[c] for c in col.codes]
        expected = [None if isinstance(v, float) else v for v in strings[name].tolist()]
        assert cells == expected, name


def test_a_column_twice_is_refused_by_name(tmp_path):
    from vein2vein.clinical.parsing import read_csv_coded

    path = tmp_path / "assessments.csv"
    path.write_text("subject_id,Date,date\n001,2024-01-01,2024-01-02\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_csv_coded(path, ("subject_id",))
    assert exc.value.row == 1 and exc.value.field == "date"


# Issue 15: plain CSV files are parsed by pyarrow (clinical/csv_arrow.py), anything else by
# pandas as before. The reference for every cell is read_csv_strings (pandas, dtype=str).
PLAIN_FILES = {
    "plain": "subject_id,lesion_id,date\n001,T1,2024-01-01\n002,NT1,\n",
    "byte order mark": "\ufeffsubject_id,Date\n001,2024-01-01\n",
    "CRLF": "subject_id,date\r\n001,2024-01-01\r\n002,2024-02-01\r\n",
    "quoted": 'subject_id,note\n" 001 ","a, ""b""\nc"\n002,\n',
    "blank lines": "subject_id,date\n\n001,x\n\n002,y\n\n",
    "unicode": "subject_id,organ\nünï,Lébér\n",
    "header only": "subject_id,date\n",
    "no final newline": "subject_id,date\n001,2024-01-01",
}
IRREGULAR_FILES = {
    "short row": "subject_id,date\n001\n",
    "long row": "subject_id,date\n001,2024-01-01,extra\n",
    "whitespace line": "subject_id,date\n   \n001,x\n",
    "same name twice": "subject_id,date,date\n001,x,y\n",
    "blank first line": "\nsubject_id,date\n001,x\n",
}


def _cells(col):
    return [None if c < 0 else col.uniques[c] for c in col.codes]


@pytest.mark.parametrize("name", sorted(PLAIN_FILES))
def test_pyarrow_reads_plain_files_cell_for_cell_as_pandas(tmp_path, name):
    from vein2vein.clinical.csv_arrow import arrow_coded
    from vein2vein.clinical.parsing import read_csv_coded, read_csv_strings

    path = tmp_path / "assessments.csv"
    path.write_bytes(PLAIN_FILES[name].encode("utf-8"))
    assert arrow_coded(path.read_bytes()) is not None  # the fast path reads it
    strings = read_csv_strings(path, ("subject_id",))
    coded = read_csv_coded(path, ("subject_id",))
    assert list(coded) == list(strings.columns)
    for column, col in coded.items():
        assert _cells(col) == strings[column].tolist(), column


@pytest.mark.parametrize("name", sorted(IRREGULAR_FILES))
def test_irregular_files_go_to_pandas_with_its_result_or_its_error(tmp_path, monkeypatch, name):
    """The fast path declines (None), and read_csv_coded gives exactly what the pandas path
    gives: the same cells, or the same error with file, row and field."""
    from vein2vein.clinical import parsing
    from vein2vein.clinical.csv_arrow import arrow_coded

    path = tmp_path / "assessments.csv"
    path.write_bytes(IRREGULAR_FILES[name].encode("utf-8"))
    assert arrow_coded(path.read_bytes()) is None

    def outcome():
        try:
            return {k: _cells(v) for k, v in parsing.read_csv_coded(path, ("subject_id",)).items()}
        except InputError as exc:
            return (str(exc), exc.file, exc.row, exc.field)

    now = outcome()
    monkeypatch.setattr(parsing, "arrow_coded", lambda data: None)
    assert now == outcome()


def test_not_utf8_empty_and_control_characters_keep_their_messages(tmp_path):
    from vein2vein.clinical.csv_arrow import arrow_coded, read_ahead
    from vein2vein.clinical.parsing import read_csv_coded

    cases = {
        b"subject_id,date\n\xff\xfe,x\n": ("not a readable CSV file", None),
        b"": ("the file is empty", None),
        b"subject_id,date\n001,x\n002,a\x00b\n": ("control character", 3),
    }
    for data, (message, row) in cases.items():
        path = tmp_path / "assessments.csv"
        path.write_bytes(data)
        if data and b"\x00" not in data:
            assert arrow_coded(data) is None
        for ahead in (None, read_ahead(path)):
            with pytest.raises(InputError) as exc:
                read_csv_coded(path, ("subject_id",), ahead=ahead)
            assert message in str(exc.value) and exc.value.file == "assessments.csv"
            assert exc.value.row == row


def test_read_ahead_gives_the_dataset_and_readout_of_the_plain_read(demo, monkeypatch):
    """The readout command parses assessments.csv in a thread while it imports the engine
    (read_ahead); the dataset, and the readout of it, equal those of the pandas path."""
    from vein2vein.clinical import parsing
    from vein2vein.clinical.csv_arrow import read_ahead
    from vein2vein.clinical.readout_json import write_readout_json

    def document(ds):
        out = io.BytesIO()
        write_readout_json(readout(ds, ReadoutOptions(cutoff=CUTOFF)), out)
        doc = json.loads(out.getvalue())
        doc["provenance"].pop("computed_at")
        return doc

    ahead = read_csv_folder(demo, ahead=read_ahead(demo / "assessments.csv"))
    monkeypatch.setattr(parsing, "arrow_coded", lambda data: None)
    plain = read_csv_folder(demo)
    for name in ("subjects", "lesions", "assessments", "new_lesions"):
        pd.testing.assert_frame_equal(getattr(ahead, name), getattr(plain, name))
    assert ahead.file_hashes == plain.file_hashes and ahead.warnings == plain.warnings
    assert document(ahead) == document(plain)


def test_a_failed_read_ahead_reads_the_file_again(demo):
    from concurrent.futures import Future

    failed: Future = Future()
    failed.set_exception(MemoryError("the thread ran out of memory"))
    assert read_csv_folder(demo, ahead=failed).assessments.equals(read_csv_folder(demo).assessments)
