"""Reading QC result files: the results CSV, the flow cytometer export and the qPCR VCN table
(issue 13, docs/quality.md "Result files: CSV and instrument exports").

Reference values are worked by hand in the comments. The VCN formula, copies/cell = 2 × mean
(WPRE quantity) / mean (reference gene quantity), is the absolute standard-curve method of Kunz
et al., Mol Ther Methods Clin Dev 2020;17:448-454 (a single-copy reference gene has two copies
per diploid cell). Rows are numbered as a spreadsheet shows them: the file's first line is 1.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest

from vein2vein.core.errors import InputError
from vein2vein.quality.result_files import (
    MAX_PROBLEMS,
    ResultFileError,
    ResultRow,
    decode,
    read_flow_export,
    read_qpcr_vcn,
    read_results_csv,
)

DATA = Path(__file__).parents[2] / "data" / "quality"

CSV_HEADER = "batch,test,value,unit,analyst,tested_on,instrument,method_ref\n"


def refused(read, text: str, file: str = "f.csv", **kwargs) -> ResultFileError:
    with pytest.raises(ResultFileError) as info:
        read(text, file, **kwargs)
    return info.value


def where(error: ResultFileError) -> list[tuple[int | None, str | None]]:
    return [(p.row, p.field) for p in error.problems]


# --- the results CSV ----------------------------------------------------------------------


def test_results_csv_rows_as_written() -> None:
    text = (
        CSV_HEADER
        + "12,viability,91.4,%,A. Analyst,2026-03-02,FC-01,SOP-QC-017\n"
        + "12,mycoplasma,Not detected,,B. Analyst,2026-03-03,,\n"
    )
    rows = read_results_csv(text, "results.csv")
    assert rows == [
        ResultRow("results.csv", 2, "12", "viability", "91.4", "%", "A. Analyst",
                  dt.date(2026, 3, 2), "FC-01", "SOP-QC-017", "csv"),
        ResultRow("results.csv", 3, "12", "mycoplasma", "Not detected", None, "B. Analyst",
                  dt.date(2026, 3, 3), None, None, "csv"),
    ]  # fmt: skip


def test_results_csv_optional_columns_may_be_left_out() -> None:
    rows = read_results_csv("batch,test,value,tested_on\n12,sterility,no growth,2026-03-16\n", "r")
    assert rows[0].unit is None and rows[0].analyst is None and rows[0].instrument is None
    assert rows[0].value == "no growth" and rows[0].tested_on == dt.date(2026, 3, 16)


def test_bom_and_crlf_are_read() -> None:
    text = "\ufeff" + CSV_HEADER.replace("\n", "\r\n") + "12,viability,91.4,%,AA,2026-03-02,,\r\n"
    (row,) = read_results_csv(text, "r.csv")
    assert (row.batch, row.value, row.method_ref, row.row) == ("12", "91.4", None, 2)


def test_decode_accepts_utf8_with_bom_and_refuses_other_encodings() -> None:
    assert decode("\ufeffbatch,test\n".encode(), "r.csv") == "batch,test\n"
    with pytest.raises(InputError, match=r"^r\.csv: not UTF-8 text \(byte 5\)"):
        decode("batché".encode("latin-1"), "r.csv")


def test_missing_and_unknown_columns_are_named_on_the_header_row() -> None:
    error = refused(read_results_csv, "batch,test,valeu,unit,tested_on\n12,viability,9,%,x\n")
    assert where(error) == [(1, "valeu"), (1, "value")]
    assert "f.csv, row 1, field 'valeu': unknown column (the columns are: batch, test" in str(error)
    assert "f.csv, row 1, field 'value': missing column 'value'" in str(error)


def test_every_bad_cell_is_named_and_nothing_is_returned() -> None:
    text = CSV_HEADER + (
        "12,viability,91.4,%,AA,2026-03-02,,\n"  # row 2: good
        ",cd3,97.2,%,AA,2026-03-02,,\n"  # row 3: no batch
        "12,car_positive,38,6,%,AA,2026-03-02,,\n"  # row 4: decimal comma shifts the columns
        "12,endotoxin,<0.5,EU/mL,AA,2026-03-02,,\n"  # row 5: not a number with a unit
        "12,ifng_release,120,pg/mL,AA,02/03/2026,,\n"  # row 6: not ISO
        "12,cytotoxicity,45,%,AA,,,\n"  # row 7: no date
        "12,rcl,,,AA,2026-03-02,,\n"  # row 8: no value
    )
    error = refused(read_results_csv, text, "results.csv")
    assert where(error) == [
        (3, "batch"),
        (4, "tested_on"),  # '%' lands in analyst, 'AA' in tested_on
        (5, "value"),
        (6, "tested_on"),
        (7, "tested_on"),
        (8, "value"),
    ]
    message = str(error)
    assert "results.csv, row 3, field 'batch': empty: every row needs it" in message
    assert "results.csv, row 4, field 'tested_on': 'AA' is not a date as YYYY-MM-DD" in message
    assert "results.csv, row 5, field 'value': '<0.5' is not a number" in message
    assert "results.csv, row 6, field 'tested_on': '02/03/2026' is not a date" in message
    assert "results.csv, row 7, field 'tested_on': empty" in message
    assert "results.csv, row 8, field 'value': empty: every row needs it" in message
    # the exception carries the first problem's place too
    assert (error.file, error.row, error.field) == ("results.csv", 3, "batch")


def test_a_decimal_comma_in_a_number_is_refused_with_a_hint() -> None:
    error = refused(read_results_csv, CSV_HEADER + '12,viability,"91,4",%,AA,2026-03-02,,\n')
    assert str(error) == (
        "f.csv, row 2, field 'value': '91,4' is not a number: write it with a decimal point, "
        "no commas"
    )


def test_duplicate_batch_and_test_names_both_rows() -> None:
    text = CSV_HEADER + (
        "12,viability,91.4,%,AA,2026-03-02,,\n"
        "13,viability,88.0,%,AA,2026-03-02,,\n"
        "12,viability,90.9,%,AA,2026-03-02,,\n"
    )
    error = refused(read_results_csv, text)
    assert str(error) == (
        "f.csv, row 4, field 'test': batch 12, test viability is already given in row 2: one "
        "result per batch and test in a file"
    )


def test_semicolons_are_refused_in_the_results_csv() -> None:
    error = refused(read_results_csv, "batch;test;value;tested_on\n12;viability;91;2026-03-02\n")
    assert str(error) == (
        "f.csv, row 1: the columns are separated by ';': a results CSV is comma-separated"
    )


def test_an_implausible_date_is_refused() -> None:
    error = refused(read_results_csv, CSV_HEADER + "12,viability,91,%,AA,1926-03-02,,\n")
    assert where(error) == [(2, "tested_on")]
    assert "outside the plausible range" in str(error)


def test_problems_are_capped() -> None:
    text = CSV_HEADER + "".join(f"{n},viability,x,%,AA,2026-03-02,,\n" for n in range(60))
    error = refused(read_results_csv, text)
    assert len(error.problems) == MAX_PROBLEMS and error.more == 10
    assert str(error).endswith("f.csv: 10 more problem(s) not listed")


def test_a_header_without_rows_is_refused() -> None:
    assert str(refused(read_results_csv, CSV_HEADER)) == (
        "f.csv: the file has a header but no results"
    )
    assert str(refused(read_results_csv, "")) == (
        "f.csv, row 1: empty file: a results CSV starts with its header line"
    )


# --- the flow cytometer export ------------------------------------------------------------


def test_flow_example_file() -> None:
    rows = read_flow_export(
        (DATA / "flow_export_ok.csv").read_text(encoding="utf-8"),
        "flow_export_ok.csv",
        analyst="A. Analyst",
        tested_on=dt.date(2026, 3, 2),
        instrument="FC-01",
    )
    got = [(r.row, r.batch, r.test, r.value, r.unit, r.replicates) for r in rows]
    assert got == [
        (4, "12", "viability", "91.4", "%", 1),  # CD45+/Live
        (5, "12", "cd3", "97.2", "%", 1),  # CD45+/Live/CD3+
        (6, "12", "car_positive", "38.6", "%", 1),  # .../CAR+ Freq. of Parent (Count skipped)
        (8, "13", "viability", "88.4", "%", 2),  # (88.2 + 88.6) / 2 = 176.8 / 2 = 88.4
        (9, "13", "cd3", "94.8", "%", 2),  # (95.0 + 94.6) / 2 = 189.6 / 2 = 94.8
        (10, "13", "car_positive", "41.65", "%", 2),  # (41.3 + 42.0) / 2 = 83.3 / 2 = 41.65
    ]
    assert {(r.analyst, r.tested_on, r.instrument, r.source) for r in rows} == {
        ("A. Analyst", dt.date(2026, 3, 2), "FC-01", "flow")
    }


FLOW_SEMICOLON = (
    "\ufeffSample:;Batch;Population;Statistic;Value\r\n"
    "B12.fcs;12;Lymphocytes/Single Cells/CD45+/Live;Freq. of Parent;91,4\r\n"
    "B12.fcs;12;Lymphocytes/Single Cells/CD45+/Live/CD3+;%Parent;97.25\r\n"
    "Mean;;;Freq. of Parent;91,4\r\n"
    "SD;;;;\r\n"
)


def test_flow_semicolon_export_with_decimal_commas_bom_and_crlf() -> None:
    rows = read_flow_export(FLOW_SEMICOLON, "fr.csv")
    assert [(r.row, r.test, r.value) for r in rows] == [
        (2, "viability", "91.4"),  # 91,4 read as 91.4
        (3, "cd3", "97.25"),  # FACSDiva's %Parent
    ]


def test_flow_duplicates_without_replicate_column_are_refused_naming_both_rows() -> None:
    text = (
        "Sample:,Batch,Population,Statistic,Value\n"
        "B12_a.fcs,12,Single Cells/CD45+/Live/CD3+/CAR+,Freq. of Parent,38.6\n"
        "B12_b.fcs,12,Single Cells/CD45+/Live/CD3+/CAR+,Freq. of Parent,39.0\n"
    )
    error = refused(read_flow_export, text, "flow.csv")
    assert str(error) == (
        "flow.csv, row 3, field 'Population': batch 12, car_positive is already given in row 2: "
        "label replicate tubes in a Replicate column, or remove one of the rows"
    )


def test_flow_replicates_need_distinct_labels() -> None:
    text = (
        "Sample:,Batch,Replicate,Population,Statistic,Value\n"
        "B12_a.fcs,12,1,CD45+/Live,Freq. of Parent,90.0\n"
        "B12_b.fcs,12,1,CD45+/Live,Freq. of Parent,91.0\n"
        "B12_c.fcs,12,,CD45+/Live,Freq. of Parent,92.0\n"
    )
    error = refused(read_flow_export, text, "flow.csv")
    assert str(error) == (
        "flow.csv, row 3, field 'Replicate': replicate 1 of batch 12, viability is already "
        "given in row 2\n"
        "flow.csv, row 4, field 'Replicate': empty: batch 12, viability has 3 rows, so each "
        "needs its replicate label"
    )


def test_flow_three_replicates_mean() -> None:
    text = (
        "Sample:,Batch,Replicate,Population,Statistic,Value\n"
        "a.fcs,12,r1,CD45+/Live/CD3+/CAR+,Freq. of Parent,40.1\n"
        "b.fcs,12,r2,CD45+/Live/CD3+/CAR+,Freq. of Parent,40.2\n"
        "c.fcs,12,r3,CD45+/Live/CD3+/CAR+,Freq. of Parent,40.6\n"
    )
    (row,) = read_flow_export(text, "flow.csv")
    # (40.1 + 40.2 + 40.6) / 3 = 120.9 / 3 = 40.3
    assert (row.row, row.value, row.replicates) == (2, "40.3", 3)


def test_flow_bad_values_and_missing_cells_are_all_named() -> None:
    text = (
        "Sample:,Batch,Population,Statistic,Value\n"
        "a.fcs,12,CD45+/Live,Freq. of Parent,91.4\n"  # row 2: good
        "a.fcs,12,CD45+/Live/CD3+,Freq. of Parent,n/a\n"  # row 3: not a number
        "a.fcs,12,CD45+/Live/CD3+/CAR+,Freq. of Parent,138.6\n"  # row 4: over 100
        "b.fcs,,CD45+/Live,Freq. of Parent,90\n"  # row 5: no batch
        "c.fcs,14,CD45+/Live,Freq. of Parent,\n"  # row 6: no value
    )
    error = refused(read_flow_export, text, "flow.csv")
    assert where(error) == [(3, "Value"), (4, "Value"), (5, "Batch"), (6, "Value")]
    message = str(error)
    assert "flow.csv, row 3, field 'Value': 'n/a' is not a number" in message
    assert "flow.csv, row 4, field 'Value': 138.6 is not a frequency of parent in % (0-100)" in (
        message
    )
    assert "flow.csv, row 5, field 'Batch': empty: every row needs it" in message
    assert "flow.csv, row 6, field 'Value': empty: every population row needs its frequency" in (
        message
    )


def test_flow_missing_column_and_no_known_gate() -> None:
    error = refused(read_flow_export, "Sample:,Batch,Population,Value\na,12,CD45+/Live,91\n")
    assert where(error) == [(1, "statistic")]
    text = "Sample,Batch,Population,Statistic,Value\na,12,Lymph,Count,9\n"
    error = refused(read_flow_export, text)
    assert str(error).startswith(
        "f.csv, field 'Population': no population of the gate table (CD45+/Live, "
    )


def test_flow_gate_table_can_be_the_laboratorys_own() -> None:
    text = "Sample:,Batch,Population,Statistic,Value\na,12,Cells/7-AAD neg,Freq. of Parent,93.1\n"
    (row,) = read_flow_export(text, "f.csv", gates={"7-AAD neg": "viability"})
    assert (row.test, row.value) == ("viability", "93.1")


# --- the qPCR VCN table -------------------------------------------------------------------


def test_qpcr_example_file_copies_per_cell() -> None:
    text = (DATA / "qpcr_vcn_ok.csv").read_text(encoding="utf-8")
    rows = read_qpcr_vcn(text, "qpcr_vcn_ok.csv", tested_on=dt.date(2026, 3, 2))
    got = [(r.row, r.batch, r.test, r.value, r.unit, r.replicates, r.source) for r in rows]
    assert got == [
        # batch 12: WPRE (15000 + 15600 + 14400) / 3 = 15000; RPP30 (20000 + 19000 + 21000) / 3
        # = 20000; 2 × 15000 / 20000 = 1.5 copies/cell (rows 1-6 preamble/header, 8-13 standards)
        (14, "12", "vcn", "1.5", "copies/cell", 3, "qpcr"),
        # batch 13: WPRE (30500 + 29500) / 2 = 30000; RPP30 (24000 + 26000) / 2 = 25000;
        # 2 × 30000 / 25000 = 2.4 copies/cell
        (20, "13", "vcn", "2.4", "copies/cell", 2, "qpcr"),
    ]
    assert rows[0].tested_on == dt.date(2026, 3, 2)


def test_qpcr_copies_per_transduced_cell_with_the_car_fraction() -> None:
    text = (DATA / "qpcr_vcn_ok.csv").read_text(encoding="utf-8")
    rows = read_qpcr_vcn(text, "q.csv", car_fraction={"12": D("0.3"), "13": D("0.386")})
    # 12: 1.5 / 0.3 = 5; 13: 2.4 / 0.386 = 6.217616580310880829015544041 (28 figures)
    assert [(r.value, r.unit) for r in rows] == [
        ("5", "copies/transduced cell"),
        ("6.217616580310880829015544041", "copies/transduced cell"),
    ]


def test_qpcr_car_fraction_must_be_a_fraction() -> None:
    with pytest.raises(InputError, match=r"field 'car_fraction': batch 12: a CAR\+ fraction"):
        read_qpcr_vcn("", "q.csv", car_fraction={"12": D("38.6")})


QPCR_HEADER = "Well,Sample Name,Target Name,Task,CT,Quantity\n"


def test_qpcr_plain_table_with_ct_column_and_albumin_reference() -> None:
    text = QPCR_HEADER + (
        "A1,7,WPRE,UNKNOWN,24.1,1200\n"
        "A1,7,ALB,UNKNOWN,22.9,3000\n"
        "A2,7,WPRE,UNKNOWN,24.2,1000\n"
        "A2,7,ALB,UNKNOWN,22.8,2600\n"
        "H12,NTC,WPRE,NTC,,\n"
    )
    (row,) = read_qpcr_vcn(text, "q.csv")
    # WPRE (1200 + 1000) / 2 = 1100; ALB (3000 + 2600) / 2 = 2800; 2 × 1100 / 2800 = 11/14
    # = 0.7857142857142857142857142857 (28 significant figures)
    assert (row.row, row.batch, row.value) == (2, "7", "0.7857142857142857142857142857")


def test_qpcr_ntc_amplification_invalidates_the_run() -> None:
    text = (DATA / "qpcr_vcn_ok.csv").read_text(encoding="utf-8")
    bad = text.replace("25,C1,NTC,WPRE,NTC,FAM,Undetermined,", "25,C1,NTC,WPRE,NTC,FAM,35.2,")
    error = refused(read_qpcr_vcn, bad, "run.csv")
    assert str(error) == (
        "run.csv, row 24, field 'Cq': no-template control well 25 (WPRE) amplified at Cq 35.2: "
        "the run is invalid"
    )


def test_qpcr_shape_problems_are_all_named() -> None:
    text = QPCR_HEADER + (
        "A1,7,WPRE,UNKNOWN,24.1,1200\n"  # row 2
        "A1,7,WPRE,UNKNOWN,24.1,1200\n"  # row 3: same well and target
        "A2,7,GAPDH,UNKNOWN,20.0,5000\n"  # row 4: unknown target
        "A3,7,RPP30,UNKNOWN,Undetermined,\n"  # row 5: no quantity
        "A4,7,RPP30,UNKOWN,23.0,2000\n"  # row 6: misspelt task
        "A5,8,WPRE,UNKNOWN,x,100\n"  # row 7: Cq not a number
        "A6,9,WPRE,UNKNOWN,24.0,-5\n"  # row 8: negative quantity
        "A7,10,WPRE,UNKNOWN,24.0,1000\n"  # row 9: sample 10 has no reference wells
    )
    error = refused(read_qpcr_vcn, text, "q.csv")
    assert where(error) == [
        (3, "Well"),
        (4, "Target Name"),
        (5, "Quantity"),
        (6, "Task"),
        (7, "CT"),
        (8, "Quantity"),
        (2, "Target Name"),  # sample 7: WPRE but its reference wells were bad
        (9, "Target Name"),
    ]
    message = str(error)
    assert "q.csv, row 3, field 'Well': well A1, target WPRE is already given in row 2" in message
    assert "q.csv, row 4, field 'Target Name': 'GAPDH' is neither the vector target" in message
    assert "q.csv, row 5, field 'Quantity': empty: an UNKNOWN well needs its quantity" in message
    assert "q.csv, row 6, field 'Task': 'UNKOWN' is not a task (one of UNKNOWN, STANDARD, NTC)" in (
        message
    )
    assert "q.csv, row 7, field 'CT': 'x' is not a number" in message
    assert "q.csv, row 8, field 'Quantity': a quantity of copies cannot be negative (-5)" in message
    assert "q.csv, row 9, field 'Target Name': sample 10 has no reference gene wells" in message


def test_qpcr_missing_columns_and_two_reference_genes() -> None:
    text = "Well,Sample Name,Target Name,Task,Quantity\nA1,7,WPRE,UNKNOWN,1\n"
    error = refused(read_qpcr_vcn, text)
    assert str(error).startswith("f.csv, row 1, field 'cq': missing column 'cq'")
    text = QPCR_HEADER + (
        "A1,7,WPRE,UNKNOWN,24,1000\nA1,7,RPP30,UNKNOWN,23,2000\nA2,7,ALB,UNKNOWN,23,2000\n"
    )
    error = refused(read_qpcr_vcn, text)
    assert str(error) == (
        "f.csv, row 2, field 'Target Name': sample 7 has two reference genes (alb, rpp30): use "
        "one per sample"
    )
