"""Release of one batch and investigation of an out-of-specification result: the rules.

Release (21 CFR 211.165 and 211.22, EU GMP Annex 16, EudraLex Vol. 4 Part IV §11): the quality
unit releases a batch only when

1. its batch record is approved and every deviation is closed (``manufacturing.release_gate``);
2. a specification version was in force when the batch was made;
3. every test of that specification has a valid result that conforms (a ``report_only`` test
   needs its result, never a judgement);
4. every out-of-specification investigation of the batch is closed;
5. the dose can be filled (``dose.plan_dose`` not flagged);

except that

* a test marked ``after_release`` (14-day sterility, VCN by qPCR) may still be pending: the
  release is then **conditional**, says so on the certificate, and is tracked until every
  pending result is in; a failing late result escalates (:func:`late_failure_actions`);
* a batch whose results or dose do not conform may be given to its own patient under a fully
  signed **exceptional release** (``dose.ExceptionalRelease``; EudraLex Vol. 4 Part IV, the
  section on out-of-specification ATMPs): the failing tests and the dose are then not
  blockers, but a missing result, an open investigation or the batch record still are.

Two people (EU GMP Part I §2.7 and Annex 16 §1.7; 21 CFR 211.22(a)): the QA person who releases
took no part in making or testing the batch: no operator or verifier of its record, no analyst
of any of its results (:func:`check_release_signer`). The analyst of an out-of-specification
result does not approve its invalidation (FDA OOS guidance 2006, rev. 2022, §III.B: the
supervisor's assessment; :func:`check_invalidation_approver`).

Out-of-specification investigation (FDA OOS guidance §III-IV), one per OOS result:

====================  =====================================================================
state                 meaning
====================  =====================================================================
``phase_i``           laboratory investigation open (analyst and supervisor: method,
                      calculation, instrument, standards)
``invalidated``       closed: an assignable laboratory error was found, the result was
                      invalidated with its justification (signed by someone other than its
                      analyst); a retest result is then needed
``phase_ii``          no laboratory error: full-scale investigation (batch record, its
                      deviations, other batches), the result stands
``confirmed``         closed: phase II concluded and signed; the OOS result stands (the batch
                      is rejected or given under an exceptional release)
====================  =====================================================================

Nothing is ever overwritten: an invalidated result stays, marked invalid, beside its retest.

Pure: no database, web or template code (tests/unit/architecture/test_import_rules.py).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from vein2vein.core.errors import InputError, RuleViolation

# --------------------------------------------------------------------------------------------
# states
# --------------------------------------------------------------------------------------------


class ReleaseState(StrEnum):
    """What ``v2v release list`` prints for a batch."""

    PENDING = "pending"
    RELEASED = "released"
    CONDITIONAL = "conditional"
    EXCEPTIONAL = "exceptional"
    REJECTED = "rejected"


#: states in which the product may be labelled, shipped and infused
RELEASED_STATES = frozenset(
    {ReleaseState.RELEASED, ReleaseState.CONDITIONAL, ReleaseState.EXCEPTIONAL}
)


class Outcome(StrEnum):
    """The state of one test of a batch, as the release page shows it."""

    CONFORMS = "conforms"
    DOES_NOT_CONFORM = "does not conform"
    REPORTED = "reported"  # a report-only test with its result
    MISSING = "missing"  # no valid result yet


class OosStatus(StrEnum):
    PHASE_I = "phase_i"
    INVALIDATED = "invalidated"
    PHASE_II = "phase_ii"
    CONFIRMED = "confirmed"

    @property
    def closed(self) -> bool:
        return self in (OosStatus.INVALIDATED, OosStatus.CONFIRMED)

    @property
    def text(self) -> str:
        return {
            OosStatus.PHASE_I: "phase I (laboratory) open",
            OosStatus.INVALIDATED: "closed: laboratory error, result invalidated",
            OosStatus.PHASE_II: "phase II (full-scale) open",
            OosStatus.CONFIRMED: "closed: out of specification confirmed",
        }[self]


# --------------------------------------------------------------------------------------------
# release
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestState:
    code: str
    name: str
    outcome: Outcome
    after_release: bool = False


@dataclass(frozen=True)
class ReleaseFacts:
    """What the release decision needs to know of one batch (the store gathers it).

    ``record_blockers``: ``manufacturing.release_gate.release_blockers`` of the batch;
    ``spec``: the specification version in force when the batch was made ("HLX-EPC-01
    drug_product iit v1"), None when there was none; ``open_investigations``: numbers of OOS
    investigations not closed; ``dose_problem``: why the dose cannot be filled, or None (also
    None while the dose cannot be computed for want of results: those are missing results);
    ``exception``: whether an exceptional release is fully signed (all sign-offs)."""

    batch: str
    record_blockers: Sequence[str] = ()
    spec: str | None = None
    tests: Sequence[TestState] = ()
    open_investigations: Sequence[str] = ()
    dose_problem: str | None = None
    exception_signed: bool = False
    state: ReleaseState = ReleaseState.PENDING


@dataclass(frozen=True)
class Precondition:
    """One line of the release page: what must hold, whether it does, and why not."""

    name: str
    met: bool
    detail: str
    blocks: bool = True  # False: shown, but a conditional release may go ahead


@dataclass(frozen=True)
class ReleaseCheck:
    preconditions: tuple[Precondition, ...]
    pending: tuple[str, ...]  # after-release tests still without a result
    nonconforming: tuple[str, ...]  # tests (and the dose) out of specification
    state: ReleaseState  # the state a release now would give (PENDING: none possible)
    blockers: tuple[str, ...] = field(default=())

    @property
    def releasable(self) -> bool:
        return not self.blockers


def check_release(facts: ReleaseFacts) -> ReleaseCheck:
    """Every precondition of releasing ``facts.batch`` and its state, in a fixed order; the
    blockers name what stops a release now. Pure and total: a page shows them all at once."""
    b = facts.batch
    pre: list[Precondition] = []
    blockers: list[str] = []

    def add(name: str, problems: Sequence[str], ok_text: str, *, blocks: bool = True) -> None:
        pre.append(Precondition(name, not problems, "; ".join(problems) or ok_text, blocks))
        if blocks:
            blockers.extend(problems)

    if facts.state is ReleaseState.REJECTED:
        blockers.append(f"batch {b} was rejected")
    elif facts.state is not ReleaseState.PENDING:
        blockers.append(f"batch {b} is already released ({facts.state.value})")
    add("Batch record approved, deviations closed", list(facts.record_blockers), "yes")
    spec_problem = (
        []
        if facts.spec
        else [f"no specification was in force for batch {b} when it was made (approve one)"]
    )
    add("Specification in force when made", spec_problem, facts.spec or "")
    missing_now = [
        t.name for t in facts.tests if t.outcome is Outcome.MISSING and not t.after_release
    ]
    pending = tuple(t.code for t in facts.tests if t.outcome is Outcome.MISSING and t.after_release)
    add(
        "Every release test has a result",
        [f"no valid result for {name}" for name in missing_now],
        f"{sum(t.outcome is not Outcome.MISSING for t in facts.tests)} of {len(facts.tests)}",
    )
    failing = [t for t in facts.tests if t.outcome is Outcome.DOES_NOT_CONFORM]
    nonconforming = [t.code for t in failing]
    if facts.dose_problem:
        nonconforming.append("dose")
    spec_lines = [f"{t.name} does not conform" for t in failing]
    if facts.dose_problem:
        spec_lines.append(f"dose: {facts.dose_problem}")
    covered = facts.exception_signed
    add(
        "Results conform and the dose can be filled",
        [] if covered else spec_lines,
        "yes" if not spec_lines else "covered by the signed exceptional release",
    )
    add(
        "Out-of-specification investigations closed",
        [f"investigation {n} is not closed" for n in facts.open_investigations],
        "none open",
    )
    add(
        "Results that may follow release",
        [f"{code} pending" for code in pending],
        "all in",
        blocks=False,
    )
    if blockers:
        state = ReleaseState.PENDING
    elif spec_lines:
        state = ReleaseState.EXCEPTIONAL
    elif pending:
        state = ReleaseState.CONDITIONAL
    else:
        state = ReleaseState.RELEASED
    return ReleaseCheck(tuple(pre), pending, tuple(nonconforming), state, tuple(blockers))


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def check_release_signer(
    signer: str, operators: Collection[str], analysts: Collection[str], *, batch: str
) -> None:
    """The QA person who releases took no part in making or testing the batch."""
    who = _key(signer)
    if who in {_key(n) for n in operators}:
        raise RuleViolation(
            f"{signer} worked on the batch record of batch {batch} and cannot release it: "
            "another QA approver releases (EU GMP Part I 2.7, Annex 16)"
        )
    if who in {_key(n) for n in analysts}:
        raise RuleViolation(
            f"{signer} is the analyst of a result of batch {batch} and cannot release it: "
            "another QA approver releases"
        )


def check_invalidation_approver(approver: str, analyst: str, *, result: str) -> None:
    """The analyst of an out-of-specification result does not approve its invalidation."""
    if _key(approver) == _key(analyst):
        raise RuleViolation(
            f"{approver} is the analyst of {result} and cannot approve its invalidation: the "
            "supervisor or QA assesses the laboratory investigation (FDA OOS guidance, III.B)"
        )


# --------------------------------------------------------------------------------------------
# out-of-specification investigation
# --------------------------------------------------------------------------------------------

MIN_TEXT = 20


def check_phase_i(status: OosStatus, *, assignable: bool, finding: str, retest_reason: str) -> None:
    """Phase I ends one of two ways: an assignable laboratory error (invalidate and retest)
    or none (phase II). The finding is written either way."""
    if status is not OosStatus.PHASE_I:
        raise RuleViolation(f"the investigation is {status.text}, not in phase I")
    if len(finding.strip()) < MIN_TEXT:
        raise InputError(
            f"write what the laboratory investigation found (at least {MIN_TEXT} characters)",
            field="finding",
        )
    if assignable and len(retest_reason.strip()) < MIN_TEXT:
        raise InputError(
            "justify the invalidation: the assignable laboratory error and why it explains the "
            f"result (at least {MIN_TEXT} characters)",
            field="justification",
        )


def check_phase_ii(status: OosStatus, *, conclusion: str, impact: str) -> None:
    if status is not OosStatus.PHASE_II:
        raise RuleViolation(f"the investigation is {status.text}, not in phase II")
    for name, text in (("conclusion", conclusion), ("impact", impact)):
        if len(text.strip()) < MIN_TEXT:
            raise InputError(f"must be written (at least {MIN_TEXT} characters)", field=name)


# --------------------------------------------------------------------------------------------
# after a conditional release
# --------------------------------------------------------------------------------------------


def late_failure_actions(test: str, *, infused: bool, batch: str) -> list[str]:
    """What a failing result that arrives after a conditional release sets in motion."""
    actions = [
        f"out-of-specification investigation of {test} of batch {batch} opened",
        f"deviation opened: {test} of a conditionally released batch does not conform",
    ]
    if infused:
        actions.append(
            "the product was infused: inform the treating physician and the sponsor at once "
            "(patient follow-up; the sponsor assesses expedited safety reporting, "
            "21 CFR 312.32 / EU CTR Art. 41-42)"
        )
    else:
        actions.append(
            "the product was not infused: quarantine it and tell the treatment site not to infuse"
        )
    return actions
