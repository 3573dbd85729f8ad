"""``v2v outcome`` on the demo: ``studies --json``, ``show STUDY --json`` (every subject with
its batch, the same document as the API), ``unlink`` and ``link`` by a named person whose
password is asked, and a refusal that names what differs (exit 1)."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from vein2vein.core.settings import get_settings
from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.store.database import Database


def _run(db: Database, *args: str, stdin: str | None = None) -> Any:
    from vein2vein.features import create_cli

    env = {"V2V_DATABASE_URL": db.settings.database_url, "V2V_ARGON2_PROFILE": "fast-tests"}
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(create_cli(), list(args), env=env, input=stdin)
    finally:
        get_settings.cache_clear()


def test_outcome_commands(demo: Database) -> None:
    out = _run(demo, "outcome", "studies", "--json")
    assert out.exit_code == 0, out.output
    (study,) = json.loads(out.output)
    assert (study["code"], study["linked"], study["subjects"]) == ("HLX-EPC-01-IIT", 10, 10)

    out = _run(demo, "outcome", "show", "HLX-EPC-01-IIT", "--json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert all(r["batch_id"] for r in doc["rows"]) and len(doc["rows"]) == 10
    g02 = next(r for r in doc["rows"] if r["subject_id"] == "IIT-G02")
    link = next(lk for lk in doc["links"] if lk["subject_id"] == "IIT-G02")

    user = ("--user", "helixa.clinical")
    out = _run(demo, "outcome", "unlink", str(link["id"]), "--reason", "test", *user, "--json",
               stdin=DEMO_PASSWORD + "\n")  # fmt: skip
    assert out.exit_code == 0, out.output
    out = _run(demo, "outcome", "link", "HLX-EPC-01-IIT", "IIT-G02", "--coi", g02["coi"],
               "--year-of-birth", "1900", *user, stdin=DEMO_PASSWORD + "\n")  # fmt: skip
    assert out.exit_code == 1 and "not the same patient" in out.output
    out = _run(demo, "outcome", "link", "HLX-EPC-01-IIT", "IIT-G02", "--coi", g02["coi"],
               "--year-of-birth", "1957", *user, "--json", stdin=DEMO_PASSWORD + "\n")  # fmt: skip
    assert out.exit_code == 0, out.output
    assert json.loads(out.output[out.output.index("{") :])["order_number"] == "HLX-EPC-01-0008"

    out = _run(demo, "outcome", "show", "HLX-EPC-01-IIT")
    assert out.exit_code == 0 and "Exploratory analysis" in out.output
