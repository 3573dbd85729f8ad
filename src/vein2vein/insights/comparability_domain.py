"""Comparability protocols on stored batches: the rules, no I/O (docs/comparability.md).

Sections: the protocol (content, arms, attribute sources) · versions and signatures · blinding
· the protocol the statistics engine reads.

**The protocol.** What is compared is fixed before any result of the test arm is shown (ICH
Q5E §2.3: acceptance criteria set before the study; FDA 2023 draft guidance on CGT
manufacturing changes, "pre-specified"): a title, the change and its change-control reference,
the program, the significance level, the two arms, and per attribute its source, tier and
method with the engine's options (``stats.comparability``: ``tost`` with a margin,
``quality_range`` with k, ``minmax``, ``descriptive``). Written as YAML::

    title: EpCAM process transfer, Ghent (MBR v1) to Leiden (MBR v2)
    program: HLX-EPC-01
    change: technology transfer to Leiden (change control CC-2026-014)
    alpha: 0.05
    reference: {label: Ghent MBR v1, site: Site B — Ghent, mbr_version: 1}
    test: {label: Leiden MBR v1, site: Site A — Leiden, mbr_version: 1}
    attributes:
      - {name: viability, source: "qc:viability", tier: 1, method: tost, margin: 5}
      - {name: car_positive, source: "qc:car_positive", tier: 2, method: quality_range, k: 3}
      - {name: fold_expansion, source: "derived:fold_expansion", tier: 3}

**Arms.** An arm is the program's GMP batches made at a site (by name), optionally only those
made from one version of that site's MBR (MBR versions are numbered per program and site, so a
version is named with its site). Two arms at two sites compare a transfer; two versions at one
site compare a process change. The two arms must not be able to hold the same batch (they
differ in the site or in a version both name).

**Sources.** ``qc:<test code>`` (the batch's QC result of that test), ``record:<STEP>.<entry>``
(the current value of an entry of the executed batch record, after corrections),
``derived:fold_expansion`` or ``derived:doubling_time_h`` (the batch's growth,
``manufacturing.kinetics``).

**Versions and signatures** (a CDMO's QA, EU GMP Part I §4.3 and Annex 11 §14; 21 CFR 11.50):
``draft`` (editable by its author) → ``authored`` (the author signs, meaning *authored*: the
content is locked) → ``approved`` (a second person with the approval permission signs,
meaning *approved*; never the author) → ``superseded`` (a later version of the same protocol
was approved). A signed version is never edited: a change makes the next version, a draft
again, which goes through both signatures; the report names the version it ran and whether it
was superseded since.

**Blinding.** Before the version is approved no page, API route or command of the protocols
shows a value of the test arm: the editor shows the reference arm's values and summaries only
(what a margin or range is set from), and for the test arm only which batches it will hold.
A study runs only on an approved version.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from vein2vein.core.errors import InputError, RuleViolation
from vein2vein.stats.comparability import Protocol, parse_protocol

# --------------------------------------------------------------------------------------------
# the protocol
# --------------------------------------------------------------------------------------------

DERIVED = ("fold_expansion", "doubling_time_h")
_SOURCE = re.compile(
    r"^(qc:[a-z0-9_]{1,64}|record:[A-Z0-9_]{1,32}\.[a-z0-9_]{1,64}|derived:[a-z_]+)$"
)
_TOP_KEYS = {"title", "program", "change", "alpha", "reference", "test", "attributes"}
_ARM_KEYS = {"label", "site", "mbr_version"}
#: the engine's attribute keys (``stats.comparability``) plus ``source``
_ENGINE_KEYS = (
    "name",
    "tier",
    "method",
    "margin",
    "lower",
    "upper",
    "margin_sd",
    "k",
    "min_fraction",
    "alpha",
    "scale",
    "variance",
    "unit",
    "rationale",
)
MAX_ATTRIBUTES = 40


@dataclass(frozen=True)
class Arm:
    label: str
    site: str
    mbr_version: int | None

    def holds(self, site: str, mbr_version: int) -> bool:
        return self.site == site and (self.mbr_version is None or self.mbr_version == mbr_version)

    def describe(self) -> str:
        version = f", MBR v{self.mbr_version}" if self.mbr_version is not None else ""
        return f"{self.label} ({self.site}{version})"


@dataclass(frozen=True)
class Source:
    kind: str  # "qc" | "record" | "derived"
    key: str  # test code, "STEP.entry" or the derived quantity

    @property
    def text(self) -> str:
        return f"{self.kind}:{self.key}"


def _text(raw: Any, field: str, limit: int, *, required: bool = True) -> str:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise InputError("required", field=field)
        return ""
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise InputError("must be text", field=field)
    text = " ".join(str(raw).split())
    if len(text) > limit:
        raise InputError(f"at most {limit} characters", field=field)
    if any(ord(c) < 32 for c in text):
        raise InputError("control characters are not allowed", field=field)
    return text


def parse_arm(raw: Any, field: str) -> Arm:
    if not isinstance(raw, dict):
        raise InputError("an arm is a mapping with label, site and mbr_version", field=field)
    unknown = set(raw) - _ARM_KEYS
    if unknown:
        raise InputError(f"unknown key(s) {sorted(map(str, unknown))}", field=field)
    site = _text(raw.get("site"), f"{field}.site", 200, required=False) or None
    version = raw.get("mbr_version")
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 999
    ):
        raise InputError("mbr_version must be a whole number from 1", field=f"{field}.mbr_version")
    if site is None:
        raise InputError(
            "an arm names its site (and optionally an MBR version)", field=f"{field}.site"
        )
    return Arm(_text(raw.get("label"), f"{field}.label", 100), site, version)


def parse_source(raw: Any, field: str) -> Source:
    text = _text(raw, field, 120)
    if not _SOURCE.match(text):
        raise InputError(
            "source is qc:<test code>, record:<STEP>.<entry> or derived:<quantity>", field=field
        )
    kind, _, key = text.partition(":")
    if kind == "derived" and key not in DERIVED:
        raise InputError(f"derived quantities: {', '.join(DERIVED)}", field=field)
    return Source(kind, key)


def _disjoint(ref: Arm, test: Arm) -> None:
    differ = ref.site != test.site or (
        ref.mbr_version is not None
        and test.mbr_version is not None
        and ref.mbr_version != test.mbr_version
    )
    if not differ:
        raise InputError(
            "the arms could hold the same batch: they must differ in a site or an MBR version "
            "that both name",
            field="test",
        )


def validate(raw: Any) -> dict[str, Any]:
    """The protocol's canonical content from plain data (parsed YAML or stored JSON), checked
    here and by the statistics engine; ``InputError`` names the field."""
    if not isinstance(raw, dict):
        raise InputError("the protocol must be a mapping", field="protocol")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise InputError(f"unknown key(s) {sorted(map(str, unknown))}", field="protocol")
    ref, test = parse_arm(raw.get("reference"), "reference"), parse_arm(raw.get("test"), "test")
    _disjoint(ref, test)
    if ref.label == test.label:
        raise InputError("the arms need different labels", field="test.label")
    alpha = raw.get("alpha", 0.05)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 0.5:
        raise InputError("alpha must be a number above 0 and below 0.5", field="alpha")
    attrs = raw.get("attributes")
    if not isinstance(attrs, list) or not attrs:
        raise InputError("attributes must be a non-empty list", field="attributes")
    if len(attrs) > MAX_ATTRIBUTES:
        raise InputError(f"at most {MAX_ATTRIBUTES} attributes", field="attributes")
    clean = []
    for i, a in enumerate(attrs):
        where = f"attributes[{i}]"
        if not isinstance(a, dict):
            raise InputError("each attribute is a mapping", field=where)
        unknown = set(a) - set(_ENGINE_KEYS) - {"source"}
        if unknown:
            raise InputError(f"unknown key(s) {sorted(map(str, unknown))}", field=where)
        item = {k: a[k] for k in _ENGINE_KEYS if a.get(k) is not None}
        item["name"] = _text(a.get("name"), f"{where}.name", 64)
        for key in ("unit", "rationale", "method", "scale", "variance"):
            if key in item:
                item[key] = _text(item[key], f"{where}.{key}", 2000 if key == "rationale" else 64)
        _check_numbers(item, where)
        item["source"] = parse_source(a.get("source"), f"{where}.source").text
        clean.append(item)
    content = {
        "title": _text(raw.get("title"), "title", 300),
        "program": _text(raw.get("program"), "program", 32),
        "change": _text(raw.get("change"), "change", 2000),
        "alpha": float(alpha),
        "reference": _arm_data(ref),
        "test": _arm_data(test),
        "attributes": clean,
    }
    try:  # the engine's own checks (margins, methods), with its field names
        engine_protocol(content, "protocol")
    except InputError as exc:
        raise InputError(exc.detail, field=exc.field or "attributes") from None
    return content


def _check_numbers(item: dict[str, Any], where: str) -> None:
    """What the engine checks only when it runs: positive margins and k, a fraction in (0, 1],
    lower below upper (refused here, when the protocol is written)."""
    tier = item.get("tier", 1)
    if isinstance(tier, bool) or tier not in (1, 2, 3):
        raise InputError("tier must be 1, 2 or 3", field=f"{where}.tier")
    for key, value in item.items():
        if key in ("name", "unit", "rationale", "method", "scale", "variance", "tier"):
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError("must be a number", field=f"{where}.{key}")
        if not math.isfinite(value):
            raise InputError("must be a finite number", field=f"{where}.{key}")
        if key in ("margin", "margin_sd", "k") and value <= 0:
            raise InputError("must be above 0", field=f"{where}.{key}")
        if key == "min_fraction" and not 0 < value <= 1:
            raise InputError("must be above 0 and at most 1", field=f"{where}.{key}")
        if key == "alpha" and not 0 < value < 0.5:
            raise InputError("must be above 0 and below 0.5", field=f"{where}.{key}")
    if "lower" in item and "upper" in item and not item["lower"] < item["upper"]:
        raise InputError("lower must be below upper", field=f"{where}.lower")


def _arm_data(arm: Arm) -> dict[str, Any]:
    return {"label": arm.label, "site": arm.site, "mbr_version": arm.mbr_version}


def arms(content: dict[str, Any]) -> tuple[Arm, Arm]:
    """(reference, test) of a validated content."""
    return parse_arm(content["reference"], "reference"), parse_arm(content["test"], "test")


def sources(content: dict[str, Any]) -> dict[str, Source]:
    """Attribute name → where its values come from."""
    return {a["name"]: parse_source(a["source"], "source") for a in content["attributes"]}


def parse_yaml(text: str, file: str = "protocol.yaml") -> dict[str, Any]:
    """:func:`validate` of a YAML text; errors name the file."""
    import yaml

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML ({exc})", file=file, field="protocol") from None
    try:
        return validate(raw)
    except InputError as exc:
        raise InputError(exc.detail, file=file, field=exc.field) from None


def to_yaml(content: dict[str, Any]) -> str:
    import yaml

    return str(yaml.safe_dump(content, sort_keys=False, allow_unicode=True, width=100))


# --------------------------------------------------------------------------------------------
# versions and signatures
# --------------------------------------------------------------------------------------------

DRAFT, AUTHORED, APPROVED, SUPERSEDED = "draft", "authored", "approved", "superseded"
STATUSES = (DRAFT, AUTHORED, APPROVED, SUPERSEDED)
AUTHORED_MEANING, APPROVED_MEANING = "authored", "approved"


def check_edit(status: str) -> None:
    if status != DRAFT:
        raise RuleViolation(
            f"this protocol version is {status}: a signed version is never changed; "
            "make a new version instead"
        )


def check_author_signature(status: str, created_by: str, signer: str) -> None:
    if status != DRAFT:
        raise RuleViolation(f"this protocol version is already {status}")
    if created_by.lower() != signer.lower():
        raise RuleViolation("the author of the version signs it as authored")


def check_approval(status: str, authored_by: str | None, signer: str) -> None:
    if status == DRAFT:
        raise RuleViolation("the author signs the version (authored) before it is approved")
    if status != AUTHORED:
        raise RuleViolation(f"this protocol version is already {status}")
    if authored_by and authored_by.lower() == signer.lower():
        raise RuleViolation(
            "you wrote this protocol version: another person approves it (EU GMP Part I 4.3)"
        )


def check_run(status: str) -> None:
    if status != APPROVED:
        raise RuleViolation(
            f"a study runs only on an approved protocol version (this one is {status})"
        )


# --------------------------------------------------------------------------------------------
# blinding
# --------------------------------------------------------------------------------------------


def test_arm_visible(status: str) -> bool:
    """Whether values of the test arm may be shown for a version in this status: only once it
    was approved (a superseded version was approved before)."""
    return status in (APPROVED, SUPERSEDED)


# --------------------------------------------------------------------------------------------
# the protocol the engine reads
# --------------------------------------------------------------------------------------------


def engine_protocol(content: dict[str, Any], source: str) -> Protocol:
    """The statistics engine's :class:`~vein2vein.stats.comparability.Protocol` of a content
    (arms by their labels; the protocol's SHA-256 is over this YAML text)."""
    import yaml

    data = {
        "study": content["title"],
        "reference_arm": content["reference"]["label"],
        "test_arm": content["test"]["label"],
        "alpha": content["alpha"],
        "attributes": [
            {k: v for k, v in a.items() if k != "source"} for a in content["attributes"]
        ],
    }
    return parse_protocol(yaml.safe_dump(data, sort_keys=True, allow_unicode=True), source=source)
