"""Comparability study: protocol parsing, per-attribute conclusions (values of case T7 of
/work/shared/references/statistics.md) and the HTML/PDF report."""

import pytest

from vein2vein.core.errors import InputError
from vein2vein.stats.comparability import load_lot_results, parse_protocol, run_comparability
from vein2vein.stats.report import render_html, write_report

from .data import VIABILITY_REFERENCE, VIABILITY_TEST

PROTOCOL = """
study: Site B transfer
reference_arm: pre
test_arm: post
alpha: 0.05
attributes:
  - name: viability
    tier: 1
    method: tost
    margin_sd: 1.5
    unit: "%"
    rationale: potency-linked CQA
  - name: vcn
    tier: 2
    method: quality_range
    k: 3
  - name: cd4_cd8
    tier: 3
  - name: potency
    tier: 1
    margin: 5
    paired: true
"""


def lot_csv(tmp_path, extra_rows=()):
    rows = ["lot,arm,attribute,value,donor"]
    for i, v in enumerate(VIABILITY_REFERENCE):
        rows.append(f"R{i},pre,viability,{v},")
    for i, v in enumerate(VIABILITY_TEST):
        rows.append(f"T{i},post,viability,{v},")
    for i, v in enumerate([2.1, 2.4, 1.9, 2.2, 2.0, 2.3]):
        rows.append(f"R{i},pre,vcn,{v},")
    for i, v in enumerate([2.2, 2.5, 4.5]):
        rows.append(f"T{i},post,vcn,{v},")
    for i, v in enumerate([1.1, 0.9, 1.3]):
        rows.append(f"R{i},pre,cd4_cd8,{v},")
        rows.append(f"T{i},post,cd4_cd8,{v + 0.1},")
    for donor, (pre, post) in {
        "D1": (50, 51),
        "D2": (60, 59.5),
        "D3": (55, 56.5),
        "D4": (58, 58),
    }.items():
        rows.append(f"S{donor},pre,potency,{pre},{donor}")
        rows.append(f"P{donor},post,potency,{post},{donor}")
    rows.extend(extra_rows)
    path = tmp_path / "lots.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_study_conclusions(tmp_path):
    protocol = parse_protocol(PROTOCOL)
    result = run_comparability(protocol, load_lot_results(lot_csv(tmp_path)))
    by_name = {a.plan.name: a for a in result.attributes}
    via = by_name["viability"]
    assert via.conclusion == "pass"
    assert via.result.p_value == pytest.approx(0.0101027, rel=1e-5)  # T7 Welch
    assert via.reference.n == 8 and via.test.n == 5
    assert via.reference.sd == pytest.approx(1.841147, rel=1e-6)
    assert by_name["vcn"].conclusion == "fail"  # 4.5 outside the quality range
    assert by_name["vcn"].result.n_inside == 2
    assert by_name["cd4_cd8"].conclusion == "descriptive"
    assert by_name["potency"].result.design == "paired"
    assert by_name["potency"].result.n_test == 4
    assert result.conclusion == "not demonstrated"
    assert len(result.protocol_sha256) == 64
    assert any("vcn" in w for w in result.warnings)  # few reference lots for the range
    d = result.to_dict()
    assert d["attributes"][0]["result"]["p_value"] == pytest.approx(0.0101027, rel=1e-5)


def test_html_and_pdf_report(tmp_path):
    result = run_comparability(parse_protocol(PROTOCOL), load_lot_results(lot_csv(tmp_path)))
    html = render_html(result)
    assert "Site B transfer" in html and "not demonstrated" in html
    assert html.count("<svg") == 4
    assert "H0: difference &lt;= lower bound" in html  # labels of both one-sided tests, escaped
    assert result.protocol_sha256 in html
    pdf = write_report(result, tmp_path / "report.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    with pytest.raises(InputError, match=r"html or \.pdf"):
        write_report(result, tmp_path / "report.docx")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("reference_arm: a\ntest_arm: b\nattributes: []\n", "non-empty"),
        ("test_arm: b\nattributes: [{name: x}]\n", "reference_arm"),
        ("reference_arm: a\ntest_arm: b\nattributes: [{name: x, tier: 4}]\n", "tier"),
        ("reference_arm: a\ntest_arm: b\nattributes: [{name: x, method: tost}]\n", "exactly one"),
        ("reference_arm: a\ntest_arm: b\nattributes: [{name: x, margin: abc}]\n", "number"),
        ("reference_arm: a\ntest_arm: b\nattributes: [{name: x, colour: red}]\n", "unknown"),
        ("reference_arm: [\n", "YAML"),
    ],
)
def test_protocol_errors(text, match):
    with pytest.raises(InputError, match=match):
        parse_protocol(text)


def test_data_errors(tmp_path):
    protocol = parse_protocol(PROTOCOL)
    with pytest.raises(InputError, match="neither the reference"):
        run_comparability(protocol, load_lot_results(lot_csv(tmp_path, ["X1,other,vcn,1,"])))
    bad = tmp_path / "bad.csv"
    bad.write_text("lot,arm,attribute,value\nA,pre,vcn,abc\n")
    with pytest.raises(InputError, match="row 2, field 'value'"):
        load_lot_results(bad)
    missing = parse_protocol(
        "reference_arm: pre\ntest_arm: post\nattributes: [{name: titre, margin: 1}]\n"
    )
    with pytest.raises(InputError, match="both arms"):
        run_comparability(missing, load_lot_results(lot_csv(tmp_path)))
