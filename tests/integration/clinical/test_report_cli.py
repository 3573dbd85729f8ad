"""``v2v clinical report``: generate, list, sign and write the PDF of a report version at the
command line (the same use cases as the pages and the API), with ``--json``; the PDF written
twice is the same file; a viewer may not sign."""

from __future__ import annotations

import json
from pathlib import Path

from tests import factories
from tests.integration.clinical.world import build, demo
from typer.testing import CliRunner

from vein2vein.clinical import datasets, studies
from vein2vein.features import create_cli
from vein2vein.store.database import Database

cli = create_cli()
runner = CliRunner()


def _run(env: dict[str, str], *args: str, user: str = "a.clinical"):  # type: ignore[no-untyped-def]
    return runner.invoke(
        cli, ["clinical", "report", *args, "--user", user], env=env,
        input=factories.PASSWORD + "\n",
    )  # fmt: skip


def test_generate_list_sign_and_pdf(cli_db: Database, cli_env: dict, tmp_path: Path) -> None:
    w = build(cli_db)
    with w.uow("a.clinical") as uow:
        study = studies.create_study(
            uow, w.scopes["a.clinical"], program_id=w.ids["program_a"], code="IIT-1", title="T"
        )
        datasets.upload_dataset(uow, w.scopes["a.clinical"], study.id, demo())
        uow.commit()
    r = _run(cli_env, "generate", "IIT-1", "--signatories", "a.clinical", "--json")
    assert r.exit_code == 0, r.output
    made = json.loads(r.stdout)
    assert made["new"] and made["number"] == 1 and made["missing"] == ["a.clinical"]
    r = _run(cli_env, "generate", "IIT-1")
    assert r.exit_code == 0 and "unchanged: report IIT-1 version 1" in r.stdout

    r = _run(cli_env, "sign", str(made["id"]), user="a.viewer")
    assert r.exit_code == 1 and "clinical.report_sign" in r.output
    pdfs = [tmp_path / "a.pdf", tmp_path / "b.pdf"]
    for path in pdfs:
        r = _run(cli_env, "pdf", str(made["id"]), "--out", str(path), "--json")
        assert r.exit_code == 0, r.output
    assert pdfs[0].read_bytes() == pdfs[1].read_bytes()
    r = _run(cli_env, "sign", str(made["id"]), "--content-hash", made["content_hash"], "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["final"] is True
    r = _run(cli_env, "list", "IIT-1")
    assert r.exit_code == 0 and "final (signed by all named members)" in r.stdout
