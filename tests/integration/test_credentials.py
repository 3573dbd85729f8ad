"""User names and passwords through the services, on both engines (issue 10, findings 2, 3)."""

from __future__ import annotations

import pytest
from tests import factories
from tests.factories import PASSWORD

from vein2vein.auth import service
from vein2vein.auth.tables import User
from vein2vein.core.errors import Conflict, InputError
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor


def _create(db: Database, username: str, password: str = PASSWORD) -> User:
    cdmo = factories.org(db, "CDMO")
    factories.user(db, cdmo, "admin", username="admin")
    return factories.user(db, cdmo, "operator", username=username, password=password)


def test_a_cyrillic_look_alike_of_admin_is_refused(db: Database) -> None:
    with pytest.raises(InputError, match="ASCII letters") as err:
        _create(db, "\u0430dmin")
    assert err.value.field == "username"
    with db.read() as session:
        assert [e.action for e in audit.query(session)][-1] == "user.create"  # only admin's


@pytest.mark.parametrize("username", ["ADMIN", "\uff41\uff44\uff4d\uff49\uff4e", " Admin "])
def test_names_are_unique_whatever_their_case_or_width(db: Database, username: str) -> None:
    with pytest.raises(Conflict, match="is taken"):
        _create(db, username)


@pytest.mark.parametrize(
    "password",
    ["\u200b\u200c\u200d\u2060" * 4, "Correct-horse\x00battery", "Correct-horse\rbattery"],
)
def test_invisible_or_control_passwords_are_refused_everywhere(db: Database, password: str) -> None:
    with pytest.raises(InputError) as err:
        _create(db, "ivy", password)
    assert err.value.field == "password"
    cdmo = factories.org(db, "CDMO", "Other")
    u = factories.user(db, cdmo, "operator", username="ivy")
    with db.uow(Actor("admin")) as uow, pytest.raises(InputError) as err:
        service.reset_password(uow, factories.SERVER, db.settings, u.id, password, "forgotten")
    assert err.value.field == "password"
    with db.uow(Actor("ivy")) as uow, pytest.raises(InputError) as err:
        scope = service.scope_of(uow.session.get_one(User, u.id))
        service.change_password(uow, scope, db.settings, PASSWORD, password)
    assert err.value.field == "password"


def test_the_same_password_typed_in_another_unicode_form_logs_in(db: Database) -> None:
    _create(db, "eve", "Mot-de-passe-e\u0301te\u0301")  # decomposed é
    with db.uow(Actor.anonymous()) as uow:
        user = service.authenticate(uow, db.settings, "eve", "Mot-de-passe-\u00e9t\u00e9")
        uow.commit()
    assert user.username == "eve"
