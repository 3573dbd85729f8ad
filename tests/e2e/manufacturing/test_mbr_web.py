"""Master batch records over HTTP: import through the API, the editor of a draft, signing on the
page with the password re-entered (three people), the differences page, export, the sponsor's
view and the command line."""

from __future__ import annotations

import json
import re

from tests.factories import PASSWORD
from tests.mbr_world import V1, V2, import_file, make_effective, make_world
from tests.webclient import client, logged_in
from typer.testing import CliRunner

from vein2vein.auth import tokens
from vein2vein.features import create_cli
from vein2vein.manufacturing import mbr_yaml
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor


def _api(db: Database, scope) -> object:  # type: ignore[no-untyped-def]
    with db.uow(Actor("t")) as uow:
        _, token = tokens.create_token(uow, scope, "t", 1)
        uow.commit()
    api = client(db)
    api.headers["authorization"] = f"Bearer {token}"
    return api


def _sign_on_page(db: Database, username: str, mbr_id: int, meaning: str) -> int:
    c, csrf = logged_in(db, username, PASSWORD)
    page = c.get(f"/mbr/{mbr_id}").text
    shown = re.search(r'name="shown_hash" value="([0-9a-f]{64})"', page)
    assert shown is not None and f"/mbr/{mbr_id}/sign/{meaning}" in page
    r = c.post(
        f"/mbr/{mbr_id}/sign/{meaning}",
        data={
            "csrf_token": csrf,
            "username": username,
            "password": PASSWORD,
            "shown_hash": shown.group(1),
        },
        follow_redirects=False,
    )
    return r.status_code


def test_import_edit_sign_and_compare_through_the_web(sqlite_db: Database) -> None:
    db = sqlite_db
    world = make_world(db)
    api = _api(db, world.author)
    r = api.post("/api/mbr", json={"yaml": V1.read_text(encoding="utf-8"), "file_name": V1.name})
    assert r.status_code == 201, r.text
    mbr_id = r.json()["id"]
    assert r.json()["status"] == "DRAFT" and r.json()["site"] == "Site B — Ghent"

    bad = api.post("/api/mbr", json={"yaml": "product: [", "file_name": "bad.yaml"})
    assert bad.status_code == 422 and "bad.yaml line 1" in bad.json()["detail"]

    c, csrf = logged_in(db, "author", PASSWORD)
    editor = c.get(f"/mbr/{mbr_id}/edit")
    assert editor.status_code == 200 and "NOR high" in editor.text
    r = c.post(
        f"/mbr/{mbr_id}/edit/parameter",
        data={
            "csrf_token": csrf,
            "entry": "TRANSDUCE.moi",
            "target": "3",
            "nor_low": "2.5",
            "nor_high": "3.2",
            "par_low": "2",
            "par_high": "3.0",  # inside the NOR: refused, shown on the form
            "reason": "tighter",
        },
    )
    assert r.status_code == 422 and "must be ≥ nor.high" in r.text
    r = c.post(
        f"/mbr/{mbr_id}/edit/verification",
        data={"csrf_token": csrf, "entry": "ACTIVATE.il2", "required": "yes", "reason": "x"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = c.post(
        f"/mbr/{mbr_id}/edit/material",
        data={
            "csrf_token": csrf,
            "code": "PBS",
            "name": "DPBS",
            "kind": "reagent",
            "operation": "HARVEST",
            "second_person": "no",
            "reason": "wash buffer",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303

    # a wrong password signs nothing
    c2, csrf2 = logged_in(db, "author", PASSWORD)
    wrong = c2.post(
        f"/mbr/{mbr_id}/sign/authored",
        data={"csrf_token": csrf2, "username": "author", "password": "wrong-password-1"},
    )
    assert wrong.status_code == 401
    assert _sign_on_page(db, "author", mbr_id, "authored") == 303
    assert c.get(f"/mbr/{mbr_id}/edit").status_code == 422  # signed: no editor
    assert _sign_on_page(db, "reviewer", mbr_id, "reviewed") == 303
    assert _sign_on_page(db, "approver", mbr_id, "approved") == 303
    detail = api.get(f"/api/mbr/{mbr_id}").json()
    assert detail["mbr"]["status"] == "EFFECTIVE"
    assert set(detail["mbr"]["signed"]) == {"authored", "reviewed", "approved"}
    harvest = next(o for o in detail["content"]["operations"] if o["code"] == "HARVEST")
    assert "PBS" in harvest["materials"]

    other = import_file(db, world.author, V2)
    page = c.get(f"/mbr/{mbr_id}/diff/{other}")
    assert page.status_code == 200
    assert "operations[HARVEST].controls[vcn]" in page.text and "Cellaca MX" in page.text
    changes = api.get(f"/api/mbr/{mbr_id}/diff/{other}").json()["changes"]
    assert {
        "kind": "changed",
        "path": "operations[ACTIVATE].parameters[il2].second_person",
        "before": True,
        "after": False,
    } in changes

    exported = api.get(f"/api/mbr/{mbr_id}/yaml")
    assert exported.status_code == 200 and "authored by" in exported.text
    assert mbr_yaml.parse(exported.text).operation("HARVEST").materials[-1] == "PBS"

    # the sponsor of the program reads it; the other sponsor does not see it
    assert _api(db, world.sponsor).get(f"/api/mbr/{mbr_id}").status_code == 200
    assert (
        _api(db, world.sponsor)
        .post(f"/api/mbr/{mbr_id}/versions", json={"reason": "x"})
        .status_code
        == 403
    )
    assert _api(db, world.other_sponsor).get(f"/api/mbr/{mbr_id}").status_code == 404
    assert _api(db, world.other_sponsor).get("/api/mbr").json() == []


def test_cli_import_list_export_and_diff(
    cli_db: Database, cli_env: dict[str, str], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    world = make_world(cli_db)
    runner = CliRunner()
    cli = create_cli()
    r = runner.invoke(
        cli,
        ["mbr", "import", str(V1), "--user", "author", "--json"],
        input=PASSWORD + "\n",
        env=cli_env,
    )
    assert r.exit_code == 0, r.output
    v1 = json.loads(r.stdout)["id"]
    make_effective(cli_db, world, v1)
    v2 = import_file(cli_db, world.author, V2)
    r = runner.invoke(cli, ["mbr", "list", "--json"], env=cli_env)
    assert [(x["version"], x["status"]) for x in json.loads(r.stdout)] == [
        (1, "EFFECTIVE"),
        (1, "DRAFT"),
    ]
    out = tmp_path / "v1.yaml"
    r = runner.invoke(cli, ["mbr", "export", str(v1), "--out", str(out)], env=cli_env)
    assert r.exit_code == 0 and mbr_yaml.parse(out.read_text(encoding="utf-8")) == mbr_yaml.parse(
        V1.read_text(encoding="utf-8")
    )
    r = runner.invoke(cli, ["mbr", "diff", str(v1), str(v2)], env=cli_env)
    assert (
        r.exit_code == 0
        and "changed operations[FORMULATE].parameters[time_to_freeze].par.high: 60.0 -> 45.0"
        in r.stdout
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        V1.read_text(encoding="utf-8").replace("kind: lentiviral_vector", "kind: virus"),
        encoding="utf-8",
    )
    r = runner.invoke(
        cli, ["mbr", "import", str(bad), "--user", "author"], input=PASSWORD + "\n", env=cli_env
    )
    assert r.exit_code == 2 and "bad.yaml line" in r.stderr and "materials[3].kind" in r.stderr
