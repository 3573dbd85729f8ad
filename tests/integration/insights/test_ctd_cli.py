"""``v2v reports ctd`` and ``v2v reports sections`` on the demo (insights/ctd_cli.py): the file
written in the format its suffix names, the JSON summary with its fixed fields, the SHA-256 of
the file and the audit head it printed, a person's scope with ``--user`` (another client's
program not found), and the refusals (a section not yet available, a wrong suffix) with their
exit codes."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import pytest
from typer.testing import CliRunner

from vein2vein.demo.generator import DEMO_PASSWORD
from vein2vein.store.database import Database

FIELDS = [
    "program",
    "program_id",
    "section",
    "format",
    "filename",
    "sha256",
    "head_seq",
    "head_hash",
    "records",
    "file",
]


@pytest.fixture
def env(demo_db: Database) -> Iterator[dict[str, str]]:
    from vein2vein.core.settings import get_settings

    get_settings.cache_clear()
    yield {"V2V_DATABASE_URL": demo_db.settings.database_url, "V2V_ARGON2_PROFILE": "fast-tests"}
    get_settings.cache_clear()


def _run(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    from vein2vein.features import create_cli

    return CliRunner().invoke(create_cli(), list(args), env=env, input=stdin)


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
def test_reports_ctd_command(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "p54.docx"
    args = ("reports", "ctd", "--program", "HLX-EPC-01", "--section", "3.2.P.5.4")
    r = _run(env, *args, "--out", str(out), "--json")
    assert r.exit_code == 0, r.output
    made = json.loads(r.output)
    assert list(made) == FIELDS
    assert made["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert (made["section"], made["format"]) == ("3.2.P.5.4", "docx")
    notes = "\n".join(p.text for p in docx.Document(io.BytesIO(out.read_bytes())).paragraphs)
    assert f"Audit chain head at generation: #{made['head_seq']} {made['head_hash']}" in notes

    pdf = tmp_path / "history.pdf"
    as_sponsor = ("--user", "helixa.viewer")
    r = _run(env, "reports", "ctd", "--program", "HLX-EPC-01", "--section", "batch-history",
             "--out", str(pdf), *as_sponsor, stdin=DEMO_PASSWORD + "\n")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert "CTD 3.2.P.3.3 written to" in r.output
    later = re.search(r"audit chain head #(\d+) ([0-9a-f]{64})", r.output)
    assert later and int(later[1]) > made["head_seq"] and later[2] != made["head_hash"]

    r = _run(env, "reports", "ctd", "--program", "HLX-EPC-01", "--section", "3.2.P.5.4",
             "--out", str(tmp_path / "x.pdf"), "--user", "corvane.clinical",
             stdin=DEMO_PASSWORD + "\n")  # fmt: skip
    assert r.exit_code != 0 and "no program with code 'HLX-EPC-01'" in r.output
    cmp = tmp_path / "c.docx"
    r = _run(env, *args[:4], "--section", "3.2.P.2", "--out", str(cmp), "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["section"] == "3.2.P.2" and summary["records"]["cmp_run"]
    cells = [c.text for t in docx.Document(str(cmp)).tables for row in t.rows for c in row.cells]
    assert any("CP-HLX-EPC-01-01 v1" in c for c in cells)
    r = _run(env, *args, "--out", str(tmp_path / "x.xlsx"))
    assert r.exit_code == 2 and "x.xlsx" in r.output and ".pdf or .docx" in r.output

    r = _run(env, "reports", "sections", "--json")
    assert r.exit_code == 0, r.output
    rows = {s["code"]: s["available"] for s in json.loads(r.output)}
    assert rows == {"3.2.P.5.4": True, "3.2.P.3.3": True, "3.2.P.2": True}
