"""``v2v coi`` commands that use the store, through the root app: facility, DIN issuing, scan,
timeline, orders, lookup, mismatches, clear (JSON output, exit codes, no personal data)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from tests import factories
from tests.factories import PASSWORD
from tests.integration.identity import world as W
from typer.testing import CliRunner

from vein2vein.core.settings import get_settings
from vein2vein.features import create_cli
from vein2vein.identity.domain import Step
from vein2vein.identity.isbt128 import Din, check_character
from vein2vein.store.database import Database

cli = create_cli()


@pytest.fixture
def cli_world(sqlite_db: Database):  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    yield W.build(sqlite_db)
    get_settings.cache_clear()


def _run(w: W.World, args: list[str], stdin: str | None = None):  # type: ignore[no-untyped-def]
    env = {"V2V_DATABASE_URL": w.db.settings.database_url, "V2V_ARGON2_PROFILE": "fast-tests"}
    return CliRunner().invoke(cli, args, env=env, input=stdin)


def test_din_issue_json_and_sequence(cli_world: W.World) -> None:
    first = _run(cli_world, ["coi", "din", "issue", "--fin", W.FIN, "--json"])
    assert first.exit_code == 0, first.output
    row = json.loads(first.output)
    assert row["sequence"] == 1 and row["check_character"] == check_character(row["din"])
    more = json.loads(
        _run(cli_world, ["coi", "din", "issue", "--fin", W.FIN, "--count", "2", "--json"]).output
    )
    assert [r["sequence"] for r in more] == [2, 3]
    unknown = _run(cli_world, ["coi", "din", "issue", "--fin", "B1234"])
    assert unknown.exit_code == 1 and "no facility with FIN B1234" in unknown.output
    bad = _run(
        cli_world, ["coi", "facility", "add", "O1234", "--org", "Northbridge", "--name", "x"]
    )
    assert bad.exit_code == 2 and "facility identification number" in bad.output


def test_scan_records_or_stops_and_qa_clears(cli_world: W.World) -> None:
    w = cli_world
    oid = W.order(w, W.enrol(w))
    din = W.assign_din(w, oid)
    board = json.loads(_run(w, ["coi", "orders", "--json"]).output)
    number, coi = board[0]["number"], board[0]["coi"]
    at = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=5)).isoformat(timespec="minutes")
    base = [
        "coi",
        "scan",
        number,
        "collected",
        "--location",
        "Apheresis unit",
        "--user",
        "a.clinical",
        "--at",
        at,
        "--subject-id",
        "HLX-001",
        "--dob",
        "--json",
    ]
    good = ["--scan", Din.from_code(din).barcode_data(), "--scan", "&c" + coi.replace("-", "")]
    ok = _run(w, base + good, stdin=f"{PASSWORD}\n{W.DOB}\n")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["step"] == "collected"
    assert W.DOB not in ok.output
    out_of_order = _run(w, [*base[:3], "thawed", *base[4:], *good], stdin=f"{PASSWORD}\n{W.DOB}\n")
    assert out_of_order.exit_code == 1 and "the next step is 'packed'" in out_of_order.output
    wrong = ["--scan", Din.from_code(din[:-1] + "8").barcode_data()]
    later = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=4)).isoformat(timespec="minutes")
    packed = [
        "coi",
        "scan",
        number,
        "packed",
        "--location",
        "Ward",
        "--user",
        "a.clinical",
        "--at",
        later,
    ]
    stop = _run(w, packed + wrong, stdin=f"{PASSWORD}\n")
    assert stop.exit_code == 1 and "hand-off stopped at 'packed'" in stop.output
    listed = json.loads(_run(w, ["coi", "mismatches", "--json"]).output)
    assert len(listed) == 1 and listed[0]["problems"][0]["field"] == "din"
    refused = _run(
        w,
        ["coi", "clear", str(listed[0]["id"]), "--reason", "fine", "--user", "operator"],
        stdin=f"{PASSWORD}\n",
    )
    assert refused.exit_code == 1 and "may not clear" in refused.output
    cleared = _run(
        w,
        [
            "coi",
            "clear",
            str(listed[0]["id"]),
            "--reason",
            "wrong kit label scanned",
            "--user",
            "qa",
            "--json",
        ],
        stdin=f"{PASSWORD}\n",
    )
    assert cleared.exit_code == 0 and json.loads(cleared.output)["status"] == "cleared"
    again = _run(w, packed + good + ["--json"], stdin=f"{PASSWORD}\n")
    assert again.exit_code == 0, again.output
    wrong_pw = _run(w, packed + good, stdin="not-the-password\n")
    assert wrong_pw.exit_code == 1 and "Invalid user name or password" in wrong_pw.output


def test_timeline_and_lookup_never_print_personal_data(cli_world: W.World) -> None:
    w = cli_world
    oid = W.order(w, W.enrol(w))
    din = W.assign_din(w, oid)
    W.walk(w, oid, Step.INFUSED)
    tl = _run(w, ["coi", "timeline", "hlx-001", "--json"])
    assert tl.exit_code == 0, tl.output
    data = json.loads(tl.output)
    assert data["orders"][0]["timeline"]["vein_to_vein_days"] > 0
    text = _run(w, ["coi", "timeline", "HLX-001"]).output
    assert "Vein-to-vein" in text
    for output in (tl.output, text, _run(w, ["coi", "orders", "--all", "--json"]).output):
        assert W.DOB not in output and W.INITIALS not in output
    assert _run(w, ["coi", "timeline", "NOPE-1"]).exit_code == 1
    found = _run(w, ["coi", "lookup", Din.from_code(din).barcode_data(), "--json"])
    assert found.exit_code == 0 and json.loads(found.output)["order"]["subject_id"] == "HLX-001"
    assert _run(w, ["coi", "lookup", "=A99992600999900"]).exit_code == 1
    assert _run(w, ["coi", "lookup", "=#junk"]).exit_code == 2


def test_server_side_commands_name_the_cdmo_when_there_are_several(cli_world: W.World) -> None:
    """Reads and DIN issuing act as the CDMO (cli.common.server_scope): with two CDMOs in the
    store, --org names the one acting."""
    factories.org(cli_world.db, "CDMO", "Southbank")
    unnamed = _run(cli_world, ["coi", "orders", "--json"])
    assert unnamed.exit_code == 2 and "name one with --org" in unnamed.output
    named = _run(cli_world, ["coi", "orders", "--org", "Northbridge", "--json"])
    assert named.exit_code == 0 and json.loads(named.output) == []
    issued = _run(cli_world, ["coi", "din", "issue", "--fin", W.FIN, "--org", "Northbridge"])
    assert issued.exit_code == 0, issued.output
