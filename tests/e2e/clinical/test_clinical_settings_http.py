"""The study settings over HTTP: the settings form on the study page and ``PATCH
/api/clinical/studies/{id}`` reach the admiralonco options (``after_pd``, ``benefit``); a change
needs a reason and is audited; the readout form overrides them per request and the report links
carry them; a viewer may not change them."""

from __future__ import annotations

import html
from urllib.parse import unquote

import pytest
from tests import factories
from tests.factories import PASSWORD
from tests.integration.clinical.world import demo
from tests.webclient import logged_in

from vein2vein.store import audit
from vein2vein.store.database import Database


@pytest.fixture
def site(sqlite_db: Database) -> dict:
    db = sqlite_db
    a = factories.org(db, "SPONSOR", "Helixa")
    factories.user(db, a, "sponsor_clinical", username="a.clinical")
    factories.user(db, a, "sponsor_viewer", username="a.viewer")
    program = factories.program(db, a, "HLX-EPC-01")
    return {"db": db, "program_id": program.id}


def test_settings_form_and_api_reach_after_pd_and_benefit(site: dict) -> None:
    db = site["db"]
    c, csrf = logged_in(db, "a.clinical", PASSWORD)
    r = c.post(
        "/api/clinical/studies",
        json={"program_id": site["program_id"], "code": "IIT-CB", "title": "EpCAM IIT"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text
    study_id = r.json()["id"]
    r = c.post(
        f"/api/clinical/studies/{study_id}/versions",
        files=[("files", (f.name, f.content, "text/csv")) for f in demo()],
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text
    version_id = r.json()["id"]
    url = f"/clinical/studies/{study_id}"
    form = {"csrf_token": csrf, "after_pd": "keep", "benefit": ["CR", "PR"], "cutoff": ""}

    # refused: no reason; no category ticked (the field is named, nothing is stored)
    r = c.post(f"{url}/settings", data=form)
    assert r.status_code == 422 and 'id="settings-error"' in r.text and "reason" in r.text
    r = c.post(f"{url}/settings", data=form | {"benefit": [], "reason": "SAP v3"})
    assert r.status_code == 422 and "benefit" in html.unescape(r.text)
    r = c.post(f"{url}/settings", data=form | {"confirm_days": "lots", "reason": "SAP v3"})
    assert r.status_code == 422 and "confirm_days" in r.text

    r = c.post(f"{url}/settings", data=form | {"reason": "SAP v3"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = c.get(r.headers["location"])
    assert "after_pd = keep; benefit = CR, PR" in page.text
    assert "DCR = CR + PR (the clinical-benefit categories)" in page.text
    assert "settings were changed" in page.text
    # the readout form starts from the study's settings; its report links carry them
    assert 'value="SD">' in page.text and 'value="CR" checked>' in page.text
    assert "benefit=CR%2CPR" in page.text and "after_pd=keep" in page.text
    with db.read() as s:
        entry = audit.query(s, entity_type="clinical_study", newest_first=True)[0].to_dict()
    assert entry["reason"] == "SAP v3" and entry["before"]["options"] == {}
    assert entry["after"]["options"] == {"after_pd": "keep", "benefit": ["CR", "PR"]}

    out = c.get(f"/api/clinical/versions/{version_id}/readout").json()
    assert out["options"]["benefit"] == ["CR", "PR"] and out["options"]["after_pd"] == "keep"
    assert out["readout"]["groups"][-1]["dcr"]["k"] == 3  # CR + PR only
    over = c.get(f"/api/clinical/versions/{version_id}/readout?benefit=CR,PR,SD").json()
    assert over["readout"]["groups"][-1]["dcr"]["k"] == 9
    page = c.get(f"{url}?benefit=CR&benefit=PR&benefit=SD&after_pd=drop")
    assert "benefit=CR%2CPR%2CSD" in page.text and "after_pd=drop" in page.text
    assert "'after_pd': 'drop'" in html.unescape(page.text)  # the provenance shown
    page = c.get(f"{url}?benefit=NE")
    assert "option benefit" in html.unescape(unquote(page.text))

    r = c.patch(
        f"/api/clinical/studies/{study_id}",
        json={"options": {"benefit": ["SD", "CR", "PR", "NON-CR/NON-PD"]}, "reason": "back"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200 and r.json()["options"] == {}
    r = c.patch(
        f"/api/clinical/studies/{study_id}",
        json={"options": {"after_pd": "sometimes"}, "reason": "x"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 422

    v, vcsrf = logged_in(db, "a.viewer", PASSWORD)
    r = v.post(f"{url}/settings", data=form | {"csrf_token": vcsrf, "reason": "x"})
    assert r.status_code == 403
    assert 'id="settings"' not in v.get(url).text
