"""The genealogy traces as CSV files, what a QA investigator hands over for a recall: one row per
lot and piece of equipment a batch used, or one row per batch (and step) that used a lot.

Plain RFC 4180 CSV (comma, double quotes, CRLF line ends), a header row, UTF-8; dates ISO 8601,
times ISO 8601 in UTC. A text cell that a spreadsheet would run as a formula (beginning with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written with a leading apostrophe
(OWASP, "CSV injection"), as the audit-trail export does."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_FORMULA = ("=", "+", "-", "@", "\t", "\r")

BATCH_COLUMNS = (
    "batch", "order", "coi", "din", "product", "site", "batch_status", "kind", "step", "code",
    "name", "lot_number", "lot_status", "expiry", "lot_quantity", "lot_unit", "mbr_quantity",
    "mbr_unit", "scanned_at", "scanned_by", "calibrated", "calibration_due", "instrument",
    "calibration",
)  # fmt: skip
LOT_COLUMNS = (
    "material", "lot_number", "lot_status", "expiry", "batch", "batch_status", "step", "order",
    "coi", "subject_id", "product", "custody_step", "treatment_site", "manufacturing_site",
)  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _write(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def batch_csv(trace: Mapping[str, Any]) -> str:
    """``trace_views.batch_genealogy`` as CSV: the lots (kind ``lot``), then the equipment
    (kind ``equipment``: the instrument recorded, its calibration due date and state ``ok``,
    ``overdue`` or ``not required``; ``scanned_at``/``scanned_by``: when and by whom it was
    recorded; empty while the step has not recorded it)."""
    head = {
        "batch": trace["batch"], "order": trace["order"], "coi": trace["coi"],
        "din": trace["din"], "product": trace["product"], "site": trace["site"],
        "batch_status": trace["status"],
    }  # fmt: skip
    rows = [
        head
        | {"kind": "lot", "step": lot["step"], "code": lot["material"],
           "name": lot["material_name"], "lot_number": lot["lot_number"],
           "lot_status": lot["status"], "expiry": lot["expiry"],
           "lot_quantity": lot["lot_quantity"], "lot_unit": lot["lot_unit"],
           "mbr_quantity": lot["mbr_quantity"], "mbr_unit": lot["mbr_unit"],
           "scanned_at": lot["scanned_at"], "scanned_by": lot["scanned_by"]}
        for lot in trace["lots"]
    ]  # fmt: skip
    rows += [
        head
        | {"kind": "equipment", "step": q["step"], "code": q["code"], "name": q["name"],
           "calibrated": q["calibrated"], "calibration_due": q.get("calibration_due"),
           "instrument": q.get("instrument"), "calibration": q.get("calibration"),
           "scanned_at": q.get("at"), "scanned_by": q.get("by")}
        for q in trace["equipment"]
    ]  # fmt: skip
    return _write(BATCH_COLUMNS, rows)


def lot_csv(trace: Mapping[str, Any]) -> str:
    """``trace_views.lot_genealogy`` as CSV: one row per batch and step that used the lot."""
    head = {
        "material": trace["material"], "lot_number": trace["lot_number"],
        "lot_status": trace["status"], "expiry": trace["expiry"],
    }  # fmt: skip
    rows = [
        head
        | {"batch": b["batch"], "batch_status": b["status"], "step": b["step"],
           "order": b["order"], "coi": b["coi"], "subject_id": b["subject_id"],
           "product": b["product"], "custody_step": b["custody_step"],
           "treatment_site": b["treatment_site"], "manufacturing_site": b["site"]}
        for b in trace["batches"]
    ]  # fmt: skip
    if not rows:  # the lot itself, so that the file says which lot was traced
        rows = [head]
    return _write(LOT_COLUMNS, rows)
