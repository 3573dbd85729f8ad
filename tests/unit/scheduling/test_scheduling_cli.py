"""``v2v schedule``: generate, plan (JSON shape of the issue), validate, gantt, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vein2vein.scheduling.cli import app

runner = CliRunner()


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    result = runner.invoke(
        app, ["generate", "--out-dir", str(tmp_path), "--n-orders", "25", "--seed", "2"]
    )
    assert result.exit_code == 0, result.output
    return tmp_path


def files(folder: Path) -> list[str]:
    return [
        "--orders",
        str(folder / "orders.csv"),
        "--suites",
        str(folder / "suites.csv"),
        "--downtime",
        str(folder / "downtime.csv"),
        "--qc-capacity",
        "13",
    ]


@pytest.mark.parametrize("method", ["greedy", "cpsat"])
def test_plan_json_has_the_issue_shape(instance: Path, method: str) -> None:
    result = runner.invoke(
        app, ["plan", *files(instance), "--method", method, "--time-limit", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data["assignments"][0]) == {"order_id", "suite", "start", "end", "release", "ship"}
    assert set(data["metrics"]) == {
        "mean_vein_to_vein_days",
        "late_orders",
        "total_days_late",
        "utilisation",
        "gap",
    }
    assert len(data["assignments"]) + len(data["unscheduled"]) == 25
    assert data["validation"]["ok"] is True
    assert data["solver"]["method"] == method
    assert (data["metrics"]["gap"] is None) == (method == "greedy")


def test_plan_table_validate_and_gantt(instance: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["plan", *files(instance), "--method", "greedy", "--out", str(out)])
    assert result.exit_code == 0 and "Batches" in result.stdout
    checked = runner.invoke(app, ["validate", *files(instance), "--plan", str(out)])
    assert checked.exit_code == 0 and "satisfies every hard rule" in checked.stdout
    data = json.loads(out.read_text())
    data["assignments"][1]["suite"] = data["assignments"][0]["suite"]
    data["assignments"][1]["start"] = data["assignments"][0]["start"]
    out.write_text(json.dumps(data))
    bad = runner.invoke(app, ["validate", *files(instance), "--plan", str(out)])
    assert bad.exit_code == 1 and "suite_overlap" in bad.stdout
    page = tmp_path / "g.html"
    drawn = runner.invoke(
        app,
        [
            "gantt",
            "--orders",
            str(instance / "orders.csv"),
            "--suites",
            str(instance / "suites.csv"),
            "--plan",
            str(out),
            "--out",
            str(page),
        ],
    )
    assert drawn.exit_code == 0 and page.read_text().count("plotly") > 1


def test_bad_input_names_file_row_and_field(instance: Path) -> None:
    orders = instance / "orders.csv"
    lines = orders.read_text().splitlines()
    lines[3] = lines[3].replace(",N,", ",X,", 1).replace(",Y,", ",X,", 1)
    orders.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["plan", *files(instance), "--method", "greedy"])
    assert result.exit_code == 2
    assert "orders.csv, row 4, field 'infectious'" in result.stderr


def test_bad_options(instance: Path) -> None:
    result = runner.invoke(app, ["plan", *files(instance), "--method", "magic"])
    assert result.exit_code == 2 and "unknown method" in result.stderr
    result = runner.invoke(app, ["plan", *files(instance), "--today", "soon"])
    assert result.exit_code == 2
