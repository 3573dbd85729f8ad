"""A study's settings hold the admiralonco options (``after_pd``, ``benefit``): changing them
needs a reason and is audited like the other settings, and the stored readout uses them and
names them in its options and provenance."""

from __future__ import annotations

import pytest
from tests.integration.clinical.world import World, build, demo

from vein2vein.clinical import datasets, studies, views
from vein2vein.clinical.schemas import ReadoutOverrides, ReadoutParams
from vein2vein.clinical.tables import Study
from vein2vein.core.errors import InputError
from vein2vein.store import audit
from vein2vein.store.database import Database


@pytest.fixture
def world(db: Database) -> World:
    return build(db)


def test_after_pd_and_benefit_are_audited_study_settings_used_by_the_readout(
    world: World,
) -> None:
    who = "a.clinical"
    scope = world.scopes[who]
    with world.uow(who) as uow:
        study = studies.create_study(
            uow, scope, program_id=world.ids["program_a"], code="IIT-CB", title="EpCAM IIT"
        )
        version = datasets.upload_dataset(uow, scope, study.id, demo())
        uow.commit()
        study_id, version_id = study.id, version.id
    with world.uow(who) as uow, pytest.raises(InputError, match="benefit"):
        bad = {"options": {"benefit": "CR,NE"}}
        studies.update_study(uow, scope, study_id, bad, "SAP amendment 3")
    with world.uow(who) as uow:
        new = {"options": {"after_pd": "keep", "benefit": ["PR", "CR"]}}
        studies.update_study(uow, scope, study_id, new, "SAP amendment 3: benefit = response")
        uow.commit()
    with world.db.read() as session:
        study = session.get_one(Study, study_id)
        assert studies.study_defaults(study) == ReadoutParams(after_pd="keep", benefit="CR,PR")
        entry = audit.query(session, entity_type="clinical_study", newest_first=True)[0].to_dict()
        out = views.readout(session, scope, version_id, ReadoutOverrides())
        over = views.readout(session, scope, version_id, ReadoutOverrides(after_pd="drop"))
    assert entry["action"] == "clinical.study.update"
    assert entry["reason"] == "SAP amendment 3: benefit = response"
    assert entry["before"]["options"] == {}
    assert entry["after"]["options"] == {"after_pd": "keep", "benefit": ["CR", "PR"]}
    assert out["options"]["after_pd"] == "keep" and out["options"]["benefit"] == ["CR", "PR"]
    prov = out["readout"]["provenance"]["options"]
    assert prov["bor"]["after_pd"] == "keep" and prov["bor"]["benefit"] == ["CR", "PR"]
    every = out["readout"]["groups"][-1]
    assert every["dcr"]["k"] == every["orr"]["k"] == 3  # demo: three confirmed PR
    assert over["options"]["after_pd"] == "drop" and over["options"]["benefit"] == ["CR", "PR"]
    assert {"first_response_date", "clinical_benefit"} <= set(out["readout"]["subjects"][0])


def test_a_stored_version_may_carry_pd_dates_and_its_readout_uses_them(world: World) -> None:
    """``pd_dates.csv`` uploaded with a CSV version is stored with the others (hashed, part of
    the dataset hash) and cuts the BOR records of every readout of that version."""
    from vein2vein.clinical.upload import UploadedFile

    who = "a.clinical"
    scope = world.scopes[who]
    files = [*demo(), UploadedFile("pd_dates.csv", b"subject_id,pd_date\nIIT-G05,2022-11-30\n")]
    with world.uow(who) as uow:
        study = studies.create_study(
            uow, scope, program_id=world.ids["program_a"], code="IIT-PD", title="EpCAM IIT"
        )
        version = datasets.upload_dataset(uow, scope, study.id, files)
        uow.commit()
        public = version.public()
    assert "pd_dates.csv" in [f["name"] for f in public["files"]]
    with world.db.read() as session:
        out = views.readout(session, scope, public["id"], ReadoutOverrides())
        with pytest.raises(InputError, match="after-pd"):
            views.readout(session, scope, public["id"], ReadoutOverrides(after_pd="keep"))
    g05 = next(s for s in out["readout"]["subjects"] if s["subject_id"] == "IIT-G05")
    assert g05["first_response_date"] is None
    assert out["readout"]["provenance"]["input_hash"] == public["sha256"]
    assert out["readout"]["provenance"]["options"]["pd_source"].startswith("pd_dates.csv of")
