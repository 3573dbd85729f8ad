"""The operator's tablet page (``/batches/{id}/execute``) and QA's review by exception
(``/batches/{id}/review``) through HTTP, on the batch world of ``tests/batch_world.py`` (EpCAM v1
MBR, released lots): each form's happy path and each of its refusals (with the HTTP status, the
field named and nothing written), who sees which form, and the approval that locks the record.

The numbers come from epcam_v1.yaml: RECEIPT's transit temperature has target 5 °C, NOR 2-8 °C
and PAR 1-10 °C (12 °C opens a deviation); the age at receipt NOR ≤ 36 h and PAR ≤ 48 h (40 h
is flagged); the TNC is a control with a second person (limits ≥ 2 × 10^9 cells).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from tests import batch_world as BW
from tests.factories import PASSWORD
from tests.integration.identity import world as W
from tests.integration.manufacturing import test_batches as T
from tests.unit.manufacturing.test_execution import NOMINAL
from tests.webclient import logged_in

from vein2vein.manufacturing import batches, deviations, execution, lots
from vein2vein.manufacturing.tables import Deviation
from vein2vein.store.database import Database

DONE = re.compile(r"/batches/(\d+)/execute\?done=(\d+)$")


class Tablet:
    """A logged-in user's forms of one batch's execution page."""

    def __init__(self, db: Database, who: str, batch_id: int) -> None:
        self.c, self.csrf = logged_in(db, who, PASSWORD)
        self.url = f"/batches/{batch_id}/execute"

    def page(self) -> str:
        r = self.c.get(self.url)
        assert r.status_code == 200, r.text[:500]
        return r.text

    def post(self, action: str, **data: Any) -> Any:
        return self.c.post(
            f"{self.url}/{action}",
            data={k: str(v) for k, v in data.items()} | {"csrf_token": self.csrf},
            follow_redirects=False,
        )

    def ok(self, action: str, **data: Any) -> tuple[int, str]:
        """Post, expect the redirect back to the page naming the event made, follow it."""
        r = self.post(action, **data)
        assert r.status_code == 303, r.text[:2000]
        match = DONE.search(r.headers["location"])
        assert match, r.headers["location"]
        page = self.c.get(r.headers["location"])
        assert page.status_code == 200
        return int(match.group(2)), page.text


def refused(r: Any, status: int, field: str | None, *words: str) -> str:
    assert r.status_code == status, (r.status_code, r.text[:2000])
    text = r.text
    if field is not None:
        assert f'data-field="{field}"' in text, text[:3000]
    for w in words:
        assert w in text, (w, re.findall(r'<p class="error"[^>]*>.*?</p>', text, re.S))
    return text


def _events(w: W.World, batch_id: int) -> int:
    return len(T.record(w, batch_id).events)


def _item(html: str, code: str) -> str:
    """The card of one parameter or control on the page."""
    match = re.search(rf'<article class="item" data-entry="{code}".*?</article>', html, re.S)
    assert match, code
    return match.group(0)


def _world(db: Database) -> tuple[W.World, int]:
    w = BW.build(db)
    return w, T.new_batch(w, BW.order_with_din(w))


def test_operator_works_receipt_on_the_tablet_page_with_every_refusal(sqlite_db: Database) -> None:
    db = sqlite_db
    w, bid = _world(db)
    ops = Tablet(db, "operator", bid)
    qa = Tablet(db, "qa", bid)
    approver = Tablet(db, "approver", bid)
    din = T.record(w, bid).din

    # the current step only, not started: the start form with the planned suite preselected
    html = ops.page()
    assert 'data-step="RECEIPT" data-step-status="not_started"' in html
    assert 'data-step="SELECT"' not in html and "data-entry" not in html
    assert 'name="suite" value="Suite 2"' in html
    assert f'href="/batches/{bid}"' in html  # back to the whole record
    # another suite without a reason: refused on the reason field, nothing written
    r = ops.post("start", step="RECEIPT", suite="Suite 3", reason="")
    refused(r, 422, "reason", "not the planned Suite 2")
    assert _events(w, bid) == 0
    # started in the planned suite: the page now shows the entries with unit, target, NOR, PAR
    seq, html = ops.ok("start", step="RECEIPT", suite="Suite 2", reason="")
    assert seq == 1 and 'data-done="StepStarted"' in html
    card = _item(html, "transit_temperature")
    for shown in ("°C", "Target</dt><dd>5 °C", "2–8 °C", "1–10 °C"):
        assert shown in card, shown
    assert "Alert limits</dt><dd>≥ 80 %" in _item(html, "viability")
    # the lot scan field is focused for the keyboard-wedge scanner
    assert re.search(r'<input name="lot" class="scanner"[^>]*autofocus', html)

    # a value outside the PAR: a deviation, its number shown right after the entry
    seq, html = ops.ok("value", step="RECEIPT", entry="transit_temperature", value="12", unit="°C")
    with db.read() as session:
        dev = session.query(Deviation).filter_by(batch_id=bid).one()
        assert (dev.entry_id, dev.status) == (seq, "open")
    assert 'data-done="ValueEntered" data-verdict="deviation"' in html
    assert f'data-deviation="{dev.number}"' in html and "outside the acceptable range" in html
    # outside the NOR, inside the PAR: flagged; inside: ok
    _, html = ops.ok("value", step="RECEIPT", entry="age_at_receipt", value="40", unit="h")
    assert 'data-verdict="flag"' in html and "flagged for review" in html
    # a value typed in another unit is converted: 3 200 × 10^6 cells = 3.2 × 10^9 cells
    _, html = ops.ok("value", step="RECEIPT", entry="tnc", value="3200", unit="10^6 cells")
    assert 'data-verdict="ok"' in html and "3.2 10^9 cells" in _item(html, "tnc")

    # refusals of an entry: not a number, a unit of another dimension, a second entry
    before = _events(w, bid)
    refused(ops.post("value", step="RECEIPT", entry="viability", value="ninety", unit="%"),
            422, "value", "enter a number")  # fmt: skip
    refused(ops.post("value", step="RECEIPT", entry="viability", value="90", unit="mL"),
            422, "value", "viability")  # fmt: skip
    refused(ops.post("value", step="RECEIPT", entry="tnc", value="3", unit="10^9 cells"),
            422, "value", "entered already: correct it")  # fmt: skip
    assert _events(w, bid) == before

    # a correction needs a reason; the original stays, struck through, with the reason
    refused(ops.post("correct", step="RECEIPT", entry="transit_temperature", value="5",
                     unit="°C", reason=""), 422, "reason", "Reason: required")  # fmt: skip
    refused(ops.post("correct", step="RECEIPT", entry="transit_temperature", value="5",
                     unit="°C", reason="typo"), 422, "reason", "needs a reason")  # fmt: skip
    assert _events(w, bid) == before
    why = "logger read in the wrong column"
    seq, html = ops.ok("correct", step="RECEIPT", entry="transit_temperature", value="5",
                       unit="°C", reason=why)  # fmt: skip
    card = _item(html, "transit_temperature")
    assert "<del>12 °C</del>" in card and "<strong>5 °C</strong>" in card and why in card
    assert 'data-done="ValueEntered" data-verdict="ok"' in html and "Corrected:" in html

    # second person: the one who entered cannot verify (a clear message); QA can
    tnc = T.record(w, bid).current("RECEIPT", "tnc")
    assert tnc is not None
    refused(ops.post("verify", seq=tnc.seq), 422, "seq", "another person than operator")
    _, html = qa.ok("verify", seq=tnc.seq)
    assert "verified by qa" in _item(html, "tnc") and 'data-done="Verified"' in html
    refused(qa.post("verify", seq=tnc.seq), 422, "seq", "verified already")

    # the apheresis is scanned by its DIN: another DIN is refused, naming both
    refused(ops.post("scan", step="RECEIPT", material="APH", lot="A999926999990"),
            422, "lot", "A999926999990", din)  # fmt: skip
    refused(ops.post("scan", step="RECEIPT", material="APH", lot=""), 422, "lot", "scan or type")
    _, html = ops.ok("scan", step="RECEIPT", material="APH", lot=din)
    assert f'data-lot="{din}"' in html and "Lot <span" in html

    # sign-off: refused while an entry is missing, without a password, with a wrong one
    step_hash = re.search(r'name="shown_hash" value="([0-9a-f]{64})"', html)
    assert step_hash
    sign = {"step": "RECEIPT", "username": "operator", "shown_hash": step_hash.group(1)}
    refused(ops.post("signoff", **sign, password=PASSWORD), 422, "password", "missing viability")
    ops.ok("value", step="RECEIPT", entry="viability", value="95", unit="%")
    qa.ok("verify", seq=T.record(w, bid).lot("RECEIPT", "APH").seq)  # type: ignore[union-attr]
    # the cell counter's instrument: scanned into its form (asset number and calibration due)
    refused(ops.post("equipment", step="RECEIPT", equipment="COUNTER", instrument="",
                     calibration_due=""), 422, "instrument", "asset number")  # fmt: skip
    asset, due = BW.instrument("COUNTER")
    _, html = ops.ok("equipment", step="RECEIPT", equipment="COUNTER", instrument=asset,
                     calibration_due=due.isoformat())  # fmt: skip
    assert 'data-done="EquipmentUsed"' in html and f'data-instrument="{asset}"' in html
    assert "calibration in date" in html and "data-deviation" not in html
    html = ops.page()
    sign["shown_hash"] = re.search(r'name="shown_hash" value="([0-9a-f]{64})"', html).group(1)  # type: ignore[union-attr]
    refused(ops.post("signoff", **sign, password=""), 422, "password", "user name and password")
    refused(ops.post("signoff", **sign, password="wrong-password"), 401, "password")
    assert T.record(w, bid).step_status("RECEIPT") is execution.StepStatus.IN_PROGRESS
    _, html = ops.ok("signoff", **sign, password=PASSWORD)
    assert 'data-done="StepSignedOff"' in html and "data-hold" in html
    # the QA hold: waits for QA; the operator has no form, the approver has
    assert f'action="/batches/{bid}/execute/hold"' not in html
    html = approver.page()
    assert f'action="/batches/{bid}/execute/hold"' in html
    assert f'action="/batches/{bid}/execute/value"' not in html  # QA does not execute
    refused(approver.post("hold", step="RECEIPT", decision="release", reason=""), 422, "reason")
    refused(ops.post("hold", step="RECEIPT", decision="release", reason="fine"), 403, None)
    _, html = approver.ok("hold", step="RECEIPT", decision="release", reason="criteria met")
    assert 'data-done="QaDecision"' in html
    assert 'data-step="SELECT" data-step-status="not_started"' in ops.page()
    # a stale form of a signed-off step changes nothing
    refused(ops.post("value", step="RECEIPT", entry="tnc", value="3", unit="10^9 cells"),
            422, "value", "signed off")  # fmt: skip


def test_a_refused_lot_names_the_lot_and_why(sqlite_db: Database) -> None:
    db = sqlite_db
    w, bid = _world(db)
    T.run_step(w, bid, "RECEIPT")
    T.act(w, "operator", batches.start_step, bid, "SELECT")
    today = dt.date.today()
    with db.uow(w.actor("qa")) as uow:
        scope = w.scopes["qa"]
        made = {
            name: lots.receive_lot(
                uow, scope, material="CD4CD8", lot_number=name, supplier="s",
                expiry=today + dt.timedelta(days=days), quantity="1",
            ).id
            for name, days in (("CD4-Q", 100), ("CD4-R", 100), ("CD4-OLD", -1))
        }  # fmt: skip
        lots.decide_lot(uow, scope, made["CD4-R"], "rejected", "CoA out of specification")
        uow.commit()
    ops = Tablet(db, "operator", bid)
    before = _events(w, bid)
    for lot, why in (
        ("CD4-Q", "in quarantine, not released"),
        ("CD4-R", "rejected by QA"),
        ("CD4-OLD", "expired on"),
        ("BEADS-L1", "needs material CD4CD8, not BEADS"),
        ("NO-SUCH-LOT", "not a lot received here"),
    ):
        text = refused(ops.post("scan", step="SELECT", material="CD4CD8", lot=lot), 422, "lot")
        alert = re.search(r'<p class="error" role="alert"[^>]*>(.*?)</p>', text, re.S)
        assert alert and lot in alert.group(1) and why in alert.group(1), (lot, alert)
        # the scanner field is offered again, focused, with what was scanned
        assert re.search(rf'name="lot" class="scanner"[^>]*value="{lot}"[^>]*autofocus', text)
    assert _events(w, bid) == before
    _, html = ops.ok("scan", step="SELECT", material="CD4CD8", lot="CD4CD8-L1")
    assert 'data-lot="CD4CD8-L1"' in html


def test_calculated_values_are_shown_with_their_formula_never_typed(sqlite_db: Database) -> None:
    db = sqlite_db
    w, bid = _world(db)
    for step in ("RECEIPT", "SELECT", "ACTIVATE"):
        T.run_step(w, bid, step)
    ops = Tablet(db, "operator", bid)
    ops.ok("start", step="TRANSDUCE", suite="Suite 2", reason="")
    ops.ok("value", step="TRANSDUCE", entry="viable_cells", value="0.9", unit="10^8 cells")
    ops.ok("value", step="TRANSDUCE", entry="moi", value="3", unit="TU/cell")
    html = ops.page()
    card = _item(html, "vector_volume")
    assert "V = MOI × viable cells / functional titer" in card and "Waits for its inputs" in card
    assert 'name="value"' not in card  # never typed
    _, html = ops.ok("scan", step="TRANSDUCE", material="LV-EPCAM", lot="LV-EPC-2026-001")
    # 3 TU/cell × 0.9 × 10^8 cells / 3.2 × 10^8 TU/mL = 0.84375 mL
    card = _item(html, "vector_volume")
    assert "<strong>0.84375 mL</strong>" in card and "calculated" in card
    assert 'name="value"' not in card and "Correct this value" not in card
    refused(ops.post("value", step="TRANSDUCE", entry="vector_volume", value="1", unit="mL"),
            422, "value", "calculated by the system")  # fmt: skip


def test_who_sees_the_forms(sqlite_db: Database) -> None:
    db = sqlite_db
    w, bid = _world(db)
    T.act(w, "operator", batches.start_step, bid, "RECEIPT")
    T.act(w, "operator", batches.enter_value, bid, "RECEIPT", "tnc", 3.2, "10^9 cells")
    forms = re.compile(r'action="/batches/\d+/execute/(\w+)"')
    assert set(forms.findall(Tablet(db, "operator", bid).page())) == {
        "value", "correct", "verify", "scan", "equipment", "signoff",
    }  # fmt: skip
    # QA reviewer: read-only, except the second person's verification
    assert set(forms.findall(Tablet(db, "qa", bid).page())) == {"verify"}
    # the sponsor of the order: the status only; the other sponsor: not found
    sponsor = Tablet(db, "a.viewer", bid)
    html = sponsor.page()
    assert 'data-status="IN_PROGRESS"' in html and "data-entry" not in html
    assert not forms.findall(html) and T.record(w, bid).din not in html
    refused(sponsor.post("start", step="RECEIPT"), 403, None)
    other = Tablet(db, "b.clinical", bid)
    assert other.c.get(other.url).status_code == 404
    assert other.post("value", step="RECEIPT", entry="tnc", value="1", unit="x").status_code == 404
    assert other.c.get(f"/batches/{bid}/review").status_code == 404
    # the batch page links to both working pages
    page = sponsor.c.get(f"/batches/{bid}").text
    assert f'href="/batches/{bid}/execute"' in page and f'href="/batches/{bid}/review"' in page


def _complete_with_exceptions(w: W.World, bid: int) -> None:
    """RECEIPT with 12 °C (a deviation) corrected to 5 °C and an age of 40 h (flagged);
    SELECT in another suite with a reason; TRANSDUCE's vector volume left unverified; every
    other step nominal; then submitted to QA."""
    T.run_step(w, bid, "RECEIPT", {"transit_temperature": (12, "°C"),
                                   "age_at_receipt": (40, "h")}, sign=False)  # fmt: skip
    T.act(w, "operator", batches.correct, bid, "RECEIPT", "transit_temperature", 5, "°C",
          reason="logger read in the wrong column")  # fmt: skip
    T.signed(w, "operator", batches.sign_off_step, bid, "RECEIPT")
    T.act(w, "approver", batches.decide_hold, bid, "RECEIPT", released=True, reason="accepted")
    T.act(w, "operator", batches.start_step, bid, "SELECT", suite="Suite 4",
          reason="Suite 2 in cleaning after a spill")  # fmt: skip
    for entry, (value, unit) in NOMINAL["SELECT"].items():
        T.act(w, "operator", batches.enter_value, bid, "SELECT", entry, value, unit)
    T.act(w, "operator", batches.scan_lot, bid, "SELECT", "CD4CD8", "CD4CD8-L1")
    BW.use_equipment(w, bid, "SELECT")
    T.signed(w, "operator", batches.sign_off_step, bid, "SELECT")
    T.run_step(w, bid, "ACTIVATE")
    T.act(w, "operator", batches.start_step, bid, "TRANSDUCE")
    for entry, (value, unit) in NOMINAL["TRANSDUCE"].items():
        T.act(w, "operator", batches.enter_value, bid, "TRANSDUCE", entry, value, unit)
    T.act(w, "operator", batches.scan_lot, bid, "TRANSDUCE", "LV-EPCAM", "LV-EPC-2026-001")
    rec = T.record(w, bid)
    for e in rec.events:
        scanned_or_typed = isinstance(e, execution.LotScanned) or (
            isinstance(e, execution.ValueEntered) and not e.calculated
        )
        if e.step == "TRANSDUCE" and scanned_or_typed and execution.unverified(rec, e):  # type: ignore[arg-type]
            T.act(w, "qa", batches.verify, bid, e.seq)
    BW.use_equipment(w, bid, "TRANSDUCE")
    T.signed(w, "operator", batches.sign_off_step, bid, "TRANSDUCE")
    for step in ("EXPAND", "HARVEST", "FORMULATE", "FREEZE"):
        T.run_step(w, bid, step)
    T.act(w, "operator", batches.submit, bid)


def test_qa_reviews_by_exception_and_approves_with_a_signature(sqlite_db: Database) -> None:
    db = sqlite_db
    w, bid = _world(db)
    _complete_with_exceptions(w, bid)
    qa, _ = logged_in(db, "qa", PASSWORD)
    # the work queue and the batch list filtered to the records awaiting QA
    home = qa.get("/").text
    assert re.search(r'data-queue="mfg.batches_in_review">\s*<a href="/batches\?status=IN_REVIEW">'
                     r'<span class="n">1</span>', home)  # fmt: skip
    listed = qa.get("/batches?status=IN_REVIEW").text
    assert f'data-batch="{bid}"' in listed
    assert f'data-batch="{bid}"' not in qa.get("/batches?status=IN_PROGRESS").text
    assert qa.get("/batches?status=NONSENSE").status_code == 422

    html = qa.get(f"/batches/{bid}/review").text
    kinds = re.findall(r'<li data-exception="(\w+)" data-seq="(\d+)"', html)
    rec = T.record(w, bid)
    transit = rec.history("RECEIPT", "transit_temperature")
    age = rec.current("RECEIPT", "age_at_receipt")
    volume = rec.current("TRANSDUCE", "vector_volume")
    select_start = rec.of(execution.StepStarted, "SELECT")[0]
    assert age is not None and volume is not None
    # only the exceptions, in record order: the value 12 °C (deviation), the age (flagged), its
    # correction, the other suite, the calculated vector volume nobody verified
    assert kinds == [
        ("deviation", str(transit[0].seq)),
        ("flagged", str(age.seq)),
        ("correction", str(transit[1].seq)),
        ("suite_override", str(select_start.seq)),
        ("unverified", str(volume.seq)),
    ]
    with db.read() as session:
        dev = session.query(Deviation).filter_by(batch_id=bid).one()
    assert f'data-deviation="{dev.number}"' in html and "<strong>open</strong>" in html.lower()
    assert re.search(r"<del data-original>12 °C</del>.*?<ins>5 °C</ins>.*?logger read", html, re.S)
    assert "Suite 2 in cleaning after a spill" in html
    assert f'href="/batches/{bid}#entry-{transit[0].seq}"' in html
    assert f'href="/batches/{bid}#step-SELECT"' in html
    # the entries QA does not need to look at are not listed
    assert "cd3_purity" not in html and "seeding_density" not in html
    # the batch page has the anchors the review links to
    page = qa.get(f"/batches/{bid}").text
    assert f'id="entry-{transit[0].seq}"' in page and 'id="step-SELECT"' in page
    # the reviewer (no approval right) sees no form and is refused
    assert "/review/approve" not in html
    csrf = re.search(r'name="csrf_token" value="([^"]*)"', html).group(1)  # type: ignore[union-attr]
    r = qa.post(f"/batches/{bid}/review/approve",
                data={"csrf_token": csrf, "username": "qa", "password": PASSWORD})  # fmt: skip
    assert r.status_code == 403

    approver, _ = logged_in(db, "approver", PASSWORD)
    html = approver.get(f"/batches/{bid}/review").text
    assert f'action="/batches/{bid}/review/approve"' in html and "data-open-deviations" in html
    csrf = re.search(r'name="csrf_token" value="([^"]*)"', html).group(1)  # type: ignore[union-attr]
    shown = re.search(r'name="shown_hash" value="([0-9a-f]{64})"', html).group(1)  # type: ignore[union-attr]

    def approve(password: str, shown_hash: str) -> Any:
        return approver.post(
            f"/batches/{bid}/review/approve",
            data={"csrf_token": csrf, "username": "approver", "password": password,
                  "shown_hash": shown_hash},
            follow_redirects=False,
        )  # fmt: skip

    # refused while the deviation is open, with the service's own message
    refused(approve(PASSWORD, shown), 422, None, f"deviations not closed: {dev.number}")
    T.act(w, "qa", deviations.classify, dev.id, classification="minor",
          root_cause="transcription from the logger")  # fmt: skip
    T.signed(w, "qa", deviations.close, dev.id)
    html = approver.get(f"/batches/{bid}/review").text
    assert "data-open-deviations" not in html and "<strong>closed</strong>" in html.lower()
    # what QA saw before the deviation was closed is not what would be signed now
    text = refused(approve(PASSWORD, shown), 422, None)
    assert "shown" in text or "changed" in text, re.findall(r'class="error"[^>]*>(.*?)<', text)
    shown = re.search(r'name="shown_hash" value="([0-9a-f]{64})"', html).group(1)  # type: ignore[union-attr]
    refused(approve("", shown), 422, "password", "user name and password")
    refused(approve("wrong-password", shown), 401, None)
    assert T.record(w, bid) and _status(db, w, bid) == batches.IN_REVIEW
    r = approve(PASSWORD, shown)
    assert r.status_code == 303 and r.headers["location"] == f"/batches/{bid}/review"
    html = approver.get(r.headers["location"]).text
    assert 'data-status="APPROVED"' in html and "/review/approve" not in html
    manifest = re.findall(r'<tr data-signature="(\w+)"><td>([^<]+)</td>', html)
    assert manifest[-1] == ("approved", "approval of the record")
    assert [m for m, _ in manifest].count("authored") == len(rec.mbr.operations)
    # approved: locked; a late approval or entry is refused (409)
    refused(approve(PASSWORD, shown), 409, None, "can no longer be edited")
    ops = Tablet(db, "operator", bid)
    assert "Nothing to execute" in ops.page()
    assert ops.post("verify", seq=volume.seq).status_code == 409


def _status(db: Database, w: W.World, bid: int) -> str:
    with db.read() as session:
        return batches.get_batch(session, w.scopes["qa"], bid).status


def test_review_shows_a_value_out_of_trend_against_earlier_batches(sqlite_db: Database) -> None:
    """Five complete earlier batches of the same MBR harvested 3.8, 3.9, 4.0, 4.1 and 4.2 ×
    10^9 viable cells (mean 4.0, sample SD 0.158: trend limits 3.526 to 4.474); this batch's
    6.0 × 10^9 is inside the NOR (1-10) but out of trend. Every other value is the same in all
    batches, so nothing else is out of trend."""
    db = sqlite_db
    w = BW.build(db)
    steps = [op.code for op in T.record(w, T.new_batch(w, BW.order_with_din(w))).mbr.operations]
    for n, cells in enumerate((3.8, 3.9, 4.0, 4.1, 4.2)):
        bid = T.new_batch(w, BW.order_with_din(w, subject=f"HLX-10{n}"))
        for step in steps:
            values = {"viable_cells": (cells, "10^9 cells")} if step == "HARVEST" else None
            T.run_step(w, bid, step, values)
    bid = T.new_batch(w, BW.order_with_din(w, subject="HLX-200"))
    for step in steps:
        T.run_step(
            w, bid, step, {"viable_cells": (6.0, "10^9 cells")} if step == "HARVEST" else None
        )
    qa, _ = logged_in(db, "qa", PASSWORD)
    html = qa.get(f"/batches/{bid}/review").text
    kinds = re.findall(r'<li data-exception="(\w+)" data-seq="(\d+)"', html)
    harvested = T.record(w, bid).current("HARVEST", "viable_cells")
    assert harvested is not None
    assert kinds == [("out_of_trend", str(harvested.seq))], re.findall(r"outside mean[^<]*", html)
    assert "outside mean ± 3 SD of 5 earlier batches (3.526 to 4.474)" in html
    # not in review yet: no approval form, and the page says so
    assert "/review/approve" not in html and "QA approves it once it is complete" in html


def test_a_qa_hold_not_released_fails_the_batch_on_the_page(sqlite_db: Database) -> None:
    db = sqlite_db
    w, bid = _world(db)
    T.run_step(w, bid, "RECEIPT", sign=False)
    T.signed(w, "operator", batches.sign_off_step, bid, "RECEIPT")
    approver = Tablet(db, "approver", bid)
    html = approver.page()
    assert "Accept the starting material for manufacturing?" in html
    r = approver.post("hold", step="RECEIPT", decision="maybe", reason="not sure at all")
    refused(r, 422, "decision", "release or do not release")
    seq, html = approver.ok("hold", step="RECEIPT", decision="reject", reason="bag leaking")
    assert 'data-done="QaDecision"' in html and "not released" in html
    assert 'data-status="FAILED"' in html and "The batch failed at RECEIPT" in html
    assert "bag leaking" in html and "/execute/" not in html.split("</header>", 1)[1]
    review = approver.c.get(f"/batches/{bid}/review").text
    assert re.search(rf'data-exception="qa_hold_not_released" data-seq="{seq}"', review)


def test_tricky_text_in_every_field_is_refused_without_a_server_error(sqlite_db: Database) -> None:
    """The demo-wide form fuzz reaches these forms only when the demo has a batch; here every
    field of every form gets the texts that broke forms elsewhere (other scripts' digits, huge
    numbers, control characters), on a batch with an open step."""
    db = sqlite_db
    w, bid = _world(db)
    T.act(w, "operator", batches.start_step, bid, "RECEIPT")
    T.act(w, "operator", batches.enter_value, bid, "RECEIPT", "tnc", 3.2, "10^9 cells")
    forms = {
        "start": ("step", "suite", "reason"),
        "value": ("step", "entry", "value", "unit"),
        "correct": ("step", "entry", "value", "unit", "reason"),
        "verify": ("seq",),
        "scan": ("step", "material", "lot"),
        "signoff": ("step", "username", "password", "shown_hash"),
        "hold": ("step", "decision", "reason"),
        "submit": (),
    }
    good = {"step": "RECEIPT", "entry": "viability", "value": "90", "unit": "%",
            "material": "APH", "seq": "2", "suite": "Suite 2"}  # fmt: skip
    tricky = ("²", "١٢", "1e400", "NaN", "9" * 30, "-5", "\x00", " ", "１２", "x" * 3000, "'; --")
    ops, approver = Tablet(db, "operator", bid), Tablet(db, "approver", bid)
    for action, fields in forms.items():
        who = approver if action == "hold" else ops
        for name in fields:
            for text in tricky:
                r = who.post(action, **(good | {name: text}))
                assert r.status_code < 500, (action, name, text, r.text[:300])
    r = approver.c.post(f"/batches/{bid}/review/approve",
                        data={"csrf_token": approver.csrf, "username": "١٢", "password": "\x00",
                              "shown_hash": "9" * 30})  # fmt: skip
    assert r.status_code < 500


def test_an_instrument_past_its_calibration_opens_a_deviation_from_the_tablet(
    sqlite_db: Database,
) -> None:
    """epcam_v1.yaml: RECEIPT uses the cell counter (COUNTER), whose calibration is checked on
    the day of use: due yesterday is overdue, so the instrument is recorded, shown as overdue,
    and a deviation opens; recording another instrument needs a reason and keeps both."""
    w, bid = _world(sqlite_db)
    ops = Tablet(sqlite_db, "operator", bid)
    ops.ok("start", step="RECEIPT", suite="Suite 2", reason="")
    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    refused(ops.post("equipment", step="RECEIPT", equipment="COUNTER", instrument="NC-7",
                     calibration_due=""), 422, "calibration_due")  # fmt: skip
    assert _events(w, bid) == 1  # refused: nothing written
    _, html = ops.ok("equipment", step="RECEIPT", equipment="COUNTER", instrument="NC-7",
                     calibration_due=yesterday)  # fmt: skip
    number = re.search(r'data-deviation="([^"]+)"', html)
    assert number and "calibration overdue" in html
    with sqlite_db.read() as session:
        devs = session.query(Deviation).filter(Deviation.batch_id == bid).all()
    assert [d.number for d in devs] == [number.group(1)]
    # another instrument: the reason is asked for, then both stay in the record
    refused(ops.post("equipment", step="RECEIPT", equipment="COUNTER", instrument="NC-8",
                     calibration_due="2099-01-01", reason=""), 422, "reason")  # fmt: skip
    _, html = ops.ok("equipment", step="RECEIPT", equipment="COUNTER", instrument="NC-8",
                     calibration_due="2099-01-01", reason="NC-7 out of calibration")  # fmt: skip
    assert 'data-instrument="NC-8"' in html
    used = T.record(w, bid).of(execution.EquipmentUsed, "RECEIPT")
    assert [(u.instrument, u.verdict.value) for u in used] == [
        ("NC-7", "deviation"),
        ("NC-8", "ok"),
    ]
