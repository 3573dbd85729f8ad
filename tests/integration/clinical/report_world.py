"""The demo with a second steering-committee member: acting as demo users on the EpCAM IIT's
signed readout report (``clinical/report_versions.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from vein2vein.auth import service as auth
from vein2vein.auth.scope import Scope, administration_scope
from vein2vein.clinical.demo import DEMO_STUDY_CODE
from vein2vein.clinical.tables import Study
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

BIOSTAT = "helixa.biostat"


class ReportDemo:
    def __init__(self, db: Database) -> None:
        self.db = db
        with db.read() as s:
            study = s.scalars(select(Study).where(Study.code == DEMO_STUDY_CODE)).one()
            self.study_id, self.sponsor_id = study.id, study.organisation_id
        cdmo = self.scope("admin").organisation_id
        with db.uow(Actor("admin")) as uow:
            auth.create_user(
                uow,
                administration_scope("admin", cdmo),
                db.settings,
                username=BIOSTAT,
                full_name="Dr. Ana Costa",
                organisation=self.sponsor_id,
                role="sponsor_clinical",
                password=DEMO_PASSWORD,
            )
            uow.commit()

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
