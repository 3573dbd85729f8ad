"""Hand-off identity checks: scanned labels against what the order expects."""

from __future__ import annotations

import random

import pytest

from vein2vein.core.errors import InputError
from vein2vein.identity import coi
from vein2vein.identity.domain import (
    ExpectedIdentity,
    Mismatch,
    MismatchKind,
    check_handoff,
    read_scans,
)
from vein2vein.identity.isbt128 import Din, ProductCodeStructure, compound_message

FMT = coi.get_format()
COI = FMT.new("A9999", rng=random.Random(11))
OTHER_COI = FMT.new("A9999", rng=random.Random(12))
DIN = Din("A9999", 26, 42)
OTHER_DIN = Din("A9999", 26, 43)
PRODUCT = ProductCodeStructure("S1234", "1", "00")
PATIENT = {"subject_id": "SP1-001-0007", "date_of_birth": "1961-04-12"}
EXPECTED = ExpectedIdentity(din=DIN.code, coi=COI, product_code="S1234", patient=PATIENT)


def matrix(din: Din = DIN, coi_value: str = COI, product: ProductCodeStructure = PRODUCT) -> str:
    from vein2vein.identity.isbt128 import DinStructure

    return compound_message(
        [DinStructure(din, din.check_flags), product, FMT.to_structure(coi_value)]
    )


def kinds(mismatches: list[Mismatch]) -> list[tuple[str, MismatchKind]]:
    return [(m.field, m.kind) for m in mismatches]


def test_matching_scan_passes():
    assert check_handoff(EXPECTED, read_scans([matrix()], patient=PATIENT)) == []


def test_linear_barcodes_scanned_one_by_one_pass_too():
    scans = [DIN.barcode_data(), PRODUCT.encode(), FMT.to_structure(COI).encode()]
    assert check_handoff(EXPECTED, read_scans(scans, patient=PATIENT)) == []


def test_typed_din_with_check_character_counts():
    expected = ExpectedIdentity(din=DIN.code, patient={"subject_id": "SP1-001-0007"})
    scanned = read_scans([DIN.eye_readable()], patient={"subject_id": " sp1-001-0007 "})
    assert check_handoff(expected, scanned) == []


def test_wrong_din_is_a_mismatch_with_both_values():
    (m,) = check_handoff(EXPECTED, read_scans([matrix(din=OTHER_DIN)], patient=PATIENT))
    assert (m.field, m.kind, m.expected, m.found) == (
        "din",
        MismatchKind.DIFFERENT,
        DIN.code,
        OTHER_DIN.code,
    )
    assert m.message == f"din: expected {DIN.code}, scanned {OTHER_DIN.code}"


def test_two_different_bags_scanned_together_is_a_mismatch():
    scanned = read_scans([matrix(), OTHER_DIN.barcode_data()], patient=PATIENT)
    assert kinds(check_handoff(EXPECTED, scanned)) == [("din", MismatchKind.DIFFERENT)]


def test_damaged_din_flags_fail_the_check():
    bad = "=" + DIN.code + ("61" if DIN.check_flags != "61" else "62")
    scanned = read_scans([bad, PRODUCT.encode(), FMT.to_structure(COI).encode()], patient=PATIENT)
    assert kinds(check_handoff(EXPECTED, scanned)) == [("din", MismatchKind.INVALID_CHECK)]


def test_wrong_coi_and_product():
    scanned = read_scans(
        [matrix(coi_value=OTHER_COI, product=ProductCodeStructure("S9999"))], patient=PATIENT
    )
    assert kinds(check_handoff(EXPECTED, scanned)) == [
        ("coi", MismatchKind.DIFFERENT),
        ("product_code", MismatchKind.DIFFERENT),
    ]


def test_full_product_code_checks_collection_type():
    expected = ExpectedIdentity(din=DIN.code, coi=COI, product_code="S1234100")
    scanned = read_scans([matrix(product=ProductCodeStructure("S1234", "V", "00"))])
    assert kinds(check_handoff(expected, scanned)) == [("product_code", MismatchKind.DIFFERENT)]


def test_patient_mismatch_never_shows_the_values():
    wrong = {"subject_id": "SP1-001-0007", "date_of_birth": "1961-04-21"}
    (m,) = check_handoff(EXPECTED, read_scans([matrix()], patient=wrong))
    assert (m.field, m.kind, m.expected, m.found) == (
        "patient.date_of_birth",
        MismatchKind.DIFFERENT,
        None,
        None,
    )
    assert "1961" not in m.message and m.message == "patient date of birth: does not match"


def test_missing_identifiers_and_too_few_verified():
    expected = ExpectedIdentity(din=DIN.code, coi=COI, patient={"subject_id": "SP1-001-0007"})
    result = check_handoff(expected, read_scans([PRODUCT.encode()]))
    assert kinds(result) == [
        ("din", MismatchKind.MISSING),
        ("coi", MismatchKind.MISSING),
        ("patient.subject_id", MismatchKind.MISSING),
        ("identifiers", MismatchKind.TOO_FEW_IDENTIFIERS),
    ]
    assert result[-1].message == "only 0 of 2 required identifiers verified"


def test_one_identifier_is_not_enough():
    expected = ExpectedIdentity(din=DIN.code)
    assert kinds(check_handoff(expected, read_scans([DIN.barcode_data()]))) == [
        ("identifiers", MismatchKind.TOO_FEW_IDENTIFIERS)
    ]
    assert check_handoff(expected, read_scans([DIN.barcode_data()]), minimum_identifiers=1) == []


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["=G1234"], "scanned DIN"),
        (["G123 498 654 321"], "check character"),
    ],
)
def test_unreadable_scans_ask_for_a_rescan(texts, message):
    with pytest.raises(InputError, match=message):
        read_scans(texts)


def test_labels_of_two_chains_of_identity_are_a_hard_stop_not_a_rescan():
    """Two CoIs scanned at one hand-off may be two patients' bags together: a mismatch."""
    scanned = read_scans(
        [DIN.barcode_data(), FMT.to_structure(COI).encode(), FMT.to_structure(OTHER_COI).encode()]
    )
    result = check_handoff(ExpectedIdentity(din=DIN.code, coi=COI), scanned)
    assert ("coi", MismatchKind.DIFFERENT) in kinds(result)
