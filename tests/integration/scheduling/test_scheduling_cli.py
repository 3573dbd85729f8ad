"""``v2v schedule suites|status|publish`` on the store (CliRunner against the root app)."""

from __future__ import annotations

import json

from tests.factories import PASSWORD
from tests.integration.scheduling import world as S
from typer.testing import CliRunner

from vein2vein.features import create_cli
from vein2vein.store.database import Database

app = create_cli()


def test_publish_status_and_suites_from_the_command_line(
    cli_db: Database, cli_env: dict[str, str]
) -> None:
    w = S.build(cli_db)
    S.place(w, subject="HLX-001")
    runner = CliRunner()
    r = runner.invoke(app, ["schedule", "status", "--json"], env=cli_env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"plan": None}
    r = runner.invoke(
        app,
        ["schedule", "publish", "--user", "qa", "--comment", "weekly plan", "--json"],
        input=PASSWORD + "\n",
        env=cli_env,
    )
    assert r.exit_code == 0, r.output
    published = json.loads(r.stdout)
    assert published["version"] == 1 and published["valid"] is True
    assert published["published_by"] == "qa" and published["comment"] == "weekly plan"
    assert S.assert_published_plans_valid(cli_db) == 1
    r = runner.invoke(app, ["schedule", "status", "--json"], env=cli_env)
    assert json.loads(r.stdout)["plan"]["assignments"][0]["order_id"] == "HLX-1-0001"
    r = runner.invoke(app, ["schedule", "suites", "--json"], env=cli_env)
    assert [s["code"] for s in json.loads(r.stdout)][:2] == ["GHE-01", "LEI-01"]
    # a wrong password publishes nothing; a sponsor may not publish
    r = runner.invoke(
        app, ["schedule", "publish", "--user", "qa"], input="wrong-password\n", env=cli_env
    )
    assert r.exit_code == 1 and "Invalid user name or password" in r.output
    r = runner.invoke(
        app, ["schedule", "publish", "--user", "a.clinical"], input=PASSWORD + "\n", env=cli_env
    )
    assert r.exit_code == 1 and "capacity plan is the CDMO's" in r.output
    assert S.assert_published_plans_valid(cli_db) == 1
