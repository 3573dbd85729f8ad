"""Labels printed for a stored order: the apheresis bag, the final-product bags, the cassette.

Printing is a GMP act (labels are reconciled), so every print is an audit entry naming the label,
its DIN and the format. Labels carry the subject id and never a barcode with personal data; the
date of birth is printed only for roles that may see it (see ``access.sees_personal_data``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from vein2vein.auth.scope import Scope, get_scoped
from vein2vein.core.clock import as_utc
from vein2vein.core.errors import InputError, RuleViolation
from vein2vein.identity import access, isbt128, labels
from vein2vein.identity import coi as coi_module
from vein2vein.identity.tables import Order
from vein2vein.store.uow import UnitOfWork


class OrderLabel(StrEnum):
    APHERESIS_BAG = "apheresis-bag"
    PRODUCT_BAG = "product-bag"
    CASSETTE = "cassette"


@dataclass(frozen=True)
class PrintedLabel:
    data: bytes
    media_type: str
    filename: str


def _parse(label: str, fmt: str) -> tuple[OrderLabel, labels.OutputFormat]:
    try:
        kind = OrderLabel(label)
    except ValueError:
        known = ", ".join(k.value for k in OrderLabel)
        raise InputError(f"unknown label '{label}'; use {known}", field="label") from None
    try:
        out = labels.OutputFormat(fmt.lower())
    except ValueError:
        raise InputError("the format is pdf or png", field="format") from None
    return kind, out


def _released_bag(uow: UnitOfWork, order: Order, bag: int) -> labels.ReleasedProduct | None:
    """The released-product facts of bag ``bag`` (QC release, issue 13): refused before QA
    released the batch; None for a product not made under a batch record here."""
    from vein2vein.quality.release import label_facts  # quality builds on identity

    facts = label_facts(uow.session, order)
    if facts is None:
        return None
    if not 1 <= bag <= len(facts.bags):
        raise InputError(
            f"batch {facts.batch} was filled into {len(facts.bags)} bag(s)", field="bag"
        )
    fill = facts.bags[bag - 1]
    zone = ZoneInfo(order.time_zone or "UTC")
    collected = next((e.occurred_at for e in order.events if e.step == "collected"), None)
    collection_date = (
        as_utc(collected).astimezone(zone).date()
        if collected is not None
        else order.planned_apheresis
    )
    return labels.ReleasedProduct(
        bag_number=bag,
        bag_count=len(facts.bags),
        cells=fill.cells,
        collection_date=collection_date,
        frozen_at=facts.frozen_at_utc.astimezone(zone).replace(tzinfo=None),
        shelf_life_days=facts.shelf_life_days,
        batch=facts.batch,
        manufacturing_site=facts.manufacturing_site,
        cells_per_kg=fill.cells_per_kg if facts.per_kg else None,
    )


def print_order_label(
    uow: UnitOfWork, scope: Scope, order_id: int | str, label: str, fmt: str, bag: int = 1
) -> PrintedLabel:
    """``bag``: which final-product bag (1 = division A0, 2 = B0, ...) a product-bag or cassette
    label is for; each bag's label carries its own division of the product code and, for a
    product made under a batch record here, is printed only after QA released the batch, with
    the dose in the bag, bag n of N, batch, sites and expiry (``quality.release.label_facts``).
    The apheresis label names the collection centre (the patient's treatment site)."""
    order = get_scoped(uow.session, scope, Order, order_id)  # out of scope: not found
    access.require_issue(scope)
    kind, out = _parse(label, fmt)
    # the final product's labels only after QA released its batch (checked first: the reason
    # a label cannot be printed yet is the release, not the missing DIN)
    released = None if kind is OrderLabel.APHERESIS_BAG else _released_bag(uow, order, bag)
    din_text = order.apheresis_din if kind is OrderLabel.APHERESIS_BAG else order.product_din
    if din_text is None:
        which = "apheresis" if kind is OrderLabel.APHERESIS_BAG else "final-product"
        raise RuleViolation(f"order {order.number} has no {which} DIN yet: issue it first")
    din = isbt128.parse_din(din_text)
    product_code = order.product_code
    if kind is not OrderLabel.APHERESIS_BAG:
        match = next((b for b in order.bags if b.number == bag), None)
        if match is None:
            raise InputError(f"order {order.number} has bags 1 to {len(order.bags)}", field="bag")
        product_code = match.product_code
    patient = order.patient
    content = labels.ProductLabel(
        din=din,
        coi=order.coi,
        product=isbt128.autologous_product_code(product_code),
        product_name=order.product_name or order.program.product or order.program.name,
        facility=order.facility.name,
        subject_id=patient.subject_id,
        date_of_birth=patient.date_of_birth if access.sees_personal_data(scope) else None,
        coi_format=coi_module.get_format(),
        collection_centre=patient.treatment_site.name,
        released=released,
    )
    layout_kind = labels.LabelKind.CASSETTE if kind is OrderLabel.CASSETTE else labels.LabelKind.BAG
    data = labels.render(labels.layout_for(layout_kind, content), out)
    uow.record(
        "coi.label_print",
        "coi_order",
        order.id,
        after={
            "label": kind.value,
            "din": din_text,
            "product_code": product_code,
            "format": out.value,
        },
        organisation_id=order.organisation_id,
    )
    media = "application/pdf" if out is labels.OutputFormat.PDF else "image/png"
    if released is not None:
        uow.record(
            "coi.label_released_bag",
            "coi_order",
            order.id,
            after={"bag": bag, "of": released.bag_count, "cells": released.cells},
            organisation_id=order.organisation_id,
        )
    suffix = "" if kind is OrderLabel.APHERESIS_BAG else f"-{bag}"
    return PrintedLabel(data, media, f"{order.number}-{kind.value}{suffix}.{out.value}")
