"""A small world for clinical store tests, made through the real services: a CDMO with an
admin and a QA reviewer, sponsors A and B each with a program, a sponsor_clinical and a
sponsor_viewer user; helpers to corrupt the demo files at a given spreadsheet row."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests import factories

from vein2vein.auth import service as auth
from vein2vein.auth.scope import Scope
from vein2vein.auth.tables import User
from vein2vein.clinical.demo import demo_files
from vein2vein.clinical.upload import UploadedFile
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor, UnitOfWork


@dataclass
class World:
    db: Database
    scopes: dict[str, Scope] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def actor(self, who: str) -> Actor:
        s = self.scopes[who]
        return Actor(s.username, s.user_id, s.organisation_id)

    def uow(self, who: str) -> UnitOfWork:
        return self.db.uow(self.actor(who))


def build(db: Database) -> World:
    w = World(db)
    cdmo = factories.org(db, "CDMO", "Northbridge")
    a = factories.org(db, "SPONSOR", "Helixa")
    b = factories.org(db, "SPONSOR", "Corvane")
    users = {
        "admin": factories.user(db, cdmo, "admin", "cdmo.admin"),
        "qa": factories.user(db, cdmo, "qa_reviewer", "cdmo.qa"),
        "a.clinical": factories.user(db, a, "sponsor_clinical", "a.clinical"),
        "a.viewer": factories.user(db, a, "sponsor_viewer", "a.viewer"),
        "b.clinical": factories.user(db, b, "sponsor_clinical", "b.clinical"),
    }
    w.ids["program_a"] = factories.program(db, a, "HLX-EPC-01").id
    w.ids["program_b"] = factories.program(db, b, "CRV-CD19-02").id
    w.ids["org_a"], w.ids["org_b"] = a.id, b.id
    with db.read() as session:
        for key, u in users.items():
            w.scopes[key] = auth.scope_of(session.get_one(User, u.id))
    return w


def corrupt(
    files: list[UploadedFile], name: str, row: int, column: str, value: str
) -> list[UploadedFile]:
    """The files with ``column`` of spreadsheet ``row`` (header = row 1) of ``name`` set."""
    out = []
    for f in files:
        if f.name != name:
            out.append(f)
            continue
        lines = f.content.decode().splitlines()
        header = lines[0].split(",")
        cells = lines[row - 1].split(",")
        cells[header.index(column)] = value
        lines[row - 1] = ",".join(cells)
        out.append(UploadedFile(f.name, ("\n".join(lines) + "\n").encode()))
    return out


def demo() -> list[UploadedFile]:
    return demo_files()
