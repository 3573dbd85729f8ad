"""Clinical studies over HTTP: API (OpenAPI, multipart upload, readout JSON, report and raw file
downloads) and pages (study list, study page with upload form, response table, Plotly figures
served locally), including bad uploads: a clear message naming file, row and field, nothing
stored, nothing audited."""

from __future__ import annotations

import hashlib
import json
import re
import zlib

import pytest
from sqlalchemy import func, select
from tests import factories
from tests.factories import PASSWORD
from tests.integration.clinical.world import corrupt, demo
from tests.webclient import logged_in

from vein2vein.clinical.tables import DatasetFile, DatasetVersion
from vein2vein.store import audit
from vein2vein.store.database import Database


@pytest.fixture
def site(sqlite_db: Database) -> dict:
    db = sqlite_db
    cdmo = factories.org(db, "CDMO", "Northbridge")
    a = factories.org(db, "SPONSOR", "Helixa")
    factories.user(db, cdmo, "admin", username="cdmo.admin")
    factories.user(db, a, "sponsor_clinical", username="a.clinical")
    factories.user(db, a, "sponsor_viewer", username="a.viewer")
    program = factories.program(db, a, "HLX-EPC-01")
    return {"db": db, "program_id": program.id}


def _multipart(files) -> list:  # type: ignore[no-untyped-def]
    return [("files", (f.name, f.content, "text/csv")) for f in files]


def _create_study(c, csrf: str, program_id: int, code: str = "IIT-1") -> int:  # type: ignore[no-untyped-def]
    r = c.post(
        "/api/clinical/studies",
        json={
            "program_id": program_id,
            "code": code,
            "title": "EpCAM IIT",
            "options": {"cutoff": "2025-03-01"},
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _counts(db: Database) -> tuple[int, int, audit.Head]:
    with db.read() as s:
        return (
            int(s.scalar(select(func.count()).select_from(DatasetVersion))),
            int(s.scalar(select(func.count()).select_from(DatasetFile))),
            audit.head(s),
        )


def test_api_create_upload_and_readout(site: dict) -> None:
    db = site["db"]
    c, csrf = logged_in(db, "a.clinical", PASSWORD)
    study_id = _create_study(c, csrf, site["program_id"])
    r = c.post(
        f"/api/clinical/studies/{study_id}/versions",
        files=_multipart(demo()),
        data={"comment": "first"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text
    version = r.json()
    assert (version["version"], version["format"], version["counts"]["subjects"]) == (1, "csv", 10)

    detail = c.get(f"/api/clinical/studies/{study_id}").json()
    assert [v["id"] for v in detail["versions"]] == [version["id"]]
    assert detail["options"] == {"cutoff": "2025-03-01"}

    out = c.get(f"/api/clinical/versions/{version['id']}/readout").json()
    assert out["options"]["cutoff"] == "2025-03-01"  # the study's default
    everyone = out["readout"]["groups"][-1]
    assert everyone["dose_group"] == "ALL" and (everyone["dcr"]["k"], everyone["dcr"]["n"]) == (
        9,
        10,
    )
    assert out["readout"]["provenance"]["input_hash"] == version["sha256"]
    unconfirmed = c.get(
        f"/api/clinical/versions/{version['id']}/readout", params={"basis": "unconfirmed"}
    ).json()
    assert unconfirmed["readout"]["groups"][-1]["orr"]["k"] == 4  # IIT-G09's unconfirmed PR

    raw = c.get(f"/api/clinical/versions/{version['id']}/files/subjects.csv")
    original = next(f for f in demo() if f.name == "subjects.csv").content
    assert raw.content == original
    assert raw.headers["x-content-sha256"] == hashlib.sha256(original).hexdigest()


def test_openapi_documents_the_clinical_routes(site: dict) -> None:
    c, _ = logged_in(site["db"], "a.viewer", PASSWORD)
    paths = c.get("/api/openapi.json").json()["paths"]
    for p in (
        "/api/clinical/studies",
        "/api/clinical/studies/{study_id}",
        "/api/clinical/studies/{study_id}/versions",
        "/api/clinical/versions/{version_id}/readout",
        "/api/clinical/versions/{version_id}/report",
        "/api/clinical/versions/{version_id}/files/{file_name}",
    ):
        assert p in paths, p
    upload = paths["/api/clinical/studies/{study_id}/versions"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]


def test_api_bad_upload_is_a_problem_naming_file_row_field_nothing_stored(site: dict) -> None:
    db = site["db"]
    c, csrf = logged_in(db, "a.clinical", PASSWORD)
    study_id = _create_study(c, csrf, site["program_id"])
    before = _counts(db)
    bad = corrupt(demo(), "assessments.csv", 11, "date", "2023-02-30")
    r = c.post(
        f"/api/clinical/studies/{study_id}/versions",
        files=_multipart(bad),
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["errors"][0] | {"detail": None} == {
        "file": "assessments.csv",
        "row": 11,
        "field": "date",
        "detail": None,
    }
    assert problem["detail"].startswith("assessments.csv, row 11, field 'date': unparseable date")
    assert _counts(db) == before  # nothing stored, nothing audited


def test_api_upload_without_files_or_by_a_viewer_is_refused(site: dict) -> None:
    db = site["db"]
    c, csrf = logged_in(db, "a.clinical", PASSWORD)
    study_id = _create_study(c, csrf, site["program_id"])
    r = c.post(f"/api/clinical/studies/{study_id}/versions", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and "no files" in r.json()["detail"]
    viewer, vcsrf = logged_in(db, "a.viewer", PASSWORD)
    r = viewer.post(
        f"/api/clinical/studies/{study_id}/versions",
        files=_multipart(demo()),
        headers={"X-CSRF-Token": vcsrf},
    )
    # issue 9: the route declares clinical.write (web/context.require), and a sponsor's user
    assert r.status_code == 403
    assert _counts(db)[:2] == (0, 0)


def test_pages_upload_show_readout_and_local_plotly(site: dict) -> None:
    db = site["db"]
    c, csrf = logged_in(db, "a.clinical", PASSWORD)
    r = c.post(
        "/clinical",
        data={
            "csrf_token": csrf,
            "program_id": site["program_id"],
            "code": "iit-web",
            "title": "Web study",
            "cutoff": "2025-03-01",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    study_url = r.headers["location"]
    page = c.get(study_url)
    assert "No dataset uploaded yet." in page.text and 'enctype="multipart/form-data"' in page.text

    r = c.post(
        f"{study_url}/versions",
        data={"csrf_token": csrf, "comment": "from the page"},
        files=_multipart(demo()),
        follow_redirects=True,
    )
    assert r.status_code == 200
    html = r.text
    assert "Dataset version 1 uploaded" in html
    # the response table by dose level, with the press-release figures
    assert "Middle 1e6/kg: 1 × 10^6 (n=5)" in html and "2 (40.0%)" in html and "2/5 (40.0%" in html
    # Plotly served from this server, figures drawn from the readout's plot data
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts and all(s.startswith(("/assets/", "/clinical/assets/")) for s in scripts)
    assert "cdn" not in html.lower()
    data = json.loads(
        re.search(r'id="clinical-plot-data">(.*?)</script>', html, re.S).group(1)  # type: ignore[union-attr]
    )
    assert {"waterfall", "spider", "swimmer", "km"} <= set(data["data"])
    assert len(data["data"]["waterfall"]) == 10
    for div in ("fig-waterfall", "fig-spider", "fig-swimmer", "fig-km-os", "fig-km-pfs"):
        assert f'id="{div}"' in html
    assert 'id="at-risk-os"' in html and "numbers at risk" in html

    for asset in ("/assets/plotly.min.js", "/clinical/assets/clinical-figures.js"):
        js = c.get(asset)
        assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    plotly = c.get("/assets/plotly.min.js")
    assert len(plotly.content) > 1_000_000 and b"plotly" in plotly.content[:2000].lower()
    assert "script-src 'self'" in plotly.headers["content-security-policy"]

    listing = c.get("/clinical").text
    assert "IIT-WEB" in listing and "Web study" in listing
    assert '<a href="/clinical"' in listing  # the nav item


def test_page_bad_upload_shows_file_row_field_and_stores_nothing(site: dict) -> None:
    db = site["db"]
    c, csrf = logged_in(db, "a.clinical", PASSWORD)
    study_id = _create_study(c, csrf, site["program_id"])
    before = _counts(db)
    bad = corrupt(demo(), "lesions.csv", 4, "role", "MAYBE")
    r = c.post(
        f"/clinical/studies/{study_id}/versions",
        data={"csrf_token": csrf},
        files=_multipart(bad),
    )
    assert r.status_code == 422
    message = re.search(r'id="upload-error">(.*?)</p>', r.text).group(1)  # type: ignore[union-attr]
    assert message.startswith("lesions.csv, row 4, field &#39;role&#39;:")
    assert "MAYBE" in message
    assert _counts(db) == before


def test_page_upload_without_csrf_token_is_refused(site: dict) -> None:
    db = site["db"]
    c, csrf = logged_in(db, "a.clinical", PASSWORD)
    study_id = _create_study(c, csrf, site["program_id"])
    r = c.post(f"/clinical/studies/{study_id}/versions", files=_multipart(demo()))
    assert r.status_code == 403
    assert _counts(db)[:2] == (0, 0)


def test_viewer_sees_readout_without_upload_form(site: dict) -> None:
    db = site["db"]
    c, csrf = logged_in(db, "a.clinical", PASSWORD)
    study_id = _create_study(c, csrf, site["program_id"])
    c.post(
        f"/api/clinical/studies/{study_id}/versions",
        files=_multipart(demo()),
        headers={"X-CSRF-Token": csrf},
    )
    viewer, _ = logged_in(db, "a.viewer", PASSWORD)
    page = viewer.get(f"/clinical/studies/{study_id}")
    assert page.status_code == 200
    assert "Upload a dataset version" not in page.text
    assert "Response by dose level" in page.text and 'id="fig-waterfall"' in page.text
    # an option that is not valid falls back to the study's defaults, with a message
    page = viewer.get(f"/clinical/studies/{study_id}", params={"confirm_days": "-3"})
    assert page.status_code == 200 and "option confirm_days" in page.text


def _pdf_text(pdf: bytes) -> str:
    """The text drawing operators of a PDF (fpdf2 deflates page streams)."""
    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(m.group(1)).decode("latin-1"))
        except zlib.error:
            out.append(m.group(1).decode("latin-1"))
    return "\n".join(out)


def test_pdf_report_anchors_dataset_hash_and_audit_head_and_is_audited(site: dict) -> None:
    db = site["db"]
    c, csrf = logged_in(db, "a.clinical", PASSWORD)
    study_id = _create_study(c, csrf, site["program_id"])
    version = c.post(
        f"/api/clinical/studies/{study_id}/versions",
        files=_multipart(demo()),
        headers={"X-CSRF-Token": csrf},
    ).json()
    viewer, _ = logged_in(db, "a.viewer", PASSWORD)
    head = _counts(db)[2]
    r = viewer.get(f"/api/clinical/versions/{version['id']}/report", params={"format": "pdf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    text = _pdf_text(r.content)
    assert version["sha256"] in text and head.hash in text
    assert r.headers["x-audit-head"] == head.hash
    assert r.headers["x-report-sha256"] == hashlib.sha256(r.content).hexdigest()
    with db.read() as s:
        entry = audit.query(s, entity_type="clinical_dataset_version", newest_first=True)[0]
    assert entry.action == "clinical.report.export" and entry.actor == "a.viewer"
    assert entry.to_dict()["after"]["report_sha256"] == r.headers["x-report-sha256"]
