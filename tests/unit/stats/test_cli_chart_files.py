"""`v2v stats chart A.csv B.csv …` (issue 15): one chart per file, in order, with the same options.

With several files, ``--json`` prints a list whose elements are, byte for byte, what each file
prints alone, and the text output is each file's chart under ``==> FILE <==``. With one file the
output is the one of issue 4 (``json.dumps(result.to_dict(), indent=2)``). All or nothing: a bad
file ends the command with one line naming it, and nothing on stdout.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vein2vein.features import create_cli
from vein2vein.stats import imr_chart, xbar_r_chart

app = create_cli()
runner = CliRunner()
STAMP = re.compile(rb'"computed_at": "[^"]*"|Computed: [^\n]*')


def same_time(text: bytes) -> bytes:
    """Outputs differ only by when they were computed."""
    return STAMP.sub(b"<computed>", text)


def parse(output: bytes):
    return json.loads(output.replace(b"<computed>", b'"computed_at": null'))


def write(tmp_path, name, values, lots=True):
    path = tmp_path / name
    rows = [f"L{i},{v!r}" if lots else repr(v) for i, v in enumerate(values)]
    path.write_text(("lot,value\n" if lots else "value\n") + "\n".join(rows) + "\n")
    return str(path)


def files(tmp_path, count=4, n=300):
    rng = np.random.default_rng(7)
    out = []
    for i in range(count):
        x = rng.normal(100, 2, n)
        x[40 + i] += 9  # a signal in each file
        out.append(write(tmp_path, f"{'abcdefgh'[i]}.csv", x.tolist(), lots=i % 2 == 0))
    return out


def run(args):
    result = runner.invoke(app, ["stats", "chart", *args])
    return result


def ok(args) -> bytes:
    result = run(args)
    assert result.exit_code == 0, result.output
    return same_time(result.stdout_bytes)


@pytest.mark.parametrize(
    "options",
    [
        ["--phase1", "100"],
        ["--type", "xbar-r", "--subgroup-size", "5", "--rules", "western-electric"],
        ["--type", "ewma", "--center", "100", "--sigma", "2"],
        ["--type", "cusum"],
    ],
    ids=["imr", "xbar-r", "ewma", "cusum"],
)
def test_several_files_print_the_single_file_outputs_in_order(tmp_path, options):
    paths = files(tmp_path)
    alone = [ok([p, *options, "--json"]) for p in paths]
    together = ok([*paths, *options, "--json"])
    assert together == b"[\n" + b",\n".join(a.removesuffix(b"\n") for a in alone) + b"\n]\n"
    assert parse(together) == [parse(a) for a in alone]
    texts = [ok([p, *options]) for p in paths]
    headed = [f"==> {p} <==\n".encode() + t for p, t in zip(paths, texts, strict=True)]
    assert ok([*paths, *options]) == b"\n".join(headed)


def test_one_file_prints_what_issue_4_printed(tmp_path):
    rng = np.random.default_rng(11)
    x = rng.normal(0, 3e-5, 400)  # numbers orjson and repr write differently
    x[50] += 2e-4
    path = write(tmp_path, "tiny.csv", x.tolist())
    issue_4 = json.dumps(imr_chart(x, phase1=100).to_dict(), indent=2, allow_nan=False)
    assert ok([path, "--phase1", "100", "--json"]) == same_time(issue_4.encode() + b"\n")
    rings = write(tmp_path, "rings.csv", x.tolist(), lots=False)
    text = xbar_r_chart(x.reshape(-1, 4), tabled=True).summary()
    args = [rings, "--type", "xbar-r", "--subgroup-size", "4", "--tabled"]
    assert ok(args) == same_time(text.encode() + b"\n")


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_bad_cell_in_the_third_file_names_it_and_prints_nothing(tmp_path, as_json):
    paths = files(tmp_path)
    third = Path(paths[2])
    lines = third.read_text().splitlines()
    lines[4] = "L3,abc" if "," in lines[4] else "abc"
    third.write_text("\n".join(lines) + "\n")
    result = run([*paths, *(["--json"] if as_json else [])])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: {paths[2]}, row 5, field 'value': 'abc' is not a number"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("value\n2\n2\n2\n2\n", "the estimated sigma is zero"),
        ("value\n2\n", "at least 2"),
        (None, "file not found"),
    ],
    ids=["no variation", "one value", "missing"],
)
def test_a_file_the_chart_cannot_use_is_named(tmp_path, content, message):
    paths = files(tmp_path, count=3)
    bad = str(tmp_path / "bad.csv")
    if content is not None:
        Path(bad).write_text(content)
    result = run([paths[0], paths[1], bad, paths[2], "--json"])
    assert result.exit_code == 2 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {bad}") and message in line


def test_one_bad_file_alone_reads_as_before(tmp_path):
    path = tmp_path / "flat.csv"
    path.write_text("value\n2\n2\n2\n2\n")
    result = run([str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: field 'sigma': the estimated sigma is zero")


def test_warnings_name_their_file_in_order(tmp_path):
    few = [write(tmp_path, f"{c}.csv", [1.0, 2.5, 1.7, 3.1, 2.2, 2.9]) for c in "xy"]
    result = run([*few, "--json"])
    assert result.exit_code == 0
    warned = result.stderr.strip().splitlines()
    assert [w.split(": ")[1] for w in warned] == few
    assert all("limits estimated from 6 individual values" in w for w in warned)
    alone = run([few[0], "--json"])
    assert alone.stderr.startswith("warning: limits estimated from 6")
