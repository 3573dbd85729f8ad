"""QC release in the store, on SQLite and PostgreSQL, on the demo (quality/demo.py): the
specification version in force, results that are never overwritten (by the service and by the
database), the OOS investigation with its two-person invalidation, every precondition of
release refused by name, the QA approver's independence, conditional release completed by its
last result and escalated by a failing one, the exceptional-release path with the sponsor's
sign-off, custody refused until release, and two QA approvers releasing at once."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from vein2vein.auth import service as auth
from vein2vein.auth.scope import Scope, administration_scope
from vein2vein.core.clock import utcnow
from vein2vein.core.errors import InputError, PermissionDenied, RuleViolation
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.identity import custody, intake
from vein2vein.identity.tables import Order
from vein2vein.manufacturing.tables import Batch, Deviation
from vein2vein.quality import oos, release, results, specs
from vein2vein.quality.release_rules import ReleaseState
from vein2vein.quality.results import ResultInput
from vein2vein.quality.tables import QcInvestigation, QcRelease, QcResult
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor


class Demo:
    """Acts on a database holding the demo (the ``demo_db`` fixture)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.read() as s:
            self.batch = {b.order.number: b.id for b in s.scalars(select(Batch)) if b.order}

    def scope(self, who: str) -> Scope:
        with self.db.read() as s:
            return auth.scope_of(auth.user_by_username(s, who))

    def act(self, who: str, fn: Any, *args: Any, **kw: Any) -> Any:
        scope = self.scope(who)
        with self.db.uow(Actor(scope.username, scope.user_id, scope.organisation_id)) as uow:
            out = fn(uow, scope, *args, **kw)
            uow.commit()
            return out

    def signed(self, who: str, fn: Any, *args: Any, **kw: Any) -> Any:
        return self.act(
            who, fn, self.db.settings, *args, username=who, password=DEMO_PASSWORD, **kw
        )

    def states(self) -> dict[str, str]:
        with self.db.read() as s:
            return {r["order"]: r["state"] for r in release.list_releases(s, self.scope("qc"))}


def _enter(d: Demo, order: str, test: str, value: str, unit: str | None = None, **kw: Any) -> Any:
    return d.act(
        "qc",
        results.enter_result,
        ResultInput(batch=d.batch[order], test=test, value=value, unit=unit, **kw),
    )


def test_demo_release_states_results_and_refusals(demo_db: Database) -> None:
    db = demo_db
    d = Demo(db)
    # the demo's stories (quality/demo.py)
    assert d.states() == {
        "HLX-EPC-01-0007": "released",
        "HLX-EPC-01-0008": "released",
        "HLX-EPC-01-0009": "released",
        "HLX-EPC-01-0010": "released",
        "HLX-EPC-01-0011": "pending",
        "HLX-EPC-01-0012": "pending",
        "HLX-EPC-01-0001": "released",
        "HLX-EPC-01-0002": "conditional",
        "HLX-EPC-01-0003": "pending",
        "HLX-EPC-01-0013": "pending",
        # the product and outcome demo's orders (insights/outcome_demo.py)
        "HLX-EPC-01-0014": "released",
        "HLX-EPC-01-0015": "released",
        "HLX-EPC-01-0016": "released",
        "HLX-EPC-01-0017": "released",
    }
    with db.read() as s:
        b = s.get_one(Batch, d.batch["HLX-EPC-01-0011"])
        spec = specs.for_batch(s, b)
        assert spec is not None and specs.label(spec) == "HLX-EPC-01 drug_product iit v1"
        # the version in force when the batch was made: none before the approval
        assert (
            specs.in_force(s, specs.program_of(b), spec.effective_at - dt.timedelta(seconds=1))
            is None
        )
        # the OOS story: the invalidated 64.2 % stays, beside its retest
        oos_batch = d.batch["HLX-EPC-01-0010"]
        via = [
            (r.value_text, r.outcome, r.valid, r.attempt)
            for r in results.all_results(s, oos_batch)
            if r.test_code == "viability"
        ]
        assert via[0] == ("64.2", "does not conform", False, 1) and via[1][2:] == (True, 2)
        (inv,) = oos.of_batch(s, oos_batch)
        assert inv.status == "invalidated" and inv.closed_by == "qa.reviewer"
        # calculated viable CAR+ T cells = TNC × viability × CD3+ × CAR+ (calculated.py)
        valid = results.valid_results(s, b.id)
        expected = 1.0
        for code in ("tnc", "viability", "cd3", "car_positive"):
            r = valid[code]
            expected *= float(r.value) * (1e9 if code == "tnc" else 0.01)
        assert float(valid["car_t_cells"].value) * 1e8 == pytest.approx(expected, rel=1e-5)
        assert valid["car_t_cells"].source == "calculated"

    # a result is never overwritten: a second viability is refused, nothing written
    with pytest.raises(RuleViolation, match="never overwritten"):
        _enter(d, "HLX-EPC-01-0011", "viability", "95", "%")
    # the calculated result cannot be typed
    with pytest.raises(InputError, match="calculated by the system"):
        _enter(d, "HLX-EPC-01-0011", "car_t_cells", "3", "10^8 cells")
    # a wrong unit names the field
    with pytest.raises(InputError, match="field 'unit'"):
        _enter(d, "HLX-EPC-01-0003", "viability", "5", "mL")
    # the sponsor reads but never enters
    with pytest.raises(PermissionDenied):
        d.act(
            "helixa.clinical",
            results.enter_result,
            ResultInput(batch=d.batch["HLX-EPC-01-0003"], test="viability", value="90", unit="%"),
        )
    # the database refuses an edit of a value or a deletion
    for sql in (
        "UPDATE qc_result SET value_text = '99' WHERE id = (SELECT min(id) FROM qc_result)",
        "DELETE FROM qc_result WHERE id = (SELECT min(id) FROM qc_result)",
        "DELETE FROM qc_release WHERE id = (SELECT min(id) FROM qc_release)",
    ):
        with pytest.raises((DBAPIError, IntegrityError)), db.engine.begin() as conn:
            conn.execute(text(sql))

    # release refused for each missing precondition, every blocker named
    review = d.batch["HLX-EPC-01-0012"]
    with pytest.raises(RuleViolation) as refused:
        d.signed("qa.approver", release.release, review)
    assert "is not QA-approved" in str(refused.value)
    assert "is not closed" in str(refused.value)  # its open deviation
    in_progress = d.batch["HLX-EPC-01-0003"]
    with pytest.raises(RuleViolation, match="no valid result for Viability"):
        d.signed("qa.approver", release.release, in_progress)
    failed = d.batch["HLX-EPC-01-0013"]
    with pytest.raises(RuleViolation, match="failed at TRANSDUCE"):
        d.signed("qa.approver", release.release, failed)
    with pytest.raises(RuleViolation, match="already released"):
        d.signed("qa.approver", release.release, d.batch["HLX-EPC-01-0007"])

    # custody: the unreleased product may not be released to custody
    target = d.batch["HLX-EPC-01-0011"]
    with db.read() as s:
        order = s.get_one(Batch, target).order
        order_id = order.id
    req = intake.EventRequest(
        step="released",
        occurred_at=utcnow() - dt.timedelta(minutes=1),
        location="Northbridge Ghent GMP",
    )
    with pytest.raises(RuleViolation, match="not released by QA"):
        d.act("qa.approver", custody.record_event, order_id, req)

    # two people: the operator may not release; a verifier of the record may not either, even
    # with the role
    with pytest.raises(PermissionDenied):
        d.signed("operator", release.release, target)
    with db.uow(Actor("admin")) as uow:
        auth.set_role(
            uow, administration_scope("admin"), "qa.reviewer", "qa_approver", "covering leave"
        )
        uow.commit()
    with pytest.raises(RuleViolation, match="worked on the batch record"):
        d.signed("qa.reviewer", release.release, target)

    # the QA approver releases: every result in, so released (not conditional)
    d.signed("qa.approver", release.release, target)
    assert d.states()["HLX-EPC-01-0011"] == "released"
    with db.read() as s:
        rel = s.scalars(select(QcRelease).where(QcRelease.batch_id == target)).one()
        assert rel.decided_by == "qa.approver" and rel.state == "released"
        assert release.custody_refusal(s, s.get_one(Order, order_id)) is None
        assert audit.verify(s).ok
    # a signed release is locked: the database refuses a change of its decision
    with pytest.raises((DBAPIError, IntegrityError)), db.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM qc_release WHERE batch_id = {target}"))


def test_conditional_release_completes_or_escalates(demo_db: Database) -> None:
    db = demo_db
    d = Demo(db)
    batch = d.batch["HLX-EPC-01-0002"]
    with db.read() as s:
        rel = s.scalars(select(QcRelease).where(QcRelease.batch_id == batch)).one()
        assert rel.state == "conditional" and "vcn" in rel.pending and rel.completed_at is None
        order = s.get_one(Batch, batch).order
        assert release.custody_refusal(s, order) is None  # conditional: may go on
    # the pending VCN fails (5.4 → 5.4 > 5.0): investigation, deviation, escalation
    _enter(d, "HLX-EPC-01-0002", "vcn", "5.4", "copies/transduced cell")
    with db.read() as s:
        rel = s.scalars(select(QcRelease).where(QcRelease.batch_id == batch)).one()
        assert rel.escalated_at is not None and rel.completed_at is None
        inv = s.scalars(select(QcInvestigation).where(QcInvestigation.batch_id == batch)).one()
        # 0002's product reached the treatment site but was not infused: quarantine it
        assert inv.after_release and "was not infused: quarantine it" in (inv.escalation or "")
        dev = s.scalars(
            select(Deviation).where(Deviation.batch_id == batch, Deviation.source == "qc_result")
        ).one()
        assert "conditionally released" in dev.title
        refusal = release.custody_refusal(s, s.get_one(Batch, batch).order)
        assert refusal is not None and "escalated" in refusal
        order_id = s.get_one(Batch, batch).order_id
    # the product at the treatment site may no longer be issued for infusion
    issue = intake.EventRequest(
        step="issued", occurred_at=utcnow() - dt.timedelta(minutes=1), location="Ward 4"
    )
    with pytest.raises(RuleViolation, match="escalated"):
        d.act("helixa.clinical", custody.record_event, order_id, issue)
    with db.read() as s:
        assert release.list_releases(s, d.scope("qa.approver"))[7]["escalated"] is True


def test_oos_exceptional_release_with_sponsor_sign_off(demo_db: Database) -> None:
    db = demo_db
    d = Demo(db)
    # an out-of-specification endotoxin on the batch still in progress (no results yet)
    target = d.batch["HLX-EPC-01-0003"]
    (bad,) = d.act(
        "qc",
        results.enter_results,
        [ResultInput(batch=target, test="endotoxin", value="7.2", unit="EU/mL")],
    )
    with db.read() as s:
        inv = s.scalars(select(QcInvestigation).where(QcInvestigation.result_id == bad.id)).one()
        assert inv.status == "phase_i" and inv.number.startswith("OOS-")
    # no retest while the result stands (no testing into compliance)
    with pytest.raises(RuleViolation, match="already has a valid result"):
        _enter(d, "HLX-EPC-01-0003", "endotoxin", "0.2", "EU/mL")  # no testing into compliance
    # the analyst cannot run the investigation (no permission) ...
    with pytest.raises(PermissionDenied):
        d.signed("qc", oos.conclude_phase_i, inv.id, finding="x" * 30, assignable=False)
    # ... nor approve the invalidation of their own result, whatever their role
    with db.uow(Actor("admin")) as uow:
        auth.set_role(uow, administration_scope("admin"), "qc", "qa_approver", "test")
        uow.commit()
    with pytest.raises(RuleViolation, match="analyst of result"):
        d.signed(
            "qc",
            oos.conclude_phase_i,
            inv.id,
            finding="Recalculated; pipetting of the standard curve checked",
            assignable=True,
            justification="The LAL standard curve was made with the wrong diluent lot, assignable",
        )
    # no laboratory error: phase II, then QA's confirmation (signed)
    d.signed(
        "qa.reviewer",
        oos.conclude_phase_i,
        inv.id,
        finding="Calculation, standards, reagent lots and the reader all checked and in order.",
        assignable=False,
    )
    d.signed(
        "qa.approver",
        oos.close_phase_ii,
        inv.id,
        conclusion="Endotoxin confirmed above limit; source: a contaminated buffer lot.",
        impact="Batch 0003 only: the buffer lot was used in no other open batch.",
    )
    with db.read() as s:
        assert s.get_one(QcInvestigation, inv.id).status == "confirmed"
        assert s.get_one(QcResult, bad.id).valid  # the result stands
    # the exceptional path: QA records the physician's request; QA and the sponsor sign
    # (the batch is still in progress, so release stays blocked by its record: the path is
    # shown on its own)
    with pytest.raises(InputError, match="no_alternative"):
        d.act(
            "qa.approver",
            release.request_exception,
            target,
            physician="Dr. A. Jansen",
            physician_request="LUMC-2026-118",
            requested_on=utcnow().date(),
            no_alternative="none",
            risk_assessment="Endotoxin 7.2 EU/mL at 68 mL is 7 EU/kg/h for 70 kg: acceptable",
            authority_notification="Competent authority informed within 48 h per protocol",
        )
    d.act(
        "qa.approver",
        release.request_exception,
        target,
        physician="Dr. A. Jansen",
        physician_request="LUMC-2026-118",
        requested_on=utcnow().date(),
        no_alternative="No apheresis material left; patient progressing, no time to re-collect",
        risk_assessment="Endotoxin 7.2 EU/mL at 68 mL is 7 EU/kg/h for 70 kg: acceptable",
        authority_notification="Competent authority informed within 48 h per protocol",
    )
    with db.read() as s:
        assert release.exception_missing(s, release.exception_of(s, target)) == (
            "quality assurance",
            "sponsor",
        )
    # the analyst of the failing result (now a QA approver) may not sign for QA
    with pytest.raises(RuleViolation, match="cannot sign as quality assurance"):
        d.signed("qc", release.sign_exception, target)
    d.signed("qa.approver", release.sign_exception, target)
    with pytest.raises(RuleViolation, match="already signed"):
        d.signed("qa.approver", release.sign_exception, target)
    d.signed("helixa.clinical", release.sign_exception, target)
    with db.read() as s:
        assert release.exception_missing(s, release.exception_of(s, target)) == ()
        page = release.release_page(s, d.scope("qa.approver"), target)
        by_name = {p.name: p for p in page["preconditions"]}
        assert by_name["Results conform and the dose can be filled"].met
        assert "covered by the signed exceptional release" in (
            by_name["Results conform and the dose can be filled"].detail
        )
        assert not by_name["Batch record approved, deviations closed"].met
    # another sponsor never sees it
    with db.read() as s, pytest.raises(Exception, match="not found"):
        release.release_page(s, d.scope("corvane.clinical"), target)


def test_two_qa_approvers_releasing_at_once_make_one_release(demo_db: Database) -> None:
    db = demo_db
    d = Demo(db)
    with db.uow(Actor("admin")) as uow:
        auth.create_user(
            uow,
            administration_scope("admin", d.scope("qa.approver").organisation_id),
            db.settings,
            username="qa.second",
            full_name="Ines Duarte",
            organisation=d.scope("qa.approver").organisation_id,
            role="qa_approver",
            password=DEMO_PASSWORD,
        )
        uow.commit()
    target = d.batch["HLX-EPC-01-0011"]
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def releaser(who: str) -> None:
        scope = d.scope(who)
        try:
            with db.uow(Actor(who, scope.user_id, scope.organisation_id)) as uow:
                start.wait()
                release.release(
                    uow, scope, db.settings, target, username=who, password=DEMO_PASSWORD
                )
                uow.commit()
            outcomes[who] = "released"
        except Exception as exc:  # reported below
            outcomes[who] = exc

    threads = [threading.Thread(target=releaser, args=(w,)) for w in ("qa.approver", "qa.second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [w for w, o in outcomes.items() if o == "released"]
    assert len(done) == 1, outcomes
    (other,) = [o for o in outcomes.values() if o != "released"]
    assert isinstance(other, RuleViolation) and "already released" in str(other), outcomes
    with db.read() as s:
        assert len(s.scalars(select(QcRelease).where(QcRelease.batch_id == target)).all()) == 1
        assert d.states()["HLX-EPC-01-0011"] == ReleaseState.RELEASED.value
        assert audit.verify(s).ok
