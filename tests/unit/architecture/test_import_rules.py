"""The layering of docs/architecture.md, checked on the source (issue 9).

- The kits (``core``, ``store``, ``web``, ``cli``) import no feature. Only the composition root
  (``vein2vein.features``) and Alembic's environment (which reads the schema from it) know every
  feature. ``web`` and ``cli`` may know *who the caller is* through ``auth``'s scope, roles and
  log-in (``auth.scope``, ``auth.roles``, ``auth.service``, ``auth.sessions``, ``auth.tokens``).
- The pure modules (statistics, the clinical engine, the scheduling solvers, the ISBT 128 and
  custody rules) reach neither the database, the web framework, templates nor the store, directly
  or through any module of ours they import.

``reports`` (the document kit, issue 14) is a kit too.

Each rule was shown to fail once by breaking it (see ``test_the_rules_catch_a_violation``).
"""

from __future__ import annotations

import pytest
from tests.unit.architecture.importgraph import closure, imports_of, modules

FEATURES = {
    "auth",
    "programs",
    "identity",
    "clinical",
    "stats",
    "scheduling",
    "audittrail",
    "manufacturing",
    "quality",
    "insights",
    "demo",
}
KITS = ("core", "store", "web", "cli", "reports")
#: who the caller is: what web/ and cli/ may use of auth
CALLER = {
    "vein2vein.auth",
    "vein2vein.auth.scope",
    "vein2vein.auth.roles",
    "vein2vein.auth.service",
    "vein2vein.auth.sessions",
    "vein2vein.auth.tokens",
}
#: Alembic's environment reads the whole schema from the composition root, by design
EXEMPT = {"vein2vein.store.migrations.env"}

FORBIDDEN_IN_PURE = ("sqlalchemy", "fastapi", "starlette", "jinja2", "vein2vein.store")

#: report modules render HTML through Jinja2 (they move to reports/ with issue 14) and the
#: command-line and store adapters are entry points, not engine: everything else is pure.
PURE_STATS_EXCLUDED = {"vein2vein.stats.cli", "vein2vein.stats.report"}
PURE_CLINICAL = [
    "bor",
    "codes",
    "csv_reader",
    "dataset",
    "demo_data",
    "endpoints",
    "figures",
    "irecist",
    "parsing",
    "rates",
    "readout",
    "recist",
    "responses",
    "sdtm",
    "survival",
]
PURE_SCHEDULING = [
    "cpsat",
    "dispatch",
    "files",
    "gantt",
    "generator",
    "greedy",
    "instance",
    "model",
    "objectives",
    "planner",
    "projection",
    "replan",
    "snapshot",
    "validator",
]
PURE_IDENTITY = ["isbt128", "domain", "coi", "due"]
#: the audit trail's field-by-field difference (issue 11)
PURE_KIT = ["vein2vein.core.diff", "vein2vein.core.located_yaml"]
#: the document kit (issue 14): the model and its PDF and Word renderers (HTML uses Jinja2)
PURE_KIT += [f"vein2vein.reports.{m}" for m in ("document", "pdf", "pdf_document", "docx_document")]
PURE_MANUFACTURING = [
    "domain",
    "units",
    "mbr_yaml",
    "materials",
    "deviation_rules",
    "execution",
    "release_gate",
    "pd_files",
]
#: QC release rules (issue 13): the specification and its file format, dose and bags,
#: calculated results, result file readers, the Certificate of Analysis and its PDF, the
#: release and OOS rules
PURE_QUALITY = [
    "domain",
    "spec_yaml",
    "dose",
    "calculated",
    "result_files",
    "coa",
    "coa_pdf",
    "release_rules",
]
#: the pure parts of the insights feature (issue 14): comparability's protocol, versions and
#: blinding; product and outcome's link rules, analyses and figures; continued process
#: verification's rules (series, frozen limits, capability, all batches met specification)
PURE_INSIGHTS = [
    "comparability_domain",
    "outcome_rules",
    "outcome_analysis",
    "outcome_figures",
    "cpv_domain",
    "ctd_comparability",
]


def pure_modules() -> list[str]:
    names = [
        m for m in modules() if m.startswith("vein2vein.stats.") and m not in PURE_STATS_EXCLUDED
    ]
    names += [f"vein2vein.clinical.{m}" for m in PURE_CLINICAL]
    names += [f"vein2vein.scheduling.{m}" for m in PURE_SCHEDULING]
    names += [f"vein2vein.identity.{m}" for m in PURE_IDENTITY]
    names += PURE_KIT
    names += [f"vein2vein.manufacturing.{m}" for m in PURE_MANUFACTURING]
    names += [f"vein2vein.quality.{m}" for m in PURE_QUALITY]
    names += [f"vein2vein.insights.{m}" for m in PURE_INSIGHTS]
    return sorted(names)


def kit_modules() -> list[str]:
    return sorted(
        m for m in modules() if m.split(".")[1:2] and m.split(".")[1] in KITS and m not in EXEMPT
    )


def feature_of(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "vein2vein" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in FEATURES else None


def kit_violations(module: str, imported: frozenset[str]) -> list[str]:
    kit = module.split(".")[1]
    bad = []
    for name in imported:
        if name == "vein2vein.features":
            bad.append(name)
        elif feature_of(name) is not None:
            if kit in ("web", "cli") and name in CALLER:
                continue
            bad.append(name)
    return sorted(bad)


def pure_violations(module: str) -> list[str]:
    reached = closure(module)
    return sorted(
        f"{name} (through {via})"
        for name, via in reached.items()
        if name.split(".")[0] in FORBIDDEN_IN_PURE[:4] or name.startswith(FORBIDDEN_IN_PURE[4])
    )


def test_the_lists_name_real_modules() -> None:
    for name in pure_modules():
        assert name in modules(), f"{name} is listed as pure but does not exist"
    assert len(kit_modules()) > 20


@pytest.mark.parametrize("module", kit_modules())
def test_kits_import_no_feature(module: str) -> None:
    assert kit_violations(module, imports_of(module)) == [], (
        f"{module} (a kit) imports a feature: declare the piece in vein2vein/features.py "
        "and hand it to the kit instead"
    )


@pytest.mark.parametrize("module", pure_modules())
def test_pure_modules_reach_no_database_web_or_templates(module: str) -> None:
    assert pure_violations(module) == []


def test_only_the_composition_root_lists_every_feature() -> None:
    """No module but features.py imports the web or CLI entry points of several features."""
    for module in modules():
        if module in ("vein2vein.features", "vein2vein.__main__") or module in EXEMPT:
            continue
        entry = {
            feature_of(n)
            for n in imports_of(module)
            if feature_of(n) and n.rsplit(".", 1)[-1] in ("api", "web", "cli")
        }
        entry.discard(feature_of(module))
        assert len(entry) <= 1, f"{module} mounts entry points of {sorted(entry)}"


def test_the_rules_catch_a_violation() -> None:
    """The checks themselves fail on the kinds of import they forbid."""
    assert kit_violations("vein2vein.web.app", frozenset({"vein2vein.identity.web"}))
    assert kit_violations("vein2vein.store.audit", frozenset({"vein2vein.features"}))
    assert kit_violations("vein2vein.store.audit", frozenset({"vein2vein.auth.scope"}))
    assert not kit_violations("vein2vein.web.context", frozenset({"vein2vein.auth.scope"}))
    # a pure module that reaches SQLAlchemy through one of ours is caught
    assert pure_violations("vein2vein.identity.orders")
