"""What a failed log-in leaves in the audit trail (issue 10, finding 4).

The probe typed a password into the user-name field: it stayed in the audit trail for good (as
the entry's id and in its actor). A failure for an unknown name is now recorded without what was
typed; a failure for an existing account keeps the account's id, as before.
"""

from __future__ import annotations

import pytest
from tests import factories
from tests.factories import PASSWORD
from tests.webclient import client, login

from vein2vein.auth import service
from vein2vein.core.errors import AuthenticationFailed
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

TYPED = "Secret-typed-in-the-name-field-7"


def _trail_text(db: Database) -> str:
    with db.read() as session:
        return "\n".join(
            f"{e.actor}|{e.entity_type}|{e.entity_id}|{e.before}|{e.after}|{e.reason}"
            for e in audit.query(session)
        )


def test_a_name_typed_at_a_failed_log_in_is_kept_nowhere(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    factories.user(db, cdmo, "operator", username="olga")
    # the caller's actor names what was typed (as the command line's log-in does): not kept
    with db.uow(Actor.anonymous(TYPED)) as uow, pytest.raises(AuthenticationFailed):
        service.authenticate(uow, db.settings, TYPED, "anything-at-all")
    assert TYPED not in _trail_text(db)
    with db.read() as session:
        entry = audit.query(session)[-1]
    assert (entry.action, entry.entity_type) == ("auth.login_failed", "login_attempt")
    assert entry.actor == "anonymous:login" and entry.after == '{"reason":"unknown user name"}'


def test_a_failed_log_in_of_an_existing_account_keeps_its_id(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    olga = factories.user(db, cdmo, "operator", username="olga")
    with db.uow(Actor.anonymous("olga")) as uow, pytest.raises(AuthenticationFailed):
        service.authenticate(uow, db.settings, "OLGA", "wrong-password-1")
    with db.read() as session:
        entry = audit.query(session)[-1]
    assert (entry.action, entry.entity_type, entry.entity_id) == (
        "auth.login_failed",
        "user",
        str(olga.id),
    )
    assert entry.organisation_id == cdmo.id


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_log_in_page_keeps_no_typed_name_either(db: Database) -> None:
    cdmo = factories.org(db, "CDMO")
    factories.user(db, cdmo, "admin", username="admin")
    c = client(db)
    r = login(c, TYPED, "whatever-password")
    assert r.status_code == 401
    assert TYPED not in _trail_text(db)
    assert login(c, "admin", PASSWORD).status_code == 200
