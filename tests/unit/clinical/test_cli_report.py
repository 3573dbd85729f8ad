"""``v2v clinical`` commands and the HTML/PDF report."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from vein2vein.clinical.cli import app
from vein2vein.clinical.demo_data import write_demo_csv, write_demo_sdtm

runner = CliRunner()


def test_readout_json_and_reports(tmp_path):
    folder = write_demo_csv(tmp_path / "demo")
    res = runner.invoke(app, ["readout", str(folder), "--cutoff", "2025-03-01", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["groups"][-1]["dcr"]["k"] == 9
    for name in ("r.html", "r.pdf"):
        out = tmp_path / name
        res = runner.invoke(app, ["readout", str(folder), "--report", str(out)])
        assert res.exit_code == 0, res.output
        assert "ORR" in res.stdout
    html = (tmp_path / "r.html").read_text()
    for part in (
        "Table 1. Best overall response by dose level, n (%)",
        "Waterfall",
        "Swimmer",
        "Overall survival",
        "Provenance",
        "data:image/png;base64,",
        "IIT-G04",
    ):
        assert part in html
    assert (tmp_path / "r.pdf").read_bytes()[:5] == b"%PDF-"


def test_readout_sdtm_prints_disagreements(tmp_path):
    sdtm = write_demo_sdtm(tmp_path / "sdtm", "xpt")
    res = runner.invoke(app, ["readout", str(sdtm), "--sdtm"])
    assert res.exit_code == 0, res.output
    assert "differ from the derived" in res.stdout and "IIT-G09" in res.stdout


def test_readout_options_and_errors(tmp_path):
    folder = write_demo_csv(tmp_path / "demo")
    res = runner.invoke(
        app,
        ["readout", str(folder), "--irecist", "--ci", "log", "--unconfirmed", "--json"],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["criteria"] == "iRECIST"
    res = runner.invoke(app, ["readout", str(folder), "--cutoff", "tomorrow"])
    assert res.exit_code == 2 and "not a date" in res.stderr
    (folder / "lesions.csv").write_text(
        "subject_id,lesion_id,role,organ,nodal\nX,T1,TARGET,LIVER,N\n"
    )
    res = runner.invoke(app, ["readout", str(folder)])
    assert res.exit_code == 2
    assert "lesions.csv, row 2, field 'subject_id'" in res.stderr
    res = runner.invoke(app, ["readout", str(folder), "--report", str(tmp_path / "x.doc")])
    assert res.exit_code == 2


def test_bor_command(tmp_path):
    p = tmp_path / "responses.csv"
    p.write_text(
        "subject_id,reference_date,date,response\n"
        "1,2020-01-01,2020-01-01,PR\n1,2020-01-01,2020-02-01,CR\n1,2020-01-01,2020-02-16,NE\n"
        "1,2020-01-01,2020-03-01,CR\n1,2020-01-01,2020-04-01,SD\n8,2020-04-01,,\n"
    )
    res = runner.invoke(app, ["bor", str(p), "--sd-min-days", "28", "--json"])
    assert res.exit_code == 0, res.output
    subjects = json.loads(res.stdout)["subjects"]
    assert subjects[0] == {
        "subject_id": "1",
        "bor": "CR",
        "bor_date": "2020-02-01",
        "bor_confirmed": "CR",
        "bor_confirmed_date": "2020-02-01",
        "confirmed_on": "2020-03-01",
        "first_response_date": "2020-01-01",  # the PR, confirmed by the CR of 02-01
        "first_confirmed_response_date": "2020-01-01",
        "clinical_benefit": True,
        "clinical_benefit_confirmed": True,
    }
    assert subjects[1]["bor"] == "MISSING"
    res = runner.invoke(app, ["bor", str(p), "--max-ne", "0", "--confirm-days", "14"])
    assert res.exit_code == 0 and "PR" in res.stdout
    res = runner.invoke(app, ["bor", str(tmp_path / "nope.csv")])
    assert res.exit_code == 2


def test_demo_command(tmp_path):
    res = runner.invoke(app, ["demo", str(tmp_path / "d"), "--sdtm", "csv"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "d" / "subjects.csv").is_file()
    assert (tmp_path / "d" / "sdtm" / "rs.csv").is_file()


def test_plot_data_is_json_ready(tmp_path):
    from vein2vein.clinical.csv_reader import read_csv_folder
    from vein2vein.clinical.readout import readout

    r = readout(read_csv_folder(write_demo_csv(tmp_path)))
    data = r.plot_data()
    json.dumps(data, allow_nan=False)
    assert [w["subject_id"] for w in data["waterfall"]][-1] == "IIT-G05"  # -48 %, the deepest
    assert {c["dose_group"] for c in data["km"]["os"]} == set(data["groups"])
    assert any(w["new_lesion_pd"] for w in data["waterfall"])
    g04 = next(s for s in data["swimmer"] if s["subject_id"] == "IIT-G04")
    assert g04["alive"] and g04["new_therapy_week"] == 27
