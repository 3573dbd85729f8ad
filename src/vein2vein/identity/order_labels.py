"""Labels printed for a stored order: the apheresis bag, the final-product bags, the cassette.

Printing is a GMP act (labels are reconciled), so every print is an audit entry naming the label,
its DIN and the format. Labels carry the subject id and never a barcode with personal data; the
date of birth is printed only for roles that may see it (see ``access.sees_personal_data``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vein2vein.auth.scope import Scope, get_scoped
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


def print_order_label(
    uow: UnitOfWork, scope: Scope, order_id: int | str, label: str, fmt: str, bag: int = 1
) -> PrintedLabel:
    """``bag``: which final-product bag (1 = division A0, 2 = B0, ...) a product-bag or cassette
    label is for; each bag's label carries its own division of the product code."""
    order = get_scoped(uow.session, scope, Order, order_id)  # out of scope: not found
    access.require_issue(scope)
    kind, out = _parse(label, fmt)
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
    suffix = "" if kind is OrderLabel.APHERESIS_BAG else f"-{bag}"
    return PrintedLabel(data, media, f"{order.number}-{kind.value}{suffix}.{out.value}")
