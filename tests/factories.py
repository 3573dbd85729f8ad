"""Test-data factories: organisations, users and programs made through the real services."""

from __future__ import annotations

import itertools

from vein2vein.auth import service
from vein2vein.auth.scope import administration_scope
from vein2vein.auth.tables import Organisation, User
from vein2vein.programs.service import create_program
from vein2vein.programs.tables import Program
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

PASSWORD = "Correct-horse-battery-9"
_n = itertools.count(1)
#: the factories act as the server's administration (every client, every permission to set up)
SERVER = administration_scope("factory")


def org(db: Database, kind: str = "SPONSOR", name: str | None = None) -> Organisation:
    with db.uow(Actor("factory")) as uow:
        o = service.create_organisation(uow, SERVER, name or f"Org {next(_n)}", kind)
        uow.commit()
        return o


def user(
    db: Database,
    organisation: Organisation,
    role: str,
    username: str | None = None,
    password: str = PASSWORD,
) -> User:
    with db.uow(Actor("factory")) as uow:
        u = service.create_user(
            uow,
            SERVER,
            db.settings,
            username=username or f"user{next(_n)}",
            full_name=f"Test {role.replace('_', ' ').title()}",
            organisation=organisation.id,
            role=role,
            password=password,
        )
        uow.commit()
        return u


def program(db: Database, organisation: Organisation, code: str | None = None) -> Program:
    with db.uow(Actor("factory")) as uow:
        p = create_program(
            uow, SERVER, organisation.id, code=code or f"P{next(_n)}", name="Test program"
        )
        uow.commit()
        return p
