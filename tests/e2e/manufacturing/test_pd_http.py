"""Process-development runs through HTTP, the pages and the command line (issue 12): the
multipart import (``POST /api/batches/pd-import``), its error as a problem document naming file,
sheet, row and column with nothing written, the runs flagged non-GMP in every list, the release
blockers (``GET /api/batches/{id}/release-blockers``), the upload form of the batch list, and
``v2v batches import-pd`` / ``v2v batches list --json``."""

from __future__ import annotations

import json
from typing import Any

from tests import batch_world as BW
from tests.e2e.manufacturing.test_batch_http import _api, _ok
from tests.factories import PASSWORD
from tests.integration.manufacturing.test_pd_runs import ROWS, csv_bytes, xlsx_bytes
from tests.webclient import csrf_from, logged_in
from typer.testing import CliRunner

from vein2vein.features import create_cli
from vein2vein.store.database import Database

FORM = {"program": "HLX-1", "site": BW.SITE, "mbr_version": "1"}


def test_import_over_the_api_and_release_blockers(sqlite_db: Database) -> None:
    db = sqlite_db
    w = BW.build(db)
    ops, sponsor, other = (_api(db, w, who) for who in ("operator", "a.viewer", "b.clinical"))
    bad = [*ROWS[:2], ["PD-18", "RECEIPT", "viability", "95", "%", "last Tuesday", "M. Lee"]]
    refused = ops.post(
        "/api/batches/pd-import",
        files={"file": ("march.xlsx", xlsx_bytes(bad, "Week 10"), "application/octet-stream")},
        data=FORM,
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["detail"].startswith(
        "file march.xlsx, sheet Week 10, row 4, column F (entered_at): 'last Tuesday' is not"
    )
    assert problem["errors"][0] | {"detail": ""} == {
        "file": "march.xlsx", "row": 4, "field": "entered_at", "detail": "",
    }  # fmt: skip
    assert _ok(ops.get("/api/batches")) == []
    made = _ok(
        ops.post(
            "/api/batches/pd-import",
            files={"file": ("march.csv", csv_bytes(ROWS), "text/csv")},
            data=FORM,
        ),
        201,
    )
    assert [(r["run_label"], r["entries"], r["outside_par"]) for r in made["runs"]] == [
        ("PD-17", 5, 1),
        ("PD-18", 2, 0),
    ]
    run_id = made["runs"][0]["batch_id"]
    listed = _ok(ops.get("/api/batches"))
    assert {(r["run_label"], r["gmp"], r["order"]) for r in listed} == {
        ("PD-17", False, None),
        ("PD-18", False, None),
    }
    blockers = _ok(sponsor.get(f"/api/batches/{run_id}/release-blockers"))
    assert blockers["releasable"] is False
    assert blockers["blockers"][0].startswith(f"batch {run_id} is a process-development run")
    assert other.get(f"/api/batches/{run_id}/release-blockers").status_code == 404
    assert _ok(sponsor.get(f"/api/batches/{run_id}"))["gmp"] is False
    # a sponsor cannot import
    assert (
        sponsor.post(
            "/api/batches/pd-import",
            files={"file": ("x.csv", csv_bytes(ROWS), "text/csv")},
            data=FORM,
        ).status_code
        == 403
    )


def test_the_batch_list_page_imports_and_flags_runs(sqlite_db: Database) -> None:
    db = sqlite_db
    w = BW.build(db)
    ops, _ = logged_in(db, "operator", PASSWORD)
    page = ops.get("/batches")
    assert 'action="/batches/pd-import"' in page.text
    bad = [["PD-9", "WASH", "x", "1", "mL", "2026-03-02T08:00Z", "JD"]]
    shown = ops.post(
        "/batches/pd-import",
        files={"file": ("bad.csv", csv_bytes(bad), "text/csv")},
        data=FORM | {"csrf_token": csrf_from(page.text)},
    )
    assert shown.status_code == 422
    assert "file bad.csv, row 2, column B (step): step WASH: is not a step" in shown.text
    done = ops.post(
        "/batches/pd-import",
        files={"file": ("good.csv", csv_bytes(ROWS[:5]), "text/csv")},
        data=FORM | {"csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/batches?imported=PD-17"
    listing = ops.get(done.headers["location"]).text
    assert "Imported (non-GMP): PD-17" in listing and "run PD-17" in listing
    assert 'data-gmp="false"' in listing
    run_id = int(listing.split('data-batch="')[1].split('"')[0])
    detail = ops.get(f"/batches/{run_id}").text
    assert "data-pd" in detail and "non-GMP" in detail and "Apheresis DIN" not in detail
    sponsor, _ = logged_in(db, "a.viewer", PASSWORD)
    seen = sponsor.get("/batches").text
    assert 'data-gmp="false"' in seen and 'action="/batches/pd-import"' not in seen
    assert w


def test_cli_imports_and_lists_runs(cli_db: Database, cli_env: dict[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    BW.build(cli_db)
    runner, cli = CliRunner(), create_cli()
    path = tmp_path / "runs.xlsx"
    path.write_bytes(xlsx_bytes(ROWS))  # type: ignore[arg-type]
    args = ["batches", "import-pd", str(path), "--program", "HLX-1", "--site", BW.SITE,
            "--mbr-version", "1", "--user", "operator"]  # fmt: skip
    out = runner.invoke(cli, [*args, "--json"], env=cli_env, input=PASSWORD + "\n")
    assert out.exit_code == 0, out.output
    made: dict[str, Any] = json.loads(out.output[out.output.index("{") :])
    assert made["sheet"] == "Runs" and [r["run_label"] for r in made["runs"]] == ["PD-17", "PD-18"]
    again = runner.invoke(cli, args, env=cli_env, input=PASSWORD + "\n")
    assert again.exit_code != 0
    assert "file runs.xlsx, sheet Runs, row 2, column A (run_label): run PD-17 exists" in (
        again.output
    )
    listed = runner.invoke(cli, ["batches", "list", "--json"], env=cli_env)
    rows = json.loads(listed.output)
    assert [(r["run_label"], r["gmp"], r["order"], r["status"]) for r in rows] == [
        ("PD-18", False, None, "COMPLETE"),
        ("PD-17", False, None, "COMPLETE"),
    ]
    text = runner.invoke(cli, ["batches", "list"], env=cli_env).output
    assert "PD-17" in text and "non-GMP (process development)" in text
