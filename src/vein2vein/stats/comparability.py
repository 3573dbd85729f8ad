"""Comparability study: a protocol fixed before the data, lot results, and a conclusion per
attribute and overall (ICH Q5E; FDA 2023 draft guidance on CGT manufacturing changes).

Protocol (YAML)::

    study: Site B technology transfer
    reference_arm: pre-change        # arm labels as they appear in the data
    test_arm: post-change
    alpha: 0.05                      # default for every attribute
    attributes:
      - name: viability
        tier: 1
        method: tost                 # tost | quality_range | minmax | descriptive
        margin_sd: 1.5               # or margin: M, or lower: L and upper: U
        variance: welch              # welch | pooled
        scale: difference            # difference | ratio
        paired: false                # true: pairs lots by the data's donor column
      - name: vcn
        tier: 2
        method: quality_range
        k: 3
        min_fraction: 1.0

Data (CSV): ``lot, arm, attribute, value`` and, for paired attributes, ``donor``.

The conclusion of an attribute is "pass" or "fail" for tost / quality_range / minmax and
"descriptive" for tier-3 attributes; the study passes when every non-descriptive attribute passes.
The protocol file's SHA-256 is part of the provenance, so the report shows which protocol
version was applied.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vein2vein.core.errors import InputError, V2VError
from vein2vein.core.provenance import Provenance
from vein2vein.stats.csv_input import numeric_cell, read_rows
from vein2vein.stats.equivalence import VARIANCES, TostResult, tost
from vein2vein.stats.errors import StatisticalWarning
from vein2vein.stats.margins import SCALES
from vein2vein.stats.ranges import RangeResult, minmax_range, quality_range
from vein2vein.stats.results import StatResult, fmt, provenance

METHODS = ("tost", "quality_range", "minmax", "descriptive")
DEFAULT_METHOD_BY_TIER = {1: "tost", 2: "quality_range", 3: "descriptive"}
_PLAN_KEYS = {
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
    "paired",
    "unit",
    "rationale",
}


@dataclass(frozen=True)
class AttributePlan:
    name: str
    tier: int
    method: str
    alpha: float
    scale: str = "difference"
    variance: str = "welch"
    paired: bool = False
    margin: float | None = None
    lower: float | None = None
    upper: float | None = None
    margin_sd: float | None = None
    k: float = 3.0
    min_fraction: float = 1.0
    unit: str = ""
    rationale: str = ""


@dataclass(frozen=True)
class Protocol:
    study: str
    reference_arm: str
    test_arm: str
    alpha: float
    attributes: tuple[AttributePlan, ...]
    sha256: str
    source: str


def _number(value: Any, where: str, file: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{where} must be a number, got {value!r}", file=file, field=where)
    return float(value)


def _plan(raw: Any, i: int, alpha: float, file: str) -> AttributePlan:
    where = f"attributes[{i}]"
    if not isinstance(raw, dict) or "name" not in raw:
        raise InputError("each attribute needs at least a name", file=file, field=where)
    unknown = set(raw) - _PLAN_KEYS
    if unknown:
        raise InputError(f"unknown key(s) {sorted(unknown)}", file=file, field=f"{where}")
    tier = int(raw.get("tier", 1))
    if tier not in (1, 2, 3):
        raise InputError(f"tier must be 1, 2 or 3, got {tier}", file=file, field=f"{where}.tier")
    method = str(raw.get("method", DEFAULT_METHOD_BY_TIER[tier]))
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}", file=file, field=f"{where}.method")
    numbers = {}
    for key in ("margin", "lower", "upper", "margin_sd", "k", "min_fraction", "alpha"):
        if raw.get(key) is not None:
            numbers[key] = _number(raw[key], f"{where}.{key}", file)
    if method == "tost":
        forms = sum(key in numbers for key in ("margin", "margin_sd")) + (
            "lower" in numbers or "upper" in numbers
        )
        if forms != 1:
            raise InputError(
                "a tost attribute needs exactly one of margin, lower+upper or margin_sd",
                file=file,
                field=f"{where}.margin",
            )
    scale, variance = str(raw.get("scale", "difference")), str(raw.get("variance", "welch"))
    if scale not in SCALES:
        raise InputError(f"scale must be one of {SCALES}", file=file, field=f"{where}.scale")
    if variance not in VARIANCES:
        raise InputError(
            f"variance must be one of {VARIANCES}", file=file, field=f"{where}.variance"
        )
    return AttributePlan(
        name=str(raw["name"]),
        tier=tier,
        method=method,
        alpha=numbers.get("alpha", alpha),
        scale=scale,
        variance=variance,
        paired=bool(raw.get("paired", False)),
        margin=numbers.get("margin"),
        lower=numbers.get("lower"),
        upper=numbers.get("upper"),
        margin_sd=numbers.get("margin_sd"),
        k=numbers.get("k", 3.0),
        min_fraction=numbers.get("min_fraction", 1.0),
        unit=str(raw.get("unit", "")),
        rationale=str(raw.get("rationale", "")),
    )


def parse_protocol(text: str, *, source: str = "<protocol>") -> Protocol:
    """A :class:`Protocol` from YAML text."""
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a declared dependency
        raise V2VError("reading a protocol needs PyYAML (pip install PyYAML)") from None

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML ({exc})", file=source) from None
    if not isinstance(raw, dict):
        raise InputError("the protocol must be a YAML mapping", file=source)
    for key in ("reference_arm", "test_arm", "attributes"):
        if key not in raw:
            raise InputError(f"missing key '{key}'", file=source, field=key)
    if not isinstance(raw["attributes"], list) or not raw["attributes"]:
        raise InputError("attributes must be a non-empty list", file=source, field="attributes")
    alpha = _number(raw.get("alpha", 0.05), "alpha", source)
    plans = tuple(_plan(a, i, alpha, source) for i, a in enumerate(raw["attributes"]))
    names = [p.name for p in plans]
    if len(set(names)) != len(names):
        raise InputError("attribute names must be unique", file=source, field="attributes")
    return Protocol(
        study=str(raw.get("study", "Comparability study")),
        reference_arm=str(raw["reference_arm"]),
        test_arm=str(raw["test_arm"]),
        alpha=alpha,
        attributes=plans,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        source=source,
    )


def load_protocol(path: str | Path) -> Protocol:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    return parse_protocol(text, source=str(path))


@dataclass(frozen=True)
class LotValue:
    lot: str
    arm: str
    attribute: str
    value: float
    donor: str
    row: int
    file: str = ""


def load_lot_results(path: str | Path) -> list[LotValue]:
    """Rows ``lot, arm, attribute, value[, donor]`` of a CSV file."""
    file = str(path)
    header, rows = read_rows(path)
    missing = [c for c in ("lot", "arm", "attribute", "value") if c not in header]
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}", file=file, field=missing[0])
    out = []
    for i, r in enumerate(rows):
        row = i + 2
        for key in ("lot", "arm", "attribute"):
            if not r.get(key):
                raise InputError("missing value", file=file, row=row, field=key)
        out.append(
            LotValue(
                lot=r["lot"],
                arm=r["arm"],
                attribute=r["attribute"],
                value=numeric_cell(r.get("value", ""), file=file, row=row, field="value"),
                donor=r.get("donor", ""),
                row=row,
                file=file,
            )
        )
    return out


@dataclass(frozen=True)
class ArmSummary:
    arm: str
    n: int
    mean: float
    sd: float | None
    minimum: float
    maximum: float
    values: tuple[float, ...]
    lots: tuple[str, ...]


@dataclass(frozen=True)
class AttributeOutcome:
    plan: AttributePlan
    reference: ArmSummary
    test: ArmSummary
    result: TostResult | RangeResult | None
    conclusion: str  # "pass" | "fail" | "descriptive"
    statement: str
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class ComparabilityResult(StatResult):
    study: str
    reference_arm: str
    test_arm: str
    protocol_sha256: str
    attributes: tuple[AttributeOutcome, ...]
    conclusion: str  # "comparable" | "not demonstrated" | "descriptive only"
    warnings: tuple[str, ...]
    provenance: Provenance

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["attributes"] = [
            {
                "name": a.plan.name,
                "tier": a.plan.tier,
                "method": a.plan.method,
                "plan": a.plan.__dict__,
                "reference": a.reference.__dict__,
                "test": a.test.__dict__,
                "result": a.result.to_dict() if a.result is not None else None,
                "conclusion": a.conclusion,
                "statement": a.statement,
                "warnings": list(a.warnings),
            }
            for a in self.attributes
        ]
        return out

    def _summary_lines(self) -> list[str]:
        lines = [f"{self.study}: {self.test_arm} vs {self.reference_arm} -> {self.conclusion}"]
        for a in self.attributes:
            lines.append(
                f"  [{a.conclusion.upper():11s}] {a.plan.name} (tier {a.plan.tier}, "
                f"{a.plan.method}): {a.statement}"
            )
        return lines


def _summary(arm: str, rows: list[LotValue]) -> ArmSummary:
    x = np.array([r.value for r in rows])
    return ArmSummary(
        arm=arm,
        n=int(x.size),
        mean=float(x.mean()),
        sd=float(np.std(x, ddof=1)) if x.size > 1 else None,
        minimum=float(x.min()),
        maximum=float(x.max()),
        values=tuple(map(float, x)),
        lots=tuple(r.lot for r in rows),
    )


def _paired_values(
    test: list[LotValue], ref: list[LotValue], name: str
) -> tuple[list[float], list[float]]:
    by_donor = {}
    for r in ref:
        if not r.donor:
            raise InputError(
                "a paired attribute needs a donor", file=r.file, row=r.row, field="donor"
            )
        by_donor[r.donor] = r.value
    pairs = [(t.value, by_donor[t.donor]) for t in test if t.donor in by_donor]
    if len(pairs) != len(test) or len(pairs) != len(ref):
        raise InputError(
            f"attribute '{name}': every donor must appear once in each arm for a paired analysis",
            field="donor",
        )
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _evaluate(
    plan: AttributePlan, test: list[LotValue], ref: list[LotValue]
) -> tuple[TostResult | RangeResult | None, str, str]:
    if plan.method == "descriptive":
        return None, "descriptive", "tier 3: described side by side, no statistical criterion"
    if plan.method == "tost":
        if plan.paired:
            tv, rv = _paired_values(test, ref, plan.name)
        else:
            tv, rv = [r.value for r in test], [r.value for r in ref]
        res = tost(
            tv,
            rv,
            margin=plan.margin,
            lower=plan.lower,
            upper=plan.upper,
            margin_sd=plan.margin_sd,
            variance=plan.variance,  # type: ignore[arg-type]
            paired=plan.paired,
            scale=plan.scale,  # type: ignore[arg-type]
            alpha=plan.alpha,
        )
        pct = f"{100 * res.confidence_level:g}%"
        statement = (
            f"{pct} CI ({fmt(res.ci_low, 4)}, {fmt(res.ci_high, 4)}) "
            f"{'inside' if res.equivalent else 'not inside'} ({fmt(res.lower, 4)}, "
            f"{fmt(res.upper, 4)}); p = {fmt(res.p_value, 3)}"
        )
        return res, "pass" if res.equivalent else "fail", statement
    tv, rv = [r.value for r in test], [r.value for r in ref]
    if plan.method == "quality_range":
        rng: RangeResult = quality_range(tv, rv, k=plan.k, min_fraction=plan.min_fraction)
    else:
        rng = minmax_range(tv, rv, min_fraction=plan.min_fraction)
    statement = (
        f"{rng.n_inside}/{rng.n_test} test lots inside ({fmt(rng.lower, 4)}, {fmt(rng.upper, 4)}); "
        f"required {100 * rng.min_fraction:g}%"
    )
    return rng, "pass" if rng.passed else "fail", statement


def run_comparability(protocol: Protocol, lots: list[LotValue]) -> ComparabilityResult:
    """Apply the protocol to the lot results; every attribute of the protocol must have data."""
    arms = {protocol.reference_arm, protocol.test_arm}
    unknown_arms = sorted({r.arm for r in lots} - arms)
    if unknown_arms:
        first = next(r for r in lots if r.arm in unknown_arms)
        raise InputError(
            f"arm '{first.arm}' is neither the reference ('{protocol.reference_arm}') nor the "
            f"test arm ('{protocol.test_arm}')",
            file=first.file,
            row=first.row,
            field="arm",
        )
    outcomes = []
    all_warnings: list[str] = []
    for plan in protocol.attributes:
        rows = [r for r in lots if r.attribute == plan.name]
        test = [r for r in rows if r.arm == protocol.test_arm]
        ref = [r for r in rows if r.arm == protocol.reference_arm]
        if not test or not ref:
            raise InputError(
                f"attribute '{plan.name}' needs values in both arms "
                f"(test {len(test)}, reference {len(ref)})",
                field="attribute",
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", StatisticalWarning)
            result, conclusion, statement = _evaluate(plan, test, ref)
        notes = tuple(str(w.message) for w in caught if issubclass(w.category, StatisticalWarning))
        all_warnings.extend(f"{plan.name}: {n}" for n in notes)
        outcomes.append(
            AttributeOutcome(
                plan=plan,
                reference=_summary(protocol.reference_arm, ref),
                test=_summary(protocol.test_arm, test),
                result=result,
                conclusion=conclusion,
                statement=statement,
                warnings=notes,
            )
        )
    decided = [o for o in outcomes if o.conclusion != "descriptive"]
    if not decided:
        overall = "descriptive only"
    elif all(o.conclusion == "pass" for o in decided):
        overall = "comparable"
    else:
        overall = "not demonstrated"
    extra = sorted({r.attribute for r in lots} - {p.name for p in protocol.attributes})
    if extra:
        all_warnings.append(f"data for attributes not in the protocol were ignored: {extra}")
    return ComparabilityResult(
        study=protocol.study,
        reference_arm=protocol.reference_arm,
        test_arm=protocol.test_arm,
        protocol_sha256=protocol.sha256,
        attributes=tuple(outcomes),
        conclusion=overall,
        warnings=tuple(all_warnings),
        provenance=provenance(
            "comparability study (TOST / quality range per pre-specified protocol)",
            {"protocol_sha256": protocol.sha256, "protocol": protocol.source},
            {"lots": [(r.lot, r.arm, r.attribute, r.value, r.donor) for r in lots]},
        ),
    )
