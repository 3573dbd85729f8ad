"""The rules of comparability protocols (insights/comparability_domain.py), pure: the demo
protocol validates; bad protocols are refused naming the field (ours and the statistics
engine's); the arms may not overlap; the order of signatures and who signs; blinding."""

from __future__ import annotations

import pytest

from vein2vein.core.errors import InputError, RuleViolation
from vein2vein.insights import comparability_domain as rules
from vein2vein.insights.comparability_demo import PROTOCOL_FILE

TEXT = PROTOCOL_FILE.read_text(encoding="utf-8")


def _refused(text: str, field: str) -> str:
    with pytest.raises(InputError) as caught:
        rules.parse_yaml(text, "p.yaml")
    assert caught.value.field == field and caught.value.file == "p.yaml", str(caught.value)
    return str(caught.value)


def test_the_demo_protocol_validates_and_reads_as_the_engine_protocol() -> None:
    content = rules.parse_yaml(TEXT)
    ref, test = rules.arms(content)
    assert (ref.site, ref.mbr_version, test.site) == ("Site B — Ghent", 1, "Site A — Leiden")
    assert ref.holds("Site B — Ghent", 1) and not ref.holds("Site A — Leiden", 1)
    assert rules.sources(content)["fold_expansion"] == rules.Source("derived", "fold_expansion")
    engine = rules.engine_protocol(content, "demo")
    assert [a.method for a in engine.attributes][:2] == ["tost", "quality_range"]
    assert engine.attributes[0].margin == 5.0
    # the same content gives the same engine protocol hash (the report names it)
    assert engine.sha256 == rules.engine_protocol(rules.validate(content), "x").sha256
    assert rules.parse_yaml(rules.to_yaml(content)) == content


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('site: "Site A — Leiden", ', "", "test.site"),
        ("mbr_version: 1}", "mbr_version: 0}", "reference.mbr_version"),
        ("source: qc:viability", "source: viability", "attributes[0].source"),
        ("source: derived:fold_expansion", "source: derived:speed", "attributes[3].source"),
        ("    margin: 5\n", "", "attributes[0].margin"),  # the engine: a tost needs a margin
        ('    k: 3\n    unit: "%"', '    k: -3\n    unit: "%"', "attributes[1].k"),
        ("    margin: 5\n", "    margin: five\n", "attributes[0].margin"),
        ("alpha: 0.05", "alpha: 0.7", "alpha"),
        ("    tier: 1\n", "    tier: one\n", "attributes[0].tier"),
        ("title: EpCAM", "colour: red\ntitle: EpCAM", "protocol"),
        ("attributes:\n", "attributes: []\nx:\n", "protocol"),
    ],
)
def test_a_bad_protocol_is_refused_naming_the_field(old: str, new: str, field: str) -> None:
    assert old in TEXT
    _refused(TEXT.replace(old, new, 1), field)


def test_the_arms_may_not_hold_the_same_batch() -> None:
    same = TEXT.replace('site: "Site A — Leiden"', 'site: "Site B — Ghent"')
    assert "same batch" in _refused(same, "test")
    # one site, two MBR versions: a process change at one site is a valid design
    change = same.replace("Leiden MBR v1, site", "Ghent MBR v2, site").replace(
        'Ghent", mbr_version: 1}\nattributes', 'Ghent", mbr_version: 2}\nattributes'
    )
    ref, test = rules.arms(rules.parse_yaml(change))
    assert (ref.mbr_version, test.mbr_version) == (1, 2)
    unversioned = same.replace('Ghent", mbr_version: 1}\nattributes', 'Ghent"}\nattributes')
    assert "same batch" in _refused(unversioned, "test")


def test_not_yaml_is_refused() -> None:
    assert "not valid YAML" in _refused("a: [", "protocol")


def test_the_order_of_signatures_and_who_signs() -> None:
    rules.check_author_signature(rules.DRAFT, "Grace", "grace")
    with pytest.raises(RuleViolation, match="author of the version"):
        rules.check_author_signature(rules.DRAFT, "grace", "henrik")
    with pytest.raises(RuleViolation, match="already authored"):
        rules.check_author_signature(rules.AUTHORED, "grace", "grace")
    with pytest.raises(RuleViolation, match="before it is approved"):
        rules.check_approval(rules.DRAFT, None, "henrik")
    with pytest.raises(RuleViolation, match="another person approves"):
        rules.check_approval(rules.AUTHORED, "henrik", "Henrik")
    rules.check_approval(rules.AUTHORED, "grace", "henrik")
    with pytest.raises(RuleViolation, match="already approved"):
        rules.check_approval(rules.APPROVED, "grace", "henrik")
    for status in (rules.AUTHORED, rules.APPROVED, rules.SUPERSEDED):
        with pytest.raises(RuleViolation, match="never changed"):
            rules.check_edit(status)
    rules.check_edit(rules.DRAFT)
    rules.check_run(rules.APPROVED)
    for status in (rules.DRAFT, rules.AUTHORED, rules.SUPERSEDED):
        with pytest.raises(RuleViolation, match="only on an approved"):
            rules.check_run(status)


def test_the_test_arm_is_shown_only_once_approved() -> None:
    assert [rules.test_arm_visible(s) for s in rules.STATUSES] == [False, False, True, True]
