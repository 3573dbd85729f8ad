"""The genealogy traces as CSV (``manufacturing.trace_csv``): columns, ISO dates and UTC times,
one row per lot and piece of equipment (batch) or per batch and step (lot), and text that a
spreadsheet would run as a formula written with a leading apostrophe (OWASP, CSV injection)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from vein2vein.manufacturing import trace_csv

CET = dt.timezone(dt.timedelta(hours=1))
HEAD = {
    "batch": 7, "order": "HLX-1-0001", "coi": "HLX1-0042", "din": "A999926000042",
    "product": "HLX-1", "site": "Ghent", "status": "IN_PROGRESS",
}  # fmt: skip


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_batch_trace_has_a_row_per_lot_then_per_equipment() -> None:
    trace = HEAD | {
        "lots": [
            {"step": "TRANSDUCE", "material": "LV-EPCAM", "material_name": "Vector",
             "lot_number": "=HYPERLINK(\"x\")", "status": "released",
             "expiry": dt.date(2027, 7, 31), "lot_quantity": Decimal("40.000"), "lot_unit": "mL",
             "mbr_quantity": 5.0, "mbr_unit": "mL",
             "scanned_at": dt.datetime(2026, 3, 3, 9, 30, tzinfo=CET),
             "scanned_by": "op.anna"},
        ],
        "equipment": [{"step": "FREEZE", "code": "CRF", "name": "Controlled-rate freezer",
                       "calibrated": True, "calibration_due": None}],
    }  # fmt: skip
    text = trace_csv.batch_csv(trace)
    assert text.startswith(",".join(trace_csv.BATCH_COLUMNS) + "\r\n")
    lot, equipment = _rows(text)
    assert (lot["kind"], lot["batch"], lot["coi"], lot["batch_status"]) == (
        "lot", "7", "HLX1-0042", "IN_PROGRESS",
    )  # fmt: skip
    assert lot["lot_number"] == '\'=HYPERLINK("x")'  # never a formula
    assert (lot["expiry"], lot["lot_quantity"], lot["mbr_quantity"]) == (
        "2027-07-31",
        "40.000",
        "5.0",
    )
    assert lot["scanned_at"] == "2026-03-03T08:30:00Z"  # in UTC
    assert (equipment["kind"], equipment["code"], equipment["calibrated"]) == (
        "equipment",
        "CRF",
        "yes",
    )
    assert equipment["calibration_due"] == "" and equipment["lot_number"] == ""


def test_a_lot_trace_has_a_row_per_batch_and_names_the_lot_when_unused() -> None:
    lot = {"material": "CD4CD8", "lot_number": "CD4CD8-L1", "status": "released",
           "expiry": dt.date(2027, 1, 2)}  # fmt: skip
    batch = {"batch": 3, "status": "APPROVED", "step": "SELECT", "order": "HLX-1-0002",
             "coi": "HLX1-0043", "subject_id": "-1+1", "product": "HLX-1",
             "custody_step": "infused", "treatment_site": "Leuven", "site": "Ghent"}  # fmt: skip
    [row] = _rows(trace_csv.lot_csv(lot | {"batches": [batch]}))
    assert (row["batch"], row["coi"], row["custody_step"], row["manufacturing_site"]) == (
        "3", "HLX1-0043", "infused", "Ghent",
    )  # fmt: skip
    assert (row["lot_number"], row["expiry"], row["subject_id"]) == (
        "CD4CD8-L1",
        "2027-01-02",
        "'-1+1",
    )
    [alone] = _rows(trace_csv.lot_csv(lot | {"batches": []}))
    assert (alone["lot_number"], alone["lot_status"], alone["batch"]) == (
        "CD4CD8-L1",
        "released",
        "",
    )
