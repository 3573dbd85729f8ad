"""Process-development runs and the release gate, as pure rules (issue 12).

A PD run's entry is checked against the MBR exactly as a GMP entry (the verdict is kept) but
opens no deviation; the file's reader names file, sheet, row and column of a bad cell; the
release gate lists every reason a batch record blocks release."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook
from tests.mbr_world import V1

from vein2vein.manufacturing import execution as ex
from vein2vein.manufacturing import mbr_yaml
from vein2vein.manufacturing.domain import Verdict
from vein2vein.manufacturing.execution import ExceptionKind
from vein2vein.manufacturing.pd_files import PdFileError, letter, read_pd_file
from vein2vein.manufacturing.release_gate import BatchFacts, release_blockers

MBR = mbr_yaml.parse(V1.read_text(encoding="utf-8"), V1.name)
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
HEADER = "run_label,step,item,value,unit,entered_at,entered_by,note\n"


def pd_record() -> ex.BatchRecord:
    return ex.create_pd(MBR, mbr_id=7, mbr_version=1, mbr_hash="ab" * 32, planned_suite="PD lab")


def entry(rec, step, item, value, unit, minutes, note=""):  # type: ignore[no-untyped-def]
    at = T0 + dt.timedelta(minutes=minutes)
    return ex.record_pd_entry(rec, step, item, value, unit, by="JD", at=at, note=note)


# --- entries ----------------------------------------------------------------------------------


def test_pd_entries_keep_verdicts_open_no_deviation_and_calculate() -> None:
    rec = pd_record()
    assert not rec.gmp and rec.coi == "" and rec.din == ""
    # 12 °C: outside the PAR 1-10 °C -> a deviation in a GMP record; here only the verdict
    out = entry(rec, "RECEIPT", "transit_temperature", 12, "°C", 0)
    assert out.event.verdict is Verdict.DEVIATION and out.deviations == ()
    rec = out.record
    # the step started with its first entry, in the run's suite
    assert [type(e).__name__ for e in rec.events] == ["StepStarted", "ValueEntered"]
    assert rec.events[0].suite == "PD lab"
    # 9 °C: inside the PAR, outside the NOR 2-8 -> flag; a second value needs a note
    with pytest.raises(ex.EntryError, match="needs a note") as caught:
        entry(rec, "RECEIPT", "transit_temperature", 9, "°C", 1)
    assert caught.value.column == "note"
    rec = entry(rec, "RECEIPT", "transit_temperature", 9, "°C", 1, note="logger re-read").record
    current = rec.current("RECEIPT", "transit_temperature")
    assert (current.value, current.verdict, current.corrects) == (9.0, Verdict.FLAG, 2)
    # a later step without the earlier one signed off: PD runs are recorded after the fact
    for minutes, (item, value, unit) in enumerate(
        [("viable_cells_d5", 8.0, "10^8 cells"), ("culture_volume_d5", 300, "mL"),
         ("target_density", 1.0, "10^6 cells/mL")], start=10,
    ):  # fmt: skip
        rec = entry(rec, "EXPAND", item, value, unit, minutes).record
    # feed volume = 8e8 cells / 1e6 cells/mL - 300 mL = 800 mL - 300 mL = 500 mL, calculated
    feed = rec.current("EXPAND", "feed_volume")
    assert feed.calculated and feed.value == pytest.approx(500.0) and feed.unit == "mL"
    kinds = [i.kind for i in ex.review_by_exception(rec)]
    assert ExceptionKind.DEVIATION in kinds and ExceptionKind.FLAGGED in kinds
    assert ExceptionKind.CORRECTION in kinds


@pytest.mark.parametrize(
    ("step", "item", "value", "unit", "column", "message"),
    [
        ("WASH", "x", 1, "mL", "step", "is not a step of this MBR"),
        ("RECEIPT", "colour", 1, "mL", "item", "has no parameter or control 'colour'"),
        ("EXPAND", "feed_volume", 1, "mL", "item", "calculated by the system"),
        ("RECEIPT", "transit_temperature", 5, "mL", "unit", "cannot convert"),
        ("RECEIPT", "transit_temperature", 5, "furlong", "unit", "unknown unit"),
        ("RECEIPT", "transit_temperature", float("nan"), "°C", "value", "not a number"),
    ],
)
def test_pd_entry_refusals_name_the_column(step, item, value, unit, column, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ex.EntryError, match=message) as caught:
        entry(pd_record(), step, item, value, unit, 0)
    assert caught.value.column == column


def test_a_gmp_record_takes_no_imported_entry() -> None:
    gmp = ex.create(
        MBR, mbr_id=7, mbr_version=1, mbr_hash="ab" * 32, coi="HLX-EPC-01-0042",
        din="A999926000042", planned_suite="Suite 2",
    )  # fmt: skip
    with pytest.raises(ex.ExecutionError, match="only a process-development run"):
        entry(gmp, "RECEIPT", "transit_temperature", 5, "°C", 0)


def test_pd_records_stay_out_of_the_trend_baseline_only_by_the_reader() -> None:
    """``earlier_values`` compares records of the same MBR version; the store's reader leaves
    PD runs out (tested in integration). A PD record made complete by hand is not "complete"
    (never signed off), so it never feeds the trend even if handed over."""
    rec = entry(pd_record(), "RECEIPT", "transit_temperature", 5, "°C", 0).record
    assert not rec.complete


# --- the file ---------------------------------------------------------------------------------


def test_csv_rows_are_read_and_times_without_offset_are_utc() -> None:
    text = HEADER + (
        "PD-1,receipt,transit_temperature,5.5,°C,2026-03-02T09:30:00+01:00,JD,\n"
        ",,,,,,,\n"
        "PD-1,EXPAND,viable_cells_d5,8,10^8 cells,2026-03-07 10:00,Jane Doe,day 5 count\n"
    )
    f = read_pd_file("runs.csv", text.encode("utf-8-sig"))
    assert f.sheet is None and [r.row for r in f.rows] == [2, 4]
    first, second = f.rows
    assert (first.step, first.value, first.entered_at) == (
        "RECEIPT", 5.5, dt.datetime(2026, 3, 2, 8, 30, tzinfo=dt.UTC),
    )  # fmt: skip
    assert second.entered_at == dt.datetime(2026, 3, 7, 10, 0, tzinfo=dt.UTC)
    assert second.note == "day 5 count"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("PD-1,RECEIPT,t,12;5,°C,2026-03-02T09:30,JD,", "row 2, column D (value): '12;5' is not"),
        (
            'PD-1,RECEIPT,t,"12,5",°C,2026-03-02T09:30,JD,',
            "column D (value): '12,5' is not a number: write it with a decimal point",
        ),
        (
            "PD-1,RECEIPT,t,12,°C,2 March,JD,",
            "row 2, column F (entered_at): '2 March' is not an ISO 8601",
        ),
        ("PD-1,RECEIPT,t,12,°C,2026-03-02T09:30,,", "row 2, column G (entered_by): empty"),
        (",RECEIPT,t,12,°C,2026-03-02T09:30,JD,", "row 2, column A (run_label): empty"),
    ],
)
def test_a_bad_csv_cell_names_file_row_and_column(line: str, expected: str) -> None:
    with pytest.raises(PdFileError) as caught:
        read_pd_file("runs.csv", (HEADER + line + "\n").encode())
    assert str(caught.value).startswith("file runs.csv, row 2, column ")
    assert expected in str(caught.value)


def test_header_problems_are_named() -> None:
    with pytest.raises(PdFileError, match="row 1, column I \\(colour\\): unknown column"):
        read_pd_file("r.csv", (HEADER.strip() + ",colour\n").encode())
    with pytest.raises(PdFileError, match="missing column\\(s\\): entered_by"):
        read_pd_file("r.csv", b"run_label,step,item,value,unit,entered_at\n")
    with pytest.raises(PdFileError, match=r"file r\.txt: give a \.csv or \.xlsx file"):
        read_pd_file("r.txt", b"")
    with pytest.raises(PdFileError, match="header but no entries"):
        read_pd_file("r.csv", HEADER.encode())


def xlsx(rows: list[list[object]], title: str = "Expansion runs") -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_cells_and_a_bad_cell_names_the_sheet() -> None:
    header = HEADER.strip().split(",")
    when = dt.datetime(2026, 3, 2, 9, 30)  # an Excel date-time cell: no zone, read as UTC
    good = ["PD-2", "RECEIPT", "viability", 95, "%", when, "JD", None]
    f = read_pd_file("runs.xlsx", xlsx([header, good]))
    assert f.sheet == "Expansion runs" and f.rows[0].value == 95.0
    assert f.rows[0].entered_at == dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    bad = ["PD-2", "RECEIPT", "viability", "95 %", "%", when, "JD", None]
    with pytest.raises(PdFileError) as caught:
        read_pd_file("runs.xlsx", xlsx([header, good, bad]))
    assert str(caught.value) == (
        "file runs.xlsx, sheet Expansion runs, row 3, column D (value): '95 %' is not a number"
    )
    with pytest.raises(PdFileError, match=r"file broken\.xlsx: not a readable XLSX workbook"):
        read_pd_file("broken.xlsx", b"not a zip")


def test_column_letters() -> None:
    assert [letter(i) for i in (0, 7, 25, 26, 27, 701, 702)] == [
        "A", "H", "Z", "AA", "AB", "ZZ", "AAA",
    ]  # fmt: skip


# --- the release gate -------------------------------------------------------------------------


def test_an_approved_gmp_batch_with_closed_deviations_is_not_blocked() -> None:
    assert release_blockers(BatchFacts(4, gmp=True, status="APPROVED", approval_intact=True)) == []


def test_every_reason_is_listed_in_order() -> None:
    facts = BatchFacts(
        9, gmp=False, status="FAILED", failed_step="EXPAND", failed_reason="contamination",
        open_deviations=["DEV-2026-0003", "DEV-2026-0007"],
    )  # fmt: skip
    assert release_blockers(facts) == [
        "batch 9 is a process-development run (non-GMP): it can never be released or approved "
        "for infusion",
        "batch 9 failed at EXPAND: contamination",
        "the batch record of batch 9 is not QA-approved (status FAILED)",
        "deviation DEV-2026-0003 of batch 9 is not closed",
        "deviation DEV-2026-0007 of batch 9 is not closed",
    ]


def test_in_review_unsigned_and_broken_approvals_block() -> None:
    assert release_blockers(BatchFacts(1, gmp=True, status="IN_REVIEW")) == [
        "the batch record of batch 1 is not QA-approved (status IN_REVIEW)"
    ]
    # APPROVED in the row but no approval signature: not approved
    assert release_blockers(BatchFacts(1, gmp=True, status="APPROVED")) == [
        "the batch record of batch 1 is not QA-approved (status APPROVED)"
    ]
    assert release_blockers(BatchFacts(1, gmp=True, status="APPROVED", approval_intact=False)) == [
        "the QA approval of batch 1 no longer matches its record: the record changed after it "
        "was signed"
    ]
