"""A realistic certificate content for the CoA tests: the demo EpCAM specification
(quality/spec/epcam_iit_v1.yaml, 14 tests), results judged by ``domain.judge``, a two-bag fill
from the worked dose example of docs/quality.md (3 × 10^6 /kg, 80 kg, 2 × 10^6 /mL: 2.4 × 10^8
cells in two bags of 60 mL, 1.5 × 10^6 /kg each), released conditionally with sterility and VCN
pending (results obtained after release: Front Immunol 2024;15:1328368)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from vein2vein.quality import spec_yaml
from vein2vein.quality.coa import (
    CoaBag,
    CoaContent,
    CoaOutcome,
    CoaSignature,
    CoaTest,
    PendingTest,
    ReleaseState,
)
from vein2vein.quality.domain import criterion_text, decimal_text, judge

#: results as an analyst enters them: (value, unit)
RESULTS: dict[str, tuple[Any, str | None]] = {
    "appearance": ("conforms", None),
    "identity": ("conforms", None),
    "viability": (92, "%"),
    "cd3": (97.43, "%"),
    "car_positive": (0.3415, "1"),  # a fraction: printed 0.3415 = 34.15 %, reported 34.2 %
    "endotoxin": (0.25, "EU/mL"),
    "mycoplasma": ("not detected", None),
    "rcl": ("not detected", None),
    "residual_beads": (12, "beads/3×10^6 cells"),
    "ifng_release": (1840, "pg/mL"),
    "cytotoxicity": (63, "%"),
    "tnc": (0.856, "10^9 cells"),  # 0.856e9 × 0.92 × 0.9743 × 0.3415 = 2.62e8 CAR+ viable T
    "car_t_cells": (2.62, "10^8 cells"),
}
PENDING = {"sterility": dt.date(2026, 12, 18), "vcn": dt.date(2026, 12, 11)}
ISSUED = dt.datetime(2026, 12, 5, 14, 30, 0, tzinfo=dt.UTC)


def raw_text(value: Any, unit: str | None, judged_raw: Any) -> str:
    if unit is None:
        return str(value)
    number = decimal_text(judged_raw)
    return f"{number} (fraction)" if unit == "1" else f"{number} {unit}"


def coa_tests() -> tuple[CoaTest, ...]:
    spec = spec_yaml.load_demo()
    out = []
    for i, test in enumerate(spec.tests):
        common = dict(
            code=test.code,
            name=test.name,
            category=test.category.value,
            method=test.method,
            criterion=criterion_text(test),
            unit=test.unit,
        )
        if test.code in PENDING:
            out.append(CoaTest(**common, raw="", rounded="", outcome=CoaOutcome.PENDING))
            continue
        value, unit = RESULTS[test.code]
        j = judge(test, value, unit)
        outcome = (
            CoaOutcome.REPORTED
            if j.conforms is None
            else CoaOutcome.CONFORMS
            if j.conforms
            else CoaOutcome.DOES_NOT_CONFORM
        )
        out.append(
            CoaTest(
                **common,
                raw=raw_text(value, unit, j.raw),
                rounded=j.rounded_text,
                outcome=outcome,
                result_id=f"res-{100 + i}",
                analyst="mkowalski" if i % 2 else "tnguyen",
                tested_on=dt.date(2026, 12, 2 + i % 3),
            )
        )
    return tuple(out)


def sample() -> CoaContent:
    return CoaContent(
        document_number="COA-EPC-0042-1",
        issued_at=ISSUED,
        product_code="HLX-EPC-01",
        product_name="HLX-101 anti-EpCAM CAR-T",
        sponsor="Helix Oncology Ltd",
        coi="COI-HLX-0042-7Q",
        din="W1234 26 000042 E",
        order_number="ORD-2026-0042",
        subject_id="HLX-101-003-017",
        batch_id="b9f1c2d4",
        batch_number="EPC-0042",
        manufacturing_site="Leiden cell-therapy suite 2",
        mbr_version="3",
        collection_date=dt.date(2026, 11, 20),
        spec_title=spec_yaml.load_demo().title,
        spec_version=1,
        spec_id="spec-7",
        release_state=ReleaseState.CONDITIONAL,
        dose_level="3.0 × 10^6 CAR-positive viable T cells/kg",
        patient_weight_kg=80.0,
        total_cells=2.4e8,
        tests=coa_tests(),
        bags=(
            CoaBag(1, "A0", 60.0, 1.2e8, 1.5e6),
            CoaBag(2, "B0", 60.0, 1.2e8, 1.5e6),
        ),
        signatures=(
            CoaSignature(
                "Dr Anna de Vries",
                "adevries",
                dt.datetime(2026, 12, 5, 14, 2, 11, tzinfo=dt.UTC),
                "reviewed",
            ),
            CoaSignature(
                "Jan Doe",
                "jdoe",
                dt.datetime(2026, 12, 5, 14, 28, 40, tzinfo=dt.UTC),
                "released",
            ),
        ),
        audit_head_hash="7d1e" + "0" * 56 + "beef",
        audit_head_sequence=5123,
        pending_tests=tuple(PendingTest(code, day) for code, day in sorted(PENDING.items())),
    )


def released() -> CoaContent:
    """The same batch once the after-release results conformed."""
    c = sample()
    tests = tuple(
        replace(
            t,
            raw="No growth" if t.code == "sterility" else "1.45 copies/transduced cell",
            rounded="negative" if t.code == "sterility" else "1.5 copies/transduced cell",
            outcome=CoaOutcome.CONFORMS,
            result_id="res-900",
            analyst="tnguyen",
            tested_on=PENDING[t.code],
        )
        if t.code in PENDING
        else t
        for t in c.tests
    )
    return replace(c, tests=tests, pending_tests=(), release_state=ReleaseState.RELEASED)
