"""The lot rules (``manufacturing.materials``): the scan check refuses each reason with a message
naming lot, material and reason; status transitions; expiry derived from the date.

Reference: EU GMP Part I 5.41 (only released materials within their shelf life are used);
21 CFR 211.84/211.86 (components quarantined until approved; rejected ones not used)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from vein2vein.core.errors import InputError, RuleViolation
from vein2vein.manufacturing.materials import (
    LotFacts,
    LotRefused,
    LotStatus,
    MaterialKind,
    RefusalReason,
    check_lot_for_use,
    check_titer,
    check_transition,
    parse_status,
    status_on,
)

DAY = dt.date(2026, 12, 6)
AT = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.UTC)


def lot(**changes: object) -> LotFacts:
    values: dict[str, object] = dict(
        lot_number="LV-EPC-2026-003",
        material_code="LV-EPCAM",
        material_name="Lentiviral vector, anti-EpCAM CAR",
        kind=MaterialKind.LENTIVIRAL_VECTOR,
        status=LotStatus.RELEASED,
        expiry=dt.date(2027, 6, 30),
        titer_tu_per_ml=Decimal("320000000"),
    )
    values.update(changes)
    return LotFacts(**values)  # type: ignore[arg-type]


def test_a_released_lot_of_the_right_material_within_expiry_may_be_used() -> None:
    assert check_lot_for_use(lot(), "LV-EPCAM", AT) is None
    assert check_lot_for_use(lot(), " lv-epcam ", AT) is None  # as scanned or typed
    # usable on its expiry date, refused from the day after
    assert check_lot_for_use(lot(expiry=DAY), "LV-EPCAM", AT) is None


@pytest.mark.parametrize(
    ("changes", "required", "reason", "words"),
    [
        ({"status": LotStatus.QUARANTINE}, "LV-EPCAM", RefusalReason.NOT_RELEASED, "quarantine"),
        ({"status": LotStatus.REJECTED}, "LV-EPCAM", RefusalReason.REJECTED, "rejected by QA"),
        (
            {"expiry": DAY - dt.timedelta(days=1)},
            "LV-EPCAM",
            RefusalReason.EXPIRED,
            "expired on 2026-12-05",
        ),
        ({}, "CD4-MB", RefusalReason.WRONG_MATERIAL, "needs material CD4-MB, not LV-EPCAM"),
        ({"titer_tu_per_ml": None}, "LV-EPCAM", RefusalReason.NO_TITER, "no functional titer"),
    ],
)
def test_each_refusal_names_lot_material_and_reason(
    changes: dict, required: str, reason: RefusalReason, words: str
) -> None:
    with pytest.raises(LotRefused) as refused:
        check_lot_for_use(lot(**changes), required, AT)
    assert refused.value.reason is reason
    message = refused.value.message
    assert message.startswith("lot LV-EPC-2026-003 of LV-EPCAM (Lentiviral vector")
    assert words in message
    assert isinstance(refused.value, RuleViolation)  # a refusal, shown as such (HTTP 422)


def test_wrong_material_is_named_before_the_status_and_rejection_before_expiry() -> None:
    bad = lot(status=LotStatus.REJECTED, expiry=DAY - dt.timedelta(days=30))
    with pytest.raises(LotRefused) as wrong:
        check_lot_for_use(bad, "MED-TEX", AT)
    assert wrong.value.reason is RefusalReason.WRONG_MATERIAL
    with pytest.raises(LotRefused) as rejected:
        check_lot_for_use(bad, "LV-EPCAM", AT)
    assert rejected.value.reason is RefusalReason.REJECTED


def test_the_time_of_use_needs_its_zone() -> None:
    with pytest.raises(InputError):
        check_lot_for_use(lot(), "LV-EPCAM", dt.datetime(2026, 12, 6, 9, 30))


def test_expired_is_derived_from_the_date_and_rejection_stays_the_reason() -> None:
    q = lot(status=LotStatus.QUARANTINE, expiry=DAY)
    assert status_on(q, DAY) is LotStatus.QUARANTINE
    assert status_on(q, DAY + dt.timedelta(days=1)) is LotStatus.EXPIRED
    r = lot(status=LotStatus.REJECTED, expiry=DAY)
    assert status_on(r, DAY + dt.timedelta(days=400)) is LotStatus.REJECTED


def test_transitions() -> None:
    q = lot(status=LotStatus.QUARANTINE)
    check_transition(q, LotStatus.RELEASED, DAY)
    check_transition(q, LotStatus.REJECTED, DAY)
    check_transition(lot(), LotStatus.REJECTED, DAY)  # a released lot found bad later
    with pytest.raises(RuleViolation, match="cannot become released"):
        check_transition(lot(), LotStatus.RELEASED, DAY)
    with pytest.raises(RuleViolation, match="cannot become released"):
        check_transition(lot(status=LotStatus.REJECTED), LotStatus.RELEASED, DAY)
    with pytest.raises(RuleViolation, match="cannot become quarantine"):
        check_transition(lot(), LotStatus.QUARANTINE, DAY)
    with pytest.raises(RuleViolation, match="expired on"):
        check_transition(
            lot(status=LotStatus.QUARANTINE, expiry=DAY - dt.timedelta(1)), LotStatus.RELEASED, DAY
        )
    with pytest.raises(RuleViolation, match="functional titer"):
        check_transition(
            lot(status=LotStatus.QUARANTINE, titer_tu_per_ml=None), LotStatus.RELEASED, DAY
        )
    # a reagent needs no titer
    reagent = lot(
        status=LotStatus.QUARANTINE, kind=MaterialKind.SELECTION_REAGENT, titer_tu_per_ml=None
    )
    check_transition(reagent, LotStatus.RELEASED, DAY)


def test_titer_only_for_vectors_within_the_plausible_range() -> None:
    check_titer(MaterialKind.LENTIVIRAL_VECTOR, Decimal("2.5E8"))
    check_titer(MaterialKind.MEDIUM, None)
    for value in (Decimal("5E4"), Decimal("2E11")):  # a unit error (per µL, per L)
        with pytest.raises(InputError) as err:
            check_titer(MaterialKind.LENTIVIRAL_VECTOR, value)
        assert err.value.field == "titer"
    with pytest.raises(InputError, match="lentiviral vector lots only"):
        check_titer(MaterialKind.MEDIUM, Decimal("1E8"))


def test_expired_is_not_a_status_qa_records() -> None:
    assert parse_status(" Released ") is LotStatus.RELEASED
    with pytest.raises(InputError, match="expired follows from the date"):
        parse_status("expired")
