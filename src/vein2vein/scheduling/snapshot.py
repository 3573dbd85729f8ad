"""A problem as plain JSON and back: what a published plan was planned against.

A published plan keeps the exact problem it was validated on, so that it can be re-validated and
drawn later exactly as it was published, whatever has changed in the store since.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from vein2vein.core.errors import InputError
from vein2vein.scheduling.model import Downtime, FixedBatch, Order, Problem, Suite, Transfer


def _d(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def order_to_json(o: Order) -> dict[str, Any]:
    return {
        "order_id": o.order_id,
        "receipt_date": _d(o.receipt_date),
        "max_hold_days": o.max_hold_days,
        "required_by": _d(o.required_by),
        "infectious": o.infectious,
        "process_days": o.process_days,
        "qc_days": o.qc_days,
        "ship_days": o.ship_days,
        "product": o.product,
        "site": o.site,
        "start_weekdays": None if o.start_weekdays is None else sorted(o.start_weekdays),
        "fixed": None
        if o.fixed is None
        else {"suite": o.fixed.suite_id, "start": _d(o.fixed.start)},
    } | ({"material_site": o.material_site} if o.material_site else {})


def problem_to_json(problem: Problem) -> dict[str, Any]:
    """The problem as JSON. Sites and shipping routes appear only when the problem has them, so
    a problem without them reads (and hashes) as it did before sites were planned."""
    return {
        "today": _d(problem.today),
        "qc_capacity": problem.qc_capacity,
        "max_starts_per_day": problem.max_starts_per_day,
        "suites": [
            {
                "suite_id": s.suite_id,
                "infectious": s.infectious,
                "available_from": _d(s.available_from),
                "changeover_days": s.changeover_days,
                "decon_days": s.decon_days,
                "downtime": [
                    {"start": _d(w.start), "end": _d(w.end), "reason": w.reason} for w in s.downtime
                ],
            }
            | ({"site": s.site} if s.site else {})
            for s in problem.suites
        ],
        "orders": [order_to_json(o) for o in problem.orders],
    } | (
        {"transfers": [[t.from_site, t.to_site, t.days] for t in problem.transfers]}
        if problem.transfers
        else {}
    )


def _date(value: Any, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{what}: {value!r} is not a date (YYYY-MM-DD)", field=what) from None


def order_from_json(data: Mapping[str, Any]) -> Order:
    fixed = data.get("fixed")
    weekdays = data.get("start_weekdays")
    try:
        return Order(
            order_id=str(data["order_id"]),
            receipt_date=_date(data["receipt_date"], "receipt_date"),
            max_hold_days=int(data["max_hold_days"]),
            required_by=_date(data["required_by"], "required_by"),
            infectious=bool(data["infectious"]),
            process_days=int(data["process_days"]),
            qc_days=int(data["qc_days"]),
            ship_days=int(data["ship_days"]),
            product=str(data.get("product") or ""),
            site=str(data.get("site") or ""),
            material_site=str(data.get("material_site") or ""),
            start_weekdays=None if weekdays is None else frozenset(int(d) for d in weekdays),
            fixed=None
            if not fixed
            else FixedBatch(str(fixed["suite"]), _date(fixed["start"], "fixed.start")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"order is malformed: {exc}", field="orders") from None


def problem_from_json(data: Mapping[str, Any]) -> Problem:
    try:
        suites = tuple(
            Suite(
                suite_id=str(s["suite_id"]),
                infectious=bool(s["infectious"]),
                available_from=_date(s["available_from"], "available_from"),
                changeover_days=int(s["changeover_days"]),
                decon_days=int(s["decon_days"]),
                downtime=tuple(
                    Downtime(
                        _date(w["start"], "downtime.start"),
                        _date(w["end"], "downtime.end"),
                        str(w.get("reason") or ""),
                    )
                    for w in s.get("downtime", [])
                ),
                site=str(s.get("site") or ""),
            )
            for s in data["suites"]
        )
        today = data.get("today")
        return Problem(
            orders=tuple(order_from_json(o) for o in data["orders"]),
            suites=suites,
            qc_capacity=data.get("qc_capacity"),
            max_starts_per_day=data.get("max_starts_per_day"),
            today=None if today is None else _date(today, "today"),
            transfers=tuple(
                Transfer(str(a), str(b), int(days)) for a, b, days in data.get("transfers", [])
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"problem is malformed: {exc}", field="problem") from None
