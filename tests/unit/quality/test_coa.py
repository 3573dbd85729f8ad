"""The Certificate of Analysis content: plain data, hash, shape checks, changes since issue and
the verdict on a presented certificate (quality/coa.py; docs/quality.md, "Certificate of
Analysis")."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from dataclasses import replace

import pytest
from tests.unit.quality.coa_sample import ISSUED, released, sample

from vein2vein.core.errors import InputError
from vein2vein.quality.coa import (
    CoaOutcome,
    CoaSignature,
    ReleaseState,
    Status,
    changes,
    content_data,
    content_hash,
    from_data,
    verdict,
)


def _test(data: dict, code: str) -> dict:
    return next(t for t in data["tests"] if t["code"] == code)


# --- plain data and hash ------------------------------------------------------------------


def test_content_data_round_trips_through_json() -> None:
    c = sample()
    data = content_data(c)
    assert from_data(data) == c
    again = json.loads(json.dumps(data))
    assert from_data(again) == c
    assert content_data(from_data(again)) == data


def test_content_data_is_plain_and_utc() -> None:
    data = content_data(sample())
    assert data["coa_format"] == 1
    assert data["issued_at"] == "2026-12-05T14:30:00+00:00"
    assert data["release_state"] == "conditional"
    assert data["pending_tests"] == [
        {"code": "sterility", "expected_on": "2026-12-18"},
        {"code": "vcn", "expected_on": "2026-12-11"},
    ]
    assert _test(data, "viability")["raw"] == "92 %"
    assert _test(data, "viability")["criterion"] == "≥ 70 %"
    assert data["bags"][1] == {
        "number": 2,
        "division": "B0",
        "volume_ml": 60.0,
        "cells": 1.2e8,
        "cells_per_kg": 1.5e6,
    }


def test_content_hash_is_sha256_of_sorted_compact_utf8_json() -> None:
    """Reference: the hash computed here with hashlib and json directly (RFC 8785-like
    canonical form of core/canonical.py: sorted keys, no spaces, UTF-8)."""
    c = sample()
    text = json.dumps(content_data(c), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert content_hash(c) == expected
    assert content_hash(content_data(c)) == expected
    assert len(expected) == 64


def test_every_stated_fact_is_in_the_hash() -> None:
    c = sample()
    base = content_hash(c)
    variants = [
        replace(c, document_number="COA-EPC-0042-2"),
        replace(c, issued_at=ISSUED + dt.timedelta(seconds=1)),
        replace(c, din="W1234 26 000043 E"),
        replace(c, audit_head_sequence=5124),
        replace(c, bags=(replace(c.bags[0], volume_ml=59.0), c.bags[1])),
        replace(c, tests=(replace(c.tests[0], analyst="someone"), *c.tests[1:])),
    ]
    hashes = {content_hash(v) for v in variants}
    assert base not in hashes and len(hashes) == len(variants)


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda d: d.pop("din"), None, "missing field(s): din"),
        (lambda d: d.update(colour="red"), None, "unknown field(s): colour"),
        (lambda d: d.update(coa_format=2), "coa_format", "unknown certificate format 2"),
        (lambda d: d["tests"][2].update(outcome="fine"), "tests[2].outcome", "'fine' is not"),
        (lambda d: d.update(patient_weight_kg=80), "patient_weight_kg", "decimal number"),
        (lambda d: d.update(spec_version="1"), "spec_version", "whole number"),
        (lambda d: d.update(issued_at="2026-12-05T14:30:00"), "issued_at", "UTC"),
        (lambda d: d.update(collection_date="20/11/2026"), "collection_date", "YYYY-MM-DD"),
        (lambda d: d["bags"][0].pop("cells"), "bags[0]", "missing field(s): cells"),
        (lambda d: d.update(tests={}), "tests", "expected a list"),
        (lambda d: d["signatures"].append("jdoe"), "signatures[2]", "expected an object"),
        (lambda d: d.update(pending_tests=[]), "pending_tests", "must be exactly"),
    ],
)
def test_from_data_refuses_wrong_shapes_naming_the_field(mutate, field, words) -> None:
    data = copy.deepcopy(content_data(sample()))
    mutate(data)
    with pytest.raises(InputError) as err:
        from_data(data, file="coa.pdf")
    assert err.value.field == field
    assert words in err.value.detail
    assert str(err.value).startswith("coa.pdf")


def test_from_data_refuses_what_is_not_an_object() -> None:
    with pytest.raises(InputError, match="expected an object"):
        from_data([1, 2])


# --- coherence ----------------------------------------------------------------------------


def test_conditional_release_names_its_pending_tests() -> None:
    with pytest.raises(InputError, match="names its pending tests") as err:
        replace(released(), release_state=ReleaseState.CONDITIONAL)
    assert err.value.field == "release_state"


def test_a_release_with_pending_results_is_conditional() -> None:
    with pytest.raises(InputError, match="is conditional"):
        replace(sample(), release_state=ReleaseState.RELEASED)


def test_only_an_exceptional_release_carries_a_nonconforming_result() -> None:
    c = released()
    failed = tuple(
        replace(t, outcome=CoaOutcome.DOES_NOT_CONFORM, raw="64 %", rounded="64 %")
        if t.code == "viability"
        else t
        for t in c.tests
    )
    with pytest.raises(InputError, match="viability does not conform"):
        replace(c, tests=failed)
    with pytest.raises(InputError, match="states its reason"):
        replace(c, tests=failed, release_state=ReleaseState.EXCEPTIONAL)
    ok = replace(
        c,
        tests=failed,
        release_state=ReleaseState.EXCEPTIONAL,
        exceptional_reason="No alternative; physician's request of 2026-12-04",
    )
    assert from_data(content_data(ok)) == ok


def test_quantities_are_kept_as_floats_so_the_json_is_the_same() -> None:
    c = sample()
    whole = replace(c, patient_weight_kg=80, bags=(replace(c.bags[0], volume_ml=60), c.bags[1]))
    assert content_hash(whole) == content_hash(c)
    with pytest.raises(InputError) as err:
        replace(c, total_cells="2.4e8")
    assert err.value.field == "total_cells"


def test_times_on_a_certificate_are_utc() -> None:
    cet = dt.timezone(dt.timedelta(hours=1))
    with pytest.raises(InputError) as err:
        replace(sample(), issued_at=ISSUED.astimezone(cet))
    assert err.value.field == "issued_at"
    with pytest.raises(InputError) as err:
        replace(sample(), issued_at=ISSUED.replace(tzinfo=None))
    assert err.value.field == "issued_at"


# --- what changed -------------------------------------------------------------------------


def test_no_change_when_only_the_issue_differs() -> None:
    c = sample()
    again = replace(
        c,
        document_number="COA-EPC-0042-2",
        issued_at=ISSUED + dt.timedelta(days=1),
        audit_head_hash="f" * 64,
        audit_head_sequence=6000,
    )
    assert changes(content_data(c), content_data(again)) == []


def test_changed_result_is_named_by_test_and_field() -> None:
    old = content_data(sample())
    new = copy.deepcopy(old)
    _test(new, "viability").update(raw="88 %", rounded="88 %")
    assert changes(old, new) == [
        "test viability: result 92 % → 88 %",
        "test viability: reported result 92 % → 88 %",
    ]


def test_plain_fields_use_their_labels() -> None:
    old = content_data(released())
    new = copy.deepcopy(old)
    new.update(spec_version=2, release_state="conditional", patient_weight_kg=81.5)
    assert changes(old, new) == [  # in the order of the certificate
        "specification version: 1 → 2",
        "release state: released → conditional",
        "patient weight (kg): 80.0 → 81.5",
    ]


def test_after_release_results_arriving_are_listed() -> None:
    lines = changes(content_data(sample()), content_data(released()))
    assert "release state: conditional → released" in lines
    assert "test sterility: conformance pending → conforms" in lines
    assert "test sterility: result (none) → No growth" in lines
    assert "pending result of sterility no longer present" in lines
    assert "pending result of vcn no longer present" in lines


def test_signatures_bags_and_tests_added_or_removed() -> None:
    c = sample()
    new = replace(
        c,
        signatures=(
            c.signatures[0],
            CoaSignature("Eva Smit", "esmit", ISSUED, "approved"),
        ),
        bags=(replace(c.bags[0], volume_ml=58.5),),
        tests=c.tests[:-1],
    )
    assert changes(content_data(c), content_data(new)) == [
        "test car_t_cells no longer present",
        "bag 1: volume (mL) 60.0 → 58.5",
        "bag 2 no longer present",
        "signature of jdoe (released) no longer present",
        "signature of esmit (approved) added",
    ]
    assert changes(content_data(new), content_data(c))[0] == "test car_t_cells added"


def test_a_field_added_to_the_content_is_named() -> None:
    old = content_data(released())
    new = copy.deepcopy(old)
    new["release_state"] = "exceptional"
    new["exceptional_reason"] = "viability 64 %"
    assert changes(old, new) == [
        "release state: released → exceptional",
        "exceptional release reason: (none) → viability 64 %",
    ]


# --- the verdict --------------------------------------------------------------------------


def test_verdict_known_bytes_and_same_content_is_current() -> None:
    data = content_data(sample())
    v = verdict(issued_by_file=data, issued_by_content=data, current=data)
    assert (v.authentic, v.current, v.status, v.reasons) == (True, True, Status.CURRENT, ())


def test_verdict_known_bytes_but_batch_changed_is_superseded() -> None:
    issued = content_data(sample())
    v = verdict(issued_by_file=issued, issued_by_content=issued, current=content_data(released()))
    assert (v.authentic, v.current, v.status) == (True, False, Status.SUPERSEDED)
    assert "release state: conditional → released" in v.reasons
    assert v.summary().startswith("superseded; ")
    gone = verdict(issued_by_file=issued, issued_by_content=issued, current=None)
    assert gone.status is Status.SUPERSEDED and not gone.current


def test_verdict_unknown_bytes_with_issued_content_is_altered() -> None:
    issued = content_data(sample())
    v = verdict(issued_by_file=None, issued_by_content=issued, current=issued)
    assert (v.authentic, v.current, v.status) == (False, False, Status.ALTERED)
    assert "COA-EPC-0042-1" in v.reasons[0]
    v2 = verdict(
        issued_by_file=None, issued_by_content=issued, current=issued, embedded_hash_matches=False
    )
    assert len(v2.reasons) == 2


def test_verdict_nothing_known_is_not_ours() -> None:
    v = verdict(issued_by_file=None, issued_by_content=None, current=content_data(sample()))
    assert (v.authentic, v.current, v.status) == (False, False, Status.UNKNOWN)
    assert v.status.value == "not issued by this system"
