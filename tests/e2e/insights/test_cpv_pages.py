"""The CPV pages, API and command line on the demo (insights/cpv_web.py, cpv_api.py,
cpv_cli.py; docs/cpv.md): every page as a CDMO QA role, another CDMO role and the sponsor, the
other sponsor refused by not found; the freeze form (the QA approver only); the chart's API
numbers against the statistics engine on the same values; ``v2v cpv chart``, ``conformance``,
``series`` and ``baseline`` with ``--json``."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.conftest import make_settings
from tests.shared_demo import sqlite_demo_file
from tests.webclient import logged_in
from typer.testing import CliRunner

from vein2vein.core.clock import as_utc
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.insights.cpv_tables import CpvBaseline
from vein2vein.manufacturing.tables import Batch
from vein2vein.stats.charts import imr_chart
from vein2vein.store.database import Database

pytestmark = pytest.mark.filterwarnings("ignore::vein2vein.stats.errors.SmallSampleWarning")
#: a CDMO QA role, a CDMO role without QA rights and a sponsor's user (every reading role opens
#: every page in Chromium: test_cpv_browser.py)
READERS = ("qa.approver", "operator", "helixa.viewer")


@pytest.fixture
def demo(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    """A copy of the run's demo file (tests/shared_demo.py)."""
    path = tmp_path / "demo.db"
    shutil.copy(sqlite_demo_file(sqlite_template), path)
    db = Database(make_settings(f"sqlite:///{path}"))
    yield db
    db.dispose()


def _history(db: Database) -> tuple[str, str, int]:
    """The period of the demo's frozen Ghent viability baseline (the Ghent history, dated
    relative to the day the demo was loaded) and how many GMP batches of the program started
    in it, counted here from the batch records."""
    with db.read() as s:
        start, end = s.execute(
            select(CpvBaseline.period_start, CpvBaseline.period_end).where(
                CpvBaseline.test_code == "viability"
            )
        ).one()
        started = [as_utc(t).date() for t in s.scalars(select(Batch.created_at).where(Batch.gmp))]
    return start.isoformat(), end.isoformat(), sum(start <= d <= end for d in started)


def _gmp_batches(db: Database) -> int:
    with db.read() as s:
        return len(s.scalars(select(Batch.id).where(Batch.gmp)).all())


def _ghent(c: Any, attribute: str = "viability") -> dict[str, Any]:
    rows = c.get("/api/cpv/series").json()
    return next(r for r in rows if r["attribute"] == attribute and "Ghent" in r["site"])


def test_every_page_as_every_role_that_may_read_it(demo: Database) -> None:
    c, _ = logged_in(demo, "qa.approver", DEMO_PASSWORD)
    g = _ghent(c)
    pid, sid, bid = g["program_id"], g["site_id"], g["baseline_id"]
    start, end, in_history = _history(demo)
    pages = [
        "/cpv",
        f"/cpv/programs/{pid}",
        f"/cpv/programs/{pid}?site={sid}&attribute=viability",
        f"/cpv/programs/{pid}?series={sid}|cd3",
        f"/cpv/programs/{pid}/conformance",
        f"/cpv/programs/{pid}/conformance?start={start}&end={end}",
        f"/cpv/baselines/{bid}",
    ]
    for who in READERS:
        rc, _ = logged_in(demo, who, DEMO_PASSWORD)
        for page in pages:
            r = rc.get(page)
            assert r.status_code == 200, (who, page, r.text[:300])
        chart = rc.get(pages[2]).text
        assert 'data-limits="frozen"' in chart and "Plotly.newPlot" in chart
        assert 'id="cpv-points"' in chart and 'href="/batches/' in chart  # drill-down
        assert ('data-form="freeze"' in chart) == (who == "qa.approver")
        assert "data-invalidated=" in chart and re.search(r"OOS-\d{4}-0001", chart)
    other, _ = logged_in(demo, "corvane.clinical", DEMO_PASSWORD)
    assert "data-series=" not in other.get("/cpv").text
    for page in pages[1:]:
        assert other.get(page).status_code == 404, page
    verdict = c.get(f"/cpv/programs/{pid}/conformance").text
    assert 'data-all-met="no"' in verdict and 'data-exception="conditional"' in verdict
    assert 'data-exception="failed"' in verdict and 'data-exception="invalidated"' in verdict
    early = c.get(f"/cpv/programs/{pid}/conformance?start={start}&end={end}").text
    assert in_history >= 4  # the four Ghent batches of the baseline, and any other started then
    count = f'data-count="{in_history}" data-met="{in_history}"'
    assert count in early and 'data-all-met="yes"' in early
    bad = c.get(f"/cpv/programs/{pid}/conformance?start=1.1.2026")
    assert bad.status_code == 422 and 'data-field="start"' in bad.text


def test_freeze_form_and_the_api_numbers(demo: Database) -> None:
    c, csrf = logged_in(demo, "qa.approver", DEMO_PASSWORD)
    g = _ghent(c, "cd3")
    pid, sid = g["program_id"], g["site_id"]
    start, end, _ = _history(demo)
    api = c.get(f"/api/cpv/programs/{pid}/chart", params={"site_id": sid, "attribute": "cd3"})
    page = api.json()
    values = [p["value"] for p in page["points"]]
    engine = imr_chart(values)
    assert (page["chart"]["center"], page["chart"]["lcl"], page["chart"]["ucl"]) == (
        engine.center, engine.lcl, engine.ucl,
    )  # fmt: skip
    assert page["frozen"] is False and page["capability"]["n"] == len(values)
    form = {
        "csrf_token": csrf, "site": str(sid), "attribute": "cd3", "start": start,
        "end": end, "reason": "Ghent history", "current": "none",
        "username": "qa.approver", "password": DEMO_PASSWORD,
    }  # fmt: skip
    missing = c.post(f"/cpv/programs/{pid}/baselines", data=form | {"reason": ""})
    assert missing.status_code == 422 and 'data-field="reason"' in missing.text
    wrong = c.post(f"/cpv/programs/{pid}/baselines", data=form | {"end": "2000-01-01"})
    assert wrong.status_code == 422 and "before it starts" in wrong.text
    done = c.post(f"/cpv/programs/{pid}/baselines", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text[:500]
    again = c.post(f"/cpv/programs/{pid}/baselines", data=form)
    assert again.status_code == 422 and "nothing was frozen" in again.text
    frozen = c.get(f"/api/cpv/programs/{pid}/chart", params={"site_id": sid, "attribute": "cd3"})
    b = frozen.json()["baseline"]
    assert (b["n"], b["frozen_by"], frozen.json()["frozen"]) == (4, "qa.approver", True)
    body = {
        "site_id": sid, "attribute": "cd3", "start": start, "end": end,
        "reason": "again, by the API", "current": b["id"], "username": "qa.approver",
        "password": DEMO_PASSWORD,
    }  # fmt: skip
    made = c.post(f"/api/cpv/programs/{pid}/baselines", json=body, headers={"x-csrf-token": csrf})
    assert made.status_code == 201 and made.json()["supersedes_id"] == b["id"], made.text
    assert [s["meaning"] for s in made.json()["signatures"]] == ["approved"]
    reviewer, rcsrf = logged_in(demo, "qa.reviewer", DEMO_PASSWORD)
    refused = reviewer.post(f"/cpv/programs/{pid}/baselines", data=form | {"csrf_token": rcsrf})
    assert refused.status_code == 403
    conf = c.get(f"/api/cpv/programs/{pid}/conformance").json()
    assert (conf["count"], conf["all_met"]) == (_gmp_batches(demo), False)


def test_cpv_commands(demo: Database) -> None:
    from vein2vein.core.settings import get_settings
    from vein2vein.features import create_cli

    env = {"V2V_DATABASE_URL": demo.settings.database_url, "V2V_ARGON2_PROFILE": "fast-tests"}
    start, end, in_history = _history(demo)
    get_settings.cache_clear()
    try:

        def run(*args: str) -> Any:
            out = CliRunner().invoke(create_cli(), ["cpv", *args], env=env)
            assert out.exit_code == 0, out.output
            return out.output

        chart = json.loads(
            run("chart", "--program", "HLX-EPC-01", "--site", "Ghent", "--attribute",
                "viability", "--json")
        )  # fmt: skip
        values = [p["value"] for p in chart["points"]]
        assert chart["baseline"]["center"] == imr_chart(values).center
        text = run(
            "chart", "--program", "HLX-EPC-01", "--site", "Ghent", "--attribute", "viability"
        )
        assert "limits frozen" in text and "Ppk" in text and "WARNING" in text
        conf = json.loads(
            run("conformance", "--program", "HLX-EPC-01", "--from", start, "--to", end, "--json")
        )
        assert (conf["count"], conf["met"], conf["all_met"]) == (in_history, in_history, True)
        series = json.loads(run("series", "--json"))
        assert {r["baseline_id"] for r in series} >= {chart["baseline"]["id"]}
        one = json.loads(run("baseline", str(chart["baseline"]["id"]), "--json"))
        assert one["frozen_by"] == "qa.approver" and len(one["points"]) == 4
        bad = CliRunner().invoke(
            create_cli(), ["cpv", "conformance", "--program", "HLX-EPC-01", "--from", "x"], env=env
        )
        assert bad.exit_code == 2 and "--from" in bad.output
    finally:
        get_settings.cache_clear()


def test_process_parameters_on_the_pages_api_and_command_line(demo: Database) -> None:
    """Batch-record values beside the QC attributes (validation V-10): the list shows them as
    process parameters with their unit; the fold-expansion chart (no limits in the MBR: no
    capability, said) links each point to its batch's kinetics, the harvested cells chart each
    to its record entry; API and ``v2v cpv chart --json`` give the same numbers. Dates typed
    on CPV's forms get the forms' own messages (``web.forms.parse_date``)."""
    c, csrf = logged_in(demo, "qa.approver", DEMO_PASSWORD)
    rows = c.get("/api/cpv/series").json()
    fold = next(
        r for r in rows if r["attribute"] == "derived:fold_expansion" and "Ghent" in r["site"]
    )
    assert (fold["kind"], fold["unit"], fold["name"]) == (
        "process parameter",
        "1",
        "Fold expansion",
    )
    assert {r["kind"] for r in rows} == {"quality attribute", "process parameter"}
    pid, sid = fold["program_id"], fold["site_id"]
    index = c.get("/cpv").text
    assert 'data-kind="process parameter"' in index and 'data-kind="quality attribute"' in index
    assert f'data-series="HLX-EPC-01/{sid}/derived:fold_expansion"' in index
    page = c.get(f"/cpv/programs/{pid}", params={"site": sid, "attribute": fold["attribute"]}).text
    assert 'data-kind="process parameter"' in page and "Process parameter" in page
    assert 'data-capability="none">no specification limits: no capability' in page
    assert re.search(r'href="/batches/\d+#kinetics"', page) and "NaN" not in page
    cells = c.get(
        f"/cpv/programs/{pid}", params={"site": sid, "attribute": "record:HARVEST.viable_cells"}
    ).text
    assert re.search(r'href="/batches/\d+#entry-\d+"', cells) and 'data-capability="ppk"' in cells
    assert "<span data-unit>10^9 cells</span>" in cells
    api = c.get(
        f"/api/cpv/programs/{pid}/chart", params={"site_id": sid, "attribute": fold["attribute"]}
    )
    values = [p["value"] for p in api.json()["points"]]
    assert api.json()["chart"]["center"] == imr_chart(values).center
    # dates on CPV's forms: the shared parser's messages
    bad = c.get(f"/cpv/programs/{pid}/conformance?start=2026-02-30")
    assert bad.status_code == 422 and "From: not a day of the calendar (YYYY-MM-DD)" in bad.text
    form = {
        "csrf_token": csrf, "site": str(sid), "attribute": fold["attribute"], "start": "x",
        "end": "", "reason": "r", "current": "none", "username": "qa.approver",
        "password": DEMO_PASSWORD,
    }  # fmt: skip
    refused = c.post(f"/cpv/programs/{pid}/baselines", data=form)
    assert (
        refused.status_code == 422 and "Baseline from: enter a date as YYYY-MM-DD" in refused.text
    )

    from vein2vein.core.settings import get_settings
    from vein2vein.features import create_cli

    env = {"V2V_DATABASE_URL": demo.settings.database_url, "V2V_ARGON2_PROFILE": "fast-tests"}
    get_settings.cache_clear()
    try:
        args = ["cpv", "chart", "--program", "HLX-EPC-01", "--site", "Ghent", "--attribute",
                "derived:fold_expansion"]  # fmt: skip
        out = CliRunner().invoke(create_cli(), [*args, "--json"], env=env)
        assert out.exit_code == 0, out.output
        assert [p["value"] for p in json.loads(out.output)["points"]] == values
        text = CliRunner().invoke(create_cli(), args, env=env).output
        assert "process parameter derived:fold_expansion" in text
        assert "no specification limits: no capability" in text
    finally:
        get_settings.cache_clear()
