"""What-if events from plain dictionaries (API bodies, form fields): an order arrives, a batch
fails, a suite goes down, an order is cancelled.

Each event is checked and normalised at the service boundary (dates within the plausible window,
day counts as whole numbers, a hypothetical order built from its product's settings) and
returned both as the pure event the re-planner applies and as the plain record a draft keeps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from vein2vein.core.errors import InputError
from vein2vein.core.text import clean_text
from vein2vein.scheduling.from_store import order_for_product, products
from vein2vein.scheduling.replan import BatchFailed, Event, OrderArrived, OrderCancelled, SuiteDown
from vein2vein.scheduling.settings import optional_whole, plan_date, truthy


def parse_events(
    session: Session, organisation_id: int, raw: Sequence[Mapping[str, Any]], today: dt.date
) -> tuple[list[Event], list[dict[str, Any]]]:
    """What-if events from plain dictionaries; also returns them normalised (for the record)."""
    settings = products(session, organisation_id)
    events: list[Event] = []
    clean: list[dict[str, Any]] = []
    for number, item in enumerate(raw, start=1):
        kind = str(item.get("kind") or "").strip()
        where = f"events[{number}]"
        if kind == "order_arrived":
            code = str(item.get("product_code") or "").strip().upper()[:5]
            product = settings.get(code)
            if product is None:
                raise InputError(
                    f"no process settings for product {code!r}", field=f"{where}.product_code"
                )
            order_id = clean_text(str(item.get("order_id") or f"WHAT-IF-{number}"), where, 40)
            receipt = plan_date(item.get("receipt_date") or today, f"{where}.receipt_date")
            required = plan_date(item.get("required_by"), f"{where}.required_by")
            fresh = str(item.get("starting_material") or "fresh").strip().lower() == "fresh"
            infectious = truthy(item.get("infectious", False))
            events.append(
                OrderArrived(
                    order_for_product(
                        order_id,
                        product,
                        receipt=receipt,
                        required_by=required,
                        fresh=fresh,
                        infectious=infectious,
                    )
                )
            )
            clean.append(
                {
                    "kind": kind,
                    "order_id": order_id,
                    "product_code": code,
                    "receipt_date": receipt.isoformat(),
                    "required_by": required.isoformat(),
                    "starting_material": "fresh" if fresh else "cryopreserved",
                    "infectious": infectious,
                }
            )
        elif kind == "batch_failed":
            order = str(item.get("order") or "").strip().upper()
            on = plan_date(item.get("on") or today, f"{where}.on")
            retry = item.get("retry_receipt")
            retry_day = plan_date(retry, f"{where}.retry_receipt") if retry else None
            hold = optional_whole(
                item.get("retry_max_hold_days"), f"{where}.retry_max_hold_days", 0
            )
            events.append(BatchFailed(order, on, retry_day, hold))
            clean.append(
                {
                    "kind": kind,
                    "order": order,
                    "on": on.isoformat(),
                    "retry_receipt": retry_day.isoformat() if retry_day else None,
                    "retry_max_hold_days": hold,
                }
            )
        elif kind == "suite_down":
            suite = str(item.get("suite") or "").strip().upper()
            first = plan_date(item.get("first_day") or today, f"{where}.first_day")
            last_raw = item.get("last_day")
            last = plan_date(last_raw, f"{where}.last_day") if last_raw else None
            if last is not None and last < first:
                raise InputError(
                    f"suite {suite}: the last day down ({last}) cannot be before the first "
                    f"({first})",
                    field=f"{where}.last_day",
                )
            reason = clean_text(str(item.get("reason") or "suite down"), f"{where}.reason", 300)
            end = last + dt.timedelta(days=1) if last else None
            events.append(SuiteDown(suite, first, end, reason))
            clean.append(
                {
                    "kind": kind,
                    "suite": suite,
                    "first_day": first.isoformat(),
                    "last_day": last.isoformat() if last else None,
                    "reason": reason,
                }
            )
        elif kind == "order_cancelled":
            order = str(item.get("order") or "").strip().upper()
            events.append(OrderCancelled(order))
            clean.append({"kind": kind, "order": order})
        else:
            raise InputError(
                "kind is order_arrived, batch_failed, suite_down or order_cancelled", field=where
            )
    return events, clean
