"""`v2v stats …` through the root Typer app: JSON contracts, reference values (statistics.md
T1, TI1, S1, S6, G1) and one-line errors with exit code 2."""

import json

import pytest
from typer.testing import CliRunner

from vein2vein.features import create_cli

from .data import CLINIC_X1_VAR1, CLINIC_X2_VAR1, FLOWRATE, PISTONRINGS, QCC_CAPABILITY

app = create_cli()

runner = CliRunner()


def csv(tmp_path, name, values, header="value", extra_first_column=True):
    lines = [f"lot,{header}"] if extra_first_column else [header]
    for i, v in enumerate(values):
        lines.append(f"L{i},{v}" if extra_first_column else f"{v}")
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run_json(args):
    result = runner.invoke(app, ["stats", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_tost_json_contract(tmp_path):
    t = csv(tmp_path, "t.csv", CLINIC_X1_VAR1)
    r = csv(tmp_path, "r.csv", CLINIC_X2_VAR1)
    out = run_json(["tost", t, r, "--margin", "0.6"])
    for key in (
        "difference",
        "se",
        "df",
        "t_lower",
        "p_lower",
        "t_upper",
        "p_upper",
        "p_value",
        "ci_low",
        "ci_high",
        "equivalent",
        "variance",
    ):
        assert key in out
    assert out["p_value"] == pytest.approx(0.0485308, rel=1e-5)
    assert out["variance"] == "welch" and out["equivalent"] is True
    pooled = run_json(["tost", t, r, "--lower", "-0.6", "--upper", "0.6", "--variance", "pooled"])
    assert pooled["p_value"] == pytest.approx(0.0482732, rel=1e-5)
    ratio = run_json(["tost", t, r, "--lower", "0.8", "--upper", "1.25", "--ratio"])
    assert (ratio["difference"], ratio["ci_low"], ratio["ci_high"]) == pytest.approx(
        (1.04407, 0.92129, 1.18321), rel=1e-5
    )
    paired = run_json(["tost", t, r, "--margin", "0.6", "--paired"])
    assert paired["p_value"] == pytest.approx(0.00316688, rel=1e-5)


def test_tost_margin_sd_prints_design_warning_on_stderr(tmp_path):
    t = csv(tmp_path, "t.csv", [1.0, 1.1, 0.9])
    r = csv(tmp_path, "r.csv", [1.0, 1.2, 0.8])
    result = runner.invoke(app, ["stats", "tost", t, r, "--margin-sd", "1.5", "--json"])
    assert result.exit_code == 0
    assert "never conclude equivalence" in result.stderr
    out = json.loads(result.stdout)
    assert out["equivalent"] is False
    assert out["margin"]["source"] == "k_sd_reference"


def test_tolerance_from_summary_and_data(tmp_path):
    out = run_json(
        [
            "tolerance",
            "--n",
            "43",
            "--mean",
            "97.07",
            "--sd",
            "0.0268",
            "--coverage",
            "0.90",
            "--confidence",
            "0.99",
            "--method",
            "howe",
        ]
    )
    for key in ("k", "lower", "upper", "n", "mean", "sd", "method"):
        assert key in out
    assert out["k"] == pytest.approx(2.217316, abs=2e-6)
    data = csv(tmp_path, "d.csv", FLOWRATE)
    up = run_json(
        ["tolerance", data, "--coverage", "0.95", "--confidence", "0.95", "--sides", "upper"]
    )
    assert up["lower"] is None and up["upper"] > max(FLOWRATE)


def test_chart_imr_and_xbar(tmp_path):
    data = csv(tmp_path, "flow.csv", FLOWRATE)
    out = run_json(["chart", data, "--type", "imr", "--tabled"])
    assert (out["lcl"], out["ucl"]) == pytest.approx((45.8159, 55.8041), abs=1e-4)
    assert out["mr"]["ucl"] == pytest.approx(6.1347, abs=1e-4)
    assert out["points"][0]["index"] == 1 and out["points"][0]["rules"] == []
    flat = [v for row in PISTONRINGS for v in row]
    rings = csv(tmp_path, "rings.csv", flat, header="diameter")
    xr = run_json(
        ["chart", rings, "--type", "xbar-r", "--subgroup-size", "5", "--phase1", "25", "--tabled"]
    )
    flagged = {p["index"]: p["rules"] for p in xr["points"] if p["rules"]}
    assert flagged[37] == ["N1", "N5"] and flagged[35] == ["N5", "N6"]
    we = run_json(
        [
            "chart",
            rings,
            "--type",
            "xbar-r",
            "--subgroup-size",
            "5",
            "--phase1",
            "25",
            "--rules",
            "western-electric",
        ]
    )
    assert all(r.startswith("WE") for p in we["points"] for r in p["rules"])
    ewma = run_json(["chart", data, "--type", "ewma", "--center", "50", "--sigma", "1.5"])
    assert "lcl" in ewma["points"][0]
    cusum = run_json(["chart", data, "--type", "cusum", "--center", "50", "--sigma", "1"])
    assert "cusum_upper" in cusum["points"][0]


def test_capability_json_contract(tmp_path):
    flat = [v for row in QCC_CAPABILITY for v in row]
    data = csv(tmp_path, "cap.csv", flat)
    out = run_json(
        [
            "capability",
            data,
            "--lsl",
            "9.9",
            "--usl",
            "10.1",
            "--target",
            "10.0",
            "--subgroup-size",
            "4",
            "--tabled",
        ]
    )
    for key in (
        "cp",
        "cpl",
        "cpu",
        "cpk",
        "cpm",
        "pp",
        "ppl",
        "ppu",
        "ppk",
        "n",
        "sigma_within",
        "sigma_overall",
    ):
        assert key in out
    assert out["cp"] == pytest.approx(1.372667, abs=1e-6)
    assert out["ppk"] == pytest.approx(1.531968, abs=1e-6)
    assert out["n"] == 12


def test_kinetics(tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("time_h,viable_cells\n0,5e7\n72,1.5e8\n120,6e8\n168,1.8e9\n216,2.7e9\n")
    out = run_json(["kinetics", str(path)])
    assert out["fold_expansion"] == pytest.approx(54)
    assert out["doublings"] == pytest.approx(5.754888, abs=1e-6)
    assert out["fit"]["doubling_time"] == pytest.approx(35.057, abs=1e-3)
    window = run_json(["kinetics", str(path), "--window-start", "0", "--window-end", "168"])
    assert window["fit"]["n"] == 4


def test_power_doe_quality_range(tmp_path):
    out = run_json(
        ["power", "--n-test", "10", "--sigma", "1", "--margin", "1.5", "--variance", "pooled"]
    )
    assert out["power"] == pytest.approx(0.885, abs=0.006) and out["method"] == "exact"
    n = run_json(["sample-size", "--sigma", "1", "--margin", "1.5", "--variance", "pooled"])
    assert (n["n_test"], n["n_reference"]) == (9, 9)
    doe = tmp_path / "doe.csv"
    doe.write_text(
        "A,B,y\n-1,-1,28\n-1,-1,25\n-1,-1,27\n1,-1,36\n1,-1,32\n1,-1,32\n"
        "-1,1,18\n-1,1,19\n-1,1,23\n1,1,31\n1,1,30\n1,1,29\n"
    )
    res = run_json(["doe", str(doe), "--response", "y", "--factor", "A", "--factor", "B"])
    assert res["effects"]["A"] == pytest.approx(8.3333, abs=1e-4)
    t = csv(tmp_path, "t.csv", [90.2, 93.5, 91.1, 89.9, 92.4])
    r = csv(tmp_path, "r.csv", [92.1, 89.5, 94.0, 90.8, 93.2, 88.7, 91.5, 92.9])
    qr = run_json(["quality-range", t, r])
    assert (qr["lower"], qr["upper"]) == pytest.approx((86.0641, 97.1109), abs=1e-4)


def test_comparability_command_writes_report(tmp_path):
    protocol = tmp_path / "protocol.yaml"
    protocol.write_text(
        "study: demo\nreference_arm: pre\ntest_arm: post\nattributes:\n"
        "  - {name: viability, tier: 1, margin_sd: 1.5}\n"
    )
    data = tmp_path / "lots.csv"
    rows = ["lot,arm,attribute,value"]
    rows += [
        f"R{i},pre,viability,{v}"
        for i, v in enumerate([92.1, 89.5, 94.0, 90.8, 93.2, 88.7, 91.5, 92.9])
    ]
    rows += [f"T{i},post,viability,{v}" for i, v in enumerate([90.2, 93.5, 91.1, 89.9, 92.4])]
    data.write_text("\n".join(rows) + "\n")
    report = tmp_path / "report.html"
    result = runner.invoke(
        app, ["stats", "comparability", str(protocol), str(data), "--report", str(report), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["conclusion"] == "comparable"
    assert "<svg" in report.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tost", "{t}", "{bad}", "--margin", "1"], "row 4, field 'value': 'abc' is not a number"),
        (["tost", "{t}", "{t}", "--lower", "1", "--upper", "-1"], "must be below"),
        (["tost", "{t}", "{missing}", "--margin", "1"], "file not found"),
        (["tost", "{t}", "{t}"], "exactly one margin"),
        (["tolerance", "{one}"], "at least 2"),
        (["tolerance", "{same}"], "zero variance"),
        (["chart", "{t}", "--type", "xbar-r"], "subgroup-size"),
        (["capability", "{t}", "--lsl", "5", "--usl", "1"], "must be below"),
        (["tost", "{t}", "{t}", "--margin", "1", "--column", "nope"], "column not found"),
        (["tost", "{t}", "{blank}", "--margin", "1"], "row 3, field 'value': missing value"),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_exit_code_2(tmp_path, args, message):
    files = {
        "t": csv(tmp_path, "t.csv", [1.0, 2.0, 3.0, 4.0]),
        "bad": csv(tmp_path, "bad.csv", [1.0, 2.0, "abc"]),
        "blank": csv(tmp_path, "blank.csv", [1.0, "", 3.0]),
        "one": csv(tmp_path, "one.csv", [1.0]),
        "same": csv(tmp_path, "same.csv", [2.0, 2.0, 2.0]),
        "missing": str(tmp_path / "nope.csv"),
    }
    result = runner.invoke(app, ["stats", *[a.format(**files) for a in args], "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
