"""The QC release commands on the demo (quality/cli.py): ``v2v release list --json`` with its
fixed fields, ``v2v coa export`` then ``v2v coa verify`` (exit 0 authentic and current, 1 with
the reason for a tampered file), ``v2v results import`` (one transaction: a bad row names the
file, row and field and nothing is written) and ``v2v spec list``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from typer.testing import CliRunner

from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.manufacturing.tables import Batch
from vein2vein.quality.cli import RELEASE_FIELDS
from vein2vein.quality.tables import QcResult
from vein2vein.store.database import Database


def _run(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    from vein2vein.features import create_cli

    return CliRunner().invoke(create_cli(), list(args), env=env, input=stdin)


def test_release_coa_results_and_spec_commands(
    cli_demo: Database, cli_demo_env: dict[str, str], tmp_path: Path
) -> None:
    cli_db, cli_env = cli_demo, cli_demo_env  # a copy of the run's demo (conftest)
    with cli_db.read() as s:
        batch = {b.order.number: b.id for b in s.scalars(select(Batch)) if b.order}

    out = _run(cli_env, "release", "list", "--json")
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert all(tuple(r) == RELEASE_FIELDS for r in rows)
    states = {r["order"]: (r["state"], r["spec_version"], r["pending"]) for r in rows}
    assert states["HLX-EPC-01-0002"] == ("conditional", 1, ["vcn"])
    assert states["HLX-EPC-01-0011"] == ("pending", 1, [])
    text = _run(cli_env, "release", "list")
    assert text.exit_code == 0 and "pending: vcn" in text.output

    pdf = tmp_path / "coa.pdf"
    out = _run(cli_env, "coa", "export", str(batch["HLX-EPC-01-0007"]), "--out", str(pdf))
    assert out.exit_code == 0, out.output
    assert f"COA-{batch['HLX-EPC-01-0007']:05d}-1 (issued)" in out.output
    ok = _run(cli_env, "coa", "verify", str(pdf), "--json")
    assert ok.exit_code == 0, ok.output
    verdict = json.loads(ok.output)
    assert (verdict["authentic"], verdict["current"], verdict["status"]) == (
        True,
        True,
        "current",
    )
    bad = tmp_path / "bad.pdf"
    data = bytearray(pdf.read_bytes())
    data[len(data) // 3] ^= 0x20
    bad.write_bytes(bytes(data))
    refused = _run(cli_env, "coa", "verify", str(bad))
    assert (refused.exit_code == 1 and "bad.pdf" in refused.output) or "COA-" in refused.output
    missing = _run(cli_env, "coa", "verify", str(tmp_path / "none.pdf"))
    assert missing.exit_code != 0 and "none.pdf" in missing.output
    not_released = _run(
        cli_env, "coa", "export", str(batch["HLX-EPC-01-0011"]), "--out", str(tmp_path / "x")
    )
    assert not_released.exit_code != 0 and "not released" in not_released.output

    # results: one bad row → nothing written, the row and field named
    target = batch["HLX-EPC-01-0003"]
    csv = tmp_path / "results.csv"
    csv.write_text(
        "batch,test,value,unit,analyst,tested_on\n"
        f"{target},viability,91.5,%,qc,2026-12-01\n"
        f"{target},cd3,ninety,%,qc,2026-12-01\n",
        encoding="utf-8",
    )
    with cli_db.read() as s:
        before = s.scalar(select(func.count()).select_from(QcResult))
    failed = _run(cli_env, "results", "import", str(csv), "--user", "qc", stdin=DEMO_PASSWORD)
    assert failed.exit_code != 0
    assert "results.csv" in failed.output and "row 3" in failed.output and "value" in failed.output
    with cli_db.read() as s:
        assert s.scalar(select(func.count()).select_from(QcResult)) == before
    csv.write_text(
        "batch,test,value,unit,analyst,tested_on\nB-NO-SUCH,viability,91.5,%,qc,2026-12-01\n",
        encoding="utf-8",
    )
    unknown = _run(cli_env, "results", "import", str(csv), "--user", "qc", stdin=DEMO_PASSWORD)
    assert unknown.exit_code != 0
    assert "row 2" in unknown.output and "'batch'" in unknown.output, unknown.output
    csv.write_text(
        "batch,test,value,unit,analyst,tested_on\n"
        f"{target},viability,91.5,%,qc,2026-12-01\n"
        # the batch by its number, as custody recorded it at the start of manufacturing
        "B-HLX-EPC-01-0003,endotoxin,6.1,EU/mL,qc,2026-12-01\n",
        encoding="utf-8",
    )
    done = _run(
        cli_env, "results", "import", str(csv), "--user", "qc", "--json", stdin=DEMO_PASSWORD
    )
    assert done.exit_code == 0, done.output
    stored = json.loads(done.output)
    assert [(r["test"], r["rounded"], r["outcome"]) for r in stored] == [
        ("viability", "92 %", "conforms"),
        ("endotoxin", "6.1 EU/mL", "does not conform"),
    ]
    assert stored[0]["source"] == "csv" and stored[0]["source_row"] == 2

    specs = json.loads(_run(cli_env, "spec", "list", "--json").output)
    assert [(s["label"], s["status"]) for s in specs] == [
        ("HLX-EPC-01 drug_product iit v1", "effective")
    ]
