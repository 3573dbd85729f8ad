"""Labels of the released product from the store (identity/order_labels.py with
quality/release.label_facts), on the demo: printable only after QA's release; each bag's label
carries the dose in that bag, bag n of N, its division, the batch, the manufacturing site, the
collection centre and the expiry from the freeze time and the specification's shelf life (read
back from the rendered PDF with pdftotext); the apheresis label names the collection centre."""

from __future__ import annotations

import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from tests.integration.quality.test_release_store import Demo

from vein2vein.core.errors import InputError, RuleViolation
from vein2vein.identity import labels
from vein2vein.identity.order_labels import print_order_label
from vein2vein.identity.tables import Order
from vein2vein.quality import release
from vein2vein.store.database import Database


def _text(pdf: bytes, tmp: Path) -> str:
    path = tmp / "label.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return " ".join(done.stdout.split())


def test_product_labels_only_after_release_with_dose_expiry_and_sites(
    demo_db: Database, tmp_path: Path
) -> None:
    db = demo_db
    d = Demo(db)
    with db.read() as s:
        order_ids = {o.number: o.id for o in s.scalars(select(Order))}
        facts = release.label_facts(s, s.get_one(Order, order_ids["HLX-EPC-01-0007"]))
        assert facts is not None and len(facts.bags) == 1
        fill = facts.bags[0]
        zone = ZoneInfo(s.get_one(Order, order_ids["HLX-EPC-01-0007"]).time_zone)
        expiry = labels.product_expiry(
            facts.frozen_at_utc.astimezone(zone).replace(tzinfo=None), facts.shelf_life_days
        )
        centre = s.get_one(Order, order_ids["HLX-EPC-01-0007"]).patient.treatment_site.name
    label = d.act(
        "operator", print_order_label, order_ids["HLX-EPC-01-0007"], "product-bag", "pdf", 1
    )
    text = _text(label.data, tmp_path)
    assert "Bag 1 of 1" in text and "A0" in text
    assert f"Manufactured by {facts.manufacturing_site}" in text
    assert f"Collected at {centre}" in text
    assert labels.dose_text(fill.cells, fill.cells_per_kg) in text
    assert f"EXP {expiry:%Y-%m-%d %H:%M}" in text and facts.shelf_life_days == 180
    assert facts.batch in text
    with pytest.raises(InputError, match="filled into 1 bag"):
        d.act("operator", print_order_label, order_ids["HLX-EPC-01-0007"], "product-bag", "pdf", 2)
    # not released: refused, the reason named
    with pytest.raises(RuleViolation, match="printed after release"):
        d.act("operator", print_order_label, order_ids["HLX-EPC-01-0011"], "cassette", "pdf", 1)
    # the apheresis bag names the collection centre, never the CDMO
    aph = _text(
        d.act(
            "operator", print_order_label, order_ids["HLX-EPC-01-0011"], "apheresis-bag", "pdf"
        ).data,
        tmp_path,
    )
    assert "Collected at" in aph and "Manufactured by" not in aph
