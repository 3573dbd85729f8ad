"""Bounded SQL per page (issue 15): every list page sends as many SQL statements with 600 rows
as with 10. A count that grows with the rows is an N+1 (a lazy load per row, or a ``selectinload``
whose IN list SQLAlchemy splits in chunks of 500 ids: 600 rows, all of which the CDMO reader sees,
make two chunks, as 1,000 did; the rows are made through the services, so fewer is faster).

The statements are counted with SQLAlchemy's ``before_cursor_execute`` event on the engine, over
HTTP with a logged-in client (authentication included: it must not grow either), for a CDMO user
who sees every client's rows and for a sponsor's user, on SQLite and PostgreSQL. The rows are made
through the real services: patients and their orders (a few with custody events, bags and a
hand-off mismatch), programs, clinical studies, a published plan over every order, and the audit
entries all of that writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from tests.factories import PASSWORD, SERVER
from tests.integration.identity import world as W
from tests.integration.scheduling import world as S
from tests.sqlcount import statements
from tests.webclient import logged_in

from vein2vein.clinical.studies import create_study
from vein2vein.identity import custody, intake, orders
from vein2vein.identity.domain import Step
from vein2vein.identity.tables import Order
from vein2vein.programs.service import create_program
from vein2vein.store.database import Database

PAGES = ("/coi", "/coi/patients", "/schedule", "/clinical", "/programs", "/audit")
#: who reads: a CDMO role that reads every list (audit trail included) and a sponsor's user
READERS = ("admin", "a.clinical")
#: LARGE: more than SQLAlchemy's 500 ids per selectinload query, for the CDMO reader
SMALL, LARGE = 10, 600


def grow(w: W.World, upto: int) -> None:
    """Patients with an order each, programs and studies until there are ``upto`` of each
    (made in a few units of work: one per sponsor and batch, as fast as the services go)."""
    have = w.ids.get("rows", 0)
    today = dt.date.today()
    for sponsor in ("a", "b"):
        who = f"{sponsor}.clinical"
        with w.db.uow(w.actor(who)) as uow:
            for n in range(have, upto):
                if (n % 2 == 0) != (sponsor == "a"):
                    continue
                patient = orders.enrol_patient(
                    uow,
                    w.scopes[who],
                    program_id=w.ids[f"program_{sponsor}"],
                    subject_id=f"SUB-{n:05d}",
                    treatment_site_id=w.ids[f"site_{sponsor}"],
                )
                orders.place_order(
                    uow,
                    w.scopes[who],
                    intake.OrderRequest(
                        patient_id=patient.id,
                        product_code="S1234100",
                        dose_level="DL1",
                        weight_kg="70",
                        planned_apheresis=today + dt.timedelta(days=2 + n % 20),
                        required_by=today + dt.timedelta(days=40 + n % 20),
                        starting_material="cryopreserved",
                        markers=W.MARKERS_NEG,
                    ),
                )
            uow.commit()
    with w.db.uow(w.actor("admin")) as uow:
        for n in range(have, upto):
            sponsor = "ab"[n % 2]
            program = create_program(uow, SERVER, w.ids[sponsor], code=f"PRG-{n:05d}", name="P")
            uow.session.flush()
            create_study(uow, SERVER, program_id=program.id, code=f"STU-{n:05d}", title="Study")
        uow.commit()
    w.ids["rows"] = upto


def walk_one(w: W.World) -> None:
    """Orders with custody events, bags and an open hand-off mismatch: every relation a list
    row may read has rows."""
    walked = S.place(w, subject="WALK-001", apheresis_in_days=-10)
    S.start_manufacturing(w, walked, "WALK-001")
    W.register_bags(w, walked, 2)
    stopped = S.place(w, subject="HLX-001", apheresis_in_days=-10)  # the subject W.walk scans
    W.assign_din(w, stopped)
    at = W.walk(w, stopped, Step.SHIPPED)
    with w.db.read() as session:
        wrong = session.get_one(Order, walked)
        scans = W.label_scans(str(wrong.apheresis_din), session.get_one(Order, stopped).coi)
    with pytest.raises(custody.HandoffStopped):
        W.record(w, stopped, Step.RECEIVED, at, scans=scans)


def counts(w: W.World, clients: dict[str, Any]) -> dict[tuple[str, str], int]:
    """Statements per (reader, page), each page read once before it is counted."""
    S.publish(w, S.draft(w, method="greedy"))
    out = {}
    for who in READERS:
        c = clients[who]
        for page in PAGES:
            first = c.get(page)
            assert first.status_code in (200, 403), (who, page, first.status_code)
            with statements(w.db) as sent:
                again = c.get(page)
            assert again.status_code == first.status_code
            out[(who, page)] = len(sent)
    return out


def test_statements_per_list_page_do_not_grow_with_rows(db: Database) -> None:
    w = S.build(db)
    walk_one(w)
    grow(w, SMALL)
    # each reader logged in once: the same client (app and session) reads at both sizes
    clients = {who: logged_in(db, who, PASSWORD)[0] for who in READERS}
    small = counts(w, clients)
    grow(w, LARGE)
    large = counts(w, clients)
    # the audit trail names the records on its page with one query per kind of record present
    # (orders, programs, ...: ``features.entity_labels``), so its count follows the mix of kinds
    # on the newest page, bounded by the kinds, never by the rows: it may not grow
    grown = {
        k: (small[k], large[k])
        for k in small
        if large[k] != small[k] and not (k[1] == "/audit" and large[k] < small[k])
    }
    assert not grown, f"statements at {SMALL} rows, {LARGE} rows: {grown}"
    # the pages read what they show: a sponsor's list holds only their own rows
    page = clients["a.clinical"].get("/coi/patients").text
    assert "SUB-00000" in page and "SUB-00001" not in page
