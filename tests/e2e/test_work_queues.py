"""Work queues on the home page (issue 11): each role's counts against a built world, each count's
link filtering its list to exactly the rows counted, and a sponsor's counts never holding
another sponsor's orders.

The expected rows are derived by hand from the rule of ``identity/due.py``: the next main step
is due at the planned apheresis (08:00, order's zone) when nothing is recorded, else its typical
duration after the last step (``DEFAULT_STEP_DURATIONS``: receipt 1 day after shipment, release
17 days after the start of manufacturing).
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from tests import factories
from tests.factories import PASSWORD
from tests.integration.identity import world as W
from tests.webclient import logged_in

from vein2vein.audittrail import service as audit_service
from vein2vein.auth import service as auth
from vein2vein.auth import tokens
from vein2vein.auth.tables import ApiToken
from vein2vein.clinical import studies
from vein2vein.core.errors import AuthenticationFailed
from vein2vein.identity import custody
from vein2vein.identity.domain import Step
from vein2vein.identity.tables import Order
from vein2vein.scheduling import settings as schedule_settings
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

QUEUE = re.compile(r'data-queue="([\w.]+)">\s*<a href="([^"]+)"><span class="n">(\d+)</span>', re.S)
ORDER_ROW = re.compile(r'data-order="([^"]+)"')


def _queues(html: str) -> dict[str, tuple[str, int]]:
    return {key: (href.replace("&amp;", "&"), int(n)) for key, href, n in QUEUE.findall(html)}


def _number(db: Database, order_id: int) -> str:
    with db.read() as session:
        return session.get_one(Order, order_id).number


def _walk(
    w: W.World, order_id: int, until: Step, start: dt.datetime, site: str = "a.clinical"
) -> dt.datetime:
    """Record the main steps up to ``until``, 20 hours apart (site steps by ``site``)."""
    at = start
    for step in W.MAIN:
        who = site if step in W.SITE else "operator"
        W.record(w, order_id, step, at, who=who, patient=_patient(w.db, order_id))
        if step is until:
            return at
        at += dt.timedelta(hours=20)
    return at


def _patient(db: Database, order_id: int) -> dict[str, str]:
    with db.read() as session:
        subject = session.get_one(Order, order_id).patient.subject_id
    return {"subject_id": subject, "date_of_birth": W.DOB}


class Built:
    """The world of tests/integration/identity/world.py with orders in known states."""

    def __init__(self, db: Database) -> None:
        w = self.w = W.build(db)
        # the product's own durations (docs/identity.md, "Delivery projection"): 1 day inbound,
        # 10 of manufacturing, 3 of rapid QC, 2 of shipping
        with db.uow(Actor("factory")) as uow:
            schedule_settings.set_product(
                uow,
                w.scopes["qa"],
                product_code="S1234100",
                name="HLX-101",
                process_days=10,
                start_weekdays="Mon-Sun",
                qc_method="rapid",
                qc_days_rapid=3,
                qc_days_compendial=14,
                inbound_days=1,
                ship_days=2,
            )
            uow.commit()
        now = dt.datetime.now(dt.UTC)
        today = now.astimezone(ZoneInfo("Europe/Amsterdam")).date()  # the orders' zone
        # sponsor A
        self.a_planned_today = W.order(w, W.enrol(w, subject="HLX-001"), planned_apheresis=today)
        self.a_planned_later = W.order(
            w, W.enrol(w, subject="HLX-002"), planned_apheresis=today + dt.timedelta(days=5)
        )
        self.a_shipped = W.order(w, W.enrol(w, subject="HLX-003"))
        W.assign_din(w, self.a_shipped)
        shipped_start = now - dt.timedelta(days=2, hours=40)  # shipped two days ago
        _walk(w, self.a_shipped, Step.SHIPPED, shipped_start)
        self.a_manufacturing = W.order(w, W.enrol(w, subject="HLX-004"))
        W.assign_din(w, self.a_manufacturing)
        _walk(w, self.a_manufacturing, Step.MANUFACTURING_STARTED, now - dt.timedelta(days=4))
        # on hold: receipt scanned with another order's DIN
        self.a_on_hold = W.order(w, W.enrol(w, subject="HLX-005"))
        W.assign_din(w, self.a_on_hold)
        at = _walk(w, self.a_on_hold, Step.SHIPPED, shipped_start)
        with db.read() as session:
            coi = session.get_one(Order, self.a_on_hold).coi
            wrong = session.get_one(Order, self.a_shipped).apheresis_din
        with pytest.raises(custody.HandoffStopped):
            W.record(w, self.a_on_hold, Step.RECEIVED, at, scans=W.label_scans(str(wrong), coi))
        # sponsor B
        self.b_shipped = W.order(
            w, W.enrol(w, who="b.clinical", subject="CRV-001", sponsor="b"), who="b.clinical"
        )
        W.assign_din(w, self.b_shipped)
        _walk(w, self.b_shipped, Step.SHIPPED, shipped_start, site="b.clinical")
        self.b_planned_today = W.order(
            w,
            W.enrol(w, who="b.clinical", subject="CRV-002", sponsor="b"),
            who="b.clinical",
            planned_apheresis=today,
        )


@pytest.fixture
def built(sqlite_db: Database) -> Built:
    return Built(sqlite_db)


def _home(db: Database, username: str) -> dict[str, tuple[str, int]]:
    c, _ = logged_in(db, username, PASSWORD)
    return _queues(c.get("/").text)


def _listed_orders(db: Database, username: str, href: str) -> set[str]:
    c, _ = logged_in(db, username, PASSWORD)
    page = c.get(href)
    assert page.status_code == 200, page.text[:300]
    return set(ORDER_ROW.findall(page.text))


def test_operator_sees_the_hand_offs_due_at_the_manufacturer(built: Built) -> None:
    db = built.w.db
    queues = _home(db, "operator")
    # receipt due one day after a shipment two days ago: A's and B's shipped orders; the order
    # on hold waits for QA; release (10 + 3 days after start) is not due; collection is the site's
    expected = {_number(db, built.a_shipped), _number(db, built.b_shipped)}
    assert queues == {"coi.due_today": ("/coi?queue=due_today", 2)}
    assert _listed_orders(db, "operator", "/coi?queue=due_today") == expected


def test_sponsor_clinical_sees_only_its_own_orders(built: Built) -> None:
    db = built.w.db
    a, b = _home(db, "a.clinical"), _home(db, "b.clinical")
    # A: collection planned today (the other collection is in 5 days); five orders in flight
    assert a["coi.due_today"] == ("/coi?queue=due_today", 1)
    assert a["coi.in_flight"] == ("/coi?queue=in_flight", 5)
    assert b["coi.due_today"] == ("/coi?queue=due_today", 1)
    assert b["coi.in_flight"] == ("/coi?queue=in_flight", 2)
    mine = {built.a_planned_today}
    assert _listed_orders(db, "a.clinical", "/coi?queue=due_today") == {
        _number(db, i) for i in mine
    }
    a_orders = [
        built.a_planned_today,
        built.a_planned_later,
        built.a_shipped,
        built.a_manufacturing,
        built.a_on_hold,
    ]
    b_orders = {_number(db, built.b_shipped), _number(db, built.b_planned_today)}
    listed_a = _listed_orders(db, "a.clinical", "/coi?queue=in_flight")
    assert listed_a == {_number(db, i) for i in a_orders}
    assert _listed_orders(db, "b.clinical", "/coi?queue=in_flight") == b_orders
    assert not listed_a & b_orders
    assert _listed_orders(db, "b.clinical", "/coi?queue=due_today") == {
        _number(db, built.b_planned_today)
    }


def test_qa_sees_open_mismatches_and_the_link_lists_exactly_them(built: Built) -> None:
    db = built.w.db
    queues = _home(db, "qa")
    assert queues["coi.open_mismatches"] == ("/coi/mismatches?status=open", 1)
    c, _ = logged_in(db, "qa", PASSWORD)
    page = c.get("/coi/mismatches?status=open").text
    assert page.count(f">{_number(db, built.a_on_hold)}<") >= 1
    assert c.get("/coi/mismatches?status=nonsense").status_code == 422
    # audit reviews: none started yet, every entry since the start is unreviewed
    assert queues["audit.reviews_to_sign"] == ("/audit/reviews?signed=no", 0)
    assert queues["audit.unreviewed"][1] > 0


def test_reviews_to_sign_link_lists_exactly_the_unsigned_reviews(built: Built) -> None:
    db = built.w.db
    qa = built.w.scopes["qa"]
    with db.uow(Actor("qa")) as uow:
        signed = audit_service.create_review(uow, qa, "first").id
        uow.commit()
    with db.uow(Actor("qa")) as uow:
        audit_service.sign_review(uow, qa, db.settings, signed, username="qa", password=PASSWORD)
        uow.commit()
    with db.uow(Actor("qa")) as uow:
        unsigned = audit_service.create_review(uow, qa, "second").id
        uow.commit()
    assert _home(db, "qa")["audit.reviews_to_sign"] == ("/audit/reviews?signed=no", 1)
    c, _ = logged_in(db, "qa", PASSWORD)
    rows = re.compile(r'data-review="(\d+)"')
    assert rows.findall(c.get("/audit/reviews?signed=no").text) == [str(unsigned)]
    assert rows.findall(c.get("/audit/reviews?signed=yes").text) == [str(signed)]
    assert set(rows.findall(c.get("/audit/reviews").text)) == {str(signed), str(unsigned)}
    bad = c.get("/audit/reviews?signed=maybe")
    assert bad.status_code == 422 and "signed" in bad.text and "maybe" in bad.text


def test_a_queue_link_says_which_queue_the_list_shows(built: Built) -> None:
    c, _ = logged_in(built.w.db, "operator", PASSWORD)
    page = c.get("/coi?queue=due_today").text
    assert 'id="queue-filter"' in page and "Hand-offs due today" in page
    assert 'id="queue-filter"' not in c.get("/coi").text


def test_unknown_queue_is_refused_with_its_name(built: Built) -> None:
    c, _ = logged_in(built.w.db, "operator", PASSWORD)
    r = c.get("/coi?queue=tomorrow")
    assert r.status_code == 422 and "tomorrow" in r.text and "due_today" in r.text


def test_admin_sees_locked_accounts_and_expiring_tokens(sqlite_db: Database) -> None:
    db = sqlite_db
    cdmo = factories.org(db, "CDMO", "Northbridge")
    factories.user(db, cdmo, "admin", username="root")
    for name in ("locked.one", "token.soon", "token.later", "token.revoked"):
        factories.user(db, cdmo, "operator", username=name)
    for _ in range(db.settings.lockout_threshold):
        with pytest.raises(AuthenticationFailed), db.uow(Actor.anonymous()) as uow:
            auth.authenticate(uow, db.settings, "locked.one", "wrong password")
    for name, days in (("token.soon", 7), ("token.later", 30), ("token.revoked", 3)):
        with db.uow(Actor("t")) as uow:
            scope = auth.scope_of(auth.user_by_username(uow.session, name))
            row, _ = tokens.create_token(uow, scope, "script", days)
            if name == "token.revoked":
                uow.session.get_one(ApiToken, row.id).revoked_at = dt.datetime.now(dt.UTC)
            uow.commit()
    queues = _home(db, "root")
    assert queues == {
        "auth.locked": ("/users?locked=1", 1),
        "auth.tokens_expiring": ("/users?tokens=expiring", 1),
    }
    c, _ = logged_in(db, "root", PASSWORD)
    users = re.compile(r'data-user="([^"]+)"')
    assert set(users.findall(c.get("/users?locked=1").text)) == {"locked.one"}
    assert set(users.findall(c.get("/users?tokens=expiring").text)) == {"token.soon"}
    assert len(users.findall(c.get("/users").text)) == 5
    assert c.get("/users?locked=yes").status_code == 422


def test_sponsor_clinical_sees_studies_awaiting_upload(built: Built) -> None:
    db = built.w.db
    w = built.w
    for who, sponsor, code in (("a.clinical", "a", "HLX-S1"), ("b.clinical", "b", "CRV-S1")):
        with db.uow(w.actor(who)) as uow:
            studies.create_study(
                uow, w.scopes[who], program_id=w.ids[f"program_{sponsor}"], code=code, title="T"
            )
            uow.commit()
    assert _home(db, "a.clinical")["clinical.awaiting_upload"] == ("/clinical?datasets=none", 1)
    c, _ = logged_in(db, "a.clinical", PASSWORD)
    listed = set(re.findall(r'data-study="([^"]+)"', c.get("/clinical?datasets=none").text))
    assert listed == {"HLX-S1"}


def test_qc_analyst_home_shows_the_tests_due(built: Built) -> None:
    """The QC analyst's queue came with the QC release (issue 13): in this world no batch has
    QC tests to report, so the queue shows 0 and links to the worklist."""
    db = built.w.db
    cdmo = factories.org(db, "CDMO", "Other CDMO")
    factories.user(db, cdmo, "qc_analyst", username="qc")
    c, _ = logged_in(db, "qc", PASSWORD)
    home = c.get("/").text
    assert _queues(home) == {"qc.tests_due": ("/qc", 0)}
    assert "data-queue-none" not in home
