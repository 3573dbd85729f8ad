"""The release and OOS rules (quality/release_rules.py): every precondition refused by name,
conditional and exceptional release, the two-person rules, the phases of an investigation.

References: 21 CFR 211.22 and 211.165 (release by the quality unit after the batch record and
results), EU GMP Annex 16 §1.7 and Part I §2.7 (independence of who certifies), FDA OOS
guidance (2006, rev. 2022) §III-IV (phase I and II; the analyst does not approve the
invalidation), EudraLex Vol. 4 Part IV (release of an out-of-specification ATMP)."""

from __future__ import annotations

import pytest

from vein2vein.core.errors import InputError, RuleViolation
from vein2vein.quality import release_rules as rules
from vein2vein.quality.release_rules import (
    OosStatus,
    Outcome,
    ReleaseFacts,
    ReleaseState,
)

State = rules.TestState  # not named Test*: pytest would try to collect it

TESTS = (
    State("viability", "Viability", Outcome.CONFORMS),
    State("cytotoxicity", "Specific lysis", Outcome.REPORTED),
    State("sterility", "Sterility", Outcome.CONFORMS, after_release=True),
    State("vcn", "VCN", Outcome.CONFORMS, after_release=True),
)
SPEC = "HLX-EPC-01 drug_product iit v1"


def facts(**kw: object) -> ReleaseFacts:
    base: dict[str, object] = {"batch": "7", "spec": SPEC, "tests": TESTS}
    return ReleaseFacts(**(base | kw))  # type: ignore[arg-type]


def with_outcome(code: str, outcome: Outcome) -> tuple[State, ...]:
    return tuple(
        State(t.code, t.name, outcome, t.after_release) if t.code == code else t for t in TESTS
    )


def test_everything_in_and_conforming_releases() -> None:
    check = rules.check_release(facts())
    assert check.releasable and check.state is ReleaseState.RELEASED
    assert [p.met for p in check.preconditions] == [True] * 6


@pytest.mark.parametrize(
    ("change", "blocker"),
    [
        ({"record_blockers": ["the batch record of batch 7 is not QA-approved"]}, "not QA-appr"),
        ({"spec": None}, "no specification was in force for batch 7"),
        ({"tests": with_outcome("viability", Outcome.MISSING)}, "no valid result for Viability"),
        ({"tests": with_outcome("cytotoxicity", Outcome.MISSING)}, "no valid result for Specific"),
        ({"tests": with_outcome("viability", Outcome.DOES_NOT_CONFORM)}, "Viability does not"),
        ({"dose_problem": "the batch holds 60 % of the dose"}, "dose: the batch holds 60 %"),
        ({"open_investigations": ["OOS-2026-0003"]}, "investigation OOS-2026-0003 is not closed"),
        ({"state": ReleaseState.CONDITIONAL}, "already released (conditional)"),
        ({"state": ReleaseState.REJECTED}, "batch 7 was rejected"),
    ],
)
def test_each_missing_precondition_blocks_by_name(change: dict[str, object], blocker: str) -> None:
    check = rules.check_release(facts(**change))
    assert not check.releasable and check.state is ReleaseState.PENDING
    assert any(blocker in b for b in check.blockers), check.blockers


def test_results_after_release_make_it_conditional_and_are_listed() -> None:
    tests = with_outcome("sterility", Outcome.MISSING)
    check = rules.check_release(facts(tests=tests))
    assert check.releasable and check.state is ReleaseState.CONDITIONAL
    assert check.pending == ("sterility",)
    (shown,) = [p for p in check.preconditions if p.name == "Results that may follow release"]
    assert not shown.met and not shown.blocks and shown.detail == "sterility pending"


def test_a_signed_exception_covers_results_and_dose_but_nothing_else() -> None:
    bad = with_outcome("viability", Outcome.DOES_NOT_CONFORM)
    covered = rules.check_release(facts(tests=bad, dose_problem="60 %", exception_signed=True))
    assert covered.releasable and covered.state is ReleaseState.EXCEPTIONAL
    assert covered.nonconforming == ("viability", "dose")
    # an exception never covers a missing result, an open investigation or the record
    for more in (
        {"open_investigations": ["OOS-2026-0001"]},
        {"record_blockers": ["deviation DEV-2026-0002 of batch 7 is not closed"]},
    ):
        assert not rules.check_release(facts(tests=bad, exception_signed=True, **more)).releasable
    missing = with_outcome("cytotoxicity", Outcome.MISSING)
    assert not rules.check_release(facts(tests=missing, exception_signed=True)).releasable


def test_the_release_signer_took_no_part() -> None:
    ops, analysts = {"operator", "qa.reviewer"}, {"qc"}
    rules.check_release_signer("qa.approver", ops, analysts, batch="7")
    with pytest.raises(RuleViolation, match="worked on the batch record of batch 7"):
        rules.check_release_signer("QA.Reviewer", ops, analysts, batch="7")  # case ignored
    with pytest.raises(RuleViolation, match="analyst of a result of batch 7"):
        rules.check_release_signer("qc", ops, analysts, batch="7")


def test_the_analyst_does_not_approve_the_invalidation() -> None:
    rules.check_invalidation_approver("qa.reviewer", "qc", result="result 4")
    with pytest.raises(RuleViolation, match="analyst of result 4"):
        rules.check_invalidation_approver("qc", " qc ", result="result 4")


def test_phase_i_needs_a_finding_and_an_invalidation_its_justification() -> None:
    finding = "Calculation, standards and instrument checked"
    rules.check_phase_i(OosStatus.PHASE_I, assignable=False, finding=finding, retest_reason="")
    with pytest.raises(InputError, match="field 'finding'"):
        rules.check_phase_i(OosStatus.PHASE_I, assignable=False, finding="ok", retest_reason="")
    with pytest.raises(InputError, match="field 'justification'"):
        rules.check_phase_i(OosStatus.PHASE_I, assignable=True, finding=finding, retest_reason="")
    with pytest.raises(RuleViolation, match="not in phase I"):
        rules.check_phase_i(OosStatus.PHASE_II, assignable=False, finding=finding, retest_reason="")
    with pytest.raises(RuleViolation, match="not in phase II"):
        rules.check_phase_ii(OosStatus.INVALIDATED, conclusion=finding, impact=finding)
    assert OosStatus.INVALIDATED.closed and OosStatus.CONFIRMED.closed
    assert not OosStatus.PHASE_I.closed and not OosStatus.PHASE_II.closed


def test_a_late_failure_after_infusion_tells_the_physician() -> None:
    after = rules.late_failure_actions("Sterility", infused=True, batch="7")
    before = rules.late_failure_actions("Sterility", infused=False, batch="7")
    assert "inform the treating physician" in after[-1]
    assert "quarantine" in before[-1] and "physician" not in before[-1]
