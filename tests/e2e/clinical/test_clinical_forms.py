"""Clinical pages on the form kit (issue 9): a refused change shows the form again with its
message (rule violations included), typed dates and numbers get a clear field error, every
route declares its permission, and the figures script is served without log-in."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from tests import factories
from tests.factories import PASSWORD
from tests.integration.clinical.world import demo
from tests.webclient import client, logged_in

from vein2vein.auth.roles import Perm
from vein2vein.clinical import datasets, studies
from vein2vein.clinical.tables import DatasetVersion, Study
from vein2vein.core.errors import RuleViolation
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.web.app import registered_routes


@pytest.fixture
def site(sqlite_db: Database) -> dict:
    db = sqlite_db
    a = factories.org(db, "SPONSOR", "Helixa")
    factories.user(db, a, "sponsor_clinical", username="a.clinical")
    factories.user(db, a, "sponsor_viewer", username="a.viewer")
    program = factories.program(db, a, "HLX-EPC-01")
    return {"db": db, "program_id": program.id}


def _state(db: Database) -> tuple[int, int, int]:
    with db.read() as s:
        return (
            int(s.scalar(select(func.count()).select_from(Study))),
            int(s.scalar(select(func.count()).select_from(DatasetVersion))),
            audit.head(s).seq,
        )


def _alert(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">(.*?)</p>', page, re.S)
    assert match, f"no #{element_id} on the page"
    return html.unescape(match.group(1))


def _study_form(site: dict, csrf: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "program_id": str(site["program_id"]),
        "code": "IIT-FORM",
        "title": "Form study",
        "cutoff": "2025-03-01",
    } | fields


def _make_study(site: dict) -> tuple[object, str, int]:
    c, csrf = logged_in(site["db"], "a.clinical", PASSWORD)
    r = c.post("/clinical", data=_study_form(site, csrf), follow_redirects=False)
    assert r.status_code == 303, r.text
    return c, csrf, int(r.headers["location"].rsplit("/", 1)[1])


# ------------------------------------------------------------------ rule violations


def test_a_rule_violation_on_the_upload_form_shows_the_form_with_its_message(
    site: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, csrf, study_id = _make_study(site)
    before = _state(site["db"])

    def refuse(*_args: object, **_kw: object) -> object:
        raise RuleViolation("this study is closed to new dataset versions")

    monkeypatch.setattr(datasets, "parse_upload", refuse)
    r = c.post(  # type: ignore[attr-defined]
        f"/clinical/studies/{study_id}/versions",
        data={"csrf_token": csrf},
        files=[("files", (f.name, f.content, "text/csv")) for f in demo()],
    )
    assert r.status_code == 422
    assert _alert(r.text, "upload-error") == "this study is closed to new dataset versions"
    assert 'enctype="multipart/form-data"' in r.text  # the upload form, shown again
    assert _state(site["db"]) == before


def test_a_rule_violation_on_the_study_form_shows_the_form_with_its_message(
    site: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = site["db"]
    c, csrf = logged_in(db, "a.clinical", PASSWORD)
    before = _state(db)

    def refuse(*_args: object, **_kw: object) -> object:
        raise RuleViolation("this program is closed to new studies")

    monkeypatch.setattr(studies, "add_study", refuse)
    r = c.post("/clinical", data=_study_form(site, csrf, title="Typed title"))
    assert r.status_code == 422
    assert _alert(r.text, "form-error") == "this program is closed to new studies"
    assert 'value="Typed title"' in r.text and 'value="IIT-FORM"' in r.text  # kept as typed
    assert _state(db) == before


# ------------------------------------------------------------------ typed values


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("2025-02-30", "Data cut-off: not a day of the calendar (YYYY-MM-DD)"),
        ("01/03/2025", "Data cut-off: enter a date as YYYY-MM-DD"),
        ("２０２５-03-01", "Data cut-off: enter a date as YYYY-MM-DD"),
        ("2025-03-01T00:00", "Data cut-off: enter a date as YYYY-MM-DD"),
        ("0000-01-01", "Data cut-off: not a day of the calendar (YYYY-MM-DD)"),
        ("x" * 5000, "Data cut-off: enter a date as YYYY-MM-DD"),
    ],
)
def test_a_typed_date_that_is_not_a_date_is_a_field_error(
    site: dict, typed: str, message: str
) -> None:
    db = site["db"]
    c, csrf = logged_in(db, "a.clinical", PASSWORD)
    before = _state(db)
    r = c.post("/clinical", data=_study_form(site, csrf, cutoff=typed))
    assert r.status_code == 422
    assert _alert(r.text, "form-error") == f"field 'cutoff': {message}"
    assert re.search(r'name="cutoff"[^>]*aria-invalid="true"', r.text)
    assert _state(db) == before


@pytest.mark.parametrize("typed", ["²", "1e400", "NaN", str(10**30), "-1", "", "٣"])
def test_a_program_that_is_not_a_choice_is_a_field_error(site: dict, typed: str) -> None:
    db = site["db"]
    c, csrf = logged_in(db, "a.clinical", PASSWORD)
    before = _state(db)
    r = c.post("/clinical", data=_study_form(site, csrf, program_id=typed))
    assert r.status_code == 422
    assert _alert(r.text, "form-error") == "field 'program_id': choose a program"
    assert _state(db) == before


def test_a_study_form_with_a_valid_date_still_creates_the_study(site: dict) -> None:
    db = site["db"]
    c, _, study_id = _make_study(site)
    api = c.get(f"/api/clinical/studies/{study_id}")  # type: ignore[attr-defined]
    assert api.json()["options"] == {"cutoff": "2025-03-01"}
    assert _state(db)[:2] == (1, 0)


# ------------------------------------------------------------------ permissions

EXPECTED = {
    ("GET", "/api/clinical/studies"): Perm.PROGRAM_READ,
    ("POST", "/api/clinical/studies"): Perm.CLINICAL_WRITE,
    ("GET", "/api/clinical/studies/{study_id}"): Perm.PROGRAM_READ,
    ("PATCH", "/api/clinical/studies/{study_id}"): Perm.CLINICAL_WRITE,
    ("POST", "/api/clinical/studies/{study_id}/versions"): Perm.CLINICAL_WRITE,
    ("GET", "/api/clinical/versions/{version_id}"): Perm.PROGRAM_READ,
    ("GET", "/api/clinical/versions/{version_id}/files/{file_name}"): Perm.PROGRAM_READ,
    ("GET", "/api/clinical/versions/{version_id}/readout"): Perm.PROGRAM_READ,
    ("GET", "/api/clinical/versions/{version_id}/report"): Perm.PROGRAM_READ,
    ("GET", "/clinical"): Perm.PROGRAM_READ,
    ("POST", "/clinical"): Perm.CLINICAL_WRITE,
    ("GET", "/clinical/studies/{study_id}"): Perm.PROGRAM_READ,
    ("POST", "/clinical/studies/{study_id}/versions"): Perm.CLINICAL_WRITE,
    ("POST", "/clinical/studies/{study_id}/settings"): Perm.CLINICAL_WRITE,
    ("GET", "/clinical/assets/clinical-figures.js"): "public",
    # the signed readout report (report_api.py, report_web.py)
    ("GET", "/api/clinical/studies/{study_id}/reports"): Perm.PROGRAM_READ,
    ("POST", "/api/clinical/studies/{study_id}/reports"): Perm.CLINICAL_WRITE,
    ("GET", "/api/clinical/reports/{report_id}"): Perm.PROGRAM_READ,
    ("GET", "/api/clinical/reports/{report_id}/pdf"): Perm.PROGRAM_READ,
    ("POST", "/api/clinical/reports/{report_id}/signatures"): Perm.CLINICAL_REPORT_SIGN,
    ("GET", "/clinical/reports/{report_id}"): Perm.PROGRAM_READ,
    ("POST", "/clinical/studies/{study_id}/reports"): Perm.CLINICAL_WRITE,
    ("POST", "/clinical/reports/{report_id}/sign"): Perm.CLINICAL_REPORT_SIGN,
}


def test_every_clinical_route_declares_one_permission(sqlite_db: Database) -> None:
    app = client(sqlite_db).app
    declared = {}
    for route in registered_routes(app):  # type: ignore[arg-type]
        if not route.path.startswith(("/clinical", "/api/clinical")):
            continue
        marks = []
        for dep in route.dependencies:
            call = dep.dependency
            if getattr(call, "v2v_public", False):
                marks.append("public")
            elif hasattr(call, "v2v_permission"):
                marks.append(call.v2v_permission)
        for method in route.methods - {"HEAD"}:
            assert len(marks) == 1, f"{method} {route.path} declares {marks}"
            declared[(method, route.path)] = marks[0]
    assert declared == EXPECTED


def test_a_viewer_is_refused_the_study_form(site: dict) -> None:
    db = site["db"]
    viewer, csrf = logged_in(db, "a.viewer", PASSWORD)
    r = viewer.post("/clinical", data=_study_form(site, csrf))
    assert r.status_code == 403
    assert _state(db)[:2] == (0, 0)


def test_the_figures_script_is_served_without_log_in(sqlite_db: Database) -> None:
    r = client(sqlite_db).get("/clinical/assets/clinical-figures.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    page = client(sqlite_db).get("/clinical", follow_redirects=False)
    assert page.status_code in (302, 303, 401)  # the pages themselves need a log-in


# ------------------------------------------------------------------ arbitrary text

STUDY_FIELDS = ("program_id", "code", "title", "description", "cutoff")
FIELD_TEXT = st.one_of(
    st.sampled_from(["²", "1e400", "NaN", str(10**30), "", " ", "\x00", "2025-02-30", "٣"]),
    st.text(max_size=60),
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.fixed_dictionaries(
        {k: FIELD_TEXT for k in ("program_id", "code", "title", "description", "cutoff")}
    )
)
def test_arbitrary_text_in_the_study_form_never_fails_the_server(
    site: dict, fields: dict[str, str]
) -> None:
    c, csrf, _ = _make_study_once(site)
    r = c.post(  # type: ignore[attr-defined]
        "/clinical", data={"csrf_token": csrf, **fields}, follow_redirects=False
    )
    assert r.status_code in (303, 404, 409, 422), r.text[:300]


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fields=st.fixed_dictionaries({k: FIELD_TEXT for k in ("format", "evaluator", "comment")}))
def test_arbitrary_text_in_the_upload_form_never_fails_the_server(
    site: dict, fields: dict[str, str]
) -> None:
    c, csrf, study_id = _make_study_once(site)
    r = c.post(  # type: ignore[attr-defined]
        f"/clinical/studies/{study_id}/versions",
        data={"csrf_token": csrf, **fields},
        files=[("files", (f.name, f.content, "text/csv")) for f in demo()],
        follow_redirects=False,
    )
    assert r.status_code in (303, 422), r.text[:300]


def _make_study_once(site: dict) -> tuple[object, str, int]:
    if "made" not in site:
        site["made"] = _make_study(site)
    return site["made"]
