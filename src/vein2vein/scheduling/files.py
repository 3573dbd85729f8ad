"""Reading and writing the scheduling files: ``orders.csv``, ``suites.csv``, ``downtime.csv``.

Every error names the file, the spreadsheet row (header = row 1) and the field, so a planner can
jump to the cell. Optional columns extend the formats the issue fixed without breaking them:

- ``orders.csv``: ``order_id, receipt_date, max_hold_days, required_by, infectious (Y|N),
  process_days, qc_days, ship_days`` and optionally ``product, site, start_weekdays`` (e.g.
  ``Mon-Fri``), ``fixed_suite, fixed_start`` (a batch already started: both or neither);
- ``suites.csv``: ``suite_id, infectious (Y|N), available_from, changeover_days, decon_days``;
- ``downtime.csv``: ``suite_id, start, end`` (first and last day down, inclusive) and optionally
  ``reason``.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from vein2vein.core.errors import InputError
from vein2vein.scheduling.model import (
    Downtime,
    FixedBatch,
    Order,
    Problem,
    Suite,
    format_weekdays,
    parse_weekdays,
)

ORDER_COLUMNS = (
    "order_id",
    "receipt_date",
    "max_hold_days",
    "required_by",
    "infectious",
    "process_days",
    "qc_days",
    "ship_days",
)
ORDER_OPTIONAL = ("product", "site", "start_weekdays", "fixed_suite", "fixed_start")
SUITE_COLUMNS = ("suite_id", "infectious", "available_from", "changeover_days", "decon_days")
DOWNTIME_COLUMNS = ("suite_id", "start", "end")

T = TypeVar("T")


class _Row:
    """One data row with typed accessors that raise located ``InputError``s."""

    def __init__(self, file: str, number: int, values: dict[str, str]) -> None:
        self.file, self.number, self.values = file, number, values

    def error(self, field: str, message: str) -> InputError:
        return InputError(message, file=self.file, row=self.number, field=field)

    def text(self, field: str, *, required: bool = True) -> str:
        value = (self.values.get(field) or "").strip()
        if required and not value:
            raise self.error(field, "is empty")
        return value

    def date(self, field: str) -> dt.date:
        value = self.text(field)
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise self.error(field, f"{value!r} is not a date (use YYYY-MM-DD)") from None

    def days(self, field: str, *, minimum: int = 0) -> int:
        value = self.text(field)
        try:
            number = int(value)
        except ValueError:
            raise self.error(field, f"{value!r} is not a whole number of days") from None
        if number < minimum:
            raise self.error(field, f"{number} is below the minimum of {minimum}")
        return number

    def flag(self, field: str) -> bool:
        value = self.text(field).upper()
        if value not in ("Y", "N"):
            raise self.error(field, f"{self.values.get(field)!r} must be Y or N")
        return value == "Y"

    def parsed(self, field: str, parse: Callable[[str], T]) -> T | None:
        value = self.text(field, required=False)
        if not value:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise self.error(field, str(exc)) from None


def _rows(path: Path | str, required: Sequence[str]) -> Iterator[_Row]:
    path = Path(path)
    name = path.name
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror or exc}", file=str(path)) from None
    with handle:
        try:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in (reader.fieldnames or [])]
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"not a readable CSV file: {exc}", file=name, row=1) from None
        if not header:
            raise InputError("is empty (expected a header row)", file=name, row=1)
        reader.fieldnames = header
        missing = [c for c in required if c not in header]
        if missing:
            raise InputError(
                f"missing column(s) {', '.join(missing)}", file=name, row=1, field=missing[0]
            )
        try:
            for record in reader:
                values = {k: v for k, v in record.items() if k is not None}
                if not any((v or "").strip() for v in values.values()):
                    continue
                yield _Row(name, reader.line_num, {k: v or "" for k, v in values.items()})
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"not a readable CSV file: {exc}", file=name) from None


def read_orders(path: Path | str, suite_ids: Collection[str] | None = None) -> list[Order]:
    """Read ``orders.csv``; with ``suite_ids``, a fixed batch must name one of those suites."""
    orders: list[Order] = []
    seen: dict[str, int] = {}
    for row in _rows(path, ORDER_COLUMNS):
        order_id = row.text("order_id")
        if order_id in seen:
            raise row.error("order_id", f"{order_id!r} repeats row {seen[order_id]}")
        seen[order_id] = row.number
        receipt = row.date("receipt_date")
        required_by = row.date("required_by")
        if required_by < receipt:
            raise row.error("required_by", f"{required_by} is before receipt_date {receipt}")
        fixed_suite = row.text("fixed_suite", required=False)
        fixed_start = row.parsed("fixed_start", dt.date.fromisoformat)
        if bool(fixed_suite) != (fixed_start is not None):
            field = "fixed_start" if fixed_suite else "fixed_suite"
            raise row.error(field, "fixed_suite and fixed_start go together (both or neither)")
        if fixed_suite and suite_ids is not None and fixed_suite not in suite_ids:
            raise row.error("fixed_suite", f"{fixed_suite!r} is not in the suites file")
        orders.append(
            Order(
                order_id=order_id,
                receipt_date=receipt,
                max_hold_days=row.days("max_hold_days"),
                required_by=required_by,
                infectious=row.flag("infectious"),
                process_days=row.days("process_days", minimum=1),
                qc_days=row.days("qc_days"),
                ship_days=row.days("ship_days"),
                product=row.text("product", required=False),
                site=row.text("site", required=False),
                start_weekdays=row.parsed("start_weekdays", parse_weekdays),
                fixed=FixedBatch(fixed_suite, fixed_start) if fixed_start is not None else None,
            )
        )
    if not orders:
        raise InputError("has no orders", file=Path(path).name, row=2)
    return orders


def read_suites(path: Path | str) -> list[Suite]:
    suites: list[Suite] = []
    seen: dict[str, int] = {}
    for row in _rows(path, SUITE_COLUMNS):
        suite_id = row.text("suite_id")
        if suite_id in seen:
            raise row.error("suite_id", f"{suite_id!r} repeats row {seen[suite_id]}")
        seen[suite_id] = row.number
        suites.append(
            Suite(
                suite_id=suite_id,
                infectious=row.flag("infectious"),
                available_from=row.date("available_from"),
                changeover_days=row.days("changeover_days"),
                decon_days=row.days("decon_days"),
            )
        )
    if not suites:
        raise InputError("has no suites", file=Path(path).name, row=2)
    return suites


def read_downtime(path: Path | str, suite_ids: Collection[str]) -> dict[str, list[Downtime]]:
    windows: dict[str, list[Downtime]] = {}
    for row in _rows(path, DOWNTIME_COLUMNS):
        suite_id = row.text("suite_id")
        if suite_id not in suite_ids:
            raise row.error("suite_id", f"{suite_id!r} is not in the suites file")
        start, last = row.date("start"), row.date("end")
        if last < start:
            raise row.error("end", f"{last} is before start {start}")
        reason = row.text("reason", required=False)
        windows.setdefault(suite_id, []).append(
            Downtime(start, last + dt.timedelta(days=1), reason)
        )
    return windows


def load_problem(
    orders_path: Path | str,
    suites_path: Path | str,
    *,
    downtime_path: Path | str | None = None,
    qc_capacity: int | None = None,
    max_starts_per_day: int | None = None,
    today: dt.date | None = None,
    start_weekdays: frozenset[int] | None = None,
) -> Problem:
    """Read a problem from its files; ``start_weekdays`` applies to orders that name none."""
    suites = read_suites(suites_path)
    orders = read_orders(orders_path, [s.suite_id for s in suites])
    if downtime_path is not None:
        windows = read_downtime(downtime_path, [s.suite_id for s in suites])
        suites = [replace(s, downtime=tuple(windows.get(s.suite_id, ()))) for s in suites]
    if start_weekdays is not None:
        orders = [
            o if o.start_weekdays is not None else replace(o, start_weekdays=start_weekdays)
            for o in orders
        ]
    return Problem(
        orders=tuple(orders),
        suites=tuple(suites),
        qc_capacity=qc_capacity,
        max_starts_per_day=max_starts_per_day,
        today=today,
    )


def _yn(flag: bool) -> str:
    return "Y" if flag else "N"


def write_orders(path: Path | str, orders: Sequence[Order]) -> None:
    optional = [
        c
        for c, present in (
            ("product", any(o.product for o in orders)),
            ("site", any(o.site for o in orders)),
            ("start_weekdays", any(o.start_weekdays is not None for o in orders)),
            ("fixed_suite", any(o.fixed is not None for o in orders)),
            ("fixed_start", any(o.fixed is not None for o in orders)),
        )
        if present
    ]
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*ORDER_COLUMNS, *optional])
        for o in orders:
            extra = {
                "product": o.product,
                "site": o.site,
                "start_weekdays": format_weekdays(o.start_weekdays) if o.start_weekdays else "",
                "fixed_suite": o.fixed.suite_id if o.fixed else "",
                "fixed_start": o.fixed.start.isoformat() if o.fixed else "",
            }
            writer.writerow(
                [
                    o.order_id,
                    o.receipt_date.isoformat(),
                    o.max_hold_days,
                    o.required_by.isoformat(),
                    _yn(o.infectious),
                    o.process_days,
                    o.qc_days,
                    o.ship_days,
                    *(extra[c] for c in optional),
                ]
            )


def write_suites(path: Path | str, suites: Sequence[Suite]) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SUITE_COLUMNS)
        for s in suites:
            writer.writerow(
                [
                    s.suite_id,
                    _yn(s.infectious),
                    s.available_from.isoformat(),
                    s.changeover_days,
                    s.decon_days,
                ]
            )


def write_downtime(path: Path | str, suites: Sequence[Suite]) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*DOWNTIME_COLUMNS, "reason"])
        for s in suites:
            for w in s.downtime:
                last = w.end - dt.timedelta(days=1)
                writer.writerow([s.suite_id, w.start.isoformat(), last.isoformat(), w.reason])
